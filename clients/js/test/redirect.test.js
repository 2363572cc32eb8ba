// Following a redirect in virtual time (after shared/src/client/session/
// redirect_tests.rs): goodbye here, a fresh greeting there, the seat
// claimed with the original request id, and the answer settling the
// request; an unreachable node ends the session; a session that does not
// follow redirects fails the request instead.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { ClientSession, hello, RequestError } from '../src/index.js';
import { roomInfo } from '../test-support/util.js';

const T0 = { at: 1000, unixUs: 1_700_000_000_000_000 };

/** @param {number} ms */
const after = (ms, now = T0) => ({ at: now.at + ms, unixUs: now.unixUs + ms * 1000 });

/** @returns {import('../src/protocol.js').Welcome} */
function welcome(player = 5, tokenByte = 1, resumed = false) {
  return {
    type: 'Welcome',
    protocolVersion: 2,
    player,
    resumeToken: new Uint8Array(16).fill(tokenByte),
    resumed,
    heartbeatIntervalMs: 1000,
    reconnectGraceMs: 30_000,
  };
}

/** A room on node b: tag 2 above room number 3. */
const ROOM_ON_B = 2 * 2 ** 32 + 3;

/**
 * @param {number | null} requestId
 * @returns {import('../src/protocol.js').Joined}
 */
function joined(requestId, id = ROOM_ON_B) {
  return { type: 'Joined', requestId, room: roomInfo(id), role: 'Player', tickRate: 30, tickZeroUnixUs: BigInt(T0.unixUs), tick: 0 };
}

/**
 * @param {number} requestId
 * @returns {import('../src/protocol.js').Redirect}
 */
function redirect(requestId) {
  return {
    type: 'Redirect',
    requestId,
    node: 'b',
    ws: 'ws://127.0.0.1:7100/ws',
    quic: null,
    reservation: 'signed',
    validForMs: 2000,
  };
}

/** @param {ClientSession} s */
function messages(s, now = T0) {
  const out = [];
  for (let t = s.pollTransmit(now); t !== null; t = s.pollTransmit(now)) out.push(t.message);
  return out;
}

/** @param {ClientSession} s */
function events(s) {
  const out = [];
  for (let e = s.pollEvent(); e !== null; e = s.pollEvent()) out.push(e);
  return out;
}

/**
 * A welcomed session that asked to quick-join and was redirected.
 * @param {import('../src/session.js').SessionSettings} [config]
 */
function redirected(config = {}, now = T0) {
  const s = new ClientSession(hello('me'), config);
  s.handle(now, welcome());
  const id = s.request(now, { type: 'quickJoin', spec: {} });
  messages(s, now);
  events(s);
  s.handle(now, redirect(id));
  return { s, id };
}

describe('following a redirect', () => {
  test('a redirect moves the session and the other node answers the request', () => {
    const now = T0;
    const { s, id } = redirected();
    assert.throws(() => s.request(now, { type: 'listRooms', filter: { game: null, metadata: {} } }), {
      name: 'SessionError',
      code: 'reconnecting',
    }, 'on the way: no calls');
    assert.deepEqual(events(s), [{ type: 'redirected', node: 'b', ws: 'ws://127.0.0.1:7100/ws' }]);
    assert.deepEqual(messages(s, now), [{ type: 'Close', reason: 'Normal', message: 'moving to node b' }], 'a goodbye to this node');
    assert.equal(s.redirectTarget?.node, 'b');
    assert.equal(s.redirectTarget?.ws, 'ws://127.0.0.1:7100/ws');
    assert.equal(s.state.type, 'reconnecting');
    assert.ok(s.pollConnect(now), 'the first attempt at once');
    s.connectionOpened(now);
    assert.deepEqual(messages(s, now), [{ ...hello('me'), resumeToken: null, resumeFrom: null }], 'a new player there');
    const later = after(30);
    s.handle(later, welcome(9, 7));
    assert.equal(s.state.type, 'lobby');
    assert.equal(s.redirectTarget, null);
    assert.equal(s.player, 9, "that node's welcome");
    assert.deepEqual(s.welcome?.resumeToken, new Uint8Array(16).fill(7));
    assert.deepEqual(messages(s, later), [{ type: 'ClaimSeat', requestId: id, reservation: 'signed' }], 'the claim');
    const [moved, ...rest] = events(s);
    assert.equal(rest.length, 0);
    assert.ok(moved.type === 'moved');
    assert.deepEqual([moved.node, moved.afterMs, moved.attempts, moved.welcome.player], ['b', 30, 1, 9]);
    s.handle(later, joined(id));
    const [answered] = events(s);
    assert.ok(answered.type === 'answered' && answered.id === id && answered.error === null, 'the join answered by the other node');
    assert.equal(answered.answer?.type === 'Joined' && answered.answer.room.id, ROOM_ON_B);
    assert.equal(s.room?.room.id, ROOM_ON_B, 'in the room on node b');
  });

  test('other pending requests and emits end at the redirect; the moved one waits for the reservation and a request timeout', () => {
    const s = new ClientSession(hello('me'), { requestTimeoutMs: 1000 });
    s.handle(T0, welcome());
    const first = s.request(T0, { type: 'joinRoom', target: { type: 'Id', id: ROOM_ON_B }, role: 'Player', joinOptions: {} });
    const list = s.request(T0, { type: 'listRooms', filter: { game: null, metadata: {} } });
    s.emitWithAck(T0, 'x', new Uint8Array(0), 5000);
    messages(s);
    events(s);
    s.handle(T0, redirect(first));
    const evs = events(s);
    assert.deepEqual(evs.map((e) => e.type), ['answered', 'emitted', 'redirected']);
    assert.ok(evs[0].type === 'answered' && evs[0].id === list && evs[0].error?.code === 'interrupted');
    assert.ok(evs[1].type === 'emitted' && evs[1].outcome.type === 'interrupted');
    assert.equal(s.pendingRequests, 1);
    // On the way, the request waits past its own timeout (the reservation's
    // 2 s and a request timeout).
    assert.ok(s.pollConnect(T0));
    s.handleTimeout(after(1000));
    assert.equal(s.pendingRequests, 1);
    s.connectionOpened(after(100));
    s.handle(after(100), welcome(9, 7));
    // From the welcome there, a request timeout.
    s.handleTimeout(after(1099));
    assert.equal(s.pendingRequests, 1);
    events(s);
    s.handleTimeout(after(1100));
    const [timedOut] = events(s);
    assert.ok(timedOut.type === 'answered' && timedOut.id === first && timedOut.error?.code === 'timed_out');
  });

  test('failed attempts back off and an unreachable node closes the session', () => {
    let now = T0;
    const { s, id } = redirected();
    events(s);
    assert.ok(s.pollConnect(now));
    s.connectionFailed(now);
    let attempts = 1;
    while (!s.isClosed && attempts < 50) {
      const at = s.pollTimeout();
      assert.ok(at !== null, 'the next attempt or the end');
      now = { at, unixUs: now.unixUs };
      s.handleTimeout(now);
      if (s.pollConnect(now)) {
        attempts++;
        s.handleConnectionLost(now, null);
      }
    }
    assert.ok(s.isClosed, "the reservation's 2 s ran out");
    assert.ok(now.at - T0.at <= 2000);
    const evs = events(s);
    assert.ok(
      evs.some((e) => e.type === 'lost' && e.reason.type === 'unreachable' && e.reason.node === 'b' && e.reason.attempts === attempts),
      JSON.stringify(evs.map((e) => e.type)),
    );
    assert.ok(
      evs.some((e) => e.type === 'answered' && e.id === id && e.error?.code === 'closed'),
      'the request ends with the session',
    );
    const waits = evs.flatMap((e) => (e.type === 'reconnecting' ? [e.waitMs] : []));
    // The first attempt went at once; the second waits half to all of 500 ms.
    assert.ok(waits.length >= 2 && waits[0] >= 250 && waits[0] <= 500, `backoff: ${waits}`);
    assert.ok(attempts > 2, `${attempts} attempts in 2 s`);
    assert.equal(s.state.type === 'closed' && s.state.closed.message, 'could not reach node b of the cluster in time');
  });

  test('without following, the request fails with the redirect', () => {
    const { s, id } = redirected({ followRedirects: false });
    const [failed, ...rest] = events(s);
    assert.equal(rest.length, 0);
    assert.ok(failed.type === 'answered' && failed.id === id && failed.answer === null);
    assert.ok(failed.error instanceof RequestError);
    assert.equal(failed.error.code, 'redirected');
    assert.deepEqual(failed.error.redirect, redirect(id));
    assert.equal(s.state.type, 'lobby', 'still here');
    assert.ok(!s.pollConnect(T0));
    assert.deepEqual(messages(s), []);
  });

  test('a redirect nothing waits for is ignored', () => {
    const s = new ClientSession(hello('me'));
    s.handle(T0, welcome());
    messages(s);
    events(s);
    s.handle(T0, redirect(99));
    assert.equal(s.state.type, 'lobby');
    assert.deepEqual(events(s), []);
    assert.deepEqual(messages(s), []);
  });

  test('after the move, a drop resumes on that node with its token, and a refusal there is a plain refusal', () => {
    const { s, id } = redirected();
    assert.ok(s.pollConnect(T0));
    s.connectionOpened(T0);
    s.handle(T0, welcome(9, 7));
    s.handle(T0, joined(id));
    messages(s);
    events(s);
    s.handleConnectionLost(after(10), null);
    assert.ok(s.isReconnecting);
    assert.equal(s.redirectTarget, null, 'a drop, not a move');
    const at = /** @type {number} */ (s.pollTimeout());
    const now = { at, unixUs: T0.unixUs };
    assert.ok(s.pollConnect(now));
    s.connectionOpened(now);
    assert.deepEqual(messages(s, now), [{ ...hello('me'), resumeToken: new Uint8Array(16).fill(7), resumeFrom: null }]);
    s.handle(now, welcome(9, 8, true));
    s.handle(now, joined(null));
    const resumed = events(s).at(-1);
    assert.ok(resumed?.type === 'resumed' && resumed.room?.room.id === ROOM_ON_B);
  });

  test('a node that refuses the new player ends the move', () => {
    const { s, id } = redirected();
    events(s);
    assert.ok(s.pollConnect(T0));
    s.connectionOpened(T0);
    s.handle(T0, { type: 'Rejected', reason: 'AuthFailed', message: 'no' });
    const evs = events(s);
    assert.ok(evs.some((e) => e.type === 'answered' && e.id === id && e.error?.code === 'closed'));
    const lost = evs.at(-1);
    assert.ok(lost?.type === 'lost' && lost.reason.type === 'refused' && lost.reason.reason === 'AuthFailed');
    assert.ok(s.isClosed);
  });

  test('the claim refused there settles the request as a refusal', () => {
    const { s, id } = redirected();
    assert.ok(s.pollConnect(T0));
    s.connectionOpened(T0);
    s.handle(T0, welcome(9, 7));
    events(s);
    s.handle(T0, { type: 'Error', requestId: id, code: 'ReservationRefused', message: 'expired' });
    const [refused] = events(s);
    assert.ok(refused.type === 'answered' && refused.id === id);
    assert.equal(refused.error?.code, 'refused');
    assert.equal(refused.error?.errorCode, 'ReservationRefused');
    assert.equal(s.state.type, 'lobby', 'in that node\'s lobby');
  });
});
