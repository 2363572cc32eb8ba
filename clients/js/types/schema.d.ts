/**
 * Checks the limits the codec relies on; throws a RangeError.
 * @param {Schema} schema
 */
export function validateSchema(schema: Schema): void;
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
export function extrapolateEntity(schema: Schema, e: import("./world.js").Entity, ticks: number): import("./world.js").Entity | null;
/**
 * The entities of `baseline` predicted `ticks` ahead (in id order).
 * @param {Schema} schema
 * @param {import('./world.js').World} baseline
 * @param {number} ticks
 * @returns {import('./world.js').Entity[]}
 */
export function extrapolate(schema: Schema, baseline: import("./world.js").World, ticks: number): import("./world.js").Entity[];
/**
 * The arena's schema (shared/src/arena.rs `SCHEMA`): kind 0 player, kind 1
 * projectile.
 * @type {Schema}
 */
export const ARENA_SCHEMA: Schema;
/** Arena entity kinds. */
export const ARENA_KIND: Readonly<{
    PLAYER: 0;
    PROJECTILE: 1;
}>;
/** Field indices of an arena player (x, y, vx, vy in 1/64 units; aim in 1/4096 turn). */
export const ARENA_PLAYER_FIELD: Readonly<{
    X: 0;
    Y: 1;
    VX: 2;
    VY: 3;
    AIM: 4;
    HP: 5;
    SCORE: 6;
    PLAYER: 7;
}>;
/** Field indices of an arena projectile. */
export const ARENA_PROJECTILE_FIELD: Readonly<{
    X: 0;
    Y: 1;
    VX: 2;
    VY: 3;
    OWNER: 4;
    TICKS_LEFT: 5;
}>;
/** Fixed-point steps per arena world unit. */
export const ARENA_POSITION_SCALE: 64;
/** Aim steps per full turn. */
export const ARENA_ANGLE_STEPS: 4096;
/**
 * The chat game's schema (shared/src/chat.rs `SCHEMA`): one kind,
 * "member" (player, role, said, owner), no motion.
 * @type {Schema}
 */
export const CHAT_SCHEMA: Schema;
/** The schemas of the built-in games, by game name. */
export const BUILTIN_SCHEMAS: Readonly<{
    arena: Schema;
    chat: Schema;
}>;
export type FieldSchema = {
    name: string;
    /**
     * Golomb order of the full value (0..=24)
     */
    absoluteOrder: number;
    /**
     * Golomb order of a change (0..=24)
     */
    changeOrder: number;
};
/**
 * Constant-velocity motion in 2D: each tick `position += velocity`, then
 * the boundary rule applies.
 */
export type LinearMotion = {
    /**
     * field indices of x and y
     */
    position: [number, number];
    /**
     * field indices of vx and vy
     */
    velocity: [number, number];
    /**
     * inclusive lower corner
     */
    min: [number, number];
    /**
     * inclusive upper corner
     */
    max: [number, number];
    boundary: "Clamp" | "Despawn";
};
export type KindSchema = {
    name: string;
    /**
     * at most 8
     */
    fields: FieldSchema[];
    motion: LinearMotion | null;
    /**
     * index of a field counting the ticks left
     */
    lifetime: number | null;
};
export type Schema = {
    kinds: KindSchema[];
};
