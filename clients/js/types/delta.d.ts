/**
 * Rebuilds the world at `tick` from `baseline` (null for a full
 * snapshot) and the delta `bytes`. Throws a `DeltaError` when the delta
 * does not apply; the baseline is never changed.
 * @param {import('./schema.js').Schema} schema
 * @param {import('./world.js').World | null} baseline
 * @param {number} tick
 * @param {Uint8Array} bytes
 * @returns {import('./world.js').World}
 */
export function applyDelta(schema: import("./schema.js").Schema, baseline: import("./world.js").World | null, tick: number, bytes: Uint8Array): import("./world.js").World;
/**
 * The delta that turns `baseline` (null: the empty world) into `current`.
 * Throws a `DeltaError` (`unknown_kind`) for an entity whose kind the
 * schema lacks.
 * @param {import('./schema.js').Schema} schema
 * @param {import('./world.js').World | null} baseline
 * @param {import('./world.js').World} current
 * @returns {Uint8Array}
 */
export function encodeDelta(schema: import("./schema.js").Schema, baseline: import("./world.js").World | null, current: import("./world.js").World): Uint8Array;
