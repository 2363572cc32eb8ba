// Small helpers shared by the tests.

import { readdirSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** The golden vectors' directory. */
export const GOLDEN_DIR = resolve(REPO_ROOT, 'shared/tests/golden');

/**
 * Every golden message vector: file name (without `.hex`) and bytes.
 * @returns {Map<string, Uint8Array>}
 */
export function goldenVectors() {
  /** @type {Map<string, Uint8Array>} */
  const out = new Map();
  for (const file of readdirSync(GOLDEN_DIR).filter((f) => f.endsWith('.hex')).sort()) {
    const hex = readFileSync(resolve(GOLDEN_DIR, file), 'utf8').trim();
    out.set(file.slice(0, -4), Uint8Array.from(Buffer.from(hex, 'hex')));
  }
  return out;
}

/**
 * A value with every object given the ordinary prototype (decoded maps
 * have none), for deepStrictEqual.
 * @param {unknown} value
 * @returns {unknown}
 */
export function plain(value) {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Uint8Array || value instanceof Int32Array) return value;
  if (Array.isArray(value)) return value.map(plain);
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const [k, v] of Object.entries(value)) out[k] = plain(v);
  return out;
}

/**
 * A seeded pseudo-random generator (mulberry32), for reproducible tests.
 * @param {number} seed
 */
export function rng(seed) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  return {
    /** A u32. */
    u32: next,
    /** An integer in [lo, hi]. @param {number} lo @param {number} hi */
    int: (lo, hi) => lo + (next() % (hi - lo + 1)),
    /** A float in [0, 1). */
    float: () => next() / 2 ** 32,
  };
}

/**
 * Waits until `check` holds, polling; throws after `timeoutMs`.
 * @param {() => boolean} check
 * @param {number} timeoutMs
 * @param {string} what
 */
export async function until(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** @param {number} ms */
export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * A public arena room as the lobby describes it, for the session tests.
 * @param {number} [id]
 * @returns {import('../src/protocol.js').RoomInfo}
 */
export function roomInfo(id = 3) {
  return {
    id,
    code: '234567',
    name: 'r',
    game: 'arena',
    visibility: 'Public',
    players: 1,
    maxPlayers: 16,
    spectators: 0,
    options: {},
    metadata: {},
    locked: false,
  };
}
