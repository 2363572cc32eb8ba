// Bits, schema extrapolation, the delta bitstream and the replica.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  applyDelta,
  ARENA_SCHEMA,
  BitReader,
  BitWriter,
  checksum,
  DeltaError,
  encodeDelta,
  encodeServer,
  decodeServer,
  entity,
  extrapolateEntity,
  Replica,
  ReplicaError,
  unzigzag,
  validateSchema,
  world,
  zigzag,
  CHAT_SCHEMA,
  REPLICA_HISTORY,
} from '../src/index.js';
import { rng } from '../test-support/util.js';

/** @type {import('../src/schema.js').FieldSchema} */
const F = { name: 'f', absoluteOrder: 4, changeOrder: 2 };
/** The schema of shared/src/schema.rs's tests. @type {import('../src/schema.js').Schema} */
const TEST_SCHEMA = {
  kinds: [
    { name: 'walker', fields: [F, F, F, F], motion: { position: [0, 1], velocity: [2, 3], min: [0, 0], max: [100, 100], boundary: 'Clamp' }, lifetime: null },
    { name: 'bullet', fields: [F, F, F, F, F], motion: { position: [0, 1], velocity: [2, 3], min: [0, 0], max: [100, 100], boundary: 'Despawn' }, lifetime: 4 },
  ],
};

describe('bits', () => {
  test('zigzag orders by magnitude and round-trips the extremes', () => {
    assert.deepEqual([0, -1, 1, -2, 2].map(zigzag), [0, 1, 2, 3, 4]);
    for (const v of [-(2 ** 31), 2 ** 31 - 1, 0, -7, 12345]) assert.equal(unzigzag(zigzag(v)), v);
    assert.equal(zigzag(-(2 ** 31)), 0xffffffff);
  });

  test('0 with order 0 is a single one bit; u32::MAX costs 65 bits', () => {
    const w = new BitWriter();
    w.golomb(0, 0);
    assert.deepEqual(Array.from(w.finish()), [1]);
    const big = new BitWriter();
    big.golomb(0xffffffff, 0);
    assert.equal(big.finish().length, 9);
  });

  test("the protocol doc's code examples, bit for bit", () => {
    /** @param {(w: BitWriter) => void} write */
    const bits = (write) => {
      const w = new BitWriter();
      write(w);
      const bytes = w.finish();
      return Array.from({ length: bytes.length * 8 }, (_, j) => (bytes[j >> 3] >> (j & 7)) & 1).join('');
    };
    /** @type {[(w: BitWriter) => void, string][]} */
    const examples = [
      [(w) => w.golomb(0, 0), '1'],
      [(w) => w.golomb(1, 0), '010'],
      [(w) => w.golomb(2, 0), '011'],
      [(w) => w.golomb(3, 0), '00100'],
      [(w) => w.golomb(4, 0), '00110'],
      [(w) => w.golomb(0, 2), '100'],
      [(w) => w.golomb(2, 2), '101'],
      [(w) => w.golomb(5, 2), '01100'],
      [(w) => w.signed(1, 0), '011'],
      [(w) => w.signed(-10, 4), '0111000'],
      [(w) => w.signed(32000, 15), '010000000001011110'],
    ];
    for (const [write, expected] of examples) {
      assert.equal(bits(write).slice(0, expected.length), expected);
      assert.match(bits(write).slice(expected.length), /^0*$/, 'zero padding');
    }
    assert.equal(new BitReader(Uint8Array.of(0x0e)).bits(8), 0x0e);
  });

  test('any sequence of codes round-trips', () => {
    const r = rng(3);
    for (let round = 0; round < 200; round++) {
      const values = Array.from({ length: r.int(0, 40) }, () => {
        const n = r.int(0, 3) === 0 ? r.u32() : r.int(0, 1000);
        return { n, k: r.int(0, 24), s: r.u32() | 0, width: r.int(1, 32) };
      });
      const w = new BitWriter();
      for (const { n, k, s, width } of values) {
        w.golomb(n, k);
        w.signed(s, k);
        w.bits(n % 2 ** width, width);
      }
      const rd = new BitReader(w.finish());
      for (const { n, k, s, width } of values) {
        assert.equal(rd.golomb(k), n);
        assert.equal(rd.signed(k), s);
        assert.equal(rd.bits(width), n % 2 ** width);
      }
      rd.finish();
    }
  });

  test('short and overlong input is an error, never a crash', () => {
    assert.throws(() => new BitReader(new Uint8Array(0)).golomb(3), { code: 'truncated' });
    assert.throws(() => new BitReader(new Uint8Array(9)).golomb(0), (e) => e instanceof DeltaError);
    assert.throws(() => new BitReader(Uint8Array.of(0, 0, 0, 0, 1)).golomb(0), { code: 'truncated' });
    assert.throws(() => new BitReader(Uint8Array.of(0, 0, 0, 0, 0, 1)).golomb(0), { code: 'corrupt' });
  });
});

describe('schema extrapolation', () => {
  test('the built-in schemas are valid', () => {
    validateSchema(ARENA_SCHEMA);
    validateSchema(CHAT_SCHEMA);
    validateSchema(TEST_SCHEMA);
    assert.throws(() => validateSchema({ kinds: [{ name: 'x', fields: [F], motion: null, lifetime: 3 }] }), RangeError);
  });

  test('clamped motion stops at the wall and keeps its velocity', () => {
    const e = entity(1, 0, [90, 50, 7, -3]);
    assert.deepEqual(Array.from(/** @type {any} */ (extrapolateEntity(TEST_SCHEMA, e, 1)).fields.slice(0, 4)), [97, 47, 7, -3]);
    const many = /** @type {any} */ (extrapolateEntity(TEST_SCHEMA, e, 10));
    assert.deepEqual(Array.from(many.fields.slice(0, 4)), [100, 20, 7, -3]);
    let stepped = e;
    for (let i = 0; i < 10; i++) stepped = /** @type {any} */ (extrapolateEntity(TEST_SCHEMA, stepped, 1));
    assert.deepEqual(stepped, many);
  });

  test('bullets despawn by lifetime or by leaving the area', () => {
    const e = entity(2, 1, [50, 50, 10, 0, 3]);
    assert.equal(/** @type {any} */ (extrapolateEntity(TEST_SCHEMA, e, 2)).fields[4], 1);
    assert.equal(extrapolateEntity(TEST_SCHEMA, e, 3), null, 'lifetime ran out');
    assert.equal(extrapolateEntity(TEST_SCHEMA, entity(3, 1, [95, 50, 10, 0, 30]), 1), null, 'left the area');
  });

  test('64-bit arithmetic: huge velocities and ages clamp or despawn as the server does', () => {
    const fast = entity(1, 0, [10, 10, 2 ** 31 - 1, -(2 ** 31)]);
    const moved = /** @type {any} */ (extrapolateEntity(ARENA_SCHEMA, fast, 0xffffffff));
    assert.deepEqual(Array.from(moved.fields.slice(0, 2)), [64000, 0]);
    assert.equal(extrapolateEntity(ARENA_SCHEMA, entity(2, 1, [10, 10, 1, 0, 0, 2 ** 31 - 1]), 0xffffffff), null);
    assert.equal(extrapolateEntity(ARENA_SCHEMA, entity(3, 7, [1, 2]), 5)?.fields[0], 1, 'unknown kinds stay');
  });
});

/**
 * A random arena world.
 * @param {ReturnType<typeof rng>} r
 * @param {number} tick
 * @param {number} [firstId]
 */
function randomWorld(r, tick, firstId = 1) {
  const entities = [];
  let id = firstId;
  for (let i = r.int(0, 40); i > 0; i--) {
    id += r.int(1, 5);
    if (r.int(0, 2) === 0) {
      entities.push(entity(id, 1, [r.int(0, 64000), r.int(0, 64000), r.int(-1280, 1280), r.int(-1280, 1280), r.int(1, 50), r.int(1, 30)]));
    } else {
      entities.push(entity(id, 0, [r.int(0, 64000), r.int(0, 64000), r.int(-427, 427), r.int(-427, 427), r.int(0, 4095), r.int(1, 100), r.int(0, 9), id]));
    }
  }
  return world(tick, entities);
}

/**
 * The next world: the server's prediction of `w` `age` ticks on, with
 * some entities changed, removed, replaced and created.
 * @param {ReturnType<typeof rng>} r
 * @param {import('../src/world.js').World} w
 * @param {number} age
 */
function evolve(r, w, age) {
  const out = [];
  for (const e of w.entities) {
    const next = extrapolateEntity(ARENA_SCHEMA, e, age);
    if (r.int(0, 9) === 0) continue; // removed
    if (next === null) continue;
    if (r.int(0, 19) === 0) {
      out.push(entity(e.id, 1 - e.kind, [1, 2, 3, 4, 5, 6])); // same id, new kind
      continue;
    }
    const f = Int32Array.from(next.fields);
    if (r.int(0, 3) === 0) f[r.int(0, 5)] += r.int(-2000, 2000);
    if (r.int(0, 30) === 0) f[0] = r.u32() | 0; // any i32
    out.push({ id: e.id, kind: e.kind, fields: f });
  }
  const created = randomWorld(r, 0, (w.entities.at(-1)?.id ?? 0) + r.int(-30, 30)).entities;
  const ids = new Set(out.map((e) => e.id));
  for (const e of created) if (!ids.has(e.id)) out.push(e);
  return world(w.tick + age, out);
}

describe('delta', () => {
  test('the golden empty delta (07) applies to nothing', () => {
    const w = applyDelta(ARENA_SCHEMA, null, 5, Uint8Array.of(0x07));
    assert.deepEqual(w, { tick: 5, entities: [] });
    assert.equal(checksum(w), 0x811c9dc5);
    assert.throws(() => applyDelta(ARENA_SCHEMA, null, 5, Uint8Array.of(0x03, 0x10)), { code: 'truncated' });
  });

  test('deltas and full snapshots of random worlds round-trip through the prediction', () => {
    const r = rng(4);
    for (let round = 0; round < 300; round++) {
      const base = randomWorld(r, r.int(0, 1000));
      const age = r.int(1, 40);
      const next = evolve(r, base, age);
      const full = applyDelta(ARENA_SCHEMA, null, next.tick, encodeDelta(ARENA_SCHEMA, null, next));
      assert.deepStrictEqual(full, next);
      const delta = encodeDelta(ARENA_SCHEMA, base, next);
      assert.deepStrictEqual(applyDelta(ARENA_SCHEMA, base, next.tick, delta), next);
      assert.equal(checksum(full), checksum(next));
    }
  });

  test('ids near the top of u32 and a first id below the predicted ones', () => {
    const base = world(1, [entity(0xfffffff0, 0, [5, 5, 1, 1]), entity(0xfffffffe, 0, [7, 7])]);
    const next = world(2, [entity(3, 1, [1, 1, 1, 1, 1, 9]), entity(0xfffffff0, 0, [6, 6, 1, 1]), entity(0xffffffff, 0, [1])]);
    const delta = encodeDelta(ARENA_SCHEMA, base, next);
    assert.deepStrictEqual(applyDelta(ARENA_SCHEMA, base, 2, delta), next);
  });

  test('an unpredicted world costs bytes; a predicted one costs three bits', () => {
    const base = world(10, [entity(1, 0, [100, 100, 10, 5, 0, 100, 0, 1]), entity(2, 1, [500, 500, 64, 0, 1, 20])]);
    const predicted = world(13, [entity(1, 0, [130, 115, 10, 5, 0, 100, 0, 1]), entity(2, 1, [692, 500, 64, 0, 1, 17])]);
    assert.deepEqual(Array.from(encodeDelta(ARENA_SCHEMA, base, predicted)), [0x07]);
  });

  test('corrupt deltas are refused with their reason', () => {
    const base = world(1, [entity(1, 0, [1]), entity(2, 0, [2])]);
    /** @param {(w: BitWriter) => void} write */
    const bytes = (write) => {
      const w = new BitWriter();
      write(w);
      return w.finish();
    };
    const cases = /** @type {[string, Uint8Array, string][]} */ ([
      ['changed index out of range', bytes((w) => { w.golomb(1, 0); w.golomb(5, 2); w.bits(1, 8); w.signed(1, 8); w.golomb(0, 0); w.golomb(0, 0); }), 'corrupt'],
      ['empty field mask', bytes((w) => { w.golomb(1, 0); w.golomb(0, 2); w.bits(0, 8); w.golomb(0, 0); w.golomb(0, 0); }), 'corrupt'],
      ['changed and removed', bytes((w) => { w.golomb(1, 0); w.golomb(0, 2); w.bits(1, 8); w.signed(1, 8); w.golomb(1, 0); w.golomb(0, 2); w.golomb(0, 0); }), 'corrupt'],
      ['removed out of range', bytes((w) => { w.golomb(0, 0); w.golomb(1, 0); w.golomb(2, 2); w.golomb(0, 0); }), 'corrupt'],
      ['created exists', bytes((w) => { w.golomb(0, 0); w.golomb(0, 0); w.golomb(1, 0); w.signed(-2, 0); w.golomb(0, 0); for (const f of ARENA_SCHEMA.kinds[0].fields) w.signed(0, f.absoluteOrder); }), 'corrupt'],
      ['unknown created kind', bytes((w) => { w.golomb(0, 0); w.golomb(0, 0); w.golomb(1, 0); w.signed(0, 0); w.golomb(9, 0); }), 'corrupt'],
      ['more created than bits', bytes((w) => { w.golomb(0, 0); w.golomb(0, 0); w.golomb(1000, 0); }), 'corrupt'],
      ['trailing bytes', Uint8Array.of(0x07, 0x00), 'trailing_bytes'],
      ['non-zero padding', Uint8Array.of(0x0f), 'corrupt'],
    ]);
    for (const [what, delta, code] of cases) {
      assert.throws(() => applyDelta(ARENA_SCHEMA, base, 2, delta), { name: 'DeltaError', code }, what);
    }
    assert.throws(() => applyDelta(ARENA_SCHEMA, base, 0, Uint8Array.of(7)), { code: 'baseline_after_current' });
  });

  test('random delta bytes fail only with a DeltaError', () => {
    const r = rng(5);
    const base = randomWorld(r, 1);
    for (let i = 0; i < 20_000; i++) {
      const bytes = new Uint8Array(r.int(0, 40)).map(() => r.int(0, 255));
      try {
        applyDelta(ARENA_SCHEMA, i % 2 ? base : null, 2 + (i % 5), bytes);
      } catch (e) {
        assert.ok(e instanceof DeltaError, String(e));
      }
    }
  });
});

describe('replica', () => {
  /**
   * @param {import('../src/world.js').World} w
   * @param {import('../src/world.js').World | null} base
   * @param {{checksum?: number}} [tweak]
   */
  const update = (w, base, tweak = {}) =>
    /** @type {import('../src/protocol.js').Update} */ (
      decodeServer(
        encodeServer({
          type: 'Update',
          tick: w.tick,
          baseline: base?.tick ?? null,
          latenessUs: 0,
          checksum: tweak.checksum ?? checksum(w),
          delta: encodeDelta(ARENA_SCHEMA, base, w),
        }),
      )
    );

  test('applies updates against held baselines and acknowledges the newest', () => {
    const r = rng(6);
    const replica = new Replica(ARENA_SCHEMA);
    assert.equal(replica.ack(), null);
    let w = randomWorld(r, 1);
    replica.apply(update(w, null));
    for (let i = 0; i < 100; i++) {
      const base = replica.worldAt(w.tick - r.int(0, Math.min(20, i))) ?? w;
      const next = evolve(r, w, r.int(1, 3));
      const got = replica.apply(update(next, base === w ? w : base));
      assert.deepStrictEqual(got, next);
      w = next;
    }
    assert.equal(replica.ack(), w.tick);
    assert.equal(replica.worlds.capacity, REPLICA_HISTORY);
  });

  test('stale, unknown-baseline, corrupt and mismatching updates leave it unchanged', () => {
    const r = rng(7);
    const replica = new Replica(ARENA_SCHEMA);
    const a = randomWorld(r, 10);
    replica.apply(update(a, null));
    const b = evolve(r, a, 2);
    assert.throws(() => replica.apply(update(a, null)), { name: 'ReplicaError', code: 'stale' });
    assert.throws(() => replica.apply(update(b, world(9, []))), { code: 'unknown_baseline' });
    assert.throws(
      () => replica.apply({ type: 'Update', tick: 12, baseline: 10, latenessUs: 0, checksum: 0, delta: Uint8Array.of(0xff, 0xff) }),
      (e) => e instanceof ReplicaError && e.code === 'delta' && e.cause instanceof DeltaError,
    );
    assert.throws(() => replica.apply(update(b, a, { checksum: 123 })), (e) => e instanceof ReplicaError && e.code === 'checksum_mismatch' && e.expected === 123);
    assert.equal(replica.ack(), 10);
    assert.deepStrictEqual(replica.apply(update(b, a)), b);
    replica.reset();
    assert.equal(replica.latest(), undefined);
  });
});
