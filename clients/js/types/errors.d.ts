/** The base of every error this library throws or reports. */
export class TickwireError extends Error {
    /**
     * @param {string} code a short snake-case name for machines
     * @param {string} message for people
     * @param {{cause?: unknown}} [options]
     */
    constructor(code: string, message: string, options?: {
        cause?: unknown;
    });
    /** A short snake-case name for machines. */
    code: string;
}
/**
 * @typedef {'empty' | 'too_large' | 'unknown_kind' | 'truncated' | 'trailing_bytes' | 'malformed'} DecodeErrorCode
 */
/** A frame that does not decode (the Rust codec's `DecodeError`). */
export class DecodeError extends TickwireError {
    /** @param {DecodeErrorCode} code @param {string} message */
    constructor(code: DecodeErrorCode, message: string);
}
/** A value that cannot be put on the wire (a bug on the sending side). */
export class EncodeError extends TickwireError {
    /** @param {string} message */
    constructor(message: string);
}
/**
 * @typedef {'truncated' | 'trailing_bytes' | 'corrupt' | 'unknown_kind' | 'baseline_after_current'} DeltaErrorCode
 */
/** A delta bitstream that does not apply (the Rust `DeltaError`). */
export class DeltaError extends TickwireError {
    /** @param {DeltaErrorCode} code @param {string} message */
    constructor(code: DeltaErrorCode, message: string);
}
/**
 * @typedef {'stale' | 'unknown_baseline' | 'delta' | 'checksum_mismatch'} ReplicaErrorCode
 */
/**
 * An update that was not applied (the Rust `ReplicaError`). The replica is
 * unchanged; the client does not acknowledge it, so the server keeps
 * encoding against the last acknowledged world.
 */
export class ReplicaError extends TickwireError {
    /**
     * @param {ReplicaErrorCode} code
     * @param {string} message
     * @param {{tick?: number, expected?: number, actual?: number, cause?: unknown}} [details]
     */
    constructor(code: ReplicaErrorCode, message: string, details?: {
        tick?: number;
        expected?: number;
        actual?: number;
        cause?: unknown;
    });
    /** The update's tick, when known. @type {number | undefined} */
    tick: number | undefined;
    /** The server's checksum (`checksum_mismatch`). @type {number | undefined} */
    expected: number | undefined;
    /** The rebuilt world's checksum (`checksum_mismatch`). @type {number | undefined} */
    actual: number | undefined;
}
/**
 * @typedef {'closed' | 'reconnecting' | 'too_many_requests' | 'too_many_emits' | 'event_name' | 'too_large' | 'not_asked' | 'encode'} SessionErrorCode
 */
/** A call the session cannot carry out (the Rust `SessionError`). */
export class SessionError extends TickwireError {
    /** @param {SessionErrorCode} code @param {string} message */
    constructor(code: SessionErrorCode, message: string);
}
/**
 * @typedef {'refused' | 'timed_out' | 'closed' | 'interrupted' | 'unexpected' | 'redirected'} RequestErrorCode
 */
/**
 * A lobby request without an answer (the Rust `RequestFailure`). For
 * `refused`, `errorCode` is the server's `ErrorCode` name (`'RoomFull'`,
 * ...) and `serverMessage` its words. For `redirected` (the room is on
 * another node of a cluster and the session does not follow redirects),
 * `redirect` is the server's `Redirect`: go there and claim the seat.
 */
export class RequestError extends TickwireError {
    /**
     * @param {RequestErrorCode} code
     * @param {string} message
     * @param {{errorCode?: import('./protocol.js').ErrorCode, serverMessage?: string, redirect?: import('./protocol.js').Redirect}} [details]
     */
    constructor(code: RequestErrorCode, message: string, details?: {
        errorCode?: import("./protocol.js").ErrorCode;
        serverMessage?: string;
        redirect?: import("./protocol.js").Redirect;
    });
    /** @type {import('./protocol.js').ErrorCode | undefined} */
    errorCode: import("./protocol.js").ErrorCode | undefined;
    /** @type {string | undefined} */
    serverMessage: string | undefined;
    /** @type {import('./protocol.js').Redirect | undefined} */
    redirect: import("./protocol.js").Redirect | undefined;
}
/**
 * @typedef {'refused' | 'timed_out' | 'closed' | 'interrupted'} EmitErrorCode
 */
/**
 * An event emitted with an ack that got no answer (the Rust
 * `EmitOutcome` other than `Answered`). For `refused`, `errorCode` is the
 * server's `ErrorCode` name (`'EventRefused'`, `'RateLimited'`, ...).
 */
export class EmitError extends TickwireError {
    /**
     * @param {EmitErrorCode} code
     * @param {string} message
     * @param {{errorCode?: import('./protocol.js').ErrorCode, serverMessage?: string}} [details]
     */
    constructor(code: EmitErrorCode, message: string, details?: {
        errorCode?: import("./protocol.js").ErrorCode;
        serverMessage?: string;
    });
    /** @type {import('./protocol.js').ErrorCode | undefined} */
    errorCode: import("./protocol.js").ErrorCode | undefined;
    /** @type {string | undefined} */
    serverMessage: string | undefined;
}
/**
 * @typedef {'unsupported' | 'connect_failed' | 'timeout' | 'protocol' | 'frame_too_large' | 'closed'} TransportErrorCode
 */
/** A transport that could not be opened, or broke. */
export class TransportError extends TickwireError {
    /**
     * @param {TransportErrorCode} code
     * @param {string} message
     * @param {{cause?: unknown}} [options]
     */
    constructor(code: TransportErrorCode, message: string, options?: {
        cause?: unknown;
    });
}
/**
 * @typedef {'rejected' | 'closed' | 'lost' | 'timeout' | 'transport'} ConnectionErrorCode
 */
/**
 * The session ended (or never began): the server refused the handshake
 * (`rejected`), closed the session (`closed`), the connection ended and
 * was not resumed (`lost`), or connecting took too long (`timeout`).
 * `reason` is the server's `CloseReason` name when it gave one.
 */
export class ConnectionError extends TickwireError {
    /**
     * @param {ConnectionErrorCode} code
     * @param {string} message
     * @param {{reason?: import('./protocol.js').CloseReason | null, cause?: unknown}} [details]
     */
    constructor(code: ConnectionErrorCode, message: string, details?: {
        reason?: import("./protocol.js").CloseReason | null;
        cause?: unknown;
    });
    /** @type {import('./protocol.js').CloseReason | null} */
    reason: import("./protocol.js").CloseReason | null;
}
export type DecodeErrorCode = "empty" | "too_large" | "unknown_kind" | "truncated" | "trailing_bytes" | "malformed";
export type DeltaErrorCode = "truncated" | "trailing_bytes" | "corrupt" | "unknown_kind" | "baseline_after_current";
export type ReplicaErrorCode = "stale" | "unknown_baseline" | "delta" | "checksum_mismatch";
export type SessionErrorCode = "closed" | "reconnecting" | "too_many_requests" | "too_many_emits" | "event_name" | "too_large" | "not_asked" | "encode";
export type RequestErrorCode = "refused" | "timed_out" | "closed" | "interrupted" | "unexpected" | "redirected";
export type EmitErrorCode = "refused" | "timed_out" | "closed" | "interrupted";
export type TransportErrorCode = "unsupported" | "connect_failed" | "timeout" | "protocol" | "frame_too_large" | "closed";
export type ConnectionErrorCode = "rejected" | "closed" | "lost" | "timeout" | "transport";
