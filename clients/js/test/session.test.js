// The sans-IO session in virtual time (after shared/src/client/session/
// tests.rs and reconnect_tests.rs): messages and the time go in,
// transmits and events come out.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  ARENA_SCHEMA,
  Backoff,
  checksum,
  ClientSession,
  defaultReconnectPolicy,
  encodeDelta,
  entity,
  hello,
  nominalDelay,
  resumable,
  world,
} from '../src/index.js';
import { roomInfo } from '../test-support/util.js';

const GRACE_MS = 30_000;
const T0 = { at: 1000, unixUs: 1_700_000_000_000_000 };

/** @param {number} ms */
const after = (ms, now = T0) => ({ at: now.at + ms, unixUs: now.unixUs + ms * 1000 });

/** @returns {import('../src/protocol.js').Welcome} */
function welcome(player = 5, tokenByte = 1, resumed = false, grace = GRACE_MS) {
  return {
    type: 'Welcome',
    protocolVersion: 2,
    player,
    resumeToken: new Uint8Array(16).fill(tokenByte),
    resumed,
    heartbeatIntervalMs: 1000,
    reconnectGraceMs: grace,
  };
}

const ROOM = roomInfo(3);

/**
 * @param {number | null} requestId
 * @returns {import('../src/protocol.js').Joined}
 */
function joined(requestId, room = ROOM) {
  return { type: 'Joined', requestId, room, role: 'Player', tickRate: 30, tickZeroUnixUs: BigInt(T0.unixUs), tick: 0 };
}

/** A world at `tick` with one avatar at `x`. @param {number} tick @param {number} x */
const avatarWorld = (tick, x) => world(tick, [entity(1, 0, [x, 640])]);

/**
 * @param {import('../src/world.js').World} w
 * @param {import('../src/world.js').World | null} base
 * @returns {import('../src/protocol.js').Update}
 */
function updateOf(w, base, latenessUs = 0) {
  return {
    type: 'Update',
    tick: w.tick,
    baseline: base?.tick ?? null,
    latenessUs,
    checksum: checksum(w),
    delta: encodeDelta(ARENA_SCHEMA, base, w),
  };
}

/** @param {ClientSession} s */
function drain(s, now = T0) {
  const out = [];
  for (let t = s.pollTransmit(now); t !== null; t = s.pollTransmit(now)) out.push(t);
  return out;
}

/** @param {ClientSession} s */
function events(s) {
  const out = [];
  for (let e = s.pollEvent(); e !== null; e = s.pollEvent()) out.push(e);
  return out;
}

/** @param {import('../src/session.js').SessionSettings} [config] */
function session(config = {}) {
  return new ClientSession(hello('tester'), config);
}

/** A session welcomed by a server with a grace, in room 3, holding tick 10. */
function playing(config = {}) {
  const s = session(config);
  s.handle(T0, welcome());
  const id = s.request(T0, { type: 'quickJoin', spec: {} });
  s.handle(T0, joined(id));
  s.handle(T0, updateOf(avatarWorld(10, 64), null));
  drain(s);
  events(s);
  return s;
}

describe('session', () => {
  test('the Hello goes first and the Welcome opens the lobby', () => {
    const s = session();
    assert.equal(s.state.type, 'greeting');
    const [first, ...rest] = drain(s);
    assert.equal(first.message.type, 'Hello');
    assert.equal(first.delivery, 'reliable');
    assert.equal(rest.length, 0);
    s.handle(T0, welcome());
    assert.equal(s.state.type, 'lobby');
    assert.equal(s.player, 5);
    assert.deepEqual(events(s).map((e) => e.type), ['welcomed']);
  });

  test('requests get fresh ids and their answers; refusals and timeouts fail them', () => {
    const s = session();
    s.handle(T0, welcome());
    drain(s);
    events(s);
    const list = s.request(T0, { type: 'listRooms', filter: { game: null, metadata: {} } });
    const leave = s.request(T0, { type: 'leaveRoom' });
    const late = s.request(T0, { type: 'createRoom', spec: { name: 'x', joinAs: null } });
    assert.deepEqual([list, leave, late], [1, 2, 3]);
    const sent = drain(s).map((t) => t.message);
    assert.deepEqual(sent.map((m) => m.type), ['ListRooms', 'LeaveRoom', 'CreateRoom']);
    assert.equal(/** @type {any} */ (sent[2]).joinAs, null);
    s.handle(T0, { type: 'RoomList', requestId: list, rooms: [ROOM] });
    s.handle(T0, { type: 'Error', requestId: leave, code: 'NotInRoom', message: 'no room' });
    const [a, b] = events(s);
    assert.ok(a.type === 'answered' && a.answer?.type === 'RoomList' && a.error === null);
    assert.ok(b.type === 'answered' && b.error?.code === 'refused' && b.error.errorCode === 'NotInRoom');
    assert.equal(s.pollTimeout(), T0.at + 10_000);
    s.handleTimeout(after(9_999));
    assert.deepEqual(events(s), []);
    s.handleTimeout(after(10_000));
    const [c] = events(s);
    assert.ok(c.type === 'answered' && c.id === late && c.error?.code === 'timed_out');
    // A late answer is dropped.
    s.handle(after(10_001), { type: 'RoomCreated', requestId: late, room: ROOM });
    assert.deepEqual(events(s), []);
    assert.equal(s.pendingRequests, 0);
  });

  test('the wrong kind of answer fails the request', () => {
    const s = session();
    s.handle(T0, welcome());
    const id = s.request(T0, { type: 'joinRoom', target: { type: 'Id', id: 3 }, role: 'Player', joinOptions: {} });
    s.handle(T0, { type: 'Left', requestId: id, room: 3, reason: 'Requested', message: '' });
    const answered = events(s).find((e) => e.type === 'answered');
    assert.ok(answered?.type === 'answered' && answered.error?.code === 'unexpected');
  });

  test('too many pending requests are refused', () => {
    const s = session({ maxPendingRequests: 2 });
    s.handle(T0, welcome());
    s.request(T0, { type: 'leaveRoom' });
    s.request(T0, { type: 'leaveRoom' });
    assert.throws(() => s.request(T0, { type: 'leaveRoom' }), { name: 'SessionError', code: 'too_many_requests' });
  });

  test('immediate acks follow each update; latency uses the server tick time', () => {
    const s = playing();
    const w11 = avatarWorld(11, 70);
    s.handle(after(40), updateOf(w11, avatarWorld(10, 64), 500));
    const [ack] = drain(s);
    assert.deepEqual(ack, { message: { type: 'Ack', tick: 11 }, delivery: 'unreliable' });
    const [ev] = events(s);
    assert.ok(ev.type === 'updated');
    assert.equal(ev.update.baselineAge, 1);
    // Tick 11 was due at 11 x 33 333 333 ns = 366 666 us after tick 0,
    // started 500 us late; it arrived 40 ms after tick 0.
    assert.equal(ev.update.latencyUs, 0);
    s.handle(after(400), updateOf(avatarWorld(12, 70), w11));
    const ev2 = events(s)[0];
    assert.ok(ev2.type === 'updated');
    assert.equal(ev2.update.latencyUs, Math.round(400_000 - 399_999.996));
    assert.deepStrictEqual(s.world, avatarWorld(12, 70));
  });

  test('with input acks, the acknowledgement and ping answers ride with the next input', () => {
    const s = playing({ ackMode: 'withInput' });
    s.handle(T0, updateOf(avatarWorld(11, 64), avatarWorld(10, 64)));
    s.handle(T0, { type: 'Ping', sentAtUs: 77n });
    assert.deepEqual(drain(s), [], 'nothing goes on its own');
    s.pingWithNextInput();
    s.sendInput(Uint8Array.of(1));
    const sent = drain(s, after(5));
    assert.deepEqual(sent.map((t) => t.message.type), ['Inputs', 'Pong', 'Ping']);
    assert.equal(/** @type {any} */ (sent[0].message).ack, 11);
    assert.equal(/** @type {any} */ (sent[1].message).heldUs, 5000);
    assert.equal(/** @type {any} */ (sent[2].message).sentAtUs, BigInt(after(5).unixUs));
  });

  test('a held ping goes alone after half a tick', () => {
    const s = playing({ ackMode: 'withInput' });
    s.handle(T0, { type: 'Ping', sentAtUs: 1n });
    assert.equal(s.pollTimeout(), T0.at + 33_333_333 / 2 / 1e6);
    s.handleTimeout(after(17));
    const [pong] = drain(s, after(17));
    assert.equal(pong.message.type, 'Pong');
    assert.equal(/** @type {any} */ (pong.message).heldUs, 17_000);
  });

  test('outside a room pings are answered at once and pongs give the rtt', () => {
    const s = session({ ackMode: 'withInput' });
    s.handle(T0, welcome());
    drain(s);
    s.handle(T0, { type: 'Ping', sentAtUs: 9n });
    const [pong] = drain(s, after(2));
    assert.deepEqual(pong.message, { type: 'Pong', pingSentAtUs: 9n, sentAtUs: BigInt(after(2).unixUs), heldUs: 2000 });
    s.ping();
    const [ping] = drain(s);
    s.handle(after(30), { type: 'Pong', pingSentAtUs: /** @type {any} */ (ping.message).sentAtUs, sentAtUs: 0n, heldUs: 5000 });
    assert.equal(s.rttMs, 25);
    assert.deepEqual(events(s).at(-1), { type: 'rtt', rttMs: 25 });
  });

  test('inputs are numbered and repeat the last few', () => {
    const s = playing({ inputRedundancy: 3 });
    for (let i = 1; i <= 5; i++) s.sendInput(Uint8Array.of(i));
    const inputs = drain(s).map((t) => /** @type {any} */ (t.message));
    assert.deepEqual(inputs.map((m) => m.newestSeq), [1, 2, 3, 4, 5]);
    assert.deepEqual(inputs[4].inputs.map((/** @type {Uint8Array} */ b) => b[0]), [3, 4, 5]);
    assert.deepEqual(inputs[0].inputs.map((/** @type {Uint8Array} */ b) => b[0]), [1]);
    assert.equal(drain(s).length, 0);
    const arena = s.sendArenaInput({ moveX: 1, moveY: 0, aim: 0, fire: false });
    assert.equal(arena, 6);
  });

  test('emits with an ack end answered, refused or timed out', () => {
    const s = playing();
    const a = s.emitWithAck(T0, 'echo', Uint8Array.of(1), 1000);
    const b = s.emitWithAck(T0, 'nope', Uint8Array.of(2), 1000);
    const c = s.emitWithAck(T0, 'slow', Uint8Array.of(3), 500);
    s.emit('fire', new Uint8Array(0));
    const sent = drain(s).map((t) => /** @type {any} */ (t.message));
    assert.deepEqual(sent.map((m) => m.ackId), [a, b, c, null]);
    s.handle(after(10), { type: 'EventReply', ackId: a, outcome: { type: 'Data', data: Uint8Array.of(1) } });
    s.handle(after(20), { type: 'EventReply', ackId: b, outcome: { type: 'Error', code: 'EventRefused', message: 'no' } });
    s.handleTimeout(after(500));
    const outcomes = events(s).map((e) => (e.type === 'emitted' ? [e.name, e.outcome.type, e.elapsedMs] : null));
    assert.deepEqual(outcomes, [
      ['echo', 'answered', 10],
      ['nope', 'refused', 20],
      ['slow', 'timedOut', 500],
    ]);
  });

  test('event names and sizes are checked before sending', () => {
    const s = playing({ maxPendingEmits: 1 });
    assert.throws(() => s.emit('', new Uint8Array(0)), { code: 'event_name' });
    assert.throws(() => s.emit('x'.repeat(65), new Uint8Array(0)), { code: 'event_name' });
    assert.throws(() => s.emit('é'.repeat(33), new Uint8Array(0)), { code: 'event_name' }, 'bytes, not characters');
    s.emit('x'.repeat(64), new Uint8Array(4096 - 64 - 17));
    assert.throws(() => s.emit('x'.repeat(64), new Uint8Array(4096 - 64 - 16)), { code: 'too_large' });
    s.emitWithAck(T0, 'a', new Uint8Array(0), 10);
    assert.throws(() => s.emitWithAck(T0, 'a', new Uint8Array(0), 10), { code: 'too_many_emits' });
  });

  test('server events reach the application and asked ones are answered once', () => {
    const s = playing({ maxOwedAnswers: 1 });
    s.handle(T0, { type: 'Event', name: 'round_over', data: Uint8Array.of(1), ackId: 4 });
    s.handle(T0, { type: 'Event', name: 'news', data: Uint8Array.of(2), ackId: null });
    s.handle(T0, { type: 'Event', name: 'vote', data: Uint8Array.of(3), ackId: 5 });
    const evs = events(s);
    assert.deepEqual(
      evs.map((e) => (e.type === 'event' ? [e.event.name, e.event.replyTo] : e.type)),
      [
        ['round_over', 4],
        ['news', null],
      ],
    );
    // The third asked over the limit: refused at once.
    const [refusal] = drain(s);
    assert.deepEqual(refusal.message, {
      type: 'EventReply',
      ackId: 5,
      outcome: { type: 'Error', code: 'RateLimited', message: '1 server events wait for an answer already' },
    });
    assert.ok(s.owes(4));
    s.answer(4, { type: 'Data', data: Uint8Array.of(9) });
    assert.throws(() => s.answer(4, { type: 'Data', data: Uint8Array.of(9) }), { code: 'not_asked' });
    assert.deepEqual(drain(s)[0].message, { type: 'EventReply', ackId: 4, outcome: { type: 'Data', data: Uint8Array.of(9) } });
  });

  test('a kick leaves the room and forgets the world; an unasked Joined is a seat', () => {
    const s = playing();
    s.handle(T0, { type: 'Left', requestId: null, room: 3, reason: 'Kicked', message: 'afk' });
    assert.equal(s.state.type, 'lobby');
    assert.equal(s.world, null);
    assert.equal(events(s)[0].type, 'left');
    s.handle(T0, joined(null));
    assert.equal(s.state.type, 'inRoom');
    assert.equal(events(s)[0].type, 'joined');
  });

  test("a new room's first update may overtake its Joined, and a room of another game uses its schema", () => {
    const s = session();
    s.handle(T0, welcome());
    const id = s.request(T0, { type: 'quickJoin', spec: {} });
    s.handle(T0, updateOf(avatarWorld(3, 1), null));
    s.handle(T0, joined(id));
    assert.equal(s.world?.tick, 3, 'kept');
    s.handle(T0, { type: 'Left', requestId: null, room: 3, reason: 'RoomClosed', message: '' });
    const chatRoom = { ...ROOM, id: 4, game: 'chat' };
    const id2 = s.request(T0, { type: 'joinRoom', target: { type: 'Id', id: 4 }, role: 'Player', joinOptions: {} });
    s.handle(T0, joined(id2, chatRoom));
    assert.equal(s.replica.schema, s.schemaFor('chat'));
    assert.notEqual(s.schemaFor('chat'), ARENA_SCHEMA);
    assert.equal(s.schemaFor('some-other-game'), ARENA_SCHEMA);
  });

  test('a Close fails everything pending, says why, and refuses calls', () => {
    const s = playing();
    s.request(T0, { type: 'leaveRoom' });
    s.emitWithAck(T0, 'echo', new Uint8Array(0), 1000);
    s.handle(after(5), { type: 'Close', reason: 'ServerShutdown', message: 'bye' });
    const evs = events(s);
    assert.deepEqual(evs.map((e) => e.type), ['answered', 'emitted', 'closed']);
    assert.deepEqual(evs[2], { type: 'closed', closed: { reason: 'ServerShutdown', message: 'bye', rejected: false } });
    assert.throws(() => s.emit('x', new Uint8Array(0)), { code: 'closed' });
    assert.throws(() => s.request(T0, { type: 'leaveRoom' }), { code: 'closed' });
    assert.equal(s.pollTimeout(), null);
  });

  test('a rejected handshake ends the session', () => {
    const s = session();
    s.handle(T0, { type: 'Rejected', reason: 'VersionMismatch', message: 'v1' });
    assert.deepEqual(events(s), [{ type: 'closed', closed: { reason: 'VersionMismatch', message: 'v1', rejected: true } }]);
  });

  test('closing says goodbye once; the end of the connection closes it with that reason', () => {
    const s = playing();
    s.close('later');
    s.close('again');
    assert.deepEqual(drain(s).map((t) => t.message), [{ type: 'Close', reason: 'Normal', message: 'later' }]);
    assert.equal(s.state.type, 'closing');
    s.handleConnectionLost(T0, null);
    assert.deepEqual(events(s), [{ type: 'closed', closed: { reason: 'Normal', message: 'later', rejected: false } }]);
  });

  test('an undecodable frame is an error and changes nothing; fail() closes with the reason', () => {
    const s = playing();
    assert.throws(() => s.handleFrame(T0, Uint8Array.of(0xff)), { name: 'DecodeError', code: 'unknown_kind' });
    assert.equal(s.state.type, 'inRoom');
    s.fail('MalformedFrame', 'undecodable server frame: x');
    assert.deepEqual(drain(s)[0].message, { type: 'Close', reason: 'Normal', message: 'undecodable server frame: x' });
    s.handleConnectionLost(T0, null);
    const closed = events(s).find((e) => e.type === 'closed');
    assert.ok(closed?.type === 'closed' && closed.closed.reason === 'MalformedFrame');
  });

  test('a session without a Hello sends nothing of its own', () => {
    const s = new ClientSession(null);
    assert.deepEqual(drain(s), []);
    s.handle(T0, welcome());
    s.handleConnectionLost(T0, null);
    assert.ok(s.isClosed, 'it cannot greet again, so it does not reconnect');
  });
});

describe('reconnecting', () => {
  /**
   * Runs the clock to the next attempt and opens a connection.
   * @param {ClientSession} s
   * @param {{now: import('../src/session.js').Now}} clock
   */
  function attempt(s, clock) {
    const at = /** @type {number} */ (s.pollTimeout());
    clock.now = { at, unixUs: clock.now.unixUs + (at - clock.now.at) * 1000 };
    s.handleTimeout(clock.now);
    assert.ok(s.pollConnect(clock.now), 'the attempt is due');
    assert.ok(!s.pollConnect(clock.now), 'once per attempt');
  }

  test('policy: waits double up to the cap and stay within half and all of it', () => {
    const policy = defaultReconnectPolicy();
    assert.deepEqual([1, 2, 5, 6, 1000].map((n) => nominalDelay(policy, n)), [250, 500, 4000, 5000, 5000]);
    const backoff = new Backoff(7);
    for (let n = 1; n < 40; n++) {
      const d = backoff.delay(policy, n);
      const nominal = nominalDelay(policy, n);
      assert.ok(d >= nominal / 2 && d <= nominal, `${n}: ${d}`);
    }
    const firsts = new Set(Array.from({ length: 100 }, (_, seed) => new Backoff(seed).delay(policy, 1)));
    assert.ok(firsts.size > 90, `${firsts.size} distinct waits`);
    assert.equal(new Backoff(3).delay(policy, 1), new Backoff(3).delay(policy, 1));
  });

  test('only drops that park the seat are resumable', () => {
    assert.ok(resumable(null) && resumable('IdleTimeout') && resumable('SlowConsumer'));
    for (const r of /** @type {const} */ (['Normal', 'Replaced', 'ServerShutdown', 'Flooding', 'ProtocolViolation'])) {
      assert.ok(!resumable(r), r);
    }
  });

  test('a drop resumes the seat with the world kept, greeting with the token and the tick held', () => {
    const s = playing();
    const clock = { now: T0 };
    s.request(T0, { type: 'listRooms', filter: { game: null, metadata: {} } });
    s.emitWithAck(T0, 'echo', new Uint8Array(0), 10_000);
    s.sendInput(Uint8Array.of(1));
    s.handleConnectionLost(T0, null);
    assert.ok(s.isReconnecting);
    const evs = events(s);
    assert.deepEqual(evs.map((e) => e.type), ['answered', 'emitted', 'reconnecting']);
    assert.ok(evs[0].type === 'answered' && evs[0].error?.code === 'interrupted');
    assert.ok(evs[1].type === 'emitted' && evs[1].outcome.type === 'interrupted');
    const r = evs[2];
    assert.ok(r.type === 'reconnecting' && r.attempt === 1 && r.waitMs >= 125 && r.waitMs <= 250 && r.cause === null);
    assert.deepEqual(drain(s), [], 'nothing queued for the dead connection');
    assert.throws(() => s.emit('x', new Uint8Array(0)), { code: 'reconnecting' });
    assert.equal(s.sendInput(Uint8Array.of(2)), 1, 'inputs are dropped');
    assert.ok(!s.pollConnect(T0), 'not before the wait');
    attempt(s, clock);
    assert.ok(s.attemptUnderWay);
    s.connectionOpened(clock.now);
    const [greet] = drain(s, clock.now);
    assert.deepEqual(greet.message, { ...hello('tester'), resumeToken: new Uint8Array(16).fill(1), resumeFrom: 10 });
    s.handle(clock.now, welcome(5, 2, true));
    assert.ok(s.isReconnecting, 'waiting for the seat');
    s.handle(clock.now, joined(null));
    const [resumed] = events(s);
    assert.ok(resumed.type === 'resumed' && resumed.room?.room.id === 3 && resumed.attempts === 1);
    assert.equal(s.state.type, 'inRoom');
    assert.deepStrictEqual(s.world, avatarWorld(10, 64), 'the world is kept');
    // The next update is a delta against the world kept.
    s.handle(clock.now, updateOf(avatarWorld(12, 80), avatarWorld(10, 64)));
    assert.equal(events(s)[0].type, 'updated');
    // A later drop greets with the newest token.
    s.handleConnectionLost(clock.now, null);
    attempt(s, clock);
    s.connectionOpened(clock.now);
    const [again] = drain(s, clock.now);
    assert.deepEqual(/** @type {any} */ (again.message).resumeToken, new Uint8Array(16).fill(2));
    assert.equal(/** @type {any} */ (again.message).resumeFrom, 12);
  });

  test('failed attempts back off until the grace runs out', () => {
    const s = playing({ reconnect: { giveUpAfterMs: 3000 } });
    const clock = { now: T0 };
    s.handleConnectionLost(T0, null);
    let attempts = 0;
    while (s.isReconnecting) {
      attempt(s, clock);
      attempts++;
      s.connectionFailed(clock.now);
      assert.ok(attempts < 20);
    }
    const evs = events(s);
    const lost = evs.at(-1);
    assert.ok(lost?.type === 'lost' && lost.reason.type === 'gaveUp' && lost.reason.attempts === attempts);
    assert.ok(s.isClosed);
    assert.ok(clock.now.at - T0.at <= 3000);
    const waits = evs.filter((e) => e.type === 'reconnecting').map((e) => (e.type === 'reconnecting' ? e.waitMs : 0));
    assert.ok(waits[1] > waits[0] / 2 && waits[2] >= 250, `waits grow: ${waits}`);
  });

  test('a welcome without the seat is a new player in the lobby; a refusal closes', () => {
    const s = playing();
    const clock = { now: T0 };
    s.handleConnectionLost(T0, null);
    attempt(s, clock);
    s.connectionOpened(clock.now);
    s.handle(clock.now, welcome(9, 3, false));
    const lost = events(s).at(-1);
    assert.ok(lost?.type === 'lost' && lost.reason.type === 'seatGone');
    assert.equal(s.state.type, 'lobby');
    assert.equal(s.player, 9);
    assert.equal(s.world, null);

    const t = playing();
    t.handleConnectionLost(T0, null);
    attempt(t, { now: T0 });
    t.connectionOpened(T0);
    t.handle(T0, { type: 'Rejected', reason: 'ServerFull', message: 'full' });
    const refused = events(t).at(-1);
    assert.ok(refused?.type === 'lost' && refused.reason.type === 'refused' && refused.reason.reason === 'ServerFull');
    assert.ok(t.isClosed);
  });

  test('a seat held nowhere resumes in the lobby at the welcome', () => {
    const s = session();
    s.handle(T0, welcome());
    s.handleConnectionLost(T0, null);
    const clock = { now: T0 };
    attempt(s, clock);
    s.connectionOpened(clock.now);
    assert.equal(/** @type {any} */ (drain(s, clock.now)[0].message).resumeFrom, null);
    s.handle(clock.now, welcome(5, 2, true));
    const resumed = events(s).at(-1);
    assert.ok(resumed?.type === 'resumed' && resumed.room === null);
  });

  test('Close IdleTimeout parks the seat: reconnect; Replaced, goodbyes and no grace do not', () => {
    const s = playing();
    s.handle(T0, { type: 'Close', reason: 'IdleTimeout', message: 'nothing received in time' });
    assert.ok(s.isReconnecting);
    assert.ok(events(s).some((e) => e.type === 'reconnecting' && e.cause === 'IdleTimeout'));

    const t = playing();
    t.handle(T0, { type: 'Close', reason: 'Replaced', message: 'elsewhere' });
    assert.ok(t.isClosed);

    const u = playing();
    u.handleConnectionLost(T0, { reason: 'ServerShutdown', message: '' });
    assert.ok(u.isClosed);

    const v = session();
    v.handle(T0, welcome(5, 1, false, 0));
    v.handleConnectionLost(T0, null);
    assert.ok(v.isClosed, 'a server keeping no seats');

    const w = playing({ reconnect: { enabled: false } });
    w.handleConnectionLost(T0, null);
    assert.ok(w.isClosed);

    const g = session();
    g.handleConnectionLost(T0, null);
    assert.ok(g.isClosed, 'never welcomed: nothing to resume');
  });

  test('a silent room connection counts as dropped', () => {
    const s = playing();
    assert.equal(s.pollTimeout(), T0.at + 5000);
    s.handle(after(3000), updateOf(avatarWorld(11, 64), avatarWorld(10, 64)));
    events(s);
    assert.equal(s.pollTimeout(), T0.at + 8000);
    s.handleTimeout(after(7999));
    assert.ok(!s.isReconnecting);
    s.handleTimeout(after(8000));
    assert.ok(s.isReconnecting);
    const lobby = session({ silenceTimeoutMs: 100 });
    lobby.handle(T0, welcome());
    assert.equal(lobby.pollTimeout(), null, 'the lobby may be quiet');
  });

  test('closing while reconnecting ends the session at once', () => {
    const s = playing();
    s.handleConnectionLost(T0, null);
    events(s);
    s.close('never mind');
    assert.ok(s.isClosed);
    assert.deepEqual(events(s), [{ type: 'closed', closed: { reason: 'Normal', message: 'never mind', rejected: false } }]);
  });
});

describe('closing', () => {
  test('after the goodbye, updates and events are not handed over; the server close ends it', () => {
    const s = playing();
    s.close('bye');
    drain(s);
    s.handle(T0, updateOf(avatarWorld(11, 64), avatarWorld(10, 64)));
    s.handle(T0, { type: 'Event', name: 'x', data: new Uint8Array(0), ackId: 1 });
    s.handle(T0, { type: 'Ping', sentAtUs: 1n });
    assert.deepEqual(events(s), []);
    assert.deepEqual(drain(s), []);
    s.handle(T0, { type: 'Close', reason: 'Normal', message: 'goodbye' });
    assert.deepEqual(events(s), [{ type: 'closed', closed: { reason: 'Normal', message: 'bye', rejected: false } }]);
  });
});

describe('reconnection attempts', () => {
  test('an attempt that hangs fails after attemptTimeoutMs and the next one is scheduled', () => {
    const s = playing({ attemptTimeoutMs: 2000 });
    s.handleConnectionLost(T0, null);
    events(s);
    const first = /** @type {number} */ (s.pollTimeout());
    const now = { at: first, unixUs: T0.unixUs };
    assert.ok(s.pollConnect(now));
    s.connectionOpened(now);
    drain(s, now);
    assert.ok(s.attemptUnderWay);
    assert.equal(s.pollTimeout(), first + 2000);
    s.handleTimeout({ at: first + 1999, unixUs: T0.unixUs });
    assert.ok(s.attemptUnderWay);
    s.handleTimeout({ at: first + 2000, unixUs: T0.unixUs });
    assert.ok(!s.attemptUnderWay && s.isReconnecting);
    const next = events(s).at(-1);
    assert.ok(next?.type === 'reconnecting' && next.attempt === 2);
  });
});
