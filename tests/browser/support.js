// Support for the browser tests: a real tickwire server (the debug binary
// `cargo test` built, or $TICKWIRE_SERVER) on free loopback ports, the
// Rust observer example (a Rust client in the same room), and headless
// Chromium (Debian's, or $CHROMIUM) driven by playwright-core. Everything
// started here is stopped by its PID or handle; every wait is bounded.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root. */
export const ROOT = resolve(here, '..', '..');
/** Where screenshots go. */
export const SHOTS = join(ROOT, 'target', 'browser-screenshots');
/** The operator token of test servers. */
export const ADMIN_TOKEN = 'browser-tests-admin-token';

/** A binary of the workspace: `$env` or `target/debug/<name>`. */
function binary(/** @type {string} */ name, /** @type {string} */ env) {
  const path = process.env[env] ?? join(ROOT, 'target', 'debug', name);
  if (!existsSync(path)) {
    throw new Error(`${path} is missing: run \`cargo build -p tickwire-server-cli --examples -p tickwire-client\` first (or set ${env})`);
  }
  return path;
}

/** A free TCP port on 127.0.0.1. */
export async function freeTcpPort() {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = /** @type {import('node:net').AddressInfo} */ (server.address());
  server.close();
  return address.port;
}

/** A free UDP port on 127.0.0.1. */
export async function freeUdpPort() {
  const socket = createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  const { port } = socket.address();
  socket.close();
  return port;
}

/** Resolves after `ms`. */
export const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `check` until it returns a truthy value, at most `ms`.
 * @template T
 * @param {() => Promise<T> | T} check
 * @param {number} ms
 * @param {string} what
 * @returns {Promise<T>}
 */
export async function eventually(check, ms, what) {
  const until = Date.now() + ms;
  let last;
  while (Date.now() < until) {
    try {
      last = await check();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await sleep(100);
  }
  throw new Error(`${what}: not within ${ms} ms (last: ${String(last)})`);
}

/**
 * Starts a server with the pages, the operator API (token
 * {@link ADMIN_TOKEN}) and, unless told otherwise, WebTransport.
 * @param {{ webtransport?: boolean }} [options]
 */
export async function startServer(options = {}) {
  const port = await freeTcpPort();
  const args = [
    '--bind', `127.0.0.1:${port}`,
    '--seed', '1',
    '--rooms-per-minute-per-ip', '10000',
    '--drain-ms', '0',
    '--log-level', 'info',
  ];
  let webtransportPort = null;
  if (options.webtransport !== false) {
    webtransportPort = await freeUdpPort();
    args.push('--webtransport-bind', `127.0.0.1:${webtransportPort}`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'tickwire-browser-'));
  const tokenFile = join(dir, 'admin-token');
  writeFileSync(tokenFile, `${ADMIN_TOKEN}\n`);
  args.push('--admin-token-file', tokenFile);
  const child = spawn(binary('tickwire-server', 'TICKWIRE_SERVER'), args, {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  /** @type {string[]} */
  const log = [];
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => {
      log.push(line);
      if (log.length > 2000) log.shift();
    });
  }
  const base = `http://127.0.0.1:${port}`;
  try {
    await eventually(async () => (await fetch(`${base}/healthz`)).ok, 10_000, 'the server answers /healthz');
  } catch (e) {
    child.kill('SIGKILL');
    throw new Error(`${/** @type {Error} */ (e).message}\n${log.join('\n')}`);
  }
  return {
    base,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    webtransportPort,
    log,
    /** Stops the server by its PID (SIGTERM, then SIGKILL after 5 s). */
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const exited = once(child, 'exit');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
    /** An operator API call with the token. */
    async operator(/** @type {string} */ path, /** @type {string} */ method = 'GET') {
      const response = await fetch(`${base}${path}`, {
        method,
        headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      return response.json();
    },
  };
}

/**
 * Runs the Rust observer example: `create NAME` or `join ROOM_ID`, for
 * `seconds`. Its first line (room, code, player) resolves `ready`; every
 * update's players are kept in `frames`.
 * @param {string} wsUrl
 * @param {'create' | 'join'} mode
 * @param {string} target
 * @param {number} seconds
 */
export function observer(wsUrl, mode, target, seconds) {
  const child = spawn(binary(join('examples', 'observe'), 'TICKWIRE_OBSERVER'), [wsUrl, mode, target, String(seconds)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  /** @type {Array<{tick: number, players: Array<{player: number, x: number, y: number}>}>} */
  const frames = [];
  /** @type {string[]} */
  const errors = [];
  /** @type {(v: {room: number, code: string | null, player: number}) => void} */
  let onReady = () => {};
  const ready = new Promise((resolveReady, reject) => {
    onReady = resolveReady;
    child.on('exit', (code) => reject(new Error(`observer exited (${code}) before joining: ${errors.join('\n')}`)));
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    const value = JSON.parse(line);
    if ('room' in value) onReady(value);
    else if ('tick' in value) frames.push(value);
    else errors.push(line);
  });
  createInterface({ input: child.stderr }).on('line', (line) => errors.push(line));
  return {
    ready,
    frames,
    errors,
    /** Stops it by its PID. */
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await Promise.race([once(child, 'exit'), sleep(3_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/**
 * Headless Chromium.
 * @param {string[]} [extraArgs]
 */
export async function launch(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    // CI runs as root, where Chromium's sandbox cannot start.
    args: ['--no-sandbox', ...extraArgs],
    timeout: 30_000,
  });
}

/**
 * Saves a screenshot of `page` as `name`.png and prints its path.
 * @param {import('playwright-core').Page} page
 * @param {string} name
 */
export async function screenshot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  const path = join(SHOTS, `${name}.png`);
  await page.screenshot({ path });
  console.log(`screenshot: ${path}`);
  return path;
}
