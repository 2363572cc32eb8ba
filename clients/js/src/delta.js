// Delta compression of worlds against a baseline (docs/protocol.md,
// "Delta bitstream"; shared/src/delta.rs). `applyDelta` predicts the
// baseline forward by the schema's rules and applies the corrections;
// `encodeDelta` writes them (tests, tools, a JavaScript server).
//
//   changed   G(0) count; each: index gap G(2), field mask (one bit per
//             field of the kind), per set bit S(change_order) of
//             new - predicted (wrapping i32)
//   removed   G(0) count; each: index gap G(2)
//   created   G(0) count; each: id (first: S(0) of id - (largest
//             predicted id + 1), wrapping; then G(0) of id - previous - 1),
//             kind G(0), every field of the kind S(absolute_order)
//   padding   zero bits to the byte boundary, nothing after

import { BitReader, BitWriter } from './bits.js';
import { DeltaError } from './errors.js';
import { extrapolate } from './schema.js';
import { MAX_FIELDS } from './world.js';

const COUNT_ORDER = 0;
const GAP_ORDER = 2;
const ID_ORDER = 0;

/**
 * The baseline extrapolated to `tick` (empty without a baseline).
 * @param {import('./schema.js').Schema} schema
 * @param {import('./world.js').World | null} baseline
 * @param {number} tick
 */
function predict(schema, baseline, tick) {
  if (baseline === null) return [];
  const age = tick - baseline.tick;
  if (age < 0) throw new DeltaError('baseline_after_current', 'baseline is newer than the current world');
  return extrapolate(schema, baseline, age);
}

/**
 * The id a first created entity is coded against: one past the largest.
 * @param {import('./world.js').Entity[]} predicted
 */
function nextId(predicted) {
  const last = predicted[predicted.length - 1];
  return last === undefined ? 0 : (last.id + 1) >>> 0;
}

/**
 * Rebuilds the world at `tick` from `baseline` (null for a full
 * snapshot) and the delta `bytes`. Throws a `DeltaError` when the delta
 * does not apply; the baseline is never changed.
 * @param {import('./schema.js').Schema} schema
 * @param {import('./world.js').World | null} baseline
 * @param {number} tick
 * @param {Uint8Array} bytes
 * @returns {import('./world.js').World}
 */
export function applyDelta(schema, baseline, tick, bytes) {
  const predicted = predict(schema, baseline, tick);
  const len = predicted.length;
  const r = new BitReader(bytes);

  /** @type {[number, import('./world.js').Entity][]} */
  const changes = [];
  let count = r.golomb(COUNT_ORDER);
  let next = 0;
  for (let n = 0; n < count; n++) {
    const index = next + r.golomb(GAP_ORDER);
    if (index >= len) throw new DeltaError('corrupt', 'corrupt delta: changed index out of range');
    next = index + 1;
    const base = predicted[index];
    const kind = schema.kinds[base.kind];
    if (kind === undefined) throw new DeltaError('corrupt', 'corrupt delta: unknown kind');
    const mask = r.bits(kind.fields.length);
    if (mask === 0) throw new DeltaError('corrupt', 'corrupt delta: empty field mask');
    const fields = Int32Array.from(base.fields);
    for (let i = 0; i < kind.fields.length; i++) {
      if (mask & (1 << i)) fields[i] = (fields[i] + r.signed(kind.fields[i].changeOrder)) | 0;
    }
    changes.push([index, { id: base.id, kind: base.kind, fields }]);
  }

  /** @type {number[]} */
  const removed = [];
  count = r.golomb(COUNT_ORDER);
  next = 0;
  let c = 0;
  for (let n = 0; n < count; n++) {
    const index = next + r.golomb(GAP_ORDER);
    if (index >= len) throw new DeltaError('corrupt', 'corrupt delta: removed index out of range');
    while (c < changes.length && changes[c][0] < index) c++;
    if (c < changes.length && changes[c][0] === index) {
      throw new DeltaError('corrupt', 'corrupt delta: entity both changed and removed');
    }
    next = index + 1;
    removed.push(index);
  }

  /** @type {import('./world.js').Entity[]} */
  const created = [];
  count = r.golomb(COUNT_ORDER);
  // Every created entity costs well over one bit: a count beyond the bits
  // is corrupt, and checking it bounds the work.
  if (count > bytes.length * 8) {
    throw new DeltaError('corrupt', 'corrupt delta: more created entities than bits');
  }
  /** @type {number | null} */
  let previous = null;
  for (let n = 0; n < count; n++) {
    let id;
    if (previous === null) {
      id = (nextId(predicted) + r.signed(ID_ORDER)) >>> 0;
    } else {
      if (previous === 0xffff_ffff) throw new DeltaError('corrupt', 'corrupt delta: created id overflows');
      id = previous + 1 + r.golomb(ID_ORDER);
      if (id > 0xffff_ffff) throw new DeltaError('corrupt', 'corrupt delta: created id overflows');
    }
    previous = id;
    const kindIndex = r.golomb(ID_ORDER);
    const kind = kindIndex < 256 ? schema.kinds[kindIndex] : undefined;
    if (kind === undefined) throw new DeltaError('corrupt', 'corrupt delta: unknown kind');
    const fields = new Int32Array(MAX_FIELDS);
    for (let i = 0; i < kind.fields.length; i++) fields[i] = r.signed(kind.fields[i].absoluteOrder);
    created.push({ id, kind: kindIndex, fields });
  }
  r.finish();

  /** @type {import('./world.js').Entity[]} */
  const entities = [];
  let ci = 0;
  let ri = 0;
  let ni = 0;
  for (let i = 0; i < len; i++) {
    if (ri < removed.length && removed[ri] === i) {
      ri++;
      continue;
    }
    let e = predicted[i];
    if (ci < changes.length && changes[ci][0] === i) {
      e = changes[ci][1];
      ci++;
    }
    while (ni < created.length && created[ni].id < e.id) entities.push(created[ni++]);
    if (ni < created.length && created[ni].id === e.id) {
      throw new DeltaError('corrupt', 'corrupt delta: created entity already exists');
    }
    entities.push(e);
  }
  while (ni < created.length) entities.push(created[ni++]);
  return { tick, entities };
}

/**
 * The delta that turns `baseline` (null: the empty world) into `current`.
 * Throws a `DeltaError` (`unknown_kind`) for an entity whose kind the
 * schema lacks.
 * @param {import('./schema.js').Schema} schema
 * @param {import('./world.js').World | null} baseline
 * @param {import('./world.js').World} current
 * @returns {Uint8Array}
 */
export function encodeDelta(schema, baseline, current) {
  const predicted = predict(schema, baseline, current.tick);
  const now = current.entities;
  /** @param {number} kind */
  const kindOf = (kind) => {
    const k = schema.kinds[kind];
    if (k === undefined) throw new DeltaError('unknown_kind', `entity kind ${kind} is not in the schema`);
    return k;
  };

  /** @type {[number, number, number][]} */
  const changed = [];
  /** @type {number[]} */
  const removed = [];
  /** @type {number[]} */
  const created = [];
  let p = 0;
  let c = 0;
  while (p < predicted.length || c < now.length) {
    const a = predicted[p];
    const b = now[c];
    if (a !== undefined && b !== undefined && a.id === b.id) {
      if (a.kind !== b.kind) {
        // Same id, new kind: replaced, not changed.
        removed.push(p);
        created.push(c);
      } else {
        const kind = kindOf(b.kind);
        let mask = 0;
        for (let i = 0; i < kind.fields.length; i++) if (a.fields[i] !== b.fields[i]) mask |= 1 << i;
        if (mask !== 0) changed.push([p, c, mask]);
      }
      p++;
      c++;
    } else if (a !== undefined && (b === undefined || a.id < b.id)) {
      removed.push(p);
      p++;
    } else {
      created.push(c);
      c++;
    }
  }

  const w = new BitWriter();
  w.golomb(changed.length, COUNT_ORDER);
  let next = 0;
  for (const [pi, cj, mask] of changed) {
    const was = predicted[pi];
    const is = now[cj];
    const kind = kindOf(is.kind);
    w.golomb(pi - next, GAP_ORDER);
    next = pi + 1;
    w.bits(mask, kind.fields.length);
    for (let i = 0; i < kind.fields.length; i++) {
      if (mask & (1 << i)) w.signed((is.fields[i] - was.fields[i]) | 0, kind.fields[i].changeOrder);
    }
  }
  w.golomb(removed.length, COUNT_ORDER);
  next = 0;
  for (const pi of removed) {
    w.golomb(pi - next, GAP_ORDER);
    next = pi + 1;
  }
  w.golomb(created.length, COUNT_ORDER);
  /** @type {number | null} */
  let previous = null;
  for (const cj of created) {
    const e = now[cj];
    const kind = kindOf(e.kind);
    if (previous === null) w.signed((e.id - nextId(predicted)) | 0, ID_ORDER);
    else w.golomb(e.id - previous - 1, ID_ORDER);
    previous = e.id;
    w.golomb(e.kind, ID_ORDER);
    for (let i = 0; i < kind.fields.length; i++) w.signed(e.fields[i], kind.fields[i].absoluteOrder);
  }
  return w.finish();
}
