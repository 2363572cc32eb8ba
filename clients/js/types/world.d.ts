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
export function entity(id: number, kind: number, values?: ArrayLike<number>): Entity;
/**
 * A world from entities in any order (sorted here). Throws a RangeError
 * on a duplicated id.
 * @param {number} tick
 * @param {Entity[]} entities
 * @returns {World}
 */
export function world(tick: number, entities: Entity[]): World;
/**
 * The checksum every update carries: FNV-1a over 32-bit words (offset
 * basis 0x811c9dc5, prime 0x01000193, each step `hash = (hash ^ word) *
 * prime` wrapping), feeding for each entity in id order its id, its kind,
 * then all eight fields as u32 bit patterns. The tick is not included.
 * @param {World | Entity[]} w
 * @returns {number} u32
 */
export function checksum(w: World | Entity[]): number;
/**
 * The entity with `id` in a world, if present (binary search).
 * @param {World} w
 * @param {number} id
 * @returns {Entity | undefined}
 */
export function findEntity(w: World, id: number): Entity | undefined;
/** Most fields an entity kind may have. */
export const MAX_FIELDS: 8;
/**
 * One entity as replicated. `fields` always has `MAX_FIELDS` i32 values;
 * those past the kind's field count are 0.
 */
export type Entity = {
    /**
     * u32
     */
    id: number;
    /**
     * u8, an index into the game's schema
     */
    kind: number;
    fields: Int32Array;
};
/**
 * The world at one tick: entities sorted by id, each id once. Worlds held
 * by a replica are never changed afterwards; treat them as read-only.
 */
export type World = {
    tick: number;
    entities: Entity[];
};
