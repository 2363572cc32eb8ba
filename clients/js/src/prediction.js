// Rendering-side motion: where an entity is a fraction of a tick ahead by
// its kind's motion rule. Unlike `schema.extrapolateEntity`, which must
// agree with the server bit for bit, this is for drawing only.

/**
 * The position of `e` after `ticks` (fractional) by its kind's linear
 * motion, clamped to the area for the `Clamp` boundary; null for a kind
 * without motion.
 * @param {import('./schema.js').Schema} schema
 * @param {import('./world.js').Entity} e
 * @param {number} ticks
 * @returns {[number, number] | null}
 */
export function extrapolateEntityFractional(schema, e, ticks) {
  const m = schema.kinds[e.kind]?.motion ?? null;
  if (m === null) return null;
  /** @type {[number, number]} */
  const pos = [0, 0];
  for (let axis = 0; axis < 2; axis++) {
    let p = e.fields[m.position[axis]] + e.fields[m.velocity[axis]] * ticks;
    if (m.boundary === 'Clamp') p = Math.min(Math.max(p, m.min[axis]), m.max[axis]);
    pos[axis] = p;
  }
  return pos;
}

/** The arena's playing field, in 1/64 units per axis (`0..=64000`). */
export const ARENA_AREA_MAX = 64000;

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
export function predictArenaPosition(base, input, ticks, step) {
  const clamp = (/** @type {number} */ v) => Math.min(Math.max(v, 0), ARENA_AREA_MAX);
  const axis = (/** @type {number} */ stick) => (Number.isFinite(stick) ? Math.min(Math.max(stick, -1), 1) : 0);
  const t = Math.max(ticks, 0);
  return {
    x: clamp(base.x + axis(input.moveX) * step * t),
    y: clamp(base.y + axis(input.moveY) * step * t),
  };
}
