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
export function defaultSessionConfig(): SessionConfig;
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
export function hello(name: string): import("./protocol.js").Hello;
/** How many inputs a datagram transport's input message carries. */
export const DATAGRAM_INPUT_REDUNDANCY: 3;
/** The most inputs one message may repeat. */
export const MAX_INPUT_REDUNDANCY: 8;
/** The longest event name, bytes. */
export const MAX_EVENT_NAME: 64;
/** One client's protocol state (see the module comment). */
export class ClientSession {
    /**
     * A session greeting with `greeting` (null: the caller sends its own
     * `Hello`, and the session cannot reconnect by itself).
     * @param {import('./protocol.js').Hello | null} greeting
     * @param {SessionSettings} [config]
     */
    constructor(greeting: import("./protocol.js").Hello | null, config?: SessionSettings);
    /** @type {SessionConfig} */
    config: SessionConfig;
    /** @private @type {SessionState} */
    private _state;
    /** @private @type {import('./protocol.js').Welcome | null} */
    private _welcome;
    /** @private */
    private _replica;
    /** @private */
    private nextRequest;
    /** @private @type {Map<number, {expect: import('./request.js').Expect, deadline: number}>} */
    private requests;
    /** @private */
    private nextAck;
    /** @private @type {Map<number, {name: string, sent: number, deadline: number}>} */
    private emits;
    /** @private @type {Set<number>} */
    private owed;
    /** @private */
    private nextSeq;
    /** @private @type {Uint8Array[]} */
    private recentInputs;
    /** @private @type {number | null} */
    private pendingAck;
    /** @private */
    private pingWithInput;
    /** @private @type {{ping: import('./protocol.js').Ping, arrived: number} | null} */
    private heldPing;
    /** @private @type {number | null} */
    private _rttMs;
    /** @private @type {Outgoing[]} */
    private outbox;
    /** @private @type {SessionEvent[]} */
    private events;
    /** @private */
    private greeting;
    /** @private @type {number | null} */
    private lastHeard;
    /** @private */
    private backoff;
    /** @private @type {Reconnecting | null} */
    private reconnecting;
    /** @private @type {{reason: import('./protocol.js').CloseReason | null, message: string} | null} */
    private closingCause;
    /** Where the session is. */
    get state(): SessionState;
    /** The server's welcome, once greeted. */
    get welcome(): import("./protocol.js").Welcome | null;
    /** This client's player id, once greeted. */
    get player(): number | null;
    /** The room the client is in. */
    get room(): import("./protocol.js").Joined | null;
    /** The replica (worlds of recent ticks). */
    get replica(): Replica;
    /** The newest world rebuilt. */
    get world(): import("./world.js").World | null;
    /** The last round-trip time a ping measured, milliseconds. */
    get rttMs(): number | null;
    /** Requests waiting for an answer. */
    get pendingRequests(): number;
    /** Emitted events waiting for an answer. */
    get pendingEmits(): number;
    /** Whether the session has ended. */
    get isClosed(): boolean;
    /** Whether the connection dropped and the session is reconnecting. */
    get isReconnecting(): boolean;
    /**
     * Where a redirect sends the session, while it is on its way (the shell
     * connects there, and to there from then on); null otherwise.
     * @returns {import('./protocol.js').Redirect | null}
     */
    get redirectTarget(): import("./protocol.js").Redirect | null;
    /**
     * Chooses when updates are acknowledged from now on.
     * @param {'immediate' | 'withInput'} mode
     */
    setAckMode(mode: "immediate" | "withInput"): void;
    /**
     * Replaces the auth ticket the session greets with when it reconnects.
     * @param {string | null} ticket
     */
    setAuthTicket(ticket: string | null): void;
    /** @private */
    private open;
    /**
     * @private
     * @param {import('./protocol.js').ClientMessage} message
     * @param {'reliable' | 'unreliable'} delivery
     */
    private queue;
    /**
     * The schema of a game's world.
     * @param {string} game
     */
    schemaFor(game: string): import("./schema.js").Schema;
    /**
     * Uses the schema of the game `joined` runs (a new replica when it
     * changes).
     * @private
     * @param {import('./protocol.js').Joined} joined
     */
    private useSchemaOf;
    /**
     * Sends a lobby request; its answer comes as an `answered` event with
     * the id returned.
     * @param {Now} now
     * @param {import('./request.js').Request} request
     * @returns {number} the request id
     */
    request(now: Now, request: import("./request.js").Request): number;
    /** @private */
    private forgetRoom;
    /**
     * @private
     * @param {number} requestId
     * @param {import('./protocol.js').ServerMessage} message
     */
    private answered;
    /** @private */
    private left;
    /**
     * Sends one encoded game input with the next sequence number, repeating
     * the previous ones up to `inputRedundancy`; with `ackMode` `withInput`
     * the pending acknowledgement, a held ping answer and a ping asked for
     * with `pingWithNextInput` go with it. While reconnecting the input is
     * dropped (the server holds the last input it read).
     * @param {Uint8Array} input
     * @returns {number} the input's sequence number
     */
    sendInput(input: Uint8Array): number;
    /**
     * `sendInput` with an arena input.
     * @param {import('./codec.js').ArenaInput} input
     */
    sendArenaInput(input: import("./codec.js").ArenaInput): number;
    /** Pings the server now; the answer comes as an `rtt` event. */
    ping(): void;
    /** Has the next input carry a ping along. */
    pingWithNextInput(): void;
    /**
     * How long a held ping answer may wait for an input: half a tick.
     * @private
     */
    private holdLimit;
    /**
     * @private
     * @param {string} name
     * @param {Uint8Array} data
     */
    private checkEvent;
    /**
     * Emits an event to the room's game, wanting no answer. A refusal comes
     * back as an `error` event.
     * @param {string} name
     * @param {Uint8Array} data
     */
    emit(name: string, data: Uint8Array): void;
    /**
     * Emits an event wanting an answer by `now + timeoutMs`; the outcome
     * comes as an `emitted` event with the ack id returned.
     * @param {Now} now
     * @param {string} name
     * @param {Uint8Array} data
     * @param {number} timeoutMs
     * @returns {number} the ack id
     */
    emitWithAck(now: Now, name: string, data: Uint8Array, timeoutMs: number): number;
    /**
     * Answers a server event that asked for one.
     * @param {number} replyTo the event's `replyTo`
     * @param {import('./protocol.js').EventOutcome} outcome
     */
    answer(replyTo: number, outcome: import("./protocol.js").EventOutcome): void;
    /**
     * Whether the server waits for this answer.
     * @param {number} replyTo
     */
    owes(replyTo: number): boolean;
    /**
     * @private
     * @param {number} ackId
     * @param {Now} now
     * @param {EmitOutcome} outcome
     */
    private emitted;
    /**
     * Says goodbye: queues a `Close` and stops taking calls.
     * @param {string} [message]
     */
    close(message?: string): void;
    /**
     * The server sent something this client cannot take (an undecodable
     * frame): says goodbye as `close` does, and the session ends with
     * `reason` and `message` once the connection is gone.
     * @param {import('./protocol.js').CloseReason} reason
     * @param {string} message
     */
    fail(reason: import("./protocol.js").CloseReason, message: string): void;
    /**
     * Fails what waits on the server.
     * @private
     * @param {number} at
     * @param {RequestError} requestError
     * @param {EmitOutcome} emitOutcome
     */
    private cut;
    /**
     * @private
     * @param {number} at
     * @param {Closed} closed
     */
    private end;
    /**
     * The transport ended. Without a `Close` before, the reason is the one
     * the transport gives (a close code that maps to a reason), or null.
     * When the session may resume it starts reconnecting instead of
     * closing; during a reconnection it is the attempt that failed.
     * @param {Now} now
     * @param {{reason: import('./protocol.js').CloseReason, message: string} | null} [cause]
     */
    handleConnectionLost(now: Now, cause?: {
        reason: import("./protocol.js").CloseReason;
        message: string;
    } | null): void;
    /**
     * @private
     * @param {import('./protocol.js').CloseReason | null} reason
     */
    private mayReconnect;
    /**
     * @private
     * @param {Now} now
     * @param {import('./protocol.js').CloseReason | null} cause
     */
    private startReconnecting;
    /**
     * Schedules the next attempt after a backoff wait, or gives up once the
     * grace has run out.
     * @private
     * @param {Now} now
     */
    private scheduleAttempt;
    /**
     * Whether the shell should open a new transport now: true once per
     * attempt, when its wait is over. Answer with `connectionOpened` or
     * `connectionFailed`.
     * @param {Now} now
     */
    pollConnect(now: Now): boolean;
    /**
     * Whether a reconnection attempt is under way (the shell is opening a
     * transport, or greeting on it); false between attempts, when the shell
     * holds no transport.
     */
    get attemptUnderWay(): boolean;
    /**
     * The new transport is open: the session greets with its resume token
     * and the newest tick of the world it holds (or, moving to another node,
     * as a new player).
     * @param {Now} _now
     */
    connectionOpened(_now: Now): void;
    /**
     * The attempt failed (the transport could not be opened, or ended before
     * the session was back): the next one is scheduled, or the session gives
     * up once the grace has run out.
     * @param {Now} now
     */
    connectionFailed(now: Now): void;
    /**
     * Ends a reconnection that failed: in the lobby when connected, else
     * closed.
     * @private
     * @param {Now} now
     * @param {import('./reconnect.js').LostReason} reason
     */
    private lose;
    /**
     * @private
     * @param {Now} now
     * @param {import('./protocol.js').Joined | null} room
     */
    private resumed;
    /**
     * @private
     * @param {Now} now
     * @param {import('./protocol.js').Welcome} welcome
     */
    private rewelcomed;
    /**
     * A request was answered with `redirect`: follow it (or fail the
     * request when redirects are not followed).
     * @private
     * @param {Now} now
     * @param {import('./protocol.js').Redirect} redirect
     */
    private redirected;
    /**
     * The node redirected to welcomed the session: claim the seat.
     * @private
     * @param {Now} now
     * @param {import('./protocol.js').Welcome} welcome
     */
    private moved;
    /**
     * Decodes and handles a server frame. Throws a `DecodeError` (and
     * changes nothing) when the frame does not decode.
     * @param {Now} now
     * @param {Uint8Array} frame
     */
    handleFrame(now: Now, frame: Uint8Array): void;
    /**
     * Handles a server message.
     * @param {Now} now
     * @param {import('./protocol.js').ServerMessage} message
     */
    handle(now: Now, message: import("./protocol.js").ServerMessage): void;
    /**
     * A message on the new connection of a reconnecting session.
     * @private
     * @param {Now} now
     * @param {import('./protocol.js').ServerMessage} message
     */
    private handleWhileReconnecting;
    /**
     * @private
     * @param {import('./protocol.js').RoomEvent} event
     */
    private serverEvent;
    /**
     * @private
     * @param {Now} now
     * @param {import('./protocol.js').Ping} ping
     */
    private pinged;
    /**
     * @private
     * @param {Now} now
     * @param {import('./protocol.js').Update} update
     */
    private update;
    /**
     * @private
     * @param {Now} now
     */
    private releaseHeldPing;
    /**
     * The earliest time `handleTimeout` has work (monotonic milliseconds),
     * or null.
     * @returns {number | null}
     */
    pollTimeout(): number | null;
    /**
     * When a silent room connection counts as dropped.
     * @private
     * @returns {number | null}
     */
    private silenceDeadline;
    /**
     * Fails the requests and emits whose deadline has passed, sends a held
     * ping answer whose wait is over, and treats a room connection silent
     * past `silenceTimeoutMs` as dropped. Calling it early is harmless.
     * @param {Now} now
     */
    handleTimeout(now: Now): void;
    /**
     * The next message to send, stamped with `now` (pings carry the wall
     * clock; ping answers say how long they were held).
     * @param {Now} now
     * @returns {Transmit | null}
     */
    pollTransmit(now: Now): Transmit | null;
    /** Whether `pollTransmit` has something. */
    get hasTransmit(): boolean;
    /**
     * The next event for the application.
     * @returns {SessionEvent | null}
     */
    pollEvent(): SessionEvent | null;
}
/**
 * The time as the shell reads it: a monotonic clock in milliseconds for
 * deadlines and waits, and the wall clock in microseconds since the Unix
 * epoch for what travels on the wire.
 */
export type Now = {
    at: number;
    unixUs: number;
};
/**
 * A session's settings; every bound, with its default.
 */
export type SessionConfig = {
    /**
     * when updates are acknowledged: in an `Ack` of their own at once (default), or in the next `Inputs` (one frame a tick upstream; a server ping's answer then waits for the input too, at most half a tick)
     */
    ackMode: "immediate" | "withInput";
    /**
     * inputs per `Inputs` message, newest last: 1 over WebSocket, 3 over datagrams (clamped to 1..=8)
     */
    inputRedundancy: number;
    /**
     * how long a lobby request waits for its answer (default 10 000)
     */
    requestTimeoutMs: number;
    /**
     * requests waiting at once (default 16)
     */
    maxPendingRequests: number;
    /**
     * events waiting for an answer at once (default 256)
     */
    maxPendingEmits: number;
    /**
     * server events waiting for this client's answer; one more is refused with `RateLimited` (default 256)
     */
    maxOwedAnswers: number;
    /**
     * the server's client frame limit, bytes: an event that does not fit is refused here (default 4096)
     */
    maxFrame: number;
    /**
     * how the session reconnects after a drop
     */
    reconnect: import("./reconnect.js").ReconnectPolicy;
    /**
     * a room connection silent this long has dropped, whatever the transport says (default 5000; null: trust the transport)
     */
    silenceTimeoutMs: number | null;
    /**
     * how long one reconnection attempt may take, from opening the transport to the seat back (default 10 000)
     */
    attemptTimeoutMs: number;
    /**
     * whether a request answered with a `Redirect` moves the session to the node it names by itself (the request's answer is that node's); false: the request fails with a `RequestError` `redirected` carrying the redirect (default true)
     */
    followRedirects: boolean;
    /**
     * world schemas by game name (default: the built-in games, arena and chat)
     */
    schemas: Record<string, import("./schema.js").Schema>;
    /**
     * the schema of a game not in `schemas` (default: the arena's)
     */
    defaultSchema: import("./schema.js").Schema;
};
/**
 * Settings that differ from the defaults (the reconnection policy too may
 * be given in part).
 */
export type SessionSettings = Omit<Partial<SessionConfig>, "reconnect"> & {
    reconnect?: Partial<import("./reconnect.js").ReconnectPolicy>;
};
/**
 * How a session ended: the server's reason (a `Close`, a `Rejected`, a
 * close code) or null when the connection just ended; `rejected` when the
 * handshake was refused.
 */
export type Closed = {
    reason: import("./protocol.js").CloseReason | null;
    message: string;
    rejected: boolean;
};
/**
 * How an event emitted with an ack ended.
 */
export type EmitOutcome = {
    type: "answered";
    data: Uint8Array;
} | {
    type: "refused";
    code: import("./protocol.js").ErrorCode;
    message: string;
} | {
    type: "timedOut";
} | {
    type: "closed";
} | {
    type: "interrupted";
};
/**
 * A request's answer: the server message it waited for.
 */
export type Answer = import("./protocol.js").RoomList | import("./protocol.js").RoomCreated | import("./protocol.js").Joined | import("./protocol.js").Left;
/**
 * One update, as applied.
 */
export type AppliedUpdate = {
    tick: number;
    /**
     * a full snapshot
     */
    full: boolean;
    /**
     * ticks between the update and its baseline (0 for a full snapshot)
     */
    baselineAge: number;
    /**
     * delta size
     */
    bytes: number;
    /**
     * how late the server started the tick
     */
    latenessUs: number;
    /**
     * from the server's tick start to the world rebuilt here (meaningful with synchronised clocks)
     */
    latencyUs: number;
};
/**
 * A server event handed to the application; `replyTo` is set when the
 * server wants an answer (give it with `answer`).
 */
export type IncomingEvent = {
    name: string;
    data: Uint8Array;
    replyTo: number | null;
};
/**
 * What happened, for the application. `redirected`: a request was
 * answered with a `Redirect` and the session leaves this node for `node`
 * (the request stays pending); `moved`: it is on that node, welcomed as
 * a new player, and has claimed the seat (the request's answer follows).
 */
export type SessionEvent = {
    type: "welcomed";
    welcome: import("./protocol.js").Welcome;
} | {
    type: "answered";
    id: number;
    answer: Answer | null;
    error: RequestError | null;
} | {
    type: "joined";
    joined: import("./protocol.js").Joined;
} | {
    type: "left";
    left: import("./protocol.js").Left;
} | {
    type: "updated";
    update: AppliedUpdate;
    world: import("./world.js").World;
} | {
    type: "updateFailed";
    error: ReplicaError;
} | {
    type: "event";
    event: IncomingEvent;
} | {
    type: "emitted";
    ack: number;
    name: string;
    outcome: EmitOutcome;
    elapsedMs: number;
} | {
    type: "rtt";
    rttMs: number;
} | {
    type: "error";
    error: import("./protocol.js").ErrorMessage;
} | {
    type: "closed";
    closed: Closed;
} | {
    type: "reconnecting";
    attempt: number;
    waitMs: number;
    cause: import("./protocol.js").CloseReason | null;
} | {
    type: "resumed";
    room: import("./protocol.js").Joined | null;
    afterMs: number;
    attempts: number;
} | {
    type: "lost";
    reason: import("./reconnect.js").LostReason;
} | {
    type: "redirected";
    node: string;
    ws: string;
} | {
    type: "moved";
    node: string;
    welcome: import("./protocol.js").Welcome;
    afterMs: number;
    attempts: number;
};
/**
 * A message to send, and how it may travel: `reliable` (in order, never
 * lost) or `unreliable` (a datagram when the transport has them: inputs,
 * which repeat, and acks, which a newer one supersedes).
 */
export type Transmit = {
    message: import("./protocol.js").ClientMessage;
    delivery: "reliable" | "unreliable";
};
/**
 * Where the session is.
 */
export type SessionState = {
    type: "greeting";
} | {
    type: "lobby";
} | {
    type: "inRoom";
    joined: import("./protocol.js").Joined;
} | {
    type: "reconnecting";
} | {
    type: "closing";
} | {
    type: "closed";
    closed: Closed;
};
export type Outgoing = {
    kind: "message";
    message: import("./protocol.js").ClientMessage;
    delivery: "reliable" | "unreliable";
} | {
    kind: "ping";
} | {
    kind: "pong";
    ping: import("./protocol.js").Ping;
    arrived: number;
};
/**
 * A reconnection in progress.
 */
export type Reconnecting = {
    /**
     * when the connection dropped
     */
    since: number;
    /**
     * when to stop trying
     */
    deadline: number;
    /**
     * attempts started
     */
    attempts: number;
    /**
     * when the next attempt is due (null while one is under way)
     */
    nextAt: number | null;
    /**
     * when the attempt under way counts as failed
     */
    attemptDeadline: number;
    /**
     * the room whose seat it wants back
     */
    room: import("./protocol.js").Joined | null;
    /**
     * the new connection got its seat back: waiting for `Joined`
     */
    welcomed: boolean;
    cause: import("./protocol.js").CloseReason | null;
    /**
     * set when this is not a drop but a move to another node of the cluster: where to, and the reservation to claim there
     */
    redirect: import("./protocol.js").Redirect | null;
};
import { Replica } from './replica.js';
import { RequestError } from './errors.js';
import { ReplicaError } from './errors.js';
