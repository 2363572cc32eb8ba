// The library in a real browser (headless Chromium, driven by
// playwright-core) against the real server: WebTransport with the
// development certificate's hash from `GET /webtransport`, play, an
// event, a resume after the connection is cut, and the fallback to the
// browser's WebSocket when WebTransport cannot open.
//
// Skipped without the server binary or Chromium (`$CHROMIUM`, else
// /usr/bin/chromium).

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:http';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { serverMissing, startServer, strict } from '../test-support/server.js';

const PACKAGE = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** Why this cannot run here, or null. */
async function browserMissing() {
  const server = serverMissing();
  if (server !== null) return server;
  if (!existsSync(CHROMIUM)) return strict(`no Chromium at ${CHROMIUM} (set CHROMIUM)`);
  try {
    await import('playwright-core');
  } catch {
    return strict('playwright-core is not installed (npm install)');
  }
  return null;
}

const missing = await browserMissing();
if (missing !== null) console.log(`# skipping browser tests: ${missing}`);

const PAGE = `<!doctype html><meta charset="utf-8"><title>tickwire client test</title>
<script type="module">import * as tickwire from '/src/index.js'; window.tickwire = tickwire;</script>`;

/**
 * Serves the package's `src/` and a blank page, for the browser.
 * @returns {Promise<{origin: string, close: () => Promise<void>}>}
 */
function serveFiles() {
  const http = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
      return;
    }
    if (path === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    const file = normalize(join(PACKAGE, path));
    if (!file.startsWith(join(PACKAGE, 'src')) || extname(file) !== '.js' || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(file));
  });
  return new Promise((resolveServe) => {
    http.listen(0, '127.0.0.1', () => {
      const address = /** @type {import('node:net').AddressInfo} */ (http.address());
      resolveServe({
        origin: `http://127.0.0.1:${address.port}`,
        close: () => new Promise((r) => http.close(() => r(undefined))),
      });
    });
  });
}

describe('in a browser', { skip: missing ?? false }, () => {
  /** @type {import('../test-support/server.js').RunningServer} */
  let server;
  /** @type {{origin: string, close: () => Promise<void>}} */
  let files;
  /** @type {import('playwright-core').Browser} */
  let browser;
  /** @type {import('playwright-core').Page} */
  let page;
  /** @type {{url: string, certificate_hashes: {algorithm: string, value: string}[]}} */
  let endpoint;

  before(async () => {
    server = await startServer(['--webtransport-bind', '127.0.0.1:0']);
    const info = await fetch(server.url.replace(/^ws:/, 'http:').replace(/\/ws$/, '/webtransport'));
    assert.equal(info.status, 200, 'the server serves its WebTransport endpoint');
    endpoint = await info.json();
    files = await serveFiles();
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    page = await browser.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') console.log(`# page: ${m.text()}`);
    });
    await page.goto(`${files.origin}/`);
    await page.waitForFunction(() => 'tickwire' in window, null, { timeout: 10_000 });
  });

  after(async () => {
    await browser?.close();
    await files?.close();
    await server?.stop();
  });

  test('WebTransport: play, echo, resume after a cut, close', async () => {
    const result = await page.evaluate(
      async ({ wsUrl, endpoint }) => {
        const { Client } = /** @type {any} */ (window).tickwire;
        /** @type {(ms: number) => Promise<void>} */
        const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
        const client = await Client.connect(wsUrl, {
          name: 'browser',
          webtransport: { url: endpoint.url, certificateHashes: endpoint.certificate_hashes },
        });
        const transport = client.transport;
        const redundancy = client.session.config.inputRedundancy;
        let updates = 0;
        let failed = 0;
        let deltas = 0;
        client.on('update', (/** @type {any} */ info) => {
          updates++;
          if (!info.full) deltas++;
          client.sendArenaInput({ moveX: Math.cos(updates / 10), moveY: Math.sin(updates / 10), aim: updates / 7, fire: updates % 9 === 0 });
        });
        client.on('updateFailed', () => failed++);
        const joined = await client.createRoom({ name: 'browser room' });
        for (let i = 0; i < 100 && updates < 60; i++) await sleep(50);
        const echo = await client.emitWithAck('echo', { from: 'the browser' });
        const player = client.player;
        const before = updates;
        const resumed = client.waitFor('resumed', { timeoutMs: 10_000 });
        client.dropConnection();
        const back = await resumed;
        for (let i = 0; i < 100 && updates < before + 30; i++) await sleep(50);
        const sample = client.sample();
        await client.close('done');
        return {
          transport,
          redundancy,
          room: joined.room.id,
          updates,
          deltas,
          failed,
          echo,
          samePlayer: client.player === player,
          resumedRoom: back.room?.room.id,
          transportAfter: client.transport,
          updatesAfterResume: updates - before,
          sampled: sample?.entities.length ?? 0,
          closed: client.state,
        };
      },
      { wsUrl: server.url, endpoint },
    );
    if (process.env.TICKWIRE_VERBOSE) console.log('#', JSON.stringify(result));
    assert.equal(result.transport, 'webtransport');
    assert.equal(result.redundancy, 3);
    assert.ok(result.updates >= 60, `${result.updates} updates`);
    assert.ok(result.deltas >= result.updates - 5, `${result.deltas} deltas`);
    assert.equal(result.failed, 0, 'every update applied, checksums verified');
    assert.deepEqual(result.echo, { from: 'the browser' });
    assert.ok(result.samePlayer);
    assert.equal(result.resumedRoom, result.room);
    assert.equal(result.transportAfter, 'webtransport');
    assert.ok(result.updatesAfterResume >= 30, `${result.updatesAfterResume} updates after the resume`);
    assert.ok(result.sampled > 0);
    assert.deepEqual(result.closed, { type: 'closed', closed: { reason: 'Normal', message: 'done', rejected: false } });
  });

  test("WebTransport that cannot open falls back to the browser's WebSocket", async () => {
    // A UDP port nothing listens on.
    const socket = createSocket('udp4');
    await new Promise((r) => socket.bind(0, '127.0.0.1', () => r(undefined)));
    const deadPort = socket.address().port;
    await new Promise((r) => socket.close(() => r(undefined)));
    const result = await page.evaluate(
      async ({ wsUrl, deadPort }) => {
        const { Client } = /** @type {any} */ (window).tickwire;
        const client = await Client.connect(wsUrl, {
          name: 'fallback',
          connectTimeoutMs: 3000,
          webtransport: { url: `https://127.0.0.1:${deadPort}/tickwire` },
        });
        const transport = client.transport;
        await client.createRoom({ name: 'fallback room' });
        const update = await client.waitFor('update', { timeoutMs: 5000 });
        await client.close();
        return { transport, tick: update.tick };
      },
      { wsUrl: server.url, deadPort },
    );
    assert.equal(result.transport, 'websocket');
    assert.ok(result.tick >= 0);
  });
});
