/**
 * The entities at fractional tick `rt` (see `Interpolator.sample`).
 * @param {import('./history.js').WorldHistory} worlds
 * @param {import('./schema.js').Schema} schema
 * @param {number} rt
 * @param {number} [maxExtrapolationTicks]
 * @param {number} [teleportDistance]
 * @returns {Sample | null}
 */
export function sampleAt(worlds: import("./history.js").WorldHistory, schema: import("./schema.js").Schema, rt: number, maxExtrapolationTicks?: number, teleportDistance?: number): Sample | null;
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
    constructor(options?: InterpolatorOptions);
    /** @private */
    private delayTicks;
    /** @private */
    private jitterFactor;
    /** @private */
    private smoothing;
    /** @private */
    private offsetDrift;
    /** @private */
    private maxExtrapolationTicks;
    /** @private */
    private teleportDistance;
    /** @private @type {number | null} */
    private periodMs;
    /** @private @type {number | null} */
    private transitMs;
    /** @private @type {number | null} */
    private lastTransitMs;
    /** @private */
    private _jitterMs;
    /** @private @type {number | null} */
    private _delayMs;
    /**
     * Starts over for a room ticking at `tickRate` Hz (a join), or forgets
     * everything (null).
     * @param {number | null} tickRate
     */
    reset(tickRate: number | null): void;
    /** The measured inter-arrival jitter, milliseconds. */
    get jitterMs(): number;
    /** The current render delay, milliseconds (null before the first update). */
    get delayMs(): number | null;
    /**
     * Records that the update of `tick` arrived at `arrivalMs` (the same
     * monotonic clock as the render times).
     * @param {number} tick
     * @param {number} arrivalMs
     * @param {number} [latenessUs] how late the server started the tick
     */
    onUpdate(tick: number, arrivalMs: number, latenessUs?: number): void;
    /**
     * The estimated server time at local time `nowMs`, milliseconds on the
     * room's schedule (tick n starts at n x period), or null before the
     * first update.
     * @param {number} nowMs
     */
    serverTimeMs(nowMs: number): number | null;
    /**
     * The fractional tick to render at `nowMs`, or null before the first
     * update.
     * @param {number} nowMs
     */
    renderTick(nowMs: number): number | null;
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
    sample(worlds: import("./history.js").WorldHistory, schema: import("./schema.js").Schema, nowMs: number): Sample | null;
}
export type InterpolatorOptions = {
    /**
     * tick periods to render behind the newest world (default 2)
     */
    delayTicks?: number | undefined;
    /**
     * multiples of the measured jitter added to the delay (default 2)
     */
    jitterFactor?: number | undefined;
    /**
     * weight of a new target delay per update, 0..1 (default 0.1)
     */
    smoothing?: number | undefined;
    /**
     * how fast the transit estimate follows slower arrivals, 0..1 (default 0.01)
     */
    offsetDrift?: number | undefined;
    /**
     * how far past the newest world positions are extrapolated (default 2)
     */
    maxExtrapolationTicks?: number | undefined;
    /**
     * a position change larger than this (in field units) between two ticks snaps instead of sliding (default: never)
     */
    teleportDistance?: number | undefined;
};
/**
 * An entity as rendered: `x` and `y` are the interpolated position fields
 * of its kind's motion rule (fractional, in field units; null for kinds
 * without motion); `fields` are the values of the nearer world.
 */
export type RenderedEntity = {
    id: number;
    kind: number;
    x: number | null;
    y: number | null;
    fields: Int32Array;
};
export type Sample = {
    /**
     * the fractional tick rendered
     */
    renderTick: number;
    fromTick: number;
    /**
     * equal to `fromTick` when holding or extrapolating
     */
    toTick: number;
    /**
     * position between the two worlds, 0..1
     */
    alpha: number;
    /**
     * the render time is past the newest world
     */
    extrapolated: boolean;
    /**
     * by id
     */
    entities: RenderedEntity[];
};
