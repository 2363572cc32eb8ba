// Starts the real tickwire server binary for end-to-end tests: on an
// ephemeral 127.0.0.1 port (read from its "listening (ws://...)" log
// line), stopped by its PID when the test is over.
//
// The binary is $TICKWIRE_SERVER, else target/debug/tickwire-server at the
// repository root (build it with `cargo build -p tickwire-server-cli`).

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** The server binary to run. */
export const SERVER_BINARY = process.env.TICKWIRE_SERVER ?? resolve(repoRoot, 'target/debug/tickwire-server');

/**
 * Why end-to-end tests cannot run here, or null when they can (for
 * `test(..., {skip})`).
 * @returns {string | null}
 */
export function serverMissing() {
  return existsSync(SERVER_BINARY)
    ? null
    : strict(`no server binary at ${SERVER_BINARY}: build it (cargo build -p tickwire-server-cli) or set TICKWIRE_SERVER`);
}

/**
 * `why` a prerequisite is missing, for a skip; under
 * `TICKWIRE_STRICT_TESTS=1` (the repository's test command, CI) a missing
 * prerequisite fails instead of skipping.
 * @param {string} why
 * @returns {string}
 */
export function strict(why) {
  if (process.env.TICKWIRE_STRICT_TESTS === '1') {
    throw new Error(`${why} (TICKWIRE_STRICT_TESTS=1: nothing may be skipped)`);
  }
  return why;
}

/**
 * @typedef {object} RunningServer
 * @property {string} url the WebSocket URL, ws://127.0.0.1:PORT/ws
 * @property {number} pid
 * @property {string[]} log every line it printed
 * @property {() => Promise<void>} stop stops it by its PID (SIGTERM, then SIGKILL after 5 s)
 */

/**
 * Starts the server with `args` added; resolves once it listens (at most
 * 15 s).
 * @param {string[]} [args]
 * @returns {Promise<RunningServer>}
 */
export function startServer(args = []) {
  const child = spawn(SERVER_BINARY, ['--bind', '127.0.0.1:0', '--drain-ms', '0', '--log-level', 'info', ...args], {
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  /** @type {string[]} */
  const log = [];
  let exited = false;
  const exit = new Promise((resolveExit) => {
    child.once('exit', () => {
      exited = true;
      resolveExit(undefined);
    });
  });
  const stop = async () => {
    if (exited) return;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exit;
    clearTimeout(killer);
  };
  return new Promise((resolveStart, rejectStart) => {
    const timer = setTimeout(() => {
      stop();
      rejectStart(new Error(`the server did not log its address within 15 s:\n${log.join('\n')}`));
    }, 15_000);
    let pending = '';
    /** @param {Buffer} chunk */
    const onData = (chunk) => {
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        log.push(line);
        const m = /ws:\/\/([0-9.]+:[0-9]+)\/ws/.exec(line);
        if (m !== null) {
          clearTimeout(timer);
          resolveStart({ url: `ws://${m[1]}/ws`, pid: /** @type {number} */ (child.pid), log, stop });
        }
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('error', (e) => {
      clearTimeout(timer);
      rejectStart(e);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      rejectStart(new Error(`the server exited (${code}) before listening:\n${log.join('\n')}`));
    });
  });
}
