// The replicated world: entities sorted by id, each with a kind and up to
// eight i32 fields, and its checksum (docs/protocol.md, "World model").

/** Most fields an entity kind may have. */
export const MAX_FIELDS = 8;

/**
 * One entity as replicated. `fields` always has `MAX_FIELDS` i32 values;
 * those past the kind's field count are 0.
 * @typedef {object} Entity
 * @property {number} id u32
 * @property {number} kind u8, an index into the game's schema
 * @property {Int32Array} fields
 */

/**
 * The world at one tick: entities sorted by id, each id once. Worlds held
 * by a replica are never changed afterwards; treat them as read-only.
 * @typedef {object} World
 * @property {number} tick
 * @property {Entity[]} entities
 */

/**
 * An entity; `values` are its first fields (the rest are 0).
 * @param {number} id
 * @param {number} kind
 * @param {ArrayLike<number>} [values]
 * @returns {Entity}
 */
export function entity(id, kind, values = []) {
  const fields = new Int32Array(MAX_FIELDS);
  for (let i = 0; i < Math.min(values.length, MAX_FIELDS); i++) fields[i] = values[i];
  return { id: id >>> 0, kind, fields };
}

/**
 * A world from entities in any order (sorted here). Throws a RangeError
 * on a duplicated id.
 * @param {number} tick
 * @param {Entity[]} entities
 * @returns {World}
 */
export function world(tick, entities) {
  const sorted = [...entities].sort((a, b) => a.id - b.id);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].id === sorted[i - 1].id) throw new RangeError(`duplicate entity id ${sorted[i].id}`);
  }
  return { tick, entities: sorted };
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/**
 * The checksum every update carries: FNV-1a over 32-bit words (offset
 * basis 0x811c9dc5, prime 0x01000193, each step `hash = (hash ^ word) *
 * prime` wrapping), feeding for each entity in id order its id, its kind,
 * then all eight fields as u32 bit patterns. The tick is not included.
 * @param {World | Entity[]} w
 * @returns {number} u32
 */
export function checksum(w) {
  const entities = Array.isArray(w) ? w : w.entities;
  let hash = FNV_OFFSET;
  for (const e of entities) {
    hash = Math.imul(hash ^ e.id, FNV_PRIME);
    hash = Math.imul(hash ^ e.kind, FNV_PRIME);
    for (let i = 0; i < MAX_FIELDS; i++) hash = Math.imul(hash ^ e.fields[i], FNV_PRIME);
  }
  return hash >>> 0;
}

/**
 * The entity with `id` in a world, if present (binary search).
 * @param {World} w
 * @param {number} id
 * @returns {Entity | undefined}
 */
export function findEntity(w, id) {
  let lo = 0;
  let hi = w.entities.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const e = w.entities[mid];
    if (e.id === id) return e;
    if (e.id < id) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}
