// World vectors: a baseline, a full `Update` frame, and the world it
// rebuilds with its checksum (shared/tests/golden/worlds/*.json):
//
//   {name, schema: "arena", baseline: null | {tick, entities: [{id, kind, fields[8]}]},
//    update_hex, expected: {tick, entities, checksum}}

import assert from 'node:assert/strict';

import { applyDelta, BUILTIN_SCHEMAS, checksum, decodeServer, encodeDelta, encodeServer, entity, fromHex, toHex } from '../src/index.js';

/**
 * @typedef {{id: number, kind: number, fields: number[]}} EntityJson
 * @typedef {{tick: number, entities: EntityJson[]}} WorldJson
 * @typedef {{name: string, schema: string, baseline: WorldJson | null, update_hex: string, expected: WorldJson & {checksum: number}}} WorldVector
 */

/**
 * @param {import('../src/world.js').World} w
 * @returns {WorldJson}
 */
export function worldToJson(w) {
  return { tick: w.tick, entities: w.entities.map((e) => ({ id: e.id, kind: e.kind, fields: Array.from(e.fields) })) };
}

/**
 * @param {WorldJson} json
 * @returns {import('../src/world.js').World}
 */
export function worldFromJson(json) {
  return { tick: json.tick, entities: json.entities.map((e) => entity(e.id, e.kind, e.fields)) };
}

/**
 * Decodes the vector's update against its baseline and checks the world
 * and checksum it promises; then encodes the same update from the
 * baseline and the expected world, which must give the same bytes.
 * @param {WorldVector} vector
 */
export function checkWorldVector(vector) {
  const schema = /** @type {Record<string, import('../src/schema.js').Schema>} */ (BUILTIN_SCHEMAS)[vector.schema];
  assert.ok(schema !== undefined, `${vector.name}: unknown schema ${vector.schema}`);
  const update = decodeServer(fromHex(vector.update_hex));
  assert.equal(update.type, 'Update', `${vector.name}: update_hex is not an Update frame`);
  if (update.type !== 'Update') return;
  const baseline = vector.baseline === null ? null : worldFromJson(vector.baseline);
  assert.equal(update.baseline, baseline?.tick ?? null, `${vector.name}: the frame's baseline tick`);
  const rebuilt = applyDelta(schema, baseline, update.tick, update.delta);
  assert.deepStrictEqual(worldToJson(rebuilt), { tick: vector.expected.tick, entities: vector.expected.entities }, vector.name);
  assert.equal(checksum(rebuilt), vector.expected.checksum >>> 0, `${vector.name}: checksum of the rebuilt world`);
  assert.equal(update.checksum, vector.expected.checksum >>> 0, `${vector.name}: checksum in the frame`);
  const delta = encodeDelta(schema, baseline, rebuilt);
  assert.equal(toHex(delta), toHex(update.delta), `${vector.name}: the encoder writes the same delta`);
  assert.equal(toHex(encodeServer({ ...update, delta })), vector.update_hex, `${vector.name}: the same frame`);
}
