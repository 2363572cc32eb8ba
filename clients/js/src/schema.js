// The replication schema a game declares (entity kinds, their fields and
// code orders, motion and lifetime rules) and the extrapolation a client
// makes before applying a delta: integer arithmetic, exactly as the server
// (docs/protocol.md, "Extrapolation"; shared/src/schema.rs).

/**
 * @typedef {object} FieldSchema
 * @property {string} name
 * @property {number} absoluteOrder Golomb order of the full value (0..=24)
 * @property {number} changeOrder Golomb order of a change (0..=24)
 */

/**
 * Constant-velocity motion in 2D: each tick `position += velocity`, then
 * the boundary rule applies.
 * @typedef {object} LinearMotion
 * @property {[number, number]} position field indices of x and y
 * @property {[number, number]} velocity field indices of vx and vy
 * @property {[number, number]} min inclusive lower corner
 * @property {[number, number]} max inclusive upper corner
 * @property {'Clamp' | 'Despawn'} boundary
 */

/**
 * @typedef {object} KindSchema
 * @property {string} name
 * @property {FieldSchema[]} fields at most 8
 * @property {LinearMotion | null} motion
 * @property {number | null} lifetime index of a field counting the ticks left
 */

/** @typedef {{kinds: KindSchema[]}} Schema */

/**
 * @param {string} name
 * @param {number} absoluteOrder
 * @param {number} changeOrder
 * @returns {FieldSchema}
 */
function field(name, absoluteOrder, changeOrder) {
  return { name, absoluteOrder, changeOrder };
}

/** The default arena's upper corner in fixed point (1000 units x 64). */
const ARENA_MAX = 64000;

/**
 * The arena's schema (shared/src/arena.rs `SCHEMA`): kind 0 player, kind 1
 * projectile.
 * @type {Schema}
 */
export const ARENA_SCHEMA = Object.freeze({
  kinds: [
    {
      name: 'player',
      fields: [
        field('x', 15, 8),
        field('y', 15, 8),
        field('vx', 9, 9),
        field('vy', 9, 9),
        field('aim', 11, 12),
        field('hp', 6, 4),
        field('score', 0, 0),
        field('player', 4, 0),
      ],
      motion: { position: [0, 1], velocity: [2, 3], min: [0, 0], max: [ARENA_MAX, ARENA_MAX], boundary: 'Clamp' },
      lifetime: null,
    },
    {
      name: 'projectile',
      fields: [
        field('x', 15, 8),
        field('y', 15, 8),
        field('vx', 10, 8),
        field('vy', 10, 8),
        field('owner', 4, 0),
        field('ticks_left', 4, 2),
      ],
      motion: { position: [0, 1], velocity: [2, 3], min: [0, 0], max: [ARENA_MAX, ARENA_MAX], boundary: 'Despawn' },
      lifetime: 5,
    },
  ],
});

/** Arena entity kinds. */
export const ARENA_KIND = Object.freeze({ PLAYER: 0, PROJECTILE: 1 });

/** Field indices of an arena player (x, y, vx, vy in 1/64 units; aim in 1/4096 turn). */
export const ARENA_PLAYER_FIELD = Object.freeze({ X: 0, Y: 1, VX: 2, VY: 3, AIM: 4, HP: 5, SCORE: 6, PLAYER: 7 });

/** Field indices of an arena projectile. */
export const ARENA_PROJECTILE_FIELD = Object.freeze({ X: 0, Y: 1, VX: 2, VY: 3, OWNER: 4, TICKS_LEFT: 5 });

/** Fixed-point steps per arena world unit. */
export const ARENA_POSITION_SCALE = 64;

/** Aim steps per full turn. */
export const ARENA_ANGLE_STEPS = 4096;

/**
 * The chat game's schema (shared/src/chat.rs `SCHEMA`): one kind,
 * "member" (player, role, said, owner), no motion.
 * @type {Schema}
 */
export const CHAT_SCHEMA = Object.freeze({
  kinds: [
    {
      name: 'member',
      fields: [field('player', 8, 0), field('value', 4, 0), field('value', 4, 0), field('value', 4, 0)],
      motion: null,
      lifetime: null,
    },
  ],
});

/** The schemas of the built-in games, by game name. */
export const BUILTIN_SCHEMAS = Object.freeze({ arena: ARENA_SCHEMA, chat: CHAT_SCHEMA });

/**
 * Checks the limits the codec relies on; throws a RangeError.
 * @param {Schema} schema
 */
export function validateSchema(schema) {
  if (schema.kinds.length > 256) throw new RangeError('a schema has at most 256 entity kinds');
  for (const kind of schema.kinds) {
    const count = kind.fields.length;
    if (count > 8) throw new RangeError(`kind ${kind.name} has more than 8 fields`);
    const indices = kind.lifetime === null ? [] : [kind.lifetime];
    if (kind.motion) indices.push(...kind.motion.position, ...kind.motion.velocity);
    if (indices.some((i) => !Number.isInteger(i) || i < 0 || i >= count)) {
      throw new RangeError(`kind ${kind.name} names a field it does not have`);
    }
    for (const f of kind.fields) {
      for (const order of [f.absoluteOrder, f.changeOrder]) {
        if (!Number.isInteger(order) || order < 0 || order > 24) {
          throw new RangeError(`kind ${kind.name} has a code order outside 0..=24`);
        }
      }
    }
  }
}

/**
 * One entity `ticks` ahead by its kind's rules, or null when they despawn
 * it. Entities of a kind the schema lacks are kept as they are.
 *
 * The arithmetic is the server's 64-bit integer arithmetic: positions and
 * velocities are i32 and `ticks` a u32, so `x + vx * ticks` is exact in a
 * double whenever it is within 2^53; beyond that it is far outside any
 * i32 area, and the clamp or despawn decision is the same.
 * @param {Schema} schema
 * @param {import('./world.js').Entity} e
 * @param {number} ticks
 * @returns {import('./world.js').Entity | null}
 */
export function extrapolateEntity(schema, e, ticks) {
  const kind = schema.kinds[e.kind];
  if (kind === undefined) return e;
  let fields = e.fields;
  if (kind.lifetime !== null) {
    const left = e.fields[kind.lifetime] - ticks;
    if (left <= 0) return null;
    fields = Int32Array.from(fields);
    fields[kind.lifetime] = left;
  }
  const m = kind.motion;
  if (m !== null) {
    if (fields === e.fields) fields = Int32Array.from(fields);
    for (let axis = 0; axis < 2; axis++) {
      const moved = e.fields[m.position[axis]] + e.fields[m.velocity[axis]] * ticks;
      const lo = m.min[axis];
      const hi = m.max[axis];
      if (m.boundary === 'Clamp') {
        fields[m.position[axis]] = moved < lo ? lo : moved > hi ? hi : moved;
      } else {
        // Straight-line motion out of a box never comes back in, so the
        // end position decides.
        if (moved < lo || moved > hi) return null;
        fields[m.position[axis]] = moved;
      }
    }
  }
  return fields === e.fields ? e : { id: e.id, kind: e.kind, fields };
}

/**
 * The entities of `baseline` predicted `ticks` ahead (in id order).
 * @param {Schema} schema
 * @param {import('./world.js').World} baseline
 * @param {number} ticks
 * @returns {import('./world.js').Entity[]}
 */
export function extrapolate(schema, baseline, ticks) {
  /** @type {import('./world.js').Entity[]} */
  const out = [];
  for (const e of baseline.entities) {
    const next = extrapolateEntity(schema, e, ticks);
    if (next !== null) out.push(next);
  }
  return out;
}
