// The server's own pages in headless Chromium against a real server:
// the lobby lists a room a Rust client created; the viewer renders a
// moving bot swarm (a canvas that is not blank and changes) with zero
// checksum mismatches; a browser player's keys move its avatar, as a Rust
// client in the same room sees; WebTransport is used when available and
// WebSocket when it is turned off or fails; the operator page shows the
// room and its kick works. Each test saves a screenshot and prints its
// path.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import {
  ROOT,
  ADMIN_TOKEN,
  startServer,
  observer,
  launch,
  screenshot,
  eventually,
  sleep,
} from './support.js';

/** @type {Awaited<ReturnType<typeof startServer>>} */
let server;
/** @type {import('playwright-core').Browser} */
let browser;
/** @type {ReturnType<typeof observer>} */
let rust;
/** @type {{room: number, code: string | null, player: number}} */
let room;
/** @type {import('node:child_process').ChildProcess} */
let swarm;

before(async () => {
  server = await startServer();
  // A Rust client creates the room and watches it for the whole file.
  rust = observer(server.wsUrl, 'create', "bots' room", 120);
  room = await rust.ready;
  // Three Rust bots play the arena workload in it, so there is motion.
  swarm = spawn(process.env.TICKWIRE_BOT ?? join(ROOT, 'target', 'debug', 'tickwire-bot'), [
    'swarm', '--url', server.wsUrl, '--room', String(room.room), '--players', '3',
    '--duration', '120s', '--ramp-up', '0s', '--settle', '0s', '--quiet',
  ], { stdio: 'ignore' });
  browser = await launch();
});

after(async () => {
  swarm?.kill('SIGTERM');
  await rust?.stop();
  await browser?.close();
  await server?.stop();
});

/** The page's figures (`window.tickwire.stats`). */
async function stats(/** @type {import('playwright-core').Page} */ page) {
  return page.evaluate(() => /** @type {any} */ (window).tickwire.stats);
}

/** A page whose console errors fail the test when asked. */
async function open(/** @type {string} */ path) {
  const page = await browser.newPage();
  /** @type {string[]} */
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await page.goto(`${server.base}${path}`);
  return { page, errors };
}

test('the lobby lists the room a Rust client created', async () => {
  const { page, errors } = await open('/');
  const row = page.locator(`tr[data-room="${room.room}"]`);
  await row.waitFor({ timeout: 10_000 });
  assert.match(await row.innerText(), /bots' room/);
  assert.match(await row.innerText(), /arena/);
  await page.locator(`a[data-watch="${room.room}"]`).waitFor();
  await screenshot(page, 'lobby');
  assert.deepEqual(errors, []);
  await page.close();
});

test('the viewer renders a moving swarm with every checksum agreeing', async () => {
  const { page, errors } = await open(`/view?room=${room.room}&role=Spectator`);
  await eventually(async () => (await stats(page)).updates > 60, 15_000, 'updates arrive');
  /** A digest of the canvas: how many distinct pixels, and a sample of them. */
  const canvas = () => page.evaluate(() => {
    const c = /** @type {HTMLCanvasElement} */ (document.getElementById('arena'));
    const data = /** @type {CanvasRenderingContext2D} */ (c.getContext('2d')).getImageData(0, 0, c.width, c.height).data;
    const colours = new Set();
    let hash = 0;
    for (let i = 0; i < data.length; i += 4) {
      const v = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
      colours.add(v);
      hash = (hash * 31 + v) | 0;
    }
    return { colours: colours.size, hash };
  });
  const first = await canvas();
  await sleep(500);
  const second = await canvas();
  assert.ok(first.colours > 3, `the canvas is not blank (${first.colours} colours)`);
  assert.notEqual(first.hash, second.hash, 'the picture changes between frames');
  const s = await stats(page);
  assert.equal(s.checksumMismatches, 0);
  assert.equal(s.updateFailures, 0);
  assert.ok(s.frames > 10, `frames drawn: ${s.frames}`);
  assert.ok(s.bytesPerSecond > 0);
  assert.match(await page.locator('#overlay').innerText(), /rtt .* ms/);
  await screenshot(page, 'viewer');
  assert.deepEqual(errors, []);
  await page.close();
});

test("a browser player's keys move its avatar, as the Rust client sees", async () => {
  const { page, errors } = await open(`/view?room=${room.room}`);
  await eventually(async () => (await stats(page)).updates > 10, 15_000, 'the player is in');
  const me = (await stats(page)).player;
  /** The browser player's position in the Rust client's newest world. */
  const seen = () => {
    for (let i = rust.frames.length - 1; i >= 0; i -= 1) {
      const p = rust.frames[i].players.find((q) => q.player === me);
      if (p) return p;
    }
    return null;
  };
  const start = await eventually(() => seen(), 10_000, 'the Rust client sees the browser player');
  // Walk up and to the left, away from wherever the spawn is, holding the
  // keys for a second.
  await page.locator('#arena').focus();
  const [dx, dy] = start.x > 500 ? ['a', -1] : ['d', 1];
  const [vy, sy] = start.y > 500 ? ['s', -1] : ['w', 1];
  await page.keyboard.down(dx);
  await page.keyboard.down(vy);
  await sleep(1_000);
  await page.keyboard.up(dx);
  await page.keyboard.up(vy);
  const end = await eventually(() => {
    const p = seen();
    return p && (p.x - start.x) * dy > 30 && (p.y - start.y) * sy > 30 ? p : null;
  }, 5_000, 'the avatar moved');
  assert.ok(end);
  const s = await stats(page);
  assert.ok(s.inputs > 20, `inputs sent: ${s.inputs}`);
  assert.equal(s.checksumMismatches, 0);
  assert.deepEqual(rust.errors.filter((e) => e.includes('error')), []);
  await screenshot(page, 'player');
  assert.deepEqual(errors, []);
  await page.close();
});

test('WebTransport when the server offers it, WebSocket when it is turned off or fails', async () => {
  const wt = await open(`/view?room=${room.room}&role=Spectator`);
  await eventually(async () => (await stats(wt.page)).updates > 5, 15_000, 'updates over WebTransport');
  assert.equal((await stats(wt.page)).transport, 'webtransport');
  await screenshot(wt.page, 'transport-webtransport');
  await wt.page.close();

  const ws = await open(`/view?room=${room.room}&role=Spectator&transport=websocket`);
  await eventually(async () => (await stats(ws.page)).updates > 5, 15_000, 'updates over WebSocket');
  assert.equal((await stats(ws.page)).transport, 'websocket');
  assert.equal((await stats(ws.page)).checksumMismatches, 0);
  await screenshot(ws.page, 'transport-websocket');
  await ws.page.close();

  // WebTransport fails (the page is handed a certificate hash the server
  // does not have, as a middlebox or a stale page would): the library
  // falls back to WebSocket by itself.
  const page = await browser.newPage();
  await page.route('**/webtransport', async (route) => {
    const info = await (await route.fetch()).json();
    info.certificate_hashes = [{ algorithm: 'sha-256', value: btoa('x'.repeat(32)) }];
    await route.fulfill({ json: info });
  });
  await page.goto(`${server.base}/view?room=${room.room}&role=Spectator`);
  await eventually(async () => (await stats(page)).updates > 5, 25_000, 'updates after the fallback');
  assert.equal((await stats(page)).transport, 'websocket');
  assert.equal((await stats(page)).checksumMismatches, 0);
  await screenshot(page, 'transport-fallback');
  await page.close();
});

test('the operator page shows the room and its kick works', async () => {
  const viewer = await open(`/view?room=${room.room}`);
  await eventually(async () => (await stats(viewer.page)).updates > 5, 15_000, 'a player to kick');
  const victim = (await stats(viewer.page)).player;

  const { page, errors } = await open('/ops');
  await page.locator('#token').fill(ADMIN_TOKEN);
  await page.locator('#token-form button').click();
  const row = page.locator(`tr[data-room="${room.room}"]`);
  await row.waitFor({ timeout: 10_000 });
  assert.match(await row.innerText(), /bots' room/);
  await page.locator(`tr[data-member="${victim}"]`).first().waitFor({ timeout: 10_000 });
  await screenshot(page, 'operator');
  await page.locator(`button[data-kick="${room.room}/${victim}"]`).click();
  await eventually(async () => /Kicked/.test(await viewer.page.locator('#message').innerText()), 10_000, 'the player is told it was kicked');
  const rooms = await server.operator('/api/admin/rooms');
  const listed = rooms.find((/** @type {any} */ r) => r.id === room.room);
  assert.ok(listed.members.every((/** @type {any} */ m) => m.player !== victim), 'gone from the room');
  await screenshot(viewer.page, 'kicked');
  assert.deepEqual(errors, []);
  await page.close();
  await viewer.page.close();
});
