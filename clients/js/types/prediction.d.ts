/**
 * The position of `e` after `ticks` (fractional) by its kind's linear
 * motion, clamped to the area for the `Clamp` boundary; null for a kind
 * without motion.
 * @param {import('./schema.js').Schema} schema
 * @param {import('./world.js').Entity} e
 * @param {number} ticks
 * @returns {[number, number] | null}
 */
export function extrapolateEntityFractional(schema: import("./schema.js").Schema, e: import("./world.js").Entity, ticks: number): [number, number] | null;
