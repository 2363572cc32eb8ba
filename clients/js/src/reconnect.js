// Reconnecting after a drop, sans-IO (shared/src/client/reconnect.rs):
// when to try again (exponential backoff with jitter, within the server's
// grace), which drops leave a seat to come back to, and how a
// reconnection (or a move to another node of a cluster) ended.

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
export function defaultReconnectPolicy() {
  return { enabled: true, firstDelayMs: 250, maxDelayMs: 5000, giveUpAfterMs: null, jitterSeed: 0 };
}

/**
 * The nominal wait before attempt `attempt` (1 for the first):
 * `firstDelayMs * 2^(attempt-1)`, at most `maxDelayMs`.
 * @param {ReconnectPolicy} policy
 * @param {number} attempt
 */
export function nominalDelay(policy, attempt) {
  const doublings = Math.min(Math.max(attempt - 1, 0), 20);
  return Math.min(policy.firstDelayMs * 2 ** doublings, policy.maxDelayMs);
}

/**
 * Draws the waits of one session's reconnections ("equal jitter": half
 * the nominal wait plus a uniform draw up to the other half, in whole
 * microseconds), so clients dropped together spread their attempts.
 */
export class Backoff {
  /** @param {number} seed */
  constructor(seed) {
    /** @private */
    this.state = (seed ^ 0x7265636f) >>> 0;
  }

  /** @private mulberry32: a small, well-mixed 32-bit generator */
  next() {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /**
   * The wait before attempt `attempt` under `policy`, milliseconds.
   * @param {ReconnectPolicy} policy
   * @param {number} attempt
   */
  delay(policy, attempt) {
    const nominalUs = Math.round(nominalDelay(policy, attempt) * 1000);
    const halfUs = Math.floor(nominalUs / 2);
    const spread = nominalUs - halfUs;
    // Two draws make 53 random bits: enough for any spread.
    const draw = this.next() * 2 ** 21 + (this.next() >>> 11);
    const jitter = spread === 0 ? 0 : draw % (spread + 1);
    return (halfUs + jitter) / 1000;
  }
}

/**
 * Whether a connection that ended for `reason` left a seat to come back
 * to: it ended without a word (null), or the server parked the seat as it
 * closed (`IdleTimeout`, `SlowConsumer`). Every other reason freed it.
 * @param {import('./protocol.js').CloseReason | null} reason
 */
export function resumable(reason) {
  return reason === null || reason === 'IdleTimeout' || reason === 'SlowConsumer';
}

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
export function stillConnected(reason) {
  return reason.type === 'seatGone';
}

/**
 * A sentence for people.
 * @param {LostReason} reason
 */
export function describeLost(reason) {
  switch (reason.type) {
    case 'seatGone':
      return 'back on the server, but the seat is gone';
    case 'gaveUp':
      return `could not reconnect in time (${reason.attempts} attempts)`;
    case 'refused':
      return `the server refused the reconnection (${reason.reason}): ${reason.message}`;
    case 'unreachable':
      return `could not reach node ${reason.node} of the cluster (${reason.attempts} attempts)`;
  }
}
