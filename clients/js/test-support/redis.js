// A real redis-server for the cluster tests: on a free 127.0.0.1 port, no
// persistence, ready once it answers PING (at most 5 s), stopped by its
// PID. The binary is $REDIS_SERVER, else redis-server on the PATH (CI
// installs Debian's package).

import { spawn, spawnSync } from 'node:child_process';
import { createConnection, createServer } from 'node:net';

import { strict } from './server.js';
import { sleep } from './util.js';

const BINARY = process.env.REDIS_SERVER ?? 'redis-server';

/**
 * Why the cluster tests cannot run here, or null when they can.
 * @returns {string | null}
 */
export function redisMissing() {
  const probe = spawnSync(BINARY, ['--version'], { stdio: 'ignore' });
  return probe.error === undefined && probe.status === 0 ? null : strict(`no ${BINARY}: install Debian's redis-server or set REDIS_SERVER`);
}

/** @returns {Promise<number>} a port free on 127.0.0.1 right now */
function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** @param {number} port @returns {Promise<boolean>} whether it answers PING */
function pings(port) {
  return new Promise((resolvePing) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const done = (/** @type {boolean} */ ok) => {
      socket.destroy();
      resolvePing(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

/**
 * @typedef {object} RunningRedis
 * @property {string} url redis://127.0.0.1:PORT
 * @property {() => Promise<void>} stop stops it by its PID
 */

/** @returns {Promise<RunningRedis>} */
export async function startRedis() {
  const port = await freePort();
  const child = spawn(BINARY, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  const exit = new Promise((resolveExit) => child.once('exit', resolveExit));
  const stop = async () => {
    if (child.exitCode !== null) return;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exit;
    clearTimeout(killer);
  };
  for (let i = 0; i < 50; i++) {
    if (await pings(port)) return { url: `redis://127.0.0.1:${port}`, stop };
    await sleep(100);
  }
  await stop();
  throw new Error(`redis-server did not answer PING on port ${port} within 5 s`);
}
