// `Client`: one connection to a tickwire server, the thin IO shell around
// the sans-IO `ClientSession`. The session decides what to send and what
// happened; the client moves frames over a transport (WebTransport or
// WebSocket), keeps the time and the timers, runs the event handlers,
// turns answers into Promises, and reconnects when the session says so:
// after a drop to the same server, after a redirect to the node of a
// cluster it names (and to that node from then on).

import { decodeServer, encodeArenaInput, encodeClient } from './codec.js';
import {
  ConnectionError,
  DecodeError,
  EmitError,
  EncodeError,
  SessionError,
  TickwireError,
  TransportError,
} from './errors.js';
import { Interpolator } from './interpolation.js';
import { closeReasonFromCode } from './protocol.js';
import { describeLost, stillConnected } from './reconnect.js';
import { requestMessage, roomTarget } from './request.js';
import { ClientSession, DATAGRAM_INPUT_REDUNDANCY, hello } from './session.js';
import { OPEN_TIMEOUT_MS } from './transport/transport.js';
import { openWebSocket } from './transport/websocket.js';
import { discoverWebTransport, openWebTransport } from './transport/webtransport.js';

/** How long connecting and greeting may take, by default. */
export const CONNECT_TIMEOUT_MS = 10_000;
/** How long an `emitWithAck` waits for its answer, by default. */
export const EMIT_TIMEOUT_MS = 5000;
/** How long a closing transport may take to end before it is cut. */
const CLOSE_LINGER_MS = 1000;

/** Event names the client itself uses; a server event of one of these names reaches `onAny` handlers only. */
export const RESERVED_EVENTS = Object.freeze([
  'welcome',
  'joined',
  'left',
  'update',
  'updateFailed',
  'rtt',
  'serverError',
  'reconnecting',
  'resumed',
  'lost',
  'redirected',
  'moved',
  'close',
  'error',
]);

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The client's own events and what their handlers receive.
 * @typedef {object} ClientEvents
 * @property {[import('./protocol.js').Welcome]} welcome the handshake is accepted (a reconnection says `resumed` instead)
 * @property {[import('./protocol.js').Joined]} joined the client is in a room: one it asked for, or its seat given back to a `Client` made with `resumeToken`
 * @property {[import('./protocol.js').Left]} left the client left its room (asked, kicked, or the room closed)
 * @property {[import('./session.js').AppliedUpdate, import('./world.js').World]} update an update was applied (checksum verified) and acknowledged
 * @property {[import('./errors.js').ReplicaError]} updateFailed an update was not applied (the world is unchanged and the server keeps encoding against the last acknowledged one)
 * @property {[number]} rtt a ping's round-trip time, milliseconds
 * @property {[import('./protocol.js').ErrorMessage]} serverError a server `Error` not answering a request (an event refused, an input rejected)
 * @property {[{attempt: number, waitMs: number, cause: import('./protocol.js').CloseReason | null}]} reconnecting the connection dropped; attempt `attempt` starts after `waitMs`
 * @property {[{room: import('./protocol.js').Joined | null, afterMs: number, attempts: number}]} resumed the session is back, with its seat (`room`) and world
 * @property {[{reason: import('./reconnect.js').LostReason, connected: boolean, message: string}]} lost the reconnection failed; `connected`: in the lobby as a new player, else closed (`reason.type` `unreachable`: the node a redirect named could not be reached in time)
 * @property {[{node: string, ws: string}]} redirected a lobby request's room is on node `node` of the cluster: the client says goodbye here and connects there (the request stays pending; `reconnecting` events follow if the first attempt fails)
 * @property {[{node: string, welcome: import('./protocol.js').Welcome, afterMs: number, attempts: number}]} moved the client is on the node it was redirected to, a new player there (`welcome`), and has claimed its seat; the request's answer follows
 * @property {[import('./session.js').Closed]} close the session ended (last event)
 * @property {[TickwireError]} error something went wrong locally: an undecodable server frame (the session closes), a handler that threw
 */

/**
 * Answers a server event that asked for one: `reply(value)` sends `value`
 * as JSON (a `Uint8Array` as it is); `reply.error(message)` refuses it.
 * Only the first answer counts.
 * @typedef {((value?: unknown) => void) & {error: (message: string, code?: import('./protocol.js').ErrorCode) => void}} Reply
 */

/**
 * Handles a server event: `data` is the payload parsed as JSON (the raw
 * bytes when it is not JSON; undefined when empty); `reply` is present when
 * the server wants an answer. Returning a value (or a Promise of one)
 * other than undefined answers too; throwing refuses.
 * @typedef {(data: unknown, reply?: Reply) => unknown} EventHandler
 */

/**
 * @typedef {(name: string, data: unknown, reply?: Reply) => unknown} AnyHandler
 */

/**
 * @typedef {object} WebTransportEndpoint
 * @property {string} url `https://host:port/tickwire`
 * @property {import('./transport/webtransport.js').CertificateHash[]} [certificateHashes] SHA-256 of the server's certificate, to pin a development one (hex, base64, bytes, or the entries of the server's `GET /webtransport`)
 * @property {import('./transport/webtransport.js').WebTransportConstructor} [WebTransport] the constructor (default: `globalThis.WebTransport`)
 */

/**
 * @typedef {object} ClientOptions
 * @property {string} [name] display name, 1..=32 bytes (default `'player'`)
 * @property {string | null} [authTicket] a ticket for the server's authenticator (a JWT)
 * @property {Uint8Array | null} [resumeToken] resume an earlier session (its `resumeToken`)
 * @property {import('./transport/websocket.js').WebSocketConstructor} [WebSocket] the WebSocket constructor (default: `globalThis.WebSocket`; Node 20: pass the `ws` package's)
 * @property {('webtransport' | 'websocket')[]} [transports] which to try, in order (default: WebTransport then WebSocket when `webtransport` is given, else WebSocket)
 * @property {WebTransportEndpoint} [webtransport] where the server takes WebTransport
 * @property {number} [connectTimeoutMs] opening each transport, then the handshake, each at most this long (default 10 000)
 * @property {number} [inputRedundancy] inputs per message (default: 1 over WebSocket, 3 over WebTransport)
 * @property {'immediate' | 'withInput'} [ackMode] see `SessionConfig.ackMode`
 * @property {number} [requestTimeoutMs] see `SessionConfig.requestTimeoutMs`
 * @property {Partial<import('./reconnect.js').ReconnectPolicy> | false} [reconnect] the reconnection policy, or false for none
 * @property {boolean} [followRedirects] follow a cluster's redirects by itself (default true; false: the request rejects with a `RequestError` `redirected` carrying the `Redirect`)
 * @property {import('./transport/webtransport.js').FetchLike} [fetch] asks a node redirected to for its WebTransport endpoint (`GET /webtransport`; default: `globalThis.fetch`)
 * @property {Record<string, import('./schema.js').Schema>} [schemas] world schemas by game name, beside the built-in ones
 * @property {import('./session.js').SessionSettings} [session] any other session setting
 * @property {import('./interpolation.js').InterpolatorOptions} [interpolation] the interpolation buffer's settings
 * @property {() => import('./session.js').Now} [clock] the time (tests)
 */

/**
 * A connection the client holds (its transport once open), and whether it
 * is closing after a goodbye (with the timer that cuts it if it lingers).
 * @typedef {{transport: import('./transport/transport.js').Transport | null, closing: boolean, linger: ReturnType<typeof setTimeout> | null}} Link
 */

/** @returns {import('./session.js').Now} */
function systemClock() {
  const at = performance.now();
  return { at, unixUs: Math.floor((performance.timeOrigin + at) * 1000) };
}

/** @param {() => void} fn runs after the I/O already received (Node: `setImmediate`) */
function afterPendingIO(fn) {
  const g = /** @type {{setImmediate?: (fn: () => void) => unknown}} */ (globalThis);
  if (typeof g.setImmediate === 'function') g.setImmediate(fn);
  else setTimeout(fn, 0);
}

/** A jitter seed no other client shares. */
function randomSeed() {
  const c = /** @type {{crypto?: {getRandomValues: (a: Uint32Array) => Uint32Array}}} */ (globalThis).crypto;
  if (c !== undefined) return c.getRandomValues(new Uint32Array(1))[0];
  return Math.floor(Math.random() * 2 ** 32);
}

/**
 * An event payload as bytes: a `Uint8Array` as it is, anything else as
 * JSON (undefined as no bytes).
 * @param {unknown} data
 * @returns {Uint8Array}
 */
export function encodePayload(data) {
  if (data instanceof Uint8Array) return data;
  if (data === undefined) return new Uint8Array(0);
  const json = JSON.stringify(data);
  if (json === undefined) throw new EncodeError('the payload is not JSON-serialisable');
  return utf8Encoder.encode(json);
}

/**
 * An event payload from bytes: parsed JSON, the bytes when they are not
 * JSON, undefined when empty.
 * @param {Uint8Array} bytes
 * @returns {unknown}
 */
export function decodePayload(bytes) {
  if (bytes.length === 0) return undefined;
  try {
    return JSON.parse(utf8Decoder.decode(bytes));
  } catch {
    return bytes;
  }
}

/**
 * @param {unknown} e
 * @returns {TickwireError}
 */
function asTickwireError(e) {
  if (e instanceof TickwireError) return e;
  return new TickwireError('handler', e instanceof Error ? e.message : String(e), { cause: e });
}

/**
 * A connection to a tickwire server. Make one with `Client.connect`.
 */
export class Client {
  /**
   * Connects to `url` (`ws://host:port/ws`, `wss://host:port/ws`), trying
   * WebTransport first when `options.webtransport` is given, and completes
   * the handshake. Rejects with a `ConnectionError`: `rejected` (the
   * server refused the `Hello`), `transport` (no transport opened),
   * `timeout`, `closed` or `lost`.
   * @param {string} url
   * @param {ClientOptions} [options]
   * @returns {Promise<Client>}
   */
  static async connect(url, options = {}) {
    const client = new Client(url, options);
    await client.start();
    return client;
  }

  /**
   * @param {string} url
   * @param {ClientOptions} options
   */
  constructor(url, options) {
    /** @private the WebSocket URL of the server (after a redirect, the node's) */
    this.url = url;
    /**
     * @private where that server takes WebTransport: the endpoint, `'ask'`
     * (a node redirected to that serves QUIC: ask its `/webtransport`), or
     * null (none)
     * @type {WebTransportEndpoint | 'ask' | null}
     */
    this.webtransport = options.webtransport ?? null;
    /** @private */
    this.options = options;
    /** @private */
    this.clock = options.clock ?? systemClock;
    const reconnect = options.reconnect === false ? { enabled: false } : (options.reconnect ?? {});
    /** @type {import('./session.js').SessionSettings} */
    const config = {
      ...options.session,
      ...(options.ackMode !== undefined ? { ackMode: options.ackMode } : {}),
      ...(options.requestTimeoutMs !== undefined ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
      ...(options.inputRedundancy !== undefined ? { inputRedundancy: options.inputRedundancy } : {}),
      ...(options.followRedirects !== undefined ? { followRedirects: options.followRedirects } : {}),
      schemas: { ...options.session?.schemas, ...options.schemas },
      reconnect: { jitterSeed: randomSeed(), ...options.session?.reconnect, ...reconnect },
    };
    /** The protocol session (state, settings, replica). */
    this.session = new ClientSession(
      {
        ...hello(options.name ?? 'player'),
        authTicket: options.authTicket ?? null,
        resumeToken: options.resumeToken ?? null,
      },
      config,
    );
    /** The interpolation buffer, fed by every update. */
    this.interpolator = new Interpolator(options.interpolation);
    /** @private @type {Link | null} */
    this.link = null;
    /** @private @type {'websocket' | 'webtransport' | null} */
    this._transportName = null;
    /** @private WebTransport failed where WebSocket worked: reconnect over WebSocket */
    this.skipWebTransport = false;
    /** @private @type {Map<string, Set<(...args: any[]) => unknown>>} */
    this.handlers = new Map();
    /** @private @type {Set<AnyHandler>} */
    this.anyHandlers = new Set();
    /** @private @type {Map<number, {resolve: (a: any) => void, reject: (e: Error) => void}>} */
    this.pendingRequests = new Map();
    /** @private @type {Map<number, {resolve: (a: unknown) => void, reject: (e: Error) => void}>} */
    this.pendingEmits = new Map();
    /** @private */
    this.pumping = false;
    /** @private */
    this.pumpAgain = false;
    /** @private @type {ReturnType<typeof setTimeout> | null} */
    this.timer = null;
    /** @private @type {number | null} */
    this.timerAt = null;
    /** @private @type {{resolve: () => void, reject: (e: Error) => void} | null} */
    this.greetingWaiter = null;
    /** @private @type {() => void} */
    this.resolveClosed = () => {};
    /** @private @type {Promise<void>} */
    this.closedPromise = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
  }

  // ---- state ----

  /** This client's player id (null before the welcome). */
  get player() {
    return this.session.player;
  }

  /** The token that resumes this session after a disconnect. */
  get resumeToken() {
    return this.session.welcome?.resumeToken ?? null;
  }

  /** The room the client is in. */
  get room() {
    return this.session.room;
  }

  /** The newest world rebuilt (checksum verified). */
  get world() {
    return this.session.world;
  }

  /** The replica: the worlds of the last 64 ticks. */
  get replica() {
    return this.session.replica;
  }

  /** The last round-trip time a ping measured, milliseconds. */
  get rttMs() {
    return this.session.rttMs;
  }

  /** Where the session is. */
  get state() {
    return this.session.state;
  }

  /** The transport in use (or last used). */
  get transport() {
    return this._transportName;
  }

  /** The WebSocket URL of the server the client talks to (after a redirect, the node's). */
  get serverUrl() {
    return this.url;
  }

  /** Whether the connection dropped and the client is reconnecting. */
  get isReconnecting() {
    return this.session.isReconnecting;
  }

  /** Whether the session has ended. */
  get isClosed() {
    return this.session.isClosed;
  }

  // ---- events ----

  /**
   * Listens to one of the client's events (`RESERVED_EVENTS`) or to a
   * server event by name. Returns a function that removes the handler.
   * @template {string} K
   * @param {K} name
   * @param {K extends keyof ClientEvents ? (...args: ClientEvents[K]) => void : EventHandler} handler
   * @returns {() => void}
   */
  on(name, handler) {
    let set = this.handlers.get(name);
    if (set === undefined) {
      set = new Set();
      this.handlers.set(name, set);
    }
    set.add(handler);
    return () => this.off(name, handler);
  }

  /**
   * Removes a handler.
   * @param {string} name
   * @param {(...args: any[]) => unknown} handler
   */
  off(name, handler) {
    this.handlers.get(name)?.delete(handler);
  }

  /**
   * Listens to every server event (reserved names included).
   * @param {AnyHandler} handler
   * @returns {() => void}
   */
  onAny(handler) {
    this.anyHandlers.add(handler);
    return () => this.anyHandlers.delete(handler);
  }

  /**
   * Waits for the next client event `name` (one of `RESERVED_EVENTS`)
   * whose first argument passes `filter`; rejects with a `TickwireError`
   * (`timeout`) after `timeoutMs`, or a `ConnectionError` when the session
   * closes first.
   * @template {keyof ClientEvents} K
   * @param {K} name
   * @param {{timeoutMs?: number, filter?: (arg: ClientEvents[K][0]) => boolean}} [options]
   * @returns {Promise<ClientEvents[K][0]>}
   */
  waitFor(name, options = {}) {
    return new Promise((resolve, reject) => {
      const timeoutMs = options.timeoutMs ?? 10_000;
      /** @type {() => void} */
      let offClose = () => {};
      /** @type {() => void} */
      let offEvent = () => {};
      const timer = setTimeout(() => {
        offEvent();
        offClose();
        reject(new TickwireError('timeout', `no ${name} event within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        offEvent();
        offClose();
      };
      offEvent = this.on(name, /** @type {any} */ ((/** @type {any} */ arg) => {
        if (options.filter !== undefined && !options.filter(arg)) return;
        done();
        resolve(arg);
      }));
      if (name !== 'close') {
        offClose = this.on('close', (closed) => {
          done();
          reject(new ConnectionError('closed', `the session closed: ${closed.message}`, { reason: closed.reason }));
        });
      }
    });
  }

  /**
   * Emits an event to the room's game, wanting no answer; `data` goes as
   * JSON (a `Uint8Array` as it is). A refusal comes as `serverError`.
   * Throws a `SessionError` when the session cannot send it (closed,
   * reconnecting, a bad name, too large).
   * @param {string} name
   * @param {unknown} [data]
   */
  emit(name, data) {
    this.session.emit(name, encodePayload(data));
    this.pump();
  }

  /**
   * Emits an event wanting an answer: resolves with the game's answer
   * (parsed as JSON), rejects with an `EmitError` (`refused`, with the
   * server's `errorCode`; `timed_out`; `closed`; `interrupted` when the
   * connection dropped first) or a `SessionError`.
   * @param {string} name
   * @param {unknown} [data]
   * @param {number} [timeoutMs]
   * @returns {Promise<unknown>}
   */
  emitWithAck(name, data, timeoutMs = EMIT_TIMEOUT_MS) {
    try {
      const id = this.session.emitWithAck(this.clock(), name, encodePayload(data), timeoutMs);
      const answer = new Promise((resolve, reject) => this.pendingEmits.set(id, { resolve, reject }));
      this.pump();
      return answer;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  // ---- lobby ----

  /**
   * @private
   * @param {import('./request.js').Request} request
   * @returns {Promise<any>}
   */
  request(request) {
    try {
      // Encoding a copy first turns a bad argument into an error here,
      // not a request that never leaves.
      encodeClient(requestMessage(request, 0));
      const id = this.session.request(this.clock(), request);
      const answer = new Promise((resolve, reject) => this.pendingRequests.set(id, { resolve, reject }));
      this.pump();
      return answer;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * The public, unlocked rooms passing a filter.
   * @param {{game?: string | null, metadata?: import('./protocol.js').StringMap}} [filter]
   * @returns {Promise<import('./protocol.js').RoomInfo[]>}
   */
  async listRooms(filter = {}) {
    /** @type {import('./protocol.js').RoomList} */
    const list = await this.request({
      type: 'listRooms',
      filter: { game: filter.game ?? null, metadata: filter.metadata ?? {} },
    });
    return list.rooms;
  }

  /**
   * Creates a room: resolves with the `Joined` when it joins (the
   * default), with the `RoomCreated` (the room and its invite code) when
   * `joinAs` is null. Rejects with a `RequestError`.
   * @param {import('./request.js').RoomSpec} spec
   * @returns {Promise<import('./protocol.js').Joined | import('./protocol.js').RoomCreated>}
   */
  createRoom(spec) {
    return this.request({ type: 'createRoom', spec });
  }

  /**
   * Joins a room by id, by invite code or by `RoomTarget`. Rejects with a
   * `RequestError` (`refused` with `errorCode` `RoomNotFound`, `RoomFull`,
   * `RoomLocked`, `JoinRefused`, ...).
   * @param {import('./request.js').JoinTarget} target
   * @param {{role?: import('./protocol.js').Role, joinOptions?: import('./protocol.js').StringMap}} [options]
   * @returns {Promise<import('./protocol.js').Joined>}
   */
  async joinRoom(target, options = {}) {
    return this.request({
      type: 'joinRoom',
      target: roomTarget(target),
      role: options.role ?? 'Player',
      joinOptions: options.joinOptions ?? {},
    });
  }

  /**
   * Joins the fullest matching public room with a free seat, or a new one.
   * @param {import('./request.js').QuickJoinSpec} [spec]
   * @returns {Promise<import('./protocol.js').Joined>}
   */
  quickJoin(spec = {}) {
    return this.request({ type: 'quickJoin', spec });
  }

  /**
   * Leaves the current room.
   * @returns {Promise<import('./protocol.js').Left>}
   */
  leaveRoom() {
    return this.request({ type: 'leaveRoom' });
  }

  // ---- inputs and pings ----

  /**
   * Sends one encoded game input; returns its sequence number. While
   * reconnecting, inputs are dropped (the server holds the last one).
   * @param {Uint8Array} input
   */
  sendInput(input) {
    if (!(input instanceof Uint8Array)) throw new EncodeError('an input is a Uint8Array');
    const seq = this.session.sendInput(input);
    this.pump();
    return seq;
  }

  /**
   * Sends one arena input.
   * @param {import('./codec.js').ArenaInput} input
   */
  sendArenaInput(input) {
    return this.sendInput(encodeArenaInput(input));
  }

  /** Pings the server; the answer comes as an `rtt` event. */
  ping() {
    this.session.ping();
    this.pump();
  }

  // ---- rendering ----

  /**
   * What to draw now: the entities between the two held worlds around the
   * render time (see `Interpolator`); null before the first update.
   * @param {number} [nowMs] the monotonic time (default: now)
   */
  sample(nowMs = this.clock().at) {
    return this.interpolator.sample(this.session.replica.worlds, this.session.replica.schema, nowMs);
  }

  // ---- closing ----

  /**
   * Says goodbye (the server frees the seat at once) and resolves when
   * the connection has ended.
   * @param {string} [message]
   * @returns {Promise<void>}
   */
  close(message = 'bye') {
    this.session.close(message);
    this.pump();
    return this.closedPromise;
  }

  /** Resolves when the session has ended. */
  get closed() {
    return this.closedPromise;
  }

  /**
   * Cuts the connection at once, without a goodbye, as a network failure
   * would: the server keeps the seat for its grace, and the client
   * reconnects and resumes by itself (its reconnection policy permitting).
   * For testing how a game copes with drops.
   */
  dropConnection() {
    this.link?.transport?.abort();
  }

  // ---- the shell ----

  /** @private */
  async start() {
    const timeoutMs = this.options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
    const welcomed = new Promise((resolve, reject) => {
      this.greetingWaiter = { resolve: () => resolve(undefined), reject };
    });
    // Settled by the race below, or by a close nobody waits for any more.
    welcomed.catch(() => {});
    try {
      await this.openLink(timeoutMs);
    } catch (e) {
      this.greetingWaiter = null;
      this.session.handleConnectionLost(this.clock(), null);
      this.pump();
      throw new ConnectionError('transport', `cannot connect to ${this.url}: ${e instanceof Error ? e.message : String(e)}`, {
        cause: e,
      });
    }
    this.pump();
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let timer;
    const timedOut = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new ConnectionError('timeout', `no welcome from ${this.url} within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([welcomed, timedOut]);
    } catch (e) {
      if (!this.session.isClosed) {
        const link = this.link;
        this.link = null;
        link?.transport?.abort();
        this.session.handleConnectionLost(this.clock(), null);
        this.pump();
      }
      throw e;
    } finally {
      clearTimeout(timer);
      this.greetingWaiter = null;
    }
  }

  /**
   * Opens a transport (trying them in order) and makes it the client's.
   * @private
   * @param {number} timeoutMs
   * @returns {Promise<Link>}
   */
  async openLink(timeoutMs) {
    /** @type {Link} */
    const link = { transport: null, closing: false, linger: null };
    this.link = link;
    /** @type {import('./transport/transport.js').TransportHandlers} */
    const handlers = {
      onFrame: (frame) => {
        if (this.link === link) this.onFrame(frame);
      },
      onError: (error) => {
        if (this.link === link) this.onBadFrame(error);
      },
      onClose: (end) => {
        if (link.linger !== null) clearTimeout(link.linger);
        if (this.link !== link) return;
        this.link = null;
        this.onTransportClosed(end);
      },
    };
    let transport;
    try {
      transport = await this.openTransport(handlers, timeoutMs);
    } catch (e) {
      if (this.link === link) this.link = null;
      throw e;
    }
    if (this.link !== link) {
      // Given up on meanwhile (closed, timed out).
      transport.abort();
      throw new TransportError('closed', 'the client stopped waiting for this connection');
    }
    link.transport = transport;
    this._transportName = transport.name;
    if (this.options.inputRedundancy === undefined && this.options.session?.inputRedundancy === undefined) {
      this.session.config.inputRedundancy = transport.datagrams ? DATAGRAM_INPUT_REDUNDANCY : 1;
    }
    return link;
  }

  /**
   * Tries the transports in order; the first that opens wins.
   * @private
   * @param {import('./transport/transport.js').TransportHandlers} handlers
   * @param {number} timeoutMs
   * @returns {Promise<import('./transport/transport.js').Transport>}
   */
  async openTransport(handlers, timeoutMs) {
    const given = this.options.webtransport;
    const order = this.options.transports ?? (given !== undefined ? ['webtransport', 'websocket'] : ['websocket']);
    /** @type {unknown[]} */
    const failures = [];
    let webTransportFailed = false;
    for (const kind of order) {
      try {
        if (kind === 'webtransport') {
          if (given === undefined || this.webtransport === null || this.skipWebTransport) continue;
          const wt = await this.webTransportEndpoint(Math.min(timeoutMs, OPEN_TIMEOUT_MS));
          const t = await openWebTransport(wt.url, handlers, {
            WebTransport: wt.WebTransport,
            certificateHashes: wt.certificateHashes,
            timeoutMs: Math.min(timeoutMs, OPEN_TIMEOUT_MS),
          });
          return t;
        }
        const t = await openWebSocket(this.url, handlers, { WebSocket: this.options.WebSocket, timeoutMs });
        if (webTransportFailed) this.skipWebTransport = true;
        return t;
      } catch (e) {
        if (kind === 'webtransport') webTransportFailed = true;
        failures.push(e);
      }
    }
    const last = failures[failures.length - 1];
    if (last instanceof TransportError && failures.length === 1) throw last;
    const detail = failures.map((f) => (f instanceof Error ? f.message : String(f))).join('; ');
    throw new TransportError('connect_failed', detail === '' ? 'no transport to try' : detail, { cause: last });
  }

  /**
   * Where the server takes WebTransport; a node redirected to is asked
   * (its `GET /webtransport`) the first time, and its answer kept.
   * Rejects with a `TransportError` when it serves none.
   * @private
   * @param {number} timeoutMs
   * @returns {Promise<WebTransportEndpoint>}
   */
  async webTransportEndpoint(timeoutMs) {
    const known = this.webtransport;
    if (known === null) throw new TransportError('connect_failed', 'the server serves no WebTransport');
    if (known !== 'ask') return known;
    const url = this.url;
    const found = await discoverWebTransport(url, { fetch: this.options.fetch, timeoutMs });
    /** @type {WebTransportEndpoint} */
    const endpoint = { ...found, WebTransport: this.options.webtransport?.WebTransport };
    // Kept unless another redirect came meanwhile.
    if (this.url === url && this.webtransport === 'ask') this.webtransport = endpoint;
    return endpoint;
  }

  /**
   * A lobby request was redirected to another node: say goodbye to this
   * one (the session queued its `Close`, sent already) and connect to
   * that one from now on.
   * @private
   * @param {string} ws the node's WebSocket URL
   */
  leaveForNode(ws) {
    const link = this.link;
    this.link = null;
    if (link !== null && link.transport !== null && !link.closing) {
      link.closing = true;
      const transport = link.transport;
      transport.close(1000, '');
      link.linger = setTimeout(() => transport.abort(), CLOSE_LINGER_MS);
    } else {
      link?.transport?.abort();
    }
    const target = this.session.redirectTarget;
    this.url = ws;
    // A node that serves QUIC says how to reach it over WebTransport at its
    // `/webtransport`; one that does not is reached over WebSocket.
    this.webtransport = this.options.webtransport === undefined || target === null || target.quic === null ? null : 'ask';
    this.skipWebTransport = false;
  }

  /**
   * @private
   * @param {Uint8Array} frame
   */
  onFrame(frame) {
    let message;
    try {
      message = decodeServer(frame);
    } catch (e) {
      this.onBadFrame(e instanceof DecodeError ? e : asTickwireError(e));
      return;
    }
    try {
      this.session.handle(this.clock(), message);
    } catch (e) {
      // The session does not throw on server input; if it ever does, the
      // connection is in an unknown state: end it with the reason.
      this.onBadFrame(asTickwireError(e));
      return;
    }
    this.pump();
  }

  /**
   * A frame this client cannot take: reported, and the session closes.
   * @private
   * @param {TickwireError} error
   */
  onBadFrame(error) {
    this.fire('error', error);
    this.session.fail('MalformedFrame', `undecodable server frame: ${error.message}`);
    this.pump();
  }

  /**
   * @private
   * @param {import('./transport/transport.js').TransportEnd} end
   */
  onTransportClosed(end) {
    const reason = closeReasonFromCode(end.code);
    this.session.handleConnectionLost(this.clock(), reason === null ? null : { reason, message: end.reason });
    this.pump();
  }

  /**
   * Moves what the session queued to the transport and the application,
   * then settles the connection and the timer. Re-entrant calls (from
   * handlers) run after the current round.
   * @private
   */
  pump() {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        const now = this.clock();
        const link = this.link;
        const transport = link?.transport ?? null;
        if (transport !== null) {
          for (let tx = this.session.pollTransmit(now); tx !== null; tx = this.session.pollTransmit(now)) {
            let frame;
            try {
              frame = encodeClient(tx.message);
            } catch (e) {
              this.fire('error', asTickwireError(e));
              continue;
            }
            transport.send(frame, tx.delivery);
          }
        }
        for (let ev = this.session.pollEvent(); ev !== null; ev = this.session.pollEvent()) this.deliver(ev, now);
        this.settle(now);
      } while (this.pumpAgain);
    } finally {
      this.pumping = false;
    }
    this.schedule();
  }

  /**
   * Lets go of a transport the session no longer uses, closes one after a
   * goodbye, and starts a reconnection attempt when one is due.
   * @private
   * @param {import('./session.js').Now} now
   */
  settle(now) {
    const s = this.session;
    const link = this.link;
    if (s.isReconnecting && !s.attemptUnderWay && link !== null) {
      // Dropped (or silent): cut it without a goodbye so that the server
      // keeps the seat.
      this.link = null;
      link.transport?.abort();
    } else if ((s.state.type === 'closing' || s.isClosed) && link !== null && link.transport !== null && !link.closing) {
      link.closing = true;
      const transport = link.transport;
      transport.close(1000, '');
      link.linger = setTimeout(() => {
        if (this.link !== link) return;
        this.link = null;
        transport.abort();
        this.onTransportClosed({ code: null, reason: '', error: null });
      }, CLOSE_LINGER_MS);
    }
    if (s.isReconnecting && this.link === null && s.pollConnect(now)) this.attempt();
  }

  /**
   * One reconnection attempt: open a transport; the session greets on it.
   * @private
   */
  attempt() {
    const timeoutMs = this.options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
    this.openLink(timeoutMs).then(
      () => {
        this.session.connectionOpened(this.clock());
        this.pump();
      },
      () => {
        this.session.connectionFailed(this.clock());
        this.pump();
      },
    );
  }

  /**
   * Sets the timer for the session's next deadline.
   * @private
   */
  schedule() {
    const at = this.session.isClosed ? null : this.session.pollTimeout();
    if (at === this.timerAt && (at === null || this.timer !== null)) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = at;
    if (at === null) return;
    const wait = Math.max(0, at - this.clock().at);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAt = null;
      // What the socket holds is read before any deadline is judged, so a
      // client that was busy does not take its own backlog for silence.
      afterPendingIO(() => {
        this.session.handleTimeout(this.clock());
        this.pump();
      });
    }, Math.ceil(wait));
  }

  /**
   * Calls the handlers of a client event.
   * @private
   * @param {string} name
   * @param {unknown[]} args
   */
  fire(name, ...args) {
    const set = this.handlers.get(name);
    if (set === undefined || set.size === 0) {
      if (name === 'error') console.error('tickwire client:', args[0]);
      return;
    }
    for (const handler of [...set]) {
      try {
        handler(...args);
      } catch (e) {
        if (name === 'error') console.error('tickwire client: an error handler threw:', e);
        else this.fire('error', asTickwireError(e));
      }
    }
  }

  /**
   * Hands one session event to the application.
   * @private
   * @param {import('./session.js').SessionEvent} ev
   * @param {import('./session.js').Now} now
   */
  deliver(ev, now) {
    switch (ev.type) {
      case 'welcomed':
        this.greetingWaiter?.resolve();
        this.fire('welcome', ev.welcome);
        break;
      case 'answered': {
        const pending = this.pendingRequests.get(ev.id);
        this.pendingRequests.delete(ev.id);
        if (ev.error !== null) pending?.reject(ev.error);
        else if (ev.answer !== null) {
          if (ev.answer.type === 'Joined') {
            this.interpolator.reset(ev.answer.tickRate);
            this.fire('joined', ev.answer);
          } else if (ev.answer.type === 'Left') {
            this.interpolator.reset(null);
            this.fire('left', ev.answer);
          }
          pending?.resolve(ev.answer);
        }
        break;
      }
      case 'joined':
        this.interpolator.reset(ev.joined.tickRate);
        this.fire('joined', ev.joined);
        break;
      case 'left':
        this.interpolator.reset(null);
        this.fire('left', ev.left);
        break;
      case 'updated':
        this.interpolator.onUpdate(ev.update.tick, now.at, ev.update.latenessUs);
        this.fire('update', ev.update, ev.world);
        break;
      case 'updateFailed':
        this.fire('updateFailed', ev.error);
        break;
      case 'event':
        this.deliverEvent(ev.event);
        break;
      case 'emitted': {
        const pending = this.pendingEmits.get(ev.ack);
        this.pendingEmits.delete(ev.ack);
        if (pending === undefined) break;
        const o = ev.outcome;
        switch (o.type) {
          case 'answered':
            pending.resolve(decodePayload(o.data));
            break;
          case 'refused':
            pending.reject(
              new EmitError('refused', `${ev.name} refused (${o.code}): ${o.message}`, {
                errorCode: o.code,
                serverMessage: o.message,
              }),
            );
            break;
          case 'timedOut':
            pending.reject(new EmitError('timed_out', `no answer to ${ev.name} in time`));
            break;
          case 'closed':
            pending.reject(new EmitError('closed', `the session closed before ${ev.name} was answered`));
            break;
          case 'interrupted':
            pending.reject(new EmitError('interrupted', `the connection dropped before ${ev.name} was answered`));
            break;
        }
        break;
      }
      case 'rtt':
        this.fire('rtt', ev.rttMs);
        break;
      case 'error':
        this.fire('serverError', ev.error);
        break;
      case 'closed':
        this.greetingWaiter?.reject(
          ev.closed.rejected && ev.closed.reason !== null
            ? new ConnectionError('rejected', `handshake rejected (${ev.closed.reason}): ${ev.closed.message}`, {
                reason: ev.closed.reason,
              })
            : new ConnectionError(ev.closed.reason === null ? 'lost' : 'closed', ev.closed.message, {
                reason: ev.closed.reason,
              }),
        );
        this.fire('close', ev.closed);
        this.resolveClosed();
        break;
      case 'reconnecting':
        this.fire('reconnecting', { attempt: ev.attempt, waitMs: ev.waitMs, cause: ev.cause });
        break;
      case 'resumed':
        if (ev.room === null) this.interpolator.reset(null);
        this.fire('resumed', { room: ev.room, afterMs: ev.afterMs, attempts: ev.attempts });
        break;
      case 'redirected':
        this.leaveForNode(ev.ws);
        this.interpolator.reset(null);
        this.fire('redirected', { node: ev.node, ws: ev.ws });
        break;
      case 'moved':
        this.fire('moved', { node: ev.node, welcome: ev.welcome, afterMs: ev.afterMs, attempts: ev.attempts });
        break;
      case 'lost': {
        const connected = stillConnected(ev.reason);
        if (connected) this.interpolator.reset(null);
        this.fire('lost', { reason: ev.reason, connected, message: describeLost(ev.reason) });
        const state = this.session.state;
        if (!connected && state.type === 'closed') {
          this.fire('close', state.closed);
          this.resolveClosed();
        }
        break;
      }
    }
  }

  /**
   * Hands a server event to its handlers; answers it for them when it asks
   * for an answer and nobody listens.
   * @private
   * @param {import('./session.js').IncomingEvent} event
   */
  deliverEvent(event) {
    const data = decodePayload(event.data);
    const reply = event.replyTo === null ? undefined : this.makeReply(event.replyTo, event.name);
    const reserved = RESERVED_EVENTS.includes(event.name);
    const named = reserved ? [] : [...(this.handlers.get(event.name) ?? [])];
    const any = [...this.anyHandlers];
    if (named.length === 0 && any.length === 0) {
      reply?.error(`no handler for ${JSON.stringify(event.name)}`);
      return;
    }
    /** @param {() => unknown} call */
    const run = (call) => {
      try {
        const result = call();
        if (reply === undefined || result === undefined) return;
        if (result instanceof Promise) {
          result.then(
            (value) => {
              if (value !== undefined) reply(value);
            },
            (e) => reply.error(e instanceof Error ? e.message : String(e)),
          );
        } else {
          reply(result);
        }
      } catch (e) {
        reply?.error(e instanceof Error ? e.message : String(e));
        this.fire('error', asTickwireError(e));
      }
    };
    for (const handler of named) run(() => handler(data, reply));
    for (const handler of any) run(() => handler(event.name, data, reply));
  }

  /**
   * @private
   * @param {number} replyTo
   * @param {string} name
   * @returns {Reply}
   */
  makeReply(replyTo, name) {
    let done = false;
    /** @param {import('./protocol.js').EventOutcome} outcome */
    const send = (outcome) => {
      if (done) return;
      done = true;
      try {
        this.session.answer(replyTo, outcome);
      } catch (e) {
        // Not owed any more (the connection it came on is gone): nothing
        // to send.
        if (!(e instanceof SessionError)) throw e;
      }
      this.pump();
    };
    /** @type {Reply} */
    const reply = Object.assign(
      (/** @type {unknown} */ value) => {
        let data;
        try {
          data = encodePayload(value);
        } catch (e) {
          send({ type: 'Error', code: 'EventRefused', message: `the answer to ${name} is not JSON` });
          this.fire('error', asTickwireError(e));
          return;
        }
        send({ type: 'Data', data });
      },
      {
        error: (/** @type {string} */ message, /** @type {import('./protocol.js').ErrorCode} */ code = 'EventRefused') =>
          send({ type: 'Error', code, message }),
      },
    );
    return reply;
  }
}

/**
 * Connects to a tickwire server (see `Client.connect`).
 * @param {string} url
 * @param {ClientOptions} [options]
 */
export function connect(url, options) {
  return Client.connect(url, options);
}
