/**
 * How many recent worlds a replica keeps as baselines (and to interpolate
 * between). The server only encodes against states younger than its own
 * baseline limit (32 ticks), which must be below this.
 */
export const REPLICA_HISTORY: 64;
export class Replica {
    /** @param {import('./schema.js').Schema} schema */
    constructor(schema: import("./schema.js").Schema);
    /** The game's schema. */
    schema: import("./schema.js").Schema;
    /** @private */
    private history;
    /**
     * Applies an update and returns the new world, after checking its
     * checksum. Throws a `ReplicaError` and keeps every world as it was
     * when the update is stale, its baseline is not held, the delta does not
     * apply or the checksum differs.
     * @param {import('./protocol.js').Update} update
     * @returns {import('./world.js').World}
     */
    apply(update: import("./protocol.js").Update): import("./world.js").World;
    /** The newest world, if any. */
    latest(): import("./world.js").World | undefined;
    /**
     * The world at `tick`, if still held (the last `REPLICA_HISTORY` ticks).
     * @param {number} tick
     */
    worldAt(tick: number): import("./world.js").World | undefined;
    /** The worlds held, for interpolation. */
    get worlds(): WorldHistory;
    /** The tick to acknowledge: the newest world held. */
    ack(): number | null;
    /** Forgets every world (after leaving a room). */
    reset(): void;
}
import { WorldHistory } from './history.js';
