// A real two-node cluster (two server binaries on one real redis-server):
// a room created on node B is listed on node A, and a client of A that
// joins it, by id or by quick-join, follows the redirect to B by itself
// ('redirected', then 'moved'), plays there, and reconnects there after a
// drop. Every wait is bounded; everything started is stopped by its PID.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';

import { Client } from '../src/index.js';
import { startRedis, redisMissing } from '../test-support/redis.js';
import { serverMissing, startServer } from '../test-support/server.js';
import { sleep } from '../test-support/util.js';

/**
 * Polls the async `check` every 50 ms until it holds; throws after
 * `timeoutMs`.
 * @param {() => Promise<boolean>} check
 * @param {number} timeoutMs
 * @param {string} what
 */
async function until(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

const missing = serverMissing() ?? redisMissing();
if (missing !== null) console.log(`# skipping cluster tests: ${missing}`);

describe('against a real two-node cluster', { skip: missing ?? false }, () => {
  /** @type {import('../test-support/redis.js').RunningRedis} */
  let redis;
  /** @type {import('../test-support/server.js').RunningServer} */
  let a;
  /** @type {import('../test-support/server.js').RunningServer} */
  let b;
  /** @type {Client[]} */
  const clients = [];

  before(async () => {
    redis = await startRedis();
    a = await startServer(['--cluster', redis.url, '--node-id', 'js-a']);
    b = await startServer(['--cluster', redis.url, '--node-id', 'js-b']);
  });

  after(async () => {
    await Promise.all(clients.map((c) => Promise.race([c.close('test over'), sleep(2000)])));
    await Promise.all([a?.stop(), b?.stop()]);
    await redis?.stop();
  });

  /** @param {string} url @param {string} name */
  async function connect(url, name) {
    const client = await Client.connect(url, { WebSocket, name });
    clients.push(client);
    return client;
  }

  test('a client of one node joins a room on the other by following the redirect', async () => {
    const host = await connect(b.url, 'host');
    const created = await host.createRoom({ name: 'on-b', maxPlayers: 4 });
    assert.equal(created.type, 'Joined');
    const id = created.room.id;
    assert.ok(id >= 2 ** 32, `a cluster room id carries its node's tag: ${id}`);

    const guest = await connect(a.url, 'guest');
    await until(async () => (await guest.listRooms()).some((r) => r.id === id), 3000, 'A lists B\'s room');
    /** @type {string[]} */
    const seen = [];
    guest.on('redirected', ({ node, ws }) => seen.push(`redirected ${node} ${ws}`));
    guest.on('moved', ({ node }) => seen.push(`moved ${node}`));
    const joined = await guest.joinRoom(id);
    assert.equal(joined.type, 'Joined');
    assert.equal(joined.room.id, id);
    assert.equal(joined.room.players, 2);
    assert.deepEqual(seen, [`redirected js-b ${b.url}`, 'moved js-b']);
    assert.equal(guest.serverUrl, b.url, 'on B now');
    await guest.waitFor('update', { timeoutMs: 5000 });
    assert.notEqual(guest.world, null, 'the world arrives from B');

    // A drop comes back to B, not A, with the seat.
    const resumed = guest.waitFor('resumed', { timeoutMs: 10_000 });
    guest.dropConnection();
    const back = await resumed;
    assert.equal(back.room?.room.id, id);
    assert.equal(guest.serverUrl, b.url);
  });

  test('a new room goes to the less loaded node, and a quick-join on the other fills it', async () => {
    // B seats the two players of the test above, A none: a quick-join
    // that finds no matching room makes a new one on A.
    const host = await connect(b.url, 'quick-host');
    const made = await host.quickJoin({ options: { player_speed: '140' } });
    assert.equal(host.serverUrl, a.url, 'placed on the least-loaded node');
    const id = made.room.id;
    const seeker = await connect(b.url, 'seeker');
    await until(async () => (await seeker.listRooms()).some((r) => r.id === id), 3000, 'B lists it');
    const joined = await seeker.quickJoin({ options: { player_speed: '140' } });
    assert.equal(joined.room.id, id, 'the fullest matching room in the cluster, on A');
    assert.equal(joined.room.players, 2);
    assert.equal(seeker.serverUrl, a.url);
  });
});
