// The client's protocol session, sans-IO (shared/src/client/session.rs):
// one `ClientSession` per client, driven by whoever owns the socket.
//
// The shell calls, with the time as a `Now`:
//   - `handle` / `handleFrame` for every message the server sends;
//   - `handleTimeout` once `pollTimeout` has passed;
//   - `handleConnectionLost` when the transport ends;
//   - `pollConnect` while reconnecting, then `connectionOpened` or
//     `connectionFailed`;
// and after each of those, and after each call that sends something,
// drains `pollTransmit` into the transport and `pollEvent` into the
// application. Nothing here reads a clock or touches a socket.
//
// A lobby request answered with a `Redirect` (its room is on another node
// of a cluster) moves the session there: a goodbye to this node, then the
// shell connects to `redirectTarget` when `pollConnect` says so (the
// reconnection's schedule, with the reservation's validity as the
// deadline), the session greets there as a new player and claims the seat
// with the original request id; that node's answer settles the request.

import { decodeServer, encodeArenaInput, MAX_CLIENT_FRAME, MAX_SERVER_FRAME } from './codec.js';
import { ReplicaError, RequestError, SessionError } from './errors.js';
import { answeredRequest, PROTOCOL_VERSION } from './protocol.js';
import { Backoff, defaultReconnectPolicy, resumable } from './reconnect.js';
import { Replica } from './replica.js';
import { expectedAnswer, requestMessage } from './request.js';
import { ARENA_SCHEMA, BUILTIN_SCHEMAS } from './schema.js';

/** How many inputs a datagram transport's input message carries. */
export const DATAGRAM_INPUT_REDUNDANCY = 3;
/** The most inputs one message may repeat. */
export const MAX_INPUT_REDUNDANCY = 8;
/** The longest event name, bytes. */
export const MAX_EVENT_NAME = 64;
/**
 * The most bytes an event message adds to its name and data: the kind
 * byte, two length prefixes (up to 5 bytes each) and the ack id (up to 6).
 */
const EVENT_FRAMING = 17;

const utf8 = new TextEncoder();

/**
 * The time as the shell reads it: a monotonic clock in milliseconds for
 * deadlines and waits, and the wall clock in microseconds since the Unix
 * epoch for what travels on the wire.
 * @typedef {{at: number, unixUs: number}} Now
 */

/**
 * A session's settings; every bound, with its default.
 * @typedef {object} SessionConfig
 * @property {'immediate' | 'withInput'} ackMode when updates are acknowledged: in an `Ack` of their own at once (default), or in the next `Inputs` (one frame a tick upstream; a server ping's answer then waits for the input too, at most half a tick)
 * @property {number} inputRedundancy inputs per `Inputs` message, newest last: 1 over WebSocket, 3 over datagrams (clamped to 1..=8)
 * @property {number} requestTimeoutMs how long a lobby request waits for its answer (default 10 000)
 * @property {number} maxPendingRequests requests waiting at once (default 16)
 * @property {number} maxPendingEmits events waiting for an answer at once (default 256)
 * @property {number} maxOwedAnswers server events waiting for this client's answer; one more is refused with `RateLimited` (default 256)
 * @property {number} maxFrame the server's client frame limit, bytes: an event that does not fit is refused here (default 4096)
 * @property {import('./reconnect.js').ReconnectPolicy} reconnect how the session reconnects after a drop
 * @property {number | null} silenceTimeoutMs a room connection silent this long has dropped, whatever the transport says (default 5000; null: trust the transport)
 * @property {number} attemptTimeoutMs how long one reconnection attempt may take, from opening the transport to the seat back (default 10 000)
 * @property {boolean} followRedirects whether a request answered with a `Redirect` moves the session to the node it names by itself (the request's answer is that node's); false: the request fails with a `RequestError` `redirected` carrying the redirect (default true)
 * @property {Record<string, import('./schema.js').Schema>} schemas world schemas by game name (default: the built-in games, arena and chat)
 * @property {import('./schema.js').Schema} defaultSchema the schema of a game not in `schemas` (default: the arena's)
 */

/**
 * Settings that differ from the defaults (the reconnection policy too may
 * be given in part).
 * @typedef {Omit<Partial<SessionConfig>, 'reconnect'> & {reconnect?: Partial<import('./reconnect.js').ReconnectPolicy>}} SessionSettings
 */

/** @returns {SessionConfig} */
export function defaultSessionConfig() {
  return {
    ackMode: 'immediate',
    inputRedundancy: 1,
    requestTimeoutMs: 10_000,
    maxPendingRequests: 16,
    maxPendingEmits: 256,
    maxOwedAnswers: 256,
    maxFrame: MAX_CLIENT_FRAME,
    reconnect: defaultReconnectPolicy(),
    silenceTimeoutMs: 5000,
    attemptTimeoutMs: 10_000,
    followRedirects: true,
    schemas: { ...BUILTIN_SCHEMAS },
    defaultSchema: ARENA_SCHEMA,
  };
}

/**
 * How a session ended: the server's reason (a `Close`, a `Rejected`, a
 * close code) or null when the connection just ended; `rejected` when the
 * handshake was refused.
 * @typedef {{reason: import('./protocol.js').CloseReason | null, message: string, rejected: boolean}} Closed
 */

/**
 * How an event emitted with an ack ended.
 * @typedef {{type: 'answered', data: Uint8Array}
 *   | {type: 'refused', code: import('./protocol.js').ErrorCode, message: string}
 *   | {type: 'timedOut'} | {type: 'closed'} | {type: 'interrupted'}} EmitOutcome
 */

/**
 * A request's answer: the server message it waited for.
 * @typedef {import('./protocol.js').RoomList | import('./protocol.js').RoomCreated | import('./protocol.js').Joined | import('./protocol.js').Left} Answer
 */

/**
 * One update, as applied.
 * @typedef {object} AppliedUpdate
 * @property {number} tick
 * @property {boolean} full a full snapshot
 * @property {number} baselineAge ticks between the update and its baseline (0 for a full snapshot)
 * @property {number} bytes delta size
 * @property {number} latenessUs how late the server started the tick
 * @property {number} latencyUs from the server's tick start to the world rebuilt here (meaningful with synchronised clocks)
 */

/**
 * A server event handed to the application; `replyTo` is set when the
 * server wants an answer (give it with `answer`).
 * @typedef {{name: string, data: Uint8Array, replyTo: number | null}} IncomingEvent
 */

/**
 * What happened, for the application. `redirected`: a request was
 * answered with a `Redirect` and the session leaves this node for `node`
 * (the request stays pending); `moved`: it is on that node, welcomed as
 * a new player, and has claimed the seat (the request's answer follows).
 * @typedef {{type: 'welcomed', welcome: import('./protocol.js').Welcome}
 *   | {type: 'answered', id: number, answer: Answer | null, error: RequestError | null}
 *   | {type: 'joined', joined: import('./protocol.js').Joined}
 *   | {type: 'left', left: import('./protocol.js').Left}
 *   | {type: 'updated', update: AppliedUpdate, world: import('./world.js').World}
 *   | {type: 'updateFailed', error: ReplicaError}
 *   | {type: 'event', event: IncomingEvent}
 *   | {type: 'emitted', ack: number, name: string, outcome: EmitOutcome, elapsedMs: number}
 *   | {type: 'rtt', rttMs: number}
 *   | {type: 'error', error: import('./protocol.js').ErrorMessage}
 *   | {type: 'closed', closed: Closed}
 *   | {type: 'reconnecting', attempt: number, waitMs: number, cause: import('./protocol.js').CloseReason | null}
 *   | {type: 'resumed', room: import('./protocol.js').Joined | null, afterMs: number, attempts: number}
 *   | {type: 'lost', reason: import('./reconnect.js').LostReason}
 *   | {type: 'redirected', node: string, ws: string}
 *   | {type: 'moved', node: string, welcome: import('./protocol.js').Welcome, afterMs: number, attempts: number}} SessionEvent
 */

/**
 * A message to send, and how it may travel: `reliable` (in order, never
 * lost) or `unreliable` (a datagram when the transport has them: inputs,
 * which repeat, and acks, which a newer one supersedes).
 * @typedef {{message: import('./protocol.js').ClientMessage, delivery: 'reliable' | 'unreliable'}} Transmit
 */

/**
 * Where the session is.
 * @typedef {{type: 'greeting'} | {type: 'lobby'} | {type: 'inRoom', joined: import('./protocol.js').Joined}
 *   | {type: 'reconnecting'} | {type: 'closing'} | {type: 'closed', closed: Closed}} SessionState
 */

/**
 * @typedef {{kind: 'message', message: import('./protocol.js').ClientMessage, delivery: 'reliable' | 'unreliable'}
 *   | {kind: 'ping'} | {kind: 'pong', ping: import('./protocol.js').Ping, arrived: number}} Outgoing
 */

/**
 * A reconnection in progress.
 * @typedef {object} Reconnecting
 * @property {number} since when the connection dropped
 * @property {number} deadline when to stop trying
 * @property {number} attempts attempts started
 * @property {number | null} nextAt when the next attempt is due (null while one is under way)
 * @property {number} attemptDeadline when the attempt under way counts as failed
 * @property {import('./protocol.js').Joined | null} room the room whose seat it wants back
 * @property {boolean} welcomed the new connection got its seat back: waiting for `Joined`
 * @property {import('./protocol.js').CloseReason | null} cause
 * @property {import('./protocol.js').Redirect | null} redirect set when this is not a drop but a move to another node of the cluster: where to, and the reservation to claim there
 */

/**
 * A `Hello` for this protocol version.
 * @param {string} name
 * @returns {import('./protocol.js').Hello}
 */
export function hello(name) {
  return {
    type: 'Hello',
    protocolVersion: PROTOCOL_VERSION,
    clientName: name,
    authTicket: null,
    resumeToken: null,
    resumeFrom: null,
  };
}

/**
 * The tick period in whole nanoseconds, as the server schedules it
 * (1 s / rate, truncated); null for a rate of 0, which no server sends.
 * @param {number} hz
 */
function periodNs(hz) {
  return hz > 0 ? Math.floor(1e9 / hz) : null;
}

/**
 * @param {number} microseconds
 */
function clampU32(microseconds) {
  return Math.min(Math.max(Math.round(microseconds), 0), 0xffff_ffff);
}

/** One client's protocol state (see the module comment). */
export class ClientSession {
  /**
   * A session greeting with `greeting` (null: the caller sends its own
   * `Hello`, and the session cannot reconnect by itself).
   * @param {import('./protocol.js').Hello | null} greeting
   * @param {SessionSettings} [config]
   */
  constructor(greeting, config = {}) {
    const defaults = defaultSessionConfig();
    /** @type {SessionConfig} */
    this.config = {
      ...defaults,
      ...config,
      reconnect: { ...defaults.reconnect, ...config.reconnect },
      schemas: { ...defaults.schemas, ...config.schemas },
    };
    this.config.inputRedundancy = Math.min(
      Math.max(Math.floor(this.config.inputRedundancy), 1),
      MAX_INPUT_REDUNDANCY,
    );
    /** @private @type {SessionState} */
    this._state = { type: 'greeting' };
    /** @private @type {import('./protocol.js').Welcome | null} */
    this._welcome = null;
    /** @private */
    this._replica = new Replica(this.config.defaultSchema);
    /** @private */
    this.nextRequest = 0;
    /** @private @type {Map<number, {expect: import('./request.js').Expect, deadline: number}>} */
    this.requests = new Map();
    /** @private */
    this.nextAck = 0;
    /** @private @type {Map<number, {name: string, sent: number, deadline: number}>} */
    this.emits = new Map();
    /** @private @type {Set<number>} */
    this.owed = new Set();
    /** @private */
    this.nextSeq = 0;
    /** @private @type {Uint8Array[]} */
    this.recentInputs = [];
    /** @private @type {number | null} */
    this.pendingAck = null;
    /** @private */
    this.pingWithInput = false;
    /** @private @type {{ping: import('./protocol.js').Ping, arrived: number} | null} */
    this.heldPing = null;
    /** @private @type {number | null} */
    this._rttMs = null;
    /** @private @type {Outgoing[]} */
    this.outbox = [];
    /** @private @type {SessionEvent[]} */
    this.events = [];
    /** @private */
    this.greeting = greeting;
    /** @private @type {number | null} */
    this.lastHeard = null;
    /** @private */
    this.backoff = new Backoff(this.config.reconnect.jitterSeed);
    /** @private @type {Reconnecting | null} */
    this.reconnecting = null;
    /** @private @type {{reason: import('./protocol.js').CloseReason | null, message: string} | null} */
    this.closingCause = null;
    if (greeting !== null) this.queue(greeting, 'reliable');
  }

  // ---- state ----

  /** Where the session is. */
  get state() {
    return this._state;
  }

  /** The server's welcome, once greeted. */
  get welcome() {
    return this._welcome;
  }

  /** This client's player id, once greeted. */
  get player() {
    return this._welcome?.player ?? null;
  }

  /** The room the client is in. */
  get room() {
    return this._state.type === 'inRoom' ? this._state.joined : null;
  }

  /** The replica (worlds of recent ticks). */
  get replica() {
    return this._replica;
  }

  /** The newest world rebuilt. */
  get world() {
    return this._replica.latest() ?? null;
  }

  /** The last round-trip time a ping measured, milliseconds. */
  get rttMs() {
    return this._rttMs;
  }

  /** Requests waiting for an answer. */
  get pendingRequests() {
    return this.requests.size;
  }

  /** Emitted events waiting for an answer. */
  get pendingEmits() {
    return this.emits.size;
  }

  /** Whether the session has ended. */
  get isClosed() {
    return this._state.type === 'closed';
  }

  /** Whether the connection dropped and the session is reconnecting. */
  get isReconnecting() {
    return this._state.type === 'reconnecting';
  }

  /**
   * Where a redirect sends the session, while it is on its way (the shell
   * connects there, and to there from then on); null otherwise.
   * @returns {import('./protocol.js').Redirect | null}
   */
  get redirectTarget() {
    return this.reconnecting?.redirect ?? null;
  }

  /**
   * Chooses when updates are acknowledged from now on.
   * @param {'immediate' | 'withInput'} mode
   */
  setAckMode(mode) {
    this.config.ackMode = mode;
  }

  /**
   * Replaces the auth ticket the session greets with when it reconnects.
   * @param {string | null} ticket
   */
  setAuthTicket(ticket) {
    if (this.greeting !== null) this.greeting = { ...this.greeting, authTicket: ticket };
  }

  /** @private */
  open() {
    switch (this._state.type) {
      case 'closing':
      case 'closed':
        throw new SessionError('closed', 'the session is closed');
      case 'reconnecting':
        throw new SessionError('reconnecting', 'the session is reconnecting');
    }
  }

  /**
   * @private
   * @param {import('./protocol.js').ClientMessage} message
   * @param {'reliable' | 'unreliable'} delivery
   */
  queue(message, delivery) {
    this.outbox.push({ kind: 'message', message, delivery });
  }

  /**
   * The schema of a game's world.
   * @param {string} game
   */
  schemaFor(game) {
    return Object.hasOwn(this.config.schemas, game) ? this.config.schemas[game] : this.config.defaultSchema;
  }

  /**
   * Uses the schema of the game `joined` runs (a new replica when it
   * changes).
   * @private
   * @param {import('./protocol.js').Joined} joined
   */
  useSchemaOf(joined) {
    const schema = this.schemaFor(joined.room.game);
    if (schema !== this._replica.schema) this._replica = new Replica(schema);
  }

  // ---- requests ----

  /**
   * Sends a lobby request; its answer comes as an `answered` event with
   * the id returned.
   * @param {Now} now
   * @param {import('./request.js').Request} request
   * @returns {number} the request id
   */
  request(now, request) {
    this.open();
    if (this.requests.size >= this.config.maxPendingRequests) {
      throw new SessionError(
        'too_many_requests',
        `too many requests waiting for an answer (${this.requests.size})`,
      );
    }
    this.nextRequest = (this.nextRequest + 1) >>> 0;
    const id = this.nextRequest;
    const expect = expectedAnswer(request);
    if (expect === 'Joined') {
      // Forget the old room now, not when `Joined` arrives: over datagrams
      // the new room's first update may overtake the `Joined`.
      this.forgetRoom();
    }
    this.queue(requestMessage(request, id), 'reliable');
    this.requests.set(id, { expect, deadline: now.at + this.config.requestTimeoutMs });
    return id;
  }

  /** @private */
  forgetRoom() {
    this._replica.reset();
    this.pendingAck = null;
    this.recentInputs = [];
    if (this.heldPing !== null) {
      this.outbox.push({ kind: 'pong', ping: this.heldPing.ping, arrived: this.heldPing.arrived });
      this.heldPing = null;
    }
  }

  /**
   * @private
   * @param {number} requestId
   * @param {import('./protocol.js').ServerMessage} message
   */
  answered(requestId, message) {
    const pending = this.requests.get(requestId);
    if (pending === undefined) return;
    this.requests.delete(requestId);
    /** @type {Answer | null} */
    let answer = null;
    /** @type {RequestError | null} */
    let error = null;
    if (message.type === 'Error') {
      error = new RequestError('refused', `refused (${message.code}): ${message.message}`, {
        errorCode: message.code,
        serverMessage: message.message,
      });
    } else if (message.type === pending.expect) {
      answer = /** @type {Answer} */ (message);
      if (message.type === 'Joined') {
        this.useSchemaOf(message);
        this._state = { type: 'inRoom', joined: message };
      } else if (message.type === 'Left') {
        this.left();
      }
    } else {
      error = new RequestError('unexpected', `unexpected answer kind ${message.type}`);
    }
    this.events.push({ type: 'answered', id: requestId, answer, error });
  }

  /** @private */
  left() {
    if (this._state.type === 'inRoom') this._state = { type: 'lobby' };
    this.forgetRoom();
  }

  // ---- inputs, acks, pings ----

  /**
   * Sends one encoded game input with the next sequence number, repeating
   * the previous ones up to `inputRedundancy`; with `ackMode` `withInput`
   * the pending acknowledgement, a held ping answer and a ping asked for
   * with `pingWithNextInput` go with it. While reconnecting the input is
   * dropped (the server holds the last input it read).
   * @param {Uint8Array} input
   * @returns {number} the input's sequence number
   */
  sendInput(input) {
    if (this.isReconnecting) return this.nextSeq;
    this.open();
    this.nextSeq = (this.nextSeq + 1) >>> 0;
    while (this.recentInputs.length >= this.config.inputRedundancy) this.recentInputs.shift();
    this.recentInputs.push(input);
    this.queue(
      { type: 'Inputs', newestSeq: this.nextSeq, inputs: [...this.recentInputs], ack: this.pendingAck },
      'unreliable',
    );
    this.pendingAck = null;
    if (this.heldPing !== null) {
      this.outbox.push({ kind: 'pong', ping: this.heldPing.ping, arrived: this.heldPing.arrived });
      this.heldPing = null;
    }
    if (this.pingWithInput) {
      this.pingWithInput = false;
      this.outbox.push({ kind: 'ping' });
    }
    return this.nextSeq;
  }

  /**
   * `sendInput` with an arena input.
   * @param {import('./codec.js').ArenaInput} input
   */
  sendArenaInput(input) {
    return this.sendInput(encodeArenaInput(input));
  }

  /** Pings the server now; the answer comes as an `rtt` event. */
  ping() {
    if (this.isReconnecting) return;
    this.open();
    this.outbox.push({ kind: 'ping' });
  }

  /** Has the next input carry a ping along. */
  pingWithNextInput() {
    this.pingWithInput = true;
  }

  /**
   * How long a held ping answer may wait for an input: half a tick.
   * @private
   */
  holdLimit() {
    const ns = this.room === null ? null : periodNs(this.room.tickRate);
    return ns === null ? 0 : ns / 2 / 1e6;
  }

  // ---- events ----

  /**
   * @private
   * @param {string} name
   * @param {Uint8Array} data
   */
  checkEvent(name, data) {
    const nameBytes = utf8.encode(name).length;
    if (nameBytes === 0 || nameBytes > MAX_EVENT_NAME) {
      throw new SessionError('event_name', `an event name has 1..=${MAX_EVENT_NAME} bytes, not ${nameBytes}`);
    }
    const size = nameBytes + data.length + EVENT_FRAMING;
    if (size > this.config.maxFrame) {
      throw new SessionError('too_large', `an event of ${size} bytes does not fit a ${this.config.maxFrame}-byte frame`);
    }
  }

  /**
   * Emits an event to the room's game, wanting no answer. A refusal comes
   * back as an `error` event.
   * @param {string} name
   * @param {Uint8Array} data
   */
  emit(name, data) {
    this.open();
    this.checkEvent(name, data);
    this.queue({ type: 'Event', name, data, ackId: null }, 'reliable');
  }

  /**
   * Emits an event wanting an answer by `now + timeoutMs`; the outcome
   * comes as an `emitted` event with the ack id returned.
   * @param {Now} now
   * @param {string} name
   * @param {Uint8Array} data
   * @param {number} timeoutMs
   * @returns {number} the ack id
   */
  emitWithAck(now, name, data, timeoutMs) {
    this.open();
    this.checkEvent(name, data);
    if (this.emits.size >= this.config.maxPendingEmits) {
      throw new SessionError('too_many_emits', `too many events waiting for an answer (${this.emits.size})`);
    }
    this.nextAck = (this.nextAck + 1) >>> 0;
    const id = this.nextAck;
    this.queue({ type: 'Event', name, data, ackId: id }, 'reliable');
    this.emits.set(id, { name, sent: now.at, deadline: now.at + timeoutMs });
    return id;
  }

  /**
   * Answers a server event that asked for one.
   * @param {number} replyTo the event's `replyTo`
   * @param {import('./protocol.js').EventOutcome} outcome
   */
  answer(replyTo, outcome) {
    this.open();
    if (!this.owed.delete(replyTo)) {
      throw new SessionError('not_asked', `no server event waits for answer ${replyTo}`);
    }
    this.queue({ type: 'EventReply', ackId: replyTo, outcome }, 'reliable');
  }

  /**
   * Whether the server waits for this answer.
   * @param {number} replyTo
   */
  owes(replyTo) {
    return this.owed.has(replyTo);
  }

  /**
   * @private
   * @param {number} ackId
   * @param {Now} now
   * @param {EmitOutcome} outcome
   */
  emitted(ackId, now, outcome) {
    const pending = this.emits.get(ackId);
    if (pending === undefined) return;
    this.emits.delete(ackId);
    this.events.push({
      type: 'emitted',
      ack: ackId,
      name: pending.name,
      outcome,
      elapsedMs: Math.max(0, now.at - pending.sent),
    });
  }

  // ---- closing ----

  /**
   * Says goodbye: queues a `Close` and stops taking calls.
   * @param {string} [message]
   */
  close(message = '') {
    if (this._state.type === 'closing' || this._state.type === 'closed') return;
    if (this._state.type === 'reconnecting') {
      // No connection to say it on: the session just ends.
      this.reconnecting = null;
      this.end(0, { reason: 'Normal', message, rejected: false });
      return;
    }
    this.queue({ type: 'Close', reason: 'Normal', message }, 'reliable');
    this.closingCause = { reason: 'Normal', message };
    this._state = { type: 'closing' };
  }

  /**
   * The server sent something this client cannot take (an undecodable
   * frame): says goodbye as `close` does, and the session ends with
   * `reason` and `message` once the connection is gone.
   * @param {import('./protocol.js').CloseReason} reason
   * @param {string} message
   */
  fail(reason, message) {
    if (this._state.type === 'closing' || this._state.type === 'closed') return;
    if (this._state.type === 'reconnecting') {
      this.reconnecting = null;
      this.end(0, { reason, message, rejected: false });
      return;
    }
    this.queue({ type: 'Close', reason: 'Normal', message }, 'reliable');
    this.closingCause = { reason, message };
    this._state = { type: 'closing' };
  }

  /**
   * Fails what waits on the server.
   * @private
   * @param {number} at
   * @param {RequestError} requestError
   * @param {EmitOutcome} emitOutcome
   */
  cut(at, requestError, emitOutcome) {
    for (const id of [...this.requests.keys()]) {
      this.events.push({ type: 'answered', id, answer: null, error: requestError });
    }
    this.requests.clear();
    for (const id of [...this.emits.keys()]) this.emitted(id, { at, unixUs: 0 }, emitOutcome);
    this.owed.clear();
    this.heldPing = null;
  }

  /**
   * @private
   * @param {number} at
   * @param {Closed} closed
   */
  end(at, closed) {
    if (this.isClosed) return;
    this.cut(at, new RequestError('closed', 'the session closed'), { type: 'closed' });
    this.reconnecting = null;
    this.events.push({ type: 'closed', closed });
    this._state = { type: 'closed', closed };
  }

  /**
   * The transport ended. Without a `Close` before, the reason is the one
   * the transport gives (a close code that maps to a reason), or null.
   * When the session may resume it starts reconnecting instead of
   * closing; during a reconnection it is the attempt that failed.
   * @param {Now} now
   * @param {{reason: import('./protocol.js').CloseReason, message: string} | null} [cause]
   */
  handleConnectionLost(now, cause = null) {
    const reason = cause?.reason ?? null;
    const message = cause?.message ?? 'connection lost';
    if (this.isReconnecting) {
      if (reason !== null && !resumable(reason)) {
        this.lose(now, { type: 'refused', reason, message });
      } else {
        this.connectionFailed(now);
      }
      return;
    }
    if (this._state.type === 'closing' && this.closingCause !== null) {
      this.end(now.at, { reason: this.closingCause.reason, message: this.closingCause.message, rejected: false });
      return;
    }
    if (this.mayReconnect(reason)) {
      this.startReconnecting(now, reason);
      return;
    }
    this.end(now.at, { reason, message, rejected: false });
  }

  // ---- reconnecting ----

  /**
   * @private
   * @param {import('./protocol.js').CloseReason | null} reason
   */
  mayReconnect(reason) {
    return (
      this.config.reconnect.enabled &&
      this.greeting !== null &&
      this._welcome !== null &&
      this._welcome.reconnectGraceMs > 0 &&
      (this._state.type === 'lobby' || this._state.type === 'inRoom') &&
      resumable(reason)
    );
  }

  /**
   * @private
   * @param {Now} now
   * @param {import('./protocol.js').CloseReason | null} cause
   */
  startReconnecting(now, cause) {
    const grace = this._welcome?.reconnectGraceMs ?? 0;
    const limit = this.config.reconnect.giveUpAfterMs;
    const within = limit === null ? grace : Math.min(limit, grace);
    this.cut(now.at, new RequestError('interrupted', 'the connection dropped before the answer'), {
      type: 'interrupted',
    });
    this.outbox = [];
    this.pendingAck = null;
    this.recentInputs = [];
    this.pingWithInput = false;
    const room = this.room;
    this._state = { type: 'reconnecting' };
    this.reconnecting = {
      since: now.at,
      deadline: now.at + within,
      attempts: 0,
      nextAt: null,
      attemptDeadline: Infinity,
      room,
      welcomed: false,
      cause,
      redirect: null,
    };
    this.scheduleAttempt(now);
  }

  /**
   * Schedules the next attempt after a backoff wait, or gives up once the
   * grace has run out.
   * @private
   * @param {Now} now
   */
  scheduleAttempt(now) {
    const rc = this.reconnecting;
    if (rc === null) return;
    if (now.at >= rc.deadline) {
      this.lose(
        now,
        rc.redirect !== null
          ? { type: 'unreachable', node: rc.redirect.node, attempts: rc.attempts }
          : { type: 'gaveUp', attempts: rc.attempts },
      );
      return;
    }
    const attempt = rc.attempts + 1;
    const wait = this.backoff.delay(this.config.reconnect, attempt);
    const at = Math.min(now.at + wait, rc.deadline);
    rc.nextAt = at;
    rc.welcomed = false;
    this.events.push({ type: 'reconnecting', attempt, waitMs: Math.max(0, at - now.at), cause: rc.cause });
  }

  /**
   * Whether the shell should open a new transport now: true once per
   * attempt, when its wait is over. Answer with `connectionOpened` or
   * `connectionFailed`.
   * @param {Now} now
   */
  pollConnect(now) {
    const rc = this.reconnecting;
    if (rc === null || rc.nextAt === null || rc.nextAt > now.at) return false;
    rc.nextAt = null;
    rc.attempts++;
    rc.attemptDeadline = Math.min(now.at + this.config.attemptTimeoutMs, rc.deadline);
    return true;
  }

  /**
   * Whether a reconnection attempt is under way (the shell is opening a
   * transport, or greeting on it); false between attempts, when the shell
   * holds no transport.
   */
  get attemptUnderWay() {
    return this.reconnecting !== null && this.reconnecting.nextAt === null;
  }

  /**
   * The new transport is open: the session greets with its resume token
   * and the newest tick of the world it holds (or, moving to another node,
   * as a new player).
   * @param {Now} _now
   */
  connectionOpened(_now) {
    const rc = this.reconnecting;
    if (rc === null || this.greeting === null || this._welcome === null) return;
    if (rc.redirect !== null) {
      this.outbox = [];
      this.queue({ ...this.greeting, resumeToken: null, resumeFrom: null }, 'reliable');
      return;
    }
    const resumeFrom = rc.room !== null ? (this._replica.latest()?.tick ?? null) : null;
    this.outbox = [];
    this.queue({ ...this.greeting, resumeToken: this._welcome.resumeToken, resumeFrom }, 'reliable');
  }

  /**
   * The attempt failed (the transport could not be opened, or ended before
   * the session was back): the next one is scheduled, or the session gives
   * up once the grace has run out.
   * @param {Now} now
   */
  connectionFailed(now) {
    if (!this.isReconnecting) return;
    this.outbox = [];
    this.scheduleAttempt(now);
  }

  /**
   * Ends a reconnection that failed: in the lobby when connected, else
   * closed.
   * @private
   * @param {Now} now
   * @param {import('./reconnect.js').LostReason} reason
   */
  lose(now, reason) {
    this.reconnecting = null;
    if (reason.type === 'seatGone') {
      this._state = { type: 'lobby' };
      this.forgetRoom();
      this.events.push({ type: 'lost', reason });
      return;
    }
    /** @type {Closed} */
    const closed =
      reason.type === 'refused'
        ? { reason: reason.reason, message: reason.message, rejected: true }
        : reason.type === 'unreachable'
          ? { reason: null, message: `could not reach node ${reason.node} of the cluster in time`, rejected: false }
          : { reason: null, message: 'could not reconnect within the grace', rejected: false };
    this.cut(now.at, new RequestError('closed', 'the session closed'), { type: 'closed' });
    this._state = { type: 'closed', closed };
    this.events.push({ type: 'lost', reason });
  }

  /**
   * @private
   * @param {Now} now
   * @param {import('./protocol.js').Joined | null} room
   */
  resumed(now, room) {
    const rc = this.reconnecting;
    if (rc === null) return;
    this.reconnecting = null;
    this._state = room === null ? { type: 'lobby' } : { type: 'inRoom', joined: room };
    this.events.push({ type: 'resumed', room, afterMs: Math.max(0, now.at - rc.since), attempts: rc.attempts });
  }

  /**
   * @private
   * @param {Now} now
   * @param {import('./protocol.js').Welcome} welcome
   */
  rewelcomed(now, welcome) {
    if (this.reconnecting?.redirect) {
      this.moved(now, welcome);
      return;
    }
    this._welcome = welcome;
    const rc = this.reconnecting;
    if (rc === null) return;
    if (welcome.resumed && rc.room !== null) {
      // The seat is back; its `Joined` follows.
      rc.welcomed = true;
    } else if (!welcome.resumed && rc.room !== null) {
      this.lose(now, { type: 'seatGone' });
    } else {
      // Resumed in the lobby, or a fresh player that sat nowhere: nothing
      // was lost.
      this.resumed(now, null);
    }
  }

  // ---- following a redirect ----

  /**
   * A request was answered with `redirect`: follow it (or fail the
   * request when redirects are not followed).
   * @private
   * @param {Now} now
   * @param {import('./protocol.js').Redirect} redirect
   */
  redirected(now, redirect) {
    const pending = this.requests.get(redirect.requestId);
    // Nothing waits (timed out): nothing to follow.
    if (pending === undefined) return;
    this.requests.delete(redirect.requestId);
    if (!this.config.followRedirects || this.greeting === null || this._welcome === null) {
      const error = new RequestError('redirected', `the room is on node ${redirect.node}`, { redirect });
      this.events.push({ type: 'answered', id: redirect.requestId, answer: null, error });
      return;
    }
    // Other requests were for this node: they end here.
    this.cut(now.at, new RequestError('interrupted', 'the session moved to another node before the answer'), {
      type: 'interrupted',
    });
    pending.deadline = now.at + redirect.validForMs + this.config.requestTimeoutMs;
    this.requests.set(redirect.requestId, pending);
    this.outbox = [];
    this.pendingAck = null;
    this.recentInputs = [];
    this.pingWithInput = false;
    this.forgetRoom();
    this.queue({ type: 'Close', reason: 'Normal', message: `moving to node ${redirect.node}` }, 'reliable');
    this.events.push({ type: 'redirected', node: redirect.node, ws: redirect.ws });
    this._state = { type: 'reconnecting' };
    this.reconnecting = {
      since: now.at,
      deadline: now.at + redirect.validForMs,
      attempts: 0,
      // The first attempt at once: nothing failed yet.
      nextAt: now.at,
      attemptDeadline: Infinity,
      room: null,
      welcomed: false,
      cause: null,
      redirect,
    };
  }

  /**
   * The node redirected to welcomed the session: claim the seat.
   * @private
   * @param {Now} now
   * @param {import('./protocol.js').Welcome} welcome
   */
  moved(now, welcome) {
    const rc = this.reconnecting;
    if (rc === null || rc.redirect === null) return;
    const redirect = rc.redirect;
    this.reconnecting = null;
    this._state = { type: 'lobby' };
    this._welcome = welcome;
    const pending = this.requests.get(redirect.requestId);
    if (pending !== undefined) pending.deadline = now.at + this.config.requestTimeoutMs;
    this.queue({ type: 'ClaimSeat', requestId: redirect.requestId, reservation: redirect.reservation }, 'reliable');
    this.events.push({
      type: 'moved',
      node: redirect.node,
      welcome,
      afterMs: Math.max(0, now.at - rc.since),
      attempts: rc.attempts,
    });
  }

  // ---- input from the server ----

  /**
   * Decodes and handles a server frame. Throws a `DecodeError` (and
   * changes nothing) when the frame does not decode.
   * @param {Now} now
   * @param {Uint8Array} frame
   */
  handleFrame(now, frame) {
    this.handle(now, decodeServer(frame, MAX_SERVER_FRAME));
  }

  /**
   * Handles a server message.
   * @param {Now} now
   * @param {import('./protocol.js').ServerMessage} message
   */
  handle(now, message) {
    if (this.isClosed) return;
    this.lastHeard = now.at;
    if (this.isReconnecting) {
      this.handleWhileReconnecting(now, message);
      return;
    }
    if (this._state.type === 'closing') {
      // Goodbye said: what still arrives is not for the application; the
      // server's own close ends the session with this client's reason.
      if ((message.type === 'Close' || message.type === 'Rejected') && this.closingCause !== null) {
        this.end(now.at, { reason: this.closingCause.reason, message: this.closingCause.message, rejected: false });
      }
      return;
    }
    if (message.type === 'Redirect') {
      this.redirected(now, message);
      return;
    }
    const id = answeredRequest(message);
    if (id !== null && this.requests.has(id)) {
      this.answered(id, message);
      return;
    }
    switch (message.type) {
      case 'Welcome':
        if (this._state.type === 'greeting') this._state = { type: 'lobby' };
        this._welcome = message;
        this.events.push({ type: 'welcomed', welcome: message });
        break;
      case 'Rejected':
        this.end(now.at, { reason: message.reason, message: message.message, rejected: true });
        break;
      case 'Close':
        // `IdleTimeout` and `SlowConsumer` park the seat: come back for it
        // (docs/protocol.md, "How a client should reconnect").
        if (resumable(message.reason) && this.mayReconnect(message.reason)) {
          this.startReconnecting(now, message.reason);
        } else {
          this.end(now.at, { reason: message.reason, message: message.message, rejected: false });
        }
        break;
      case 'Joined':
        // Unasked: a seat given back on resume.
        this.forgetRoom();
        this.useSchemaOf(message);
        this._state = { type: 'inRoom', joined: message };
        this.events.push({ type: 'joined', joined: message });
        break;
      case 'Left':
        this.left();
        this.events.push({ type: 'left', left: message });
        break;
      case 'Update':
        this.update(now, message);
        break;
      case 'Ping':
        this.pinged(now, message);
        break;
      case 'Pong': {
        const rttUs = now.unixUs - Number(message.pingSentAtUs) - message.heldUs;
        this._rttMs = Math.max(0, rttUs) / 1000;
        this.events.push({ type: 'rtt', rttMs: this._rttMs });
        break;
      }
      case 'Event':
        this.serverEvent(message);
        break;
      case 'EventReply': {
        const o = message.outcome;
        this.emitted(
          message.ackId,
          now,
          o.type === 'Data' ? { type: 'answered', data: o.data } : { type: 'refused', code: o.code, message: o.message },
        );
        break;
      }
      case 'Error':
        this.events.push({ type: 'error', error: message });
        break;
      case 'RoomList':
      case 'RoomCreated':
        // Answers to nothing pending (timed out): dropped.
        break;
    }
  }

  /**
   * A message on the new connection of a reconnecting session.
   * @private
   * @param {Now} now
   * @param {import('./protocol.js').ServerMessage} message
   */
  handleWhileReconnecting(now, message) {
    const rc = this.reconnecting;
    switch (message.type) {
      case 'Welcome':
        this.rewelcomed(now, message);
        break;
      case 'Joined':
        if (message.requestId === null && rc !== null && rc.welcomed) {
          if (rc.room === null || rc.room.room.id !== message.room.id) this.forgetRoom();
          this.useSchemaOf(message);
          this.resumed(now, message);
        }
        break;
      case 'Rejected':
        this.lose(now, { type: 'refused', reason: message.reason, message: message.message });
        break;
      case 'Close':
        if (!resumable(message.reason)) {
          this.lose(now, { type: 'refused', reason: message.reason, message: message.message });
        }
        break;
      case 'Ping':
        this.pinged(now, message);
        break;
      case 'Update':
        this.update(now, message);
        break;
      default:
        break;
    }
  }

  /**
   * @private
   * @param {import('./protocol.js').RoomEvent} event
   */
  serverEvent(event) {
    let replyTo = null;
    if (event.ackId !== null) {
      if (this.owed.size >= this.config.maxOwedAnswers) {
        this.queue(
          {
            type: 'EventReply',
            ackId: event.ackId,
            outcome: {
              type: 'Error',
              code: 'RateLimited',
              message: `${this.owed.size} server events wait for an answer already`,
            },
          },
          'reliable',
        );
        return;
      }
      this.owed.add(event.ackId);
      replyTo = event.ackId;
    }
    this.events.push({ type: 'event', event: { name: event.name, data: event.data, replyTo } });
  }

  /**
   * @private
   * @param {Now} now
   * @param {import('./protocol.js').Ping} ping
   */
  pinged(now, ping) {
    if (this.config.ackMode === 'withInput' && this.room !== null) {
      // An older ping still held is answered now.
      const older = this.heldPing;
      this.heldPing = { ping, arrived: now.at };
      if (older !== null) this.outbox.push({ kind: 'pong', ping: older.ping, arrived: older.arrived });
    } else {
      this.outbox.push({ kind: 'pong', ping, arrived: now.at });
    }
  }

  /**
   * @private
   * @param {Now} now
   * @param {import('./protocol.js').Update} update
   */
  update(now, update) {
    // A ping held for half a tick has waited for an input that did not
    // come: it goes on its own.
    this.releaseHeldPing(now);
    let w;
    try {
      w = this._replica.apply(update);
    } catch (e) {
      if (!(e instanceof ReplicaError)) throw e;
      this.events.push({ type: 'updateFailed', error: e });
      return;
    }
    const room = this.room;
    let latencyUs = 0;
    const ns = room === null ? null : periodNs(room.tickRate);
    if (room !== null && ns !== null) {
      const due = Number(room.tickZeroUnixUs) + (w.tick * ns) / 1000 + update.latenessUs;
      latencyUs = Math.max(0, Math.round(now.unixUs - due));
    }
    if (this.config.ackMode === 'immediate') {
      this.queue({ type: 'Ack', tick: w.tick }, 'unreliable');
    } else {
      this.pendingAck = w.tick;
    }
    this.events.push({
      type: 'updated',
      update: {
        tick: w.tick,
        full: update.baseline === null,
        baselineAge: update.baseline === null ? 0 : w.tick - update.baseline,
        bytes: update.delta.length,
        latenessUs: update.latenessUs,
        latencyUs,
      },
      world: w,
    });
  }

  /**
   * @private
   * @param {Now} now
   */
  releaseHeldPing(now) {
    const held = this.heldPing;
    if (held !== null && now.at - held.arrived >= this.holdLimit()) {
      this.heldPing = null;
      this.outbox.push({ kind: 'pong', ping: held.ping, arrived: held.arrived });
    }
  }

  // ---- time ----

  /**
   * The earliest time `handleTimeout` has work (monotonic milliseconds),
   * or null.
   * @returns {number | null}
   */
  pollTimeout() {
    let earliest = Infinity;
    for (const r of this.requests.values()) earliest = Math.min(earliest, r.deadline);
    for (const e of this.emits.values()) earliest = Math.min(earliest, e.deadline);
    if (this.heldPing !== null) earliest = Math.min(earliest, this.heldPing.arrived + this.holdLimit());
    const rc = this.reconnecting;
    if (rc !== null) earliest = Math.min(earliest, rc.nextAt ?? rc.attemptDeadline);
    const silence = this.silenceDeadline();
    if (silence !== null) earliest = Math.min(earliest, silence);
    return earliest === Infinity ? null : earliest;
  }

  /**
   * When a silent room connection counts as dropped.
   * @private
   * @returns {number | null}
   */
  silenceDeadline() {
    const limit = this.config.silenceTimeoutMs;
    if (limit === null || this._state.type !== 'inRoom' || this.lastHeard === null) return null;
    return this.lastHeard + limit;
  }

  /**
   * Fails the requests and emits whose deadline has passed, sends a held
   * ping answer whose wait is over, and treats a room connection silent
   * past `silenceTimeoutMs` as dropped. Calling it early is harmless.
   * @param {Now} now
   */
  handleTimeout(now) {
    for (const [id, r] of [...this.requests]) {
      if (r.deadline <= now.at) {
        this.requests.delete(id);
        this.events.push({ type: 'answered', id, answer: null, error: new RequestError('timed_out', 'no answer in time') });
      }
    }
    for (const [id, e] of [...this.emits]) {
      if (e.deadline <= now.at) this.emitted(id, now, { type: 'timedOut' });
    }
    this.releaseHeldPing(now);
    const rc = this.reconnecting;
    if (rc !== null && rc.nextAt === null && rc.attemptDeadline <= now.at) {
      // An attempt that hangs (a server that takes the connection and
      // never answers) counts as failed; the shell drops its transport.
      this.connectionFailed(now);
    }
    const silence = this.silenceDeadline();
    if (silence !== null && silence <= now.at) {
      // The shell sees the session reconnecting (or closed) and drops the
      // silent transport.
      this.handleConnectionLost(now, null);
    }
  }

  // ---- output ----

  /**
   * The next message to send, stamped with `now` (pings carry the wall
   * clock; ping answers say how long they were held).
   * @param {Now} now
   * @returns {Transmit | null}
   */
  pollTransmit(now) {
    const next = this.outbox.shift();
    if (next === undefined) return null;
    switch (next.kind) {
      case 'message':
        return { message: next.message, delivery: next.delivery };
      case 'ping':
        return { message: { type: 'Ping', sentAtUs: BigInt(Math.floor(now.unixUs)) }, delivery: 'reliable' };
      case 'pong':
        return {
          message: {
            type: 'Pong',
            pingSentAtUs: next.ping.sentAtUs,
            sentAtUs: BigInt(Math.floor(now.unixUs)),
            heldUs: clampU32((now.at - next.arrived) * 1000),
          },
          delivery: 'reliable',
        };
    }
  }

  /** Whether `pollTransmit` has something. */
  get hasTransmit() {
    return this.outbox.length > 0;
  }

  /**
   * The next event for the application.
   * @returns {SessionEvent | null}
   */
  pollEvent() {
    return this.events.shift() ?? null;
  }
}
