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
