/**
 * How a session reconnects after its connection drops. The default
 * reconnects by itself: first after about 250 ms, then waiting twice as
 * long each time up to 5 s, each wait drawn between half and all of the
 * nominal one, until the server's grace (`Welcome.reconnectGraceMs`) has
 * run out.
 * @typedef {object} ReconnectPolicy
 * @property {boolean} enabled whether to reconnect at all (a server with `reconnectGraceMs` 0 is never reconnected to)
 * @property {number} firstDelayMs the nominal wait before the first attempt
 * @property {number} maxDelayMs the longest nominal wait
 * @property {number | null} giveUpAfterMs give up after this long even when the grace is longer (null: the grace decides)
 * @property {number} jitterSeed seeds the jitter (u32); clients must not share it (the `Client` draws it at random)
 */
/** @returns {ReconnectPolicy} */
export function defaultReconnectPolicy(): ReconnectPolicy;
/**
 * The nominal wait before attempt `attempt` (1 for the first):
 * `firstDelayMs * 2^(attempt-1)`, at most `maxDelayMs`.
 * @param {ReconnectPolicy} policy
 * @param {number} attempt
 */
export function nominalDelay(policy: ReconnectPolicy, attempt: number): number;
/**
 * Whether a connection that ended for `reason` left a seat to come back
 * to: it ended without a word (null), or the server parked the seat as it
 * closed (`IdleTimeout`, `SlowConsumer`). Every other reason freed it.
 * @param {import('./protocol.js').CloseReason | null} reason
 */
export function resumable(reason: import("./protocol.js").CloseReason | null): reason is "IdleTimeout" | "SlowConsumer" | null;
/**
 * Why a reconnection did not give the session back: the seat was gone
 * (the client is connected, in the lobby, as a new player), no attempt got
 * through in time, the server refused the new connection, or the node a
 * redirect named could not be reached while its reservation was valid
 * (these leave the session closed: connect again to any node).
 * @typedef {{type: 'seatGone'}
 *   | {type: 'gaveUp', attempts: number}
 *   | {type: 'refused', reason: import('./protocol.js').CloseReason, message: string}
 *   | {type: 'unreachable', node: string, attempts: number}} LostReason
 */
/**
 * Whether the client is still connected (in the lobby) after `reason`.
 * @param {LostReason} reason
 */
export function stillConnected(reason: LostReason): reason is {
    type: "seatGone";
};
/**
 * A sentence for people.
 * @param {LostReason} reason
 */
export function describeLost(reason: LostReason): string;
/**
 * Draws the waits of one session's reconnections ("equal jitter": half
 * the nominal wait plus a uniform draw up to the other half, in whole
 * microseconds), so clients dropped together spread their attempts.
 */
export class Backoff {
    /** @param {number} seed */
    constructor(seed: number);
    /** @private */
    private state;
    /** @private mulberry32: a small, well-mixed 32-bit generator */
    private next;
    /**
     * The wait before attempt `attempt` under `policy`, milliseconds.
     * @param {ReconnectPolicy} policy
     * @param {number} attempt
     */
    delay(policy: ReconnectPolicy, attempt: number): number;
}
/**
 * How a session reconnects after its connection drops. The default
 * reconnects by itself: first after about 250 ms, then waiting twice as
 * long each time up to 5 s, each wait drawn between half and all of the
 * nominal one, until the server's grace (`Welcome.reconnectGraceMs`) has
 * run out.
 */
export type ReconnectPolicy = {
    /**
     * whether to reconnect at all (a server with `reconnectGraceMs` 0 is never reconnected to)
     */
    enabled: boolean;
    /**
     * the nominal wait before the first attempt
     */
    firstDelayMs: number;
    /**
     * the longest nominal wait
     */
    maxDelayMs: number;
    /**
     * give up after this long even when the grace is longer (null: the grace decides)
     */
    giveUpAfterMs: number | null;
    /**
     * seeds the jitter (u32); clients must not share it (the `Client` draws it at random)
     */
    jitterSeed: number;
};
/**
 * Why a reconnection did not give the session back: the seat was gone
 * (the client is connected, in the lobby, as a new player), no attempt got
 * through in time, the server refused the new connection, or the node a
 * redirect named could not be reached while its reservation was valid
 * (these leave the session closed: connect again to any node).
 */
export type LostReason = {
    type: "seatGone";
} | {
    type: "gaveUp";
    attempts: number;
} | {
    type: "refused";
    reason: import("./protocol.js").CloseReason;
    message: string;
} | {
    type: "unreachable";
    node: string;
    attempts: number;
};
