// End to end against the real server binary (see test-support/server.js):
// handshake and lobby, several clients playing one arena room with every
// checksum agreeing, events (the arena's echo, the chat game's say and
// poll), a resume after the socket is destroyed, and the WebTransport
// fallback. Every wait is bounded; the server is stopped by its PID.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';

import { checksum, Client, ConnectionError, EmitError, findEntity, RequestError } from '../src/index.js';
import { serverMissing, startServer } from '../test-support/server.js';
import { sleep, until } from '../test-support/util.js';

const missing = serverMissing();
if (missing !== null) console.log(`# skipping end-to-end tests: ${missing}`);

describe('against a real server', { skip: missing ?? false }, () => {
  /** @type {import('../test-support/server.js').RunningServer} */
  let server;
  /** @type {Client[]} */
  const clients = [];

  before(async () => {
    server = await startServer(['--rooms-per-minute-per-client', '1000', '--rooms-per-minute-per-ip', '1000']);
  });

  after(async () => {
    await Promise.all(clients.map((c) => Promise.race([c.close('test over'), sleep(2000)])));
    await server?.stop();
  });

  /**
   * A client, closed when the tests end.
   * @param {string} name
   * @param {import('../src/client.js').ClientOptions} [options]
   */
  async function connect(name, options = {}) {
    const client = await Client.connect(server.url, { WebSocket, name, ...options });
    clients.push(client);
    return client;
  }

  test('handshake and lobby: create, list, join by code and id, leave, and the refusals', async () => {
    const a = await connect('alice');
    const b = await connect('bob');
    assert.equal(a.transport, 'websocket');
    assert.ok(a.player !== null && b.player !== null && a.player !== b.player);
    assert.equal(a.resumeToken?.length, 16);

    const created = await a.createRoom({ name: 'private one', visibility: 'Private', joinAs: null, options: { tick_rate: '20' } });
    assert.equal(created.type, 'RoomCreated');
    const code = /** @type {string} */ (created.room.code);
    assert.match(code, /^[2-9A-HJKMNP-Z]{6}$/);
    const pub = await a.createRoom({ name: 'public one', maxPlayers: 4 });
    assert.ok(pub.type === 'Joined' && pub.role === 'Player' && pub.tickRate === 30);
    assert.equal(a.room?.room.id, pub.room.id);

    const listed = await b.listRooms({ game: 'arena' });
    assert.ok(listed.some((r) => r.id === pub.room.id && r.code === null), 'the public room, without its code');
    assert.ok(!listed.some((r) => r.id === created.room.id), 'not the private one');
    assert.deepEqual(await b.listRooms({ game: 'chat', metadata: { nothing: 'here' } }), []);

    await assert.rejects(b.joinRoom(created.room.id), (e) => e instanceof RequestError && e.errorCode === 'RoomNotFound');
    await assert.rejects(b.joinRoom('zz'), RangeError);
    await assert.rejects(b.joinRoom('222222'), { code: 'refused', errorCode: 'RoomNotFound' });
    await assert.rejects(b.createRoom({ name: 'x', options: { nope: '1' } }), { errorCode: 'BadOptions' });
    await assert.rejects(b.createRoom({ name: 'x', game: 'tetris' }), { errorCode: 'UnknownGame' });
    await assert.rejects(b.leaveRoom(), { errorCode: 'NotInRoom' });

    const byCode = await b.joinRoom(code.toLowerCase(), { role: 'Spectator' });
    assert.ok(byCode.role === 'Spectator' && byCode.tickRate === 20 && byCode.room.code === code);
    await b.waitFor('update', { timeoutMs: 5000 });
    const refused = b.waitFor('serverError', { timeoutMs: 5000 });
    b.sendArenaInput({ moveX: 1, moveY: 0, aim: 0, fire: false });
    assert.equal((await refused).code, 'NotAPlayer');
    await assert.rejects(b.quickJoin(), { errorCode: 'AlreadyInRoom' });
    const left = await b.leaveRoom();
    assert.ok(left.reason === 'Requested' && left.room === created.room.id);
    assert.equal(b.room, null);
    assert.equal(b.world, null, 'the world is forgotten');

    const byId = await b.joinRoom(pub.room.id);
    assert.ok(byId.role === 'Player' && byId.room.players === 2);
    await b.leaveRoom();
    await a.leaveRoom();
  });

  test('a rejected handshake and an unreachable server are ConnectionErrors', async () => {
    await assert.rejects(
      Client.connect(server.url, { WebSocket, name: '   ' }),
      (e) => e instanceof ConnectionError && e.code === 'rejected' && e.reason === 'ProtocolViolation',
    );
    await assert.rejects(
      Client.connect('ws://127.0.0.1:9/ws', { WebSocket, connectTimeoutMs: 3000 }),
      (e) => e instanceof ConnectionError && e.code === 'transport',
    );
  });

  test('four clients play one arena room for 10 s: every checksum agrees, no decode error', async () => {
    const players = [
      await connect('p1'),
      await connect('p2', { ackMode: 'withInput' }),
      await connect('p3'),
      await connect('p4', { ackMode: 'withInput' }),
    ];
    const joined = await players[0].createRoom({ name: 'the match', options: { player_speed: '150' } });
    assert.equal(joined.type, 'Joined');
    const code = /** @type {string} */ (joined.room.code);
    await players[1].joinRoom(code);
    await players[2].joinRoom(joined.room.id);
    const quick = await players[3].quickJoin({ options: { player_speed: '150' } });
    assert.equal(quick.room.id, joined.room.id, 'quick-join picks the matching room');

    /** @type {Map<number, number>[]} */
    const sums = players.map(() => new Map());
    const stats = players.map(() => ({ updates: 0, deltas: 0, failed: 0, errors: 0, serverErrors: 0 }));
    let playing = true;
    players.forEach((client, i) => {
      let step = 0;
      client.on('update', (info, w) => {
        stats[i].updates++;
        if (!info.full) stats[i].deltas++;
        sums[i].set(info.tick, checksum(w));
        if (!playing) return;
        step++;
        const angle = (step / 20 + i) % (2 * Math.PI);
        client.sendArenaInput({ moveX: Math.cos(angle), moveY: Math.sin(angle), aim: angle * 3, fire: step % 7 === 0 });
        if (step % 30 === i) client.ping();
      });
      client.on('updateFailed', () => stats[i].failed++);
      client.on('error', () => stats[i].errors++);
      client.on('serverError', () => stats[i].serverErrors++);
    });
    await sleep(10_000);
    playing = false;
    await sleep(300);

    for (const [i, s] of stats.entries()) {
      assert.equal(s.failed, 0, `client ${i}: no update failed`);
      assert.equal(s.errors, 0, `client ${i}: no local error`);
      assert.equal(s.serverErrors, 0, `client ${i}: no input refused`);
      assert.ok(s.updates >= 150, `client ${i}: ${s.updates} updates in 10 s`);
      assert.ok(s.deltas > s.updates * 0.8, `client ${i}: ${s.deltas} of ${s.updates} were deltas`);
      assert.ok(players[i].rttMs !== null, `client ${i} measured its rtt`);
    }
    let compared = 0;
    for (const [tick, sum] of sums[0]) {
      for (const other of sums.slice(1)) {
        const theirs = other.get(tick);
        if (theirs === undefined) continue;
        assert.equal(theirs, sum, `tick ${tick}: every client rebuilt the same world`);
        compared++;
      }
    }
    assert.ok(compared > 300, `${compared} ticks compared`);
    const w = /** @type {import('../src/world.js').World} */ (players[0].world);
    const avatars = w.entities.filter((e) => e.kind === 0).map((e) => e.fields[7]);
    assert.deepEqual(avatars.sort(), players.map((p) => p.player).sort(), 'one avatar each');
    assert.ok(w.entities.length >= 4);
    const sample = players[0].sample();
    assert.ok(sample !== null && sample.entities.length > 0 && !Number.isNaN(sample.entities[0].x));
    assert.ok(/** @type {number} */ (players[0].interpolator.delayMs) >= 2 * (1000 / 30) - 1e-6);
    for (const p of players) await p.leaveRoom();
  });

  test('events: the arena echoes, refuses other names; chat says and polls, answered by handlers', async () => {
    const a = await connect('echoer');
    const outside = a.waitFor('serverError', { timeoutMs: 5000 });
    a.emit('echo', { n: 0 });
    assert.equal((await outside).code, 'NotInRoom');
    await a.createRoom({ name: 'echo room' });
    assert.deepEqual(await a.emitWithAck('echo', { n: 1, s: 'ü', list: [1, 2] }), { n: 1, s: 'ü', list: [1, 2] });
    assert.deepEqual(await a.emitWithAck('echo', Uint8Array.of(0xff, 0)), Uint8Array.of(0xff, 0), 'raw bytes stay bytes');
    assert.equal(await a.emitWithAck('echo'), undefined);
    await assert.rejects(a.emitWithAck('nope', 1), (e) => e instanceof EmitError && e.code === 'refused' && e.errorCode === 'EventRefused');
    assert.throws(() => a.emit('', 1), { name: 'SessionError', code: 'event_name' });
    assert.throws(() => a.emit('echo', 'x'.repeat(5000)), { code: 'too_large' });
    await a.leaveRoom();

    const owner = await connect('owner');
    const guest = await connect('guest');
    const room = await owner.createRoom({ name: 'chatty', game: 'chat', options: { topic: 'tests' } });
    assert.ok(room.type === 'Joined' && room.room.game === 'chat');
    /** @type {unknown[][]} */
    const said = [[], []];
    owner.on('said', (data) => said[0].push(data));
    guest.on('said', (data) => said[1].push(data));
    const welcomed = new Promise((resolve) => guest.on('welcome_topic_unused', resolve));
    void welcomed;
    await guest.joinRoom(/** @type {string} */ (room.room.code));
    await guest.waitFor('update', { timeoutMs: 5000 });
    assert.equal(guest.replica.schema, guest.session.schemaFor('chat'));
    assert.deepEqual(await guest.emitWithAck('say', { text: 'hello' }), { seq: 1 });
    await until(() => said[0].length === 1 && said[1].length === 1, 5000, 'said to both');
    assert.deepEqual(said[1][0], { seq: 1, from: guest.player, name: 'guest', text: 'hello' });

    // A poll asks every player for an answer: one answers by returning,
    // the other through the reply callback.
    owner.on('vote', () => true);
    guest.on('vote', (_data, reply) => reply?.(false));
    const results = [owner, guest].map((c) => new Promise((resolve) => c.on('poll_result', resolve)));
    const poll = /** @type {{poll: number}} */ (await owner.emitWithAck('poll', { question: 'ok?', timeout_ms: 3000 }));
    const [r1, r2] = await Promise.race([Promise.all(results), sleep(6000).then(() => assert.fail('no poll result'))]);
    assert.deepEqual(r1, { poll: poll.poll, yes: 1, no: 1, silent: 0 });
    assert.deepEqual(r2, r1);
    await owner.leaveRoom();
    await guest.leaveRoom();
  });

  test('a resume after the socket is destroyed: same player, same seat, world kept', async () => {
    const r = await connect('resumer');
    const watcher = await connect('watcher');
    const room = await r.createRoom({ name: 'resume room' });
    await watcher.joinRoom(room.room.id, { role: 'Spectator' });
    let failed = 0;
    r.on('updateFailed', () => failed++);
    r.on('update', () => r.sendArenaInput({ moveX: 0.5, moveY: 0, aim: 0, fire: false }));
    await r.waitFor('update', { timeoutMs: 5000 });
    await sleep(500);
    const player = r.player;
    const heldTick = /** @type {number} */ (r.world?.tick);
    /** @type {string[]} */
    const seen = [];
    r.on('reconnecting', (e) => seen.push(`reconnecting:${e.attempt}`));
    r.on('resumed', () => seen.push('resumed'));
    r.on('lost', () => seen.push('lost'));
    const resumed = r.waitFor('resumed', { timeoutMs: 10_000 });
    r.dropConnection();
    const back = await resumed;
    assert.deepEqual(seen, ['reconnecting:1', 'resumed']);
    assert.equal(back.room?.room.id, room.room.id);
    assert.equal(r.player, player, 'the same player');
    assert.ok(r.world !== null && r.world.tick >= heldTick, 'the world was kept');
    const next = await r.waitFor('update', { timeoutMs: 5000 });
    assert.ok(next.tick > heldTick);
    await sleep(1000);
    assert.equal(failed, 0, 'every update after the resume applied');
    assert.equal(r.transport, 'websocket');
    // The seat never left: the spectator sees the avatar throughout.
    const avatar = findEntity(/** @type {import('../src/world.js').World} */ (watcher.world), /** @type {number} */ (r.world?.entities.find((e) => e.fields[7] === player)?.id));
    assert.ok(avatar !== undefined && avatar.fields[7] === player);
    await r.leaveRoom();
    await watcher.leaveRoom();
  });

  test('a room connection gone silent counts as dropped: the client reconnects by itself', async () => {
    /** @type {Set<WebSocket>} */
    const muted = new Set();
    // A WebSocket whose incoming messages can be swallowed, as a dead
    // route would, while the TCP connection stays up.
    class Mutable extends WebSocket {
      /**
       * @override
       * @param {string} type
       * @param {(event: any) => void} listener
       */
      addEventListener(type, listener) {
        if (type !== 'message') return super.addEventListener(/** @type {any} */ (type), listener);
        return super.addEventListener('message', (event) => {
          if (!muted.has(this)) listener(event);
        });
      }
    }
    /** @type {Mutable[]} */
    const sockets = [];
    class Tracked extends Mutable {
      /** @param {string} url */
      constructor(url) {
        super(url);
        sockets.push(this);
      }
    }
    const c = await connect('silent', { WebSocket: Tracked, session: { silenceTimeoutMs: 1000 } });
    const room = await c.createRoom({ name: 'silent room' });
    await c.waitFor('update', { timeoutMs: 5000 });
    const reconnecting = c.waitFor('reconnecting', { timeoutMs: 5000 });
    const resumed = c.waitFor('resumed', { timeoutMs: 10_000 });
    muted.add(/** @type {Tracked} */ (sockets.at(-1)));
    const started = Date.now();
    const why = await reconnecting;
    assert.equal(why.cause, null);
    assert.ok(Date.now() - started >= 900, 'after the silence timeout');
    const back = await resumed;
    assert.equal(back.room?.room.id, room.room.id);
    assert.equal(sockets.length, 2, 'a new connection');
    await c.waitFor('update', { timeoutMs: 5000 });
    await c.leaveRoom();
  });

  test('WebTransport failing falls back to WebSocket, and reconnections stay on it', async () => {
    let tries = 0;
    class Failing {
      constructor() {
        tries++;
        this.ready = Promise.reject(new Error('no HTTP/3 here'));
        this.ready.catch(() => {});
        this.closed = new Promise(() => {});
        this.datagrams = {};
      }
      close() {}
    }
    const c = await connect('fallback', {
      webtransport: { url: 'https://127.0.0.1:1/tickwire', WebTransport: /** @type {any} */ (Failing) },
    });
    assert.equal(c.transport, 'websocket');
    assert.equal(tries, 1);
    await c.createRoom({ name: 'fallback room' });
    await c.waitFor('update', { timeoutMs: 5000 });
    const resumed = c.waitFor('resumed', { timeoutMs: 10_000 });
    c.dropConnection();
    await resumed;
    assert.equal(tries, 1, 'not tried again');
    await c.leaveRoom();
  });
});
