// The client's copy of a room's world (shared/src/client/replica.rs):
// turns the server's updates back into worlds, checks every checksum, and
// says what to acknowledge.

import { applyDelta } from './delta.js';
import { DeltaError, ReplicaError } from './errors.js';
import { WorldHistory } from './history.js';
import { checksum } from './world.js';

/**
 * How many recent worlds a replica keeps as baselines (and to interpolate
 * between). The server only encodes against states younger than its own
 * baseline limit (32 ticks), which must be below this.
 */
export const REPLICA_HISTORY = 64;

const hex = (/** @type {number} */ n) => `0x${n.toString(16).padStart(8, '0')}`;

export class Replica {
  /** @param {import('./schema.js').Schema} schema */
  constructor(schema) {
    /** The game's schema. */
    this.schema = schema;
    /** @private */
    this.history = new WorldHistory(REPLICA_HISTORY);
  }

  /**
   * Applies an update and returns the new world, after checking its
   * checksum. Throws a `ReplicaError` and keeps every world as it was
   * when the update is stale, its baseline is not held, the delta does not
   * apply or the checksum differs.
   * @param {import('./protocol.js').Update} update
   * @returns {import('./world.js').World}
   */
  apply(update) {
    const latest = this.history.latest();
    if (latest !== undefined && update.tick <= latest.tick) {
      throw new ReplicaError('stale', `update #${update.tick} is not newer than #${latest.tick}`, {
        tick: update.tick,
      });
    }
    let baseline = null;
    if (update.baseline !== null) {
      baseline = this.history.get(update.baseline) ?? null;
      if (baseline === null) {
        throw new ReplicaError('unknown_baseline', `baseline #${update.baseline} is not held`, {
          tick: update.tick,
        });
      }
    }
    let w;
    try {
      w = applyDelta(this.schema, baseline, update.tick, update.delta);
    } catch (e) {
      if (!(e instanceof DeltaError)) throw e;
      throw new ReplicaError('delta', e.message, { tick: update.tick, cause: e });
    }
    const actual = checksum(w);
    if (actual !== update.checksum) {
      throw new ReplicaError(
        'checksum_mismatch',
        `checksum mismatch at #${update.tick}: server ${hex(update.checksum)}, rebuilt ${hex(actual)}`,
        { tick: update.tick, expected: update.checksum, actual },
      );
    }
    this.history.insert(w);
    return w;
  }

  /** The newest world, if any. */
  latest() {
    return this.history.latest();
  }

  /**
   * The world at `tick`, if still held (the last `REPLICA_HISTORY` ticks).
   * @param {number} tick
   */
  worldAt(tick) {
    return this.history.get(tick);
  }

  /** The worlds held, for interpolation. */
  get worlds() {
    return this.history;
  }

  /** The tick to acknowledge: the newest world held. */
  ack() {
    return this.latest()?.tick ?? null;
  }

  /** Forgets every world (after leaving a room). */
  reset() {
    this.history.clear();
  }
}
