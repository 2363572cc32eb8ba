// An interpolation buffer: renders the world a little in the past, between
// two received ticks, so that motion looks smooth whatever the network
// does. Pure: arrival times and the render time are arguments.
//
// Timing. Each update of tick n arrives at local time a; on the server's
// schedule it was produced at s = n * period + lateness. The transit
// a - s (clock offset plus one-way delay) is tracked as its running
// minimum (adopted at once when lower, drifting slowly up otherwise), so
// the estimated server time at local time t is t - transit. Jitter is the
// RFC 3550 inter-arrival jitter: J += (|D| - J) / 16, D the change in
// transit between consecutive updates. The render delay aims at
// `delayTicks` periods plus `jitterFactor` x J, smoothed so that it never
// jumps; the render time is the estimated server time minus that delay.

import { extrapolateEntityFractional } from './prediction.js';
import { findEntity } from './world.js';

/**
 * @typedef {object} InterpolatorOptions
 * @property {number} [delayTicks] tick periods to render behind the newest world (default 2)
 * @property {number} [jitterFactor] multiples of the measured jitter added to the delay (default 2)
 * @property {number} [smoothing] weight of a new target delay per update, 0..1 (default 0.1)
 * @property {number} [offsetDrift] how fast the transit estimate follows slower arrivals, 0..1 (default 0.01)
 * @property {number} [maxExtrapolationTicks] how far past the newest world positions are extrapolated (default 2)
 * @property {number} [teleportDistance] a position change larger than this (in field units) between two ticks snaps instead of sliding (default: never)
 */

/**
 * An entity as rendered: `x` and `y` are the interpolated position fields
 * of its kind's motion rule (fractional, in field units; null for kinds
 * without motion); `fields` are the values of the nearer world.
 * @typedef {{id: number, kind: number, x: number | null, y: number | null, fields: Int32Array}} RenderedEntity
 */

/**
 * @typedef {object} Sample
 * @property {number} renderTick the fractional tick rendered
 * @property {number} fromTick
 * @property {number} toTick equal to `fromTick` when holding or extrapolating
 * @property {number} alpha position between the two worlds, 0..1
 * @property {boolean} extrapolated the render time is past the newest world
 * @property {RenderedEntity[]} entities by id
 */

export class Interpolator {
  /** @param {InterpolatorOptions} [options] */
  constructor(options = {}) {
    /** @private */
    this.delayTicks = options.delayTicks ?? 2;
    /** @private */
    this.jitterFactor = options.jitterFactor ?? 2;
    /** @private */
    this.smoothing = options.smoothing ?? 0.1;
    /** @private */
    this.offsetDrift = options.offsetDrift ?? 0.01;
    /** @private */
    this.maxExtrapolationTicks = options.maxExtrapolationTicks ?? 2;
    /** @private */
    this.teleportDistance = options.teleportDistance ?? Infinity;
    /** @private @type {number | null} */
    this.periodMs = null;
    /** @private @type {number | null} */
    this.transitMs = null;
    /** @private @type {number | null} */
    this.lastTransitMs = null;
    /** @private */
    this._jitterMs = 0;
    /** @private @type {number | null} */
    this._delayMs = null;
  }

  /**
   * Starts over for a room ticking at `tickRate` Hz (a join), or forgets
   * everything (null).
   * @param {number | null} tickRate
   */
  reset(tickRate) {
    this.periodMs = tickRate !== null && tickRate > 0 ? 1000 / tickRate : null;
    this.transitMs = null;
    this.lastTransitMs = null;
    this._jitterMs = 0;
    this._delayMs = null;
  }

  /** The measured inter-arrival jitter, milliseconds. */
  get jitterMs() {
    return this._jitterMs;
  }

  /** The current render delay, milliseconds (null before the first update). */
  get delayMs() {
    return this._delayMs;
  }

  /**
   * Records that the update of `tick` arrived at `arrivalMs` (the same
   * monotonic clock as the render times).
   * @param {number} tick
   * @param {number} arrivalMs
   * @param {number} [latenessUs] how late the server started the tick
   */
  onUpdate(tick, arrivalMs, latenessUs = 0) {
    const period = this.periodMs;
    if (period === null) return;
    const transit = arrivalMs - (tick * period + latenessUs / 1000);
    if (this.lastTransitMs !== null) {
      this._jitterMs += (Math.abs(transit - this.lastTransitMs) - this._jitterMs) / 16;
    }
    this.lastTransitMs = transit;
    if (this.transitMs === null || transit < this.transitMs) this.transitMs = transit;
    else this.transitMs += (transit - this.transitMs) * this.offsetDrift;
    const target = this.delayTicks * period + this.jitterFactor * this._jitterMs;
    this._delayMs = this._delayMs === null ? target : this._delayMs + (target - this._delayMs) * this.smoothing;
  }

  /**
   * The estimated server time at local time `nowMs`, milliseconds on the
   * room's schedule (tick n starts at n x period), or null before the
   * first update.
   * @param {number} nowMs
   */
  serverTimeMs(nowMs) {
    return this.transitMs === null ? null : nowMs - this.transitMs;
  }

  /**
   * The fractional tick to render at `nowMs`, or null before the first
   * update.
   * @param {number} nowMs
   */
  renderTick(nowMs) {
    const server = this.serverTimeMs(nowMs);
    if (server === null || this.periodMs === null || this._delayMs === null) return null;
    return (server - this._delayMs) / this.periodMs;
  }

  /**
   * The entities to draw at `nowMs`, between the two held worlds that
   * bracket the render tick. An entity in both worlds slides between
   * them; one in only one of them shows while that world is the nearer.
   * Before the oldest world held, the oldest is shown; past the newest,
   * positions are extrapolated by the schema's motion for at most
   * `maxExtrapolationTicks`.
   * @param {import('./history.js').WorldHistory} worlds
   * @param {import('./schema.js').Schema} schema
   * @param {number} nowMs
   * @returns {Sample | null}
   */
  sample(worlds, schema, nowMs) {
    const rt = this.renderTick(nowMs);
    if (rt === null) return null;
    return sampleAt(worlds, schema, rt, this.maxExtrapolationTicks, this.teleportDistance);
  }
}

/**
 * The entities at fractional tick `rt` (see `Interpolator.sample`).
 * @param {import('./history.js').WorldHistory} worlds
 * @param {import('./schema.js').Schema} schema
 * @param {number} rt
 * @param {number} [maxExtrapolationTicks]
 * @param {number} [teleportDistance]
 * @returns {Sample | null}
 */
export function sampleAt(worlds, schema, rt, maxExtrapolationTicks = 2, teleportDistance = Infinity) {
  let from = worlds.atOrBefore(rt);
  const to = worlds.after(rt);
  if (from === undefined && to === undefined) return null;
  if (from === undefined) {
    // Before the oldest world held: show the oldest.
    const oldest = /** @type {import('./world.js').World} */ (to);
    return { renderTick: rt, fromTick: oldest.tick, toTick: oldest.tick, alpha: 0, extrapolated: false, entities: still(schema, oldest) };
  }
  if (to === undefined) {
    const ahead = Math.min(Math.max(rt - from.tick, 0), maxExtrapolationTicks);
    const entities = from.entities.map((e) => {
      const pos = extrapolateEntityFractional(schema, e, ahead);
      return { id: e.id, kind: e.kind, x: pos?.[0] ?? null, y: pos?.[1] ?? null, fields: e.fields };
    });
    return { renderTick: rt, fromTick: from.tick, toTick: from.tick, alpha: 0, extrapolated: ahead > 0, entities };
  }
  const alpha = (rt - from.tick) / (to.tick - from.tick);
  const nearer = alpha < 0.5 ? from : to;
  const farther = alpha < 0.5 ? to : from;
  /** @type {RenderedEntity[]} */
  const entities = [];
  for (const e of nearer.entities) {
    const other = findEntity(farther, e.id);
    const motion = schema.kinds[e.kind]?.motion ?? null;
    if (motion === null) {
      entities.push({ id: e.id, kind: e.kind, x: null, y: null, fields: e.fields });
      continue;
    }
    const [xi, yi] = motion.position;
    if (other === undefined || other.kind !== e.kind) {
      entities.push({ id: e.id, kind: e.kind, x: e.fields[xi], y: e.fields[yi], fields: e.fields });
      continue;
    }
    const a = alpha < 0.5 ? e : other;
    const b = alpha < 0.5 ? other : e;
    const dx = b.fields[xi] - a.fields[xi];
    const dy = b.fields[yi] - a.fields[yi];
    if (Math.abs(dx) > teleportDistance || Math.abs(dy) > teleportDistance) {
      entities.push({ id: e.id, kind: e.kind, x: e.fields[xi], y: e.fields[yi], fields: e.fields });
      continue;
    }
    entities.push({
      id: e.id,
      kind: e.kind,
      x: a.fields[xi] + dx * alpha,
      y: a.fields[yi] + dy * alpha,
      fields: e.fields,
    });
  }
  entities.sort((p, q) => p.id - q.id);
  return { renderTick: rt, fromTick: from.tick, toTick: to.tick, alpha, extrapolated: false, entities };
}

/**
 * A world's entities as rendered, unmoved.
 * @param {import('./schema.js').Schema} schema
 * @param {import('./world.js').World} w
 * @returns {RenderedEntity[]}
 */
function still(schema, w) {
  return w.entities.map((e) => {
    const motion = schema.kinds[e.kind]?.motion ?? null;
    return {
      id: e.id,
      kind: e.kind,
      x: motion === null ? null : e.fields[motion.position[0]],
      y: motion === null ? null : e.fields[motion.position[1]],
      fields: e.fields,
    };
  });
}
