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
/**
 * Local input prediction for the own arena avatar: where the arena's
 * rule 2 (velocity = stick x player speed per tick, position clamped to
 * the area) takes a player at `base` after `ticks` (fractional) of
 * holding `input`. `step` is the grid units a full stick moves per tick
 * (`player_speed / hz * 64`, 426.67 at the defaults). For drawing only:
 * the server's world stays the truth, and a page eases towards it.
 * @param {{x: number, y: number}} base
 * @param {{moveX: number, moveY: number}} input
 * @param {number} ticks
 * @param {number} step
 * @returns {{x: number, y: number}}
 */
export function predictArenaPosition(base: {
    x: number;
    y: number;
}, input: {
    moveX: number;
    moveY: number;
}, ticks: number, step: number): {
    x: number;
    y: number;
};
/** The arena's playing field, in 1/64 units per axis (`0..=64000`). */
export const ARENA_AREA_MAX: 64000;
