// A bounded ring of recent worlds by tick: the baselines a client decodes
// against, and the worlds an interpolation buffer renders between.

export class WorldHistory {
  /** @param {number} capacity at least 1 */
  constructor(capacity) {
    /** @private @type {(import('./world.js').World | null)[]} */
    this.slots = new Array(Math.max(1, Math.floor(capacity))).fill(null);
    /** @private @type {number | null} */
    this.latestTick = null;
  }

  /** How many worlds it holds at most. */
  get capacity() {
    return this.slots.length;
  }

  /**
   * Stores a world under its tick (evicting the one `capacity` ticks
   * older).
   * @param {import('./world.js').World} w
   */
  insert(w) {
    this.slots[w.tick % this.slots.length] = w;
    if (this.latestTick === null || w.tick > this.latestTick) this.latestTick = w.tick;
  }

  /**
   * The world at `tick`, if still held.
   * @param {number} tick
   */
  get(tick) {
    const w = this.slots[tick % this.slots.length];
    return w !== null && w.tick === tick ? w : undefined;
  }

  /** The newest world. */
  latest() {
    return this.latestTick === null ? undefined : this.get(this.latestTick);
  }

  /**
   * The newest world at or before `tick` (fractional ticks allowed).
   * @param {number} tick
   */
  atOrBefore(tick) {
    /** @type {import('./world.js').World | undefined} */
    let best;
    for (const w of this.slots) {
      if (w !== null && w.tick <= tick && (best === undefined || w.tick > best.tick)) best = w;
    }
    return best;
  }

  /**
   * The oldest world after `tick` (fractional ticks allowed).
   * @param {number} tick
   */
  after(tick) {
    /** @type {import('./world.js').World | undefined} */
    let best;
    for (const w of this.slots) {
      if (w !== null && w.tick > tick && (best === undefined || w.tick < best.tick)) best = w;
    }
    return best;
  }

  /** Forgets everything. */
  clear() {
    this.slots.fill(null);
    this.latestTick = null;
  }
}
