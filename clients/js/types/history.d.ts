export class WorldHistory {
    /** @param {number} capacity at least 1 */
    constructor(capacity: number);
    /** @private @type {(import('./world.js').World | null)[]} */
    private slots;
    /** @private @type {number | null} */
    private latestTick;
    /** How many worlds it holds at most. */
    get capacity(): number;
    /**
     * Stores a world under its tick (evicting the one `capacity` ticks
     * older).
     * @param {import('./world.js').World} w
     */
    insert(w: import("./world.js").World): void;
    /**
     * The world at `tick`, if still held.
     * @param {number} tick
     */
    get(tick: number): import("./world.js").World | undefined;
    /** The newest world. */
    latest(): import("./world.js").World | undefined;
    /**
     * The newest world at or before `tick` (fractional ticks allowed).
     * @param {number} tick
     */
    atOrBefore(tick: number): import("./world.js").World | undefined;
    /**
     * The oldest world after `tick` (fractional ticks allowed).
     * @param {number} tick
     */
    after(tick: number): import("./world.js").World | undefined;
    /** Forgets everything. */
    clear(): void;
}
