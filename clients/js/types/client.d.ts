/**
 * An event payload as bytes: a `Uint8Array` as it is, anything else as
 * JSON (undefined as no bytes).
 * @param {unknown} data
 * @returns {Uint8Array}
 */
export function encodePayload(data: unknown): Uint8Array;
/**
 * An event payload from bytes: parsed JSON, the bytes when they are not
 * JSON, undefined when empty.
 * @param {Uint8Array} bytes
 * @returns {unknown}
 */
export function decodePayload(bytes: Uint8Array): unknown;
/**
 * Connects to a tickwire server (see `Client.connect`).
 * @param {string} url
 * @param {ClientOptions} [options]
 */
export function connect(url: string, options?: ClientOptions): Promise<Client>;
/** How long connecting and greeting may take, by default. */
export const CONNECT_TIMEOUT_MS: 10000;
/** How long an `emitWithAck` waits for its answer, by default. */
export const EMIT_TIMEOUT_MS: 5000;
/** Event names the client itself uses; a server event of one of these names reaches `onAny` handlers only. */
export const RESERVED_EVENTS: readonly string[];
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
    static connect(url: string, options?: ClientOptions): Promise<Client>;
    /**
     * @param {string} url
     * @param {ClientOptions} options
     */
    constructor(url: string, options: ClientOptions);
    /** @private the WebSocket URL of the server (after a redirect, the node's) */
    private url;
    /**
     * @private where that server takes WebTransport: the endpoint, `'ask'`
     * (a node redirected to that serves QUIC: ask its `/webtransport`), or
     * null (none)
     * @type {WebTransportEndpoint | 'ask' | null}
     */
    private webtransport;
    /** @private */
    private options;
    /** @private */
    private clock;
    /** The protocol session (state, settings, replica). */
    session: ClientSession;
    /** The interpolation buffer, fed by every update. */
    interpolator: Interpolator;
    /** @private @type {Link | null} */
    private link;
    /** @private @type {'websocket' | 'webtransport' | null} */
    private _transportName;
    /** @private WebTransport failed where WebSocket worked: reconnect over WebSocket */
    private skipWebTransport;
    /** @private @type {Map<string, Set<(...args: any[]) => unknown>>} */
    private handlers;
    /** @private @type {Set<AnyHandler>} */
    private anyHandlers;
    /** @private @type {Map<number, {resolve: (a: any) => void, reject: (e: Error) => void}>} */
    private pendingRequests;
    /** @private @type {Map<number, {resolve: (a: unknown) => void, reject: (e: Error) => void}>} */
    private pendingEmits;
    /** @private */
    private pumping;
    /** @private */
    private pumpAgain;
    /** @private @type {ReturnType<typeof setTimeout> | null} */
    private timer;
    /** @private @type {number | null} */
    private timerAt;
    /** @private @type {{resolve: () => void, reject: (e: Error) => void} | null} */
    private greetingWaiter;
    /** @private @type {() => void} */
    private resolveClosed;
    /** @private @type {Promise<void>} */
    private closedPromise;
    /** This client's player id (null before the welcome). */
    get player(): number | null;
    /** The token that resumes this session after a disconnect. */
    get resumeToken(): Uint8Array<ArrayBufferLike> | null;
    /** The room the client is in. */
    get room(): import("./protocol.js").Joined | null;
    /** The newest world rebuilt (checksum verified). */
    get world(): import("./world.js").World | null;
    /** The replica: the worlds of the last 64 ticks. */
    get replica(): import("./replica.js").Replica;
    /** The last round-trip time a ping measured, milliseconds. */
    get rttMs(): number | null;
    /** Where the session is. */
    get state(): import("./session.js").SessionState;
    /** The transport in use (or last used). */
    get transport(): "websocket" | "webtransport" | null;
    /** The WebSocket URL of the server the client talks to (after a redirect, the node's). */
    get serverUrl(): string;
    /** Whether the connection dropped and the client is reconnecting. */
    get isReconnecting(): boolean;
    /** Whether the session has ended. */
    get isClosed(): boolean;
    /**
     * Listens to one of the client's events (`RESERVED_EVENTS`) or to a
     * server event by name. Returns a function that removes the handler.
     * @template {string} K
     * @param {K} name
     * @param {K extends keyof ClientEvents ? (...args: ClientEvents[K]) => void : EventHandler} handler
     * @returns {() => void}
     */
    on<K extends string>(name: K, handler: K extends keyof ClientEvents ? (...args: ClientEvents[K]) => void : EventHandler): () => void;
    /**
     * Removes a handler.
     * @param {string} name
     * @param {(...args: any[]) => unknown} handler
     */
    off(name: string, handler: (...args: any[]) => unknown): void;
    /**
     * Listens to every server event (reserved names included).
     * @param {AnyHandler} handler
     * @returns {() => void}
     */
    onAny(handler: AnyHandler): () => void;
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
    waitFor<K extends keyof ClientEvents>(name: K, options?: {
        timeoutMs?: number;
        filter?: (arg: ClientEvents[K][0]) => boolean;
    }): Promise<ClientEvents[K][0]>;
    /**
     * Emits an event to the room's game, wanting no answer; `data` goes as
     * JSON (a `Uint8Array` as it is). A refusal comes as `serverError`.
     * Throws a `SessionError` when the session cannot send it (closed,
     * reconnecting, a bad name, too large).
     * @param {string} name
     * @param {unknown} [data]
     */
    emit(name: string, data?: unknown): void;
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
    emitWithAck(name: string, data?: unknown, timeoutMs?: number): Promise<unknown>;
    /**
     * @private
     * @param {import('./request.js').Request} request
     * @returns {Promise<any>}
     */
    private request;
    /**
     * The public, unlocked rooms passing a filter.
     * @param {{game?: string | null, metadata?: import('./protocol.js').StringMap}} [filter]
     * @returns {Promise<import('./protocol.js').RoomInfo[]>}
     */
    listRooms(filter?: {
        game?: string | null;
        metadata?: import("./protocol.js").StringMap;
    }): Promise<import("./protocol.js").RoomInfo[]>;
    /**
     * Creates a room: resolves with the `Joined` when it joins (the
     * default), with the `RoomCreated` (the room and its invite code) when
     * `joinAs` is null. Rejects with a `RequestError`.
     * @param {import('./request.js').RoomSpec} spec
     * @returns {Promise<import('./protocol.js').Joined | import('./protocol.js').RoomCreated>}
     */
    createRoom(spec: import("./request.js").RoomSpec): Promise<import("./protocol.js").Joined | import("./protocol.js").RoomCreated>;
    /**
     * Joins a room by id, by invite code or by `RoomTarget`. Rejects with a
     * `RequestError` (`refused` with `errorCode` `RoomNotFound`, `RoomFull`,
     * `RoomLocked`, `JoinRefused`, ...).
     * @param {import('./request.js').JoinTarget} target
     * @param {{role?: import('./protocol.js').Role, joinOptions?: import('./protocol.js').StringMap}} [options]
     * @returns {Promise<import('./protocol.js').Joined>}
     */
    joinRoom(target: import("./request.js").JoinTarget, options?: {
        role?: import("./protocol.js").Role;
        joinOptions?: import("./protocol.js").StringMap;
    }): Promise<import("./protocol.js").Joined>;
    /**
     * Joins the fullest matching public room with a free seat, or a new one.
     * @param {import('./request.js').QuickJoinSpec} [spec]
     * @returns {Promise<import('./protocol.js').Joined>}
     */
    quickJoin(spec?: import("./request.js").QuickJoinSpec): Promise<import("./protocol.js").Joined>;
    /**
     * Leaves the current room.
     * @returns {Promise<import('./protocol.js').Left>}
     */
    leaveRoom(): Promise<import("./protocol.js").Left>;
    /**
     * Sends one encoded game input; returns its sequence number. While
     * reconnecting, inputs are dropped (the server holds the last one).
     * @param {Uint8Array} input
     */
    sendInput(input: Uint8Array): number;
    /**
     * Sends one arena input.
     * @param {import('./codec.js').ArenaInput} input
     */
    sendArenaInput(input: import("./codec.js").ArenaInput): number;
    /** Pings the server; the answer comes as an `rtt` event. */
    ping(): void;
    /**
     * What to draw now: the entities between the two held worlds around the
     * render time (see `Interpolator`); null before the first update.
     * @param {number} [nowMs] the monotonic time (default: now)
     */
    sample(nowMs?: number): import("./interpolation.js").Sample | null;
    /**
     * Says goodbye (the server frees the seat at once) and resolves when
     * the connection has ended.
     * @param {string} [message]
     * @returns {Promise<void>}
     */
    close(message?: string): Promise<void>;
    /** Resolves when the session has ended. */
    get closed(): Promise<void>;
    /**
     * Cuts the connection at once, without a goodbye, as a network failure
     * would: the server keeps the seat for its grace, and the client
     * reconnects and resumes by itself (its reconnection policy permitting).
     * For testing how a game copes with drops.
     */
    dropConnection(): void;
    /** @private */
    private start;
    /**
     * Opens a transport (trying them in order) and makes it the client's.
     * @private
     * @param {number} timeoutMs
     * @returns {Promise<Link>}
     */
    private openLink;
    /**
     * Tries the transports in order; the first that opens wins.
     * @private
     * @param {import('./transport/transport.js').TransportHandlers} handlers
     * @param {number} timeoutMs
     * @returns {Promise<import('./transport/transport.js').Transport>}
     */
    private openTransport;
    /**
     * Where the server takes WebTransport; a node redirected to is asked
     * (its `GET /webtransport`) the first time, and its answer kept.
     * Rejects with a `TransportError` when it serves none.
     * @private
     * @param {number} timeoutMs
     * @returns {Promise<WebTransportEndpoint>}
     */
    private webTransportEndpoint;
    /**
     * A lobby request was redirected to another node: say goodbye to this
     * one (the session queued its `Close`, sent already) and connect to
     * that one from now on.
     * @private
     * @param {string} ws the node's WebSocket URL
     */
    private leaveForNode;
    /**
     * @private
     * @param {Uint8Array} frame
     */
    private onFrame;
    /**
     * A frame this client cannot take: reported, and the session closes.
     * @private
     * @param {TickwireError} error
     */
    private onBadFrame;
    /**
     * @private
     * @param {import('./transport/transport.js').TransportEnd} end
     */
    private onTransportClosed;
    /**
     * Moves what the session queued to the transport and the application,
     * then settles the connection and the timer. Re-entrant calls (from
     * handlers) run after the current round.
     * @private
     */
    private pump;
    /**
     * Lets go of a transport the session no longer uses, closes one after a
     * goodbye, and starts a reconnection attempt when one is due.
     * @private
     * @param {import('./session.js').Now} now
     */
    private settle;
    /**
     * One reconnection attempt: open a transport; the session greets on it.
     * @private
     */
    private attempt;
    /**
     * Sets the timer for the session's next deadline.
     * @private
     */
    private schedule;
    /**
     * Calls the handlers of a client event.
     * @private
     * @param {string} name
     * @param {unknown[]} args
     */
    private fire;
    /**
     * Hands one session event to the application.
     * @private
     * @param {import('./session.js').SessionEvent} ev
     * @param {import('./session.js').Now} now
     */
    private deliver;
    /**
     * Hands a server event to its handlers; answers it for them when it asks
     * for an answer and nobody listens.
     * @private
     * @param {import('./session.js').IncomingEvent} event
     */
    private deliverEvent;
    /**
     * @private
     * @param {number} replyTo
     * @param {string} name
     * @returns {Reply}
     */
    private makeReply;
}
/**
 * The client's own events and what their handlers receive.
 */
export type ClientEvents = {
    /**
     * the handshake is accepted (a reconnection says `resumed` instead)
     */
    welcome: [import("./protocol.js").Welcome];
    /**
     * the client is in a room: one it asked for, or its seat given back to a `Client` made with `resumeToken`
     */
    joined: [import("./protocol.js").Joined];
    /**
     * the client left its room (asked, kicked, or the room closed)
     */
    left: [import("./protocol.js").Left];
    /**
     * an update was applied (checksum verified) and acknowledged
     */
    update: [import("./session.js").AppliedUpdate, import("./world.js").World];
    /**
     * an update was not applied (the world is unchanged and the server keeps encoding against the last acknowledged one)
     */
    updateFailed: [import("./errors.js").ReplicaError];
    /**
     * a ping's round-trip time, milliseconds
     */
    rtt: [number];
    /**
     * a server `Error` not answering a request (an event refused, an input rejected)
     */
    serverError: [import("./protocol.js").ErrorMessage];
    /**
     * the connection dropped; attempt `attempt` starts after `waitMs`
     */
    reconnecting: [{
        attempt: number;
        waitMs: number;
        cause: import("./protocol.js").CloseReason | null;
    }];
    /**
     * the session is back, with its seat (`room`) and world
     */
    resumed: [{
        room: import("./protocol.js").Joined | null;
        afterMs: number;
        attempts: number;
    }];
    /**
     * the reconnection failed; `connected`: in the lobby as a new player, else closed (`reason.type` `unreachable`: the node a redirect named could not be reached in time)
     */
    lost: [{
        reason: import("./reconnect.js").LostReason;
        connected: boolean;
        message: string;
    }];
    /**
     * a lobby request's room is on node `node` of the cluster: the client says goodbye here and connects there (the request stays pending; `reconnecting` events follow if the first attempt fails)
     */
    redirected: [{
        node: string;
        ws: string;
    }];
    /**
     * the client is on the node it was redirected to, a new player there (`welcome`), and has claimed its seat; the request's answer follows
     */
    moved: [{
        node: string;
        welcome: import("./protocol.js").Welcome;
        afterMs: number;
        attempts: number;
    }];
    /**
     * the session ended (last event)
     */
    close: [import("./session.js").Closed];
    /**
     * something went wrong locally: an undecodable server frame (the session closes), a handler that threw
     */
    error: [TickwireError];
};
/**
 * Answers a server event that asked for one: `reply(value)` sends `value`
 * as JSON (a `Uint8Array` as it is); `reply.error(message)` refuses it.
 * Only the first answer counts.
 */
export type Reply = ((value?: unknown) => void) & {
    error: (message: string, code?: import("./protocol.js").ErrorCode) => void;
};
/**
 * Handles a server event: `data` is the payload parsed as JSON (the raw
 * bytes when it is not JSON; undefined when empty); `reply` is present when
 * the server wants an answer. Returning a value (or a Promise of one)
 * other than undefined answers too; throwing refuses.
 */
export type EventHandler = (data: unknown, reply?: Reply) => unknown;
export type AnyHandler = (name: string, data: unknown, reply?: Reply) => unknown;
export type WebTransportEndpoint = {
    /**
     * `https://host:port/tickwire`
     */
    url: string;
    /**
     * SHA-256 of the server's certificate, to pin a development one (hex, base64, bytes, or the entries of the server's `GET /webtransport`)
     */
    certificateHashes?: import("./transport/webtransport.js").CertificateHash[] | undefined;
    /**
     * the constructor (default: `globalThis.WebTransport`)
     */
    WebTransport?: import("./transport/webtransport.js").WebTransportConstructor | undefined;
};
export type ClientOptions = {
    /**
     * display name, 1..=32 bytes (default `'player'`)
     */
    name?: string | undefined;
    /**
     * a ticket for the server's authenticator (a JWT)
     */
    authTicket?: string | null | undefined;
    /**
     * resume an earlier session (its `resumeToken`)
     */
    resumeToken?: Uint8Array<ArrayBufferLike> | null | undefined;
    /**
     * the WebSocket constructor (default: `globalThis.WebSocket`; Node 20: pass the `ws` package's)
     */
    WebSocket?: import("./transport/websocket.js").WebSocketConstructor | undefined;
    /**
     * which to try, in order (default: WebTransport then WebSocket when `webtransport` is given, else WebSocket)
     */
    transports?: ("websocket" | "webtransport")[] | undefined;
    /**
     * where the server takes WebTransport
     */
    webtransport?: WebTransportEndpoint | undefined;
    /**
     * opening each transport, then the handshake, each at most this long (default 10 000)
     */
    connectTimeoutMs?: number | undefined;
    /**
     * inputs per message (default: 1 over WebSocket, 3 over WebTransport)
     */
    inputRedundancy?: number | undefined;
    /**
     * see `SessionConfig.ackMode`
     */
    ackMode?: "immediate" | "withInput" | undefined;
    /**
     * see `SessionConfig.requestTimeoutMs`
     */
    requestTimeoutMs?: number | undefined;
    /**
     * the reconnection policy, or false for none
     */
    reconnect?: false | Partial<import("./reconnect.js").ReconnectPolicy> | undefined;
    /**
     * follow a cluster's redirects by itself (default true; false: the request rejects with a `RequestError` `redirected` carrying the `Redirect`)
     */
    followRedirects?: boolean | undefined;
    /**
     * asks a node redirected to for its WebTransport endpoint (`GET /webtransport`; default: `globalThis.fetch`)
     */
    fetch?: import("./transport/webtransport.js").FetchLike | undefined;
    /**
     * world schemas by game name, beside the built-in ones
     */
    schemas?: Record<string, import("./schema.js").Schema> | undefined;
    /**
     * any other session setting
     */
    session?: import("./session.js").SessionSettings | undefined;
    /**
     * the interpolation buffer's settings
     */
    interpolation?: import("./interpolation.js").InterpolatorOptions | undefined;
    /**
     * the time (tests)
     */
    clock?: (() => import("./session.js").Now) | undefined;
};
/**
 * A connection the client holds (its transport once open), and whether it
 * is closing after a goodbye (with the timer that cuts it if it lingers).
 */
export type Link = {
    transport: import("./transport/transport.js").Transport | null;
    closing: boolean;
    linger: ReturnType<typeof setTimeout> | null;
};
import { ClientSession } from './session.js';
import { Interpolator } from './interpolation.js';
import { TickwireError } from './errors.js';
