// The interpolation buffer: timing estimates from arrivals, a delay that
// follows the jitter, and entities between two worlds.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { ARENA_SCHEMA, entity, Interpolator, sampleAt, world, WorldHistory } from '../src/index.js';
import { rng } from '../test-support/util.js';

const PERIOD = 1000 / 30;

describe('interpolator timing', () => {
  test('steady arrivals: render two ticks behind the newest, no jitter', () => {
    const it = new Interpolator();
    assert.equal(it.renderTick(0), null);
    it.reset(30);
    for (let tick = 100; tick < 200; tick++) it.onUpdate(tick, 5000 + tick * PERIOD);
    assert.ok(Math.abs(it.jitterMs) < 1e-9);
    assert.ok(Math.abs(/** @type {number} */ (it.delayMs) - 2 * PERIOD) < 1e-9);
    const rt = /** @type {number} */ (it.renderTick(5000 + 199 * PERIOD));
    assert.ok(Math.abs(rt - 197) < 1e-9, `${rt}`);
    // Time goes on between updates: the render tick follows the clock.
    const later = /** @type {number} */ (it.renderTick(5000 + 199.5 * PERIOD));
    assert.ok(Math.abs(later - 197.5) < 1e-9);
  });

  test('jittery arrivals widen the delay; calm ones shrink it back, smoothly', () => {
    const r = rng(8);
    const it = new Interpolator({ delayTicks: 2, jitterFactor: 2 });
    it.reset(30);
    let tick = 0;
    for (; tick < 300; tick++) it.onUpdate(tick, 1000 + tick * PERIOD + r.float() * 40);
    const jittery = /** @type {number} */ (it.delayMs);
    assert.ok(it.jitterMs > 8, `jitter ${it.jitterMs}`);
    assert.ok(jittery > 2 * PERIOD + 16, `delay ${jittery}`);
    let previous = jittery;
    for (; tick < 900; tick++) {
      it.onUpdate(tick, 1000 + tick * PERIOD);
      const d = /** @type {number} */ (it.delayMs);
      assert.ok(Math.abs(d - previous) < 5, 'the delay never jumps');
      previous = d;
    }
    assert.ok(previous < jittery && previous < 2 * PERIOD + 1, `calm delay ${previous}`);
  });

  test('the transit estimate takes the fastest arrival and drifts up slowly', () => {
    const it = new Interpolator();
    it.reset(30);
    it.onUpdate(10, 1000);
    it.onUpdate(11, 1000 + PERIOD - 5);
    assert.equal(it.serverTimeMs(2000), 2000 - (1000 + PERIOD - 5 - 11 * PERIOD));
    const before = /** @type {number} */ (it.serverTimeMs(0));
    it.onUpdate(12, 1000 + 2 * PERIOD + 100);
    const after = /** @type {number} */ (it.serverTimeMs(0));
    assert.ok(after < before && before - after < 2, 'one late update moves it a little');
    it.onUpdate(13, 1000 + 3 * PERIOD, 2000);
    assert.equal(it.delayMs !== null, true);
    it.reset(null);
    it.onUpdate(1, 1);
    assert.equal(it.renderTick(1), null, 'no tick rate, no timing');
  });
});

describe('sampling', () => {
  const history = new WorldHistory(64);
  history.insert(world(10, [entity(1, 0, [0, 0, 10, 0]), entity(2, 1, [100, 100, 0, 0, 1, 5]), entity(9, 0, [5, 5])]));
  history.insert(world(12, [entity(1, 0, [20, 40, 10, 0]), entity(3, 1, [7, 7, 0, 0, 1, 5]), entity(9, 0, [6000, 6000])]));

  test('between two worlds: positions slide, others show while their world is nearer', () => {
    const s = /** @type {import('../src/interpolation.js').Sample} */ (sampleAt(history, ARENA_SCHEMA, 10.5, 2, 1000));
    assert.equal(s.fromTick, 10);
    assert.equal(s.toTick, 12);
    assert.equal(s.alpha, 0.25);
    assert.deepEqual(
      s.entities.map((e) => [e.id, e.x, e.y]),
      [
        [1, 5, 10],
        [2, 100, 100],
        [9, 5, 5],
      ],
      'entity 2 (gone at 12) shows, entity 3 (new at 12) not yet, entity 9 snaps (a teleport)',
    );
    const late = /** @type {import('../src/interpolation.js').Sample} */ (sampleAt(history, ARENA_SCHEMA, 11.5, 2, 1000));
    assert.deepEqual(
      late.entities.map((e) => [e.id, e.x, e.y]),
      [
        [1, 15, 30],
        [3, 7, 7],
        [9, 6000, 6000],
      ],
    );
  });

  test('past the newest world positions extrapolate a little; before the oldest they hold', () => {
    const ahead = /** @type {import('../src/interpolation.js').Sample} */ (sampleAt(history, ARENA_SCHEMA, 13.5, 1));
    assert.ok(ahead.extrapolated);
    assert.deepEqual(ahead.entities.find((e) => e.id === 1)?.x, 30, 'one tick at most');
    const before = /** @type {import('../src/interpolation.js').Sample} */ (sampleAt(history, ARENA_SCHEMA, 3));
    assert.equal(before.fromTick, 10);
    assert.equal(before.entities.length, 3);
    assert.equal(sampleAt(new WorldHistory(4), ARENA_SCHEMA, 3), null);
  });

  test('an Interpolator samples at the render time', () => {
    const it = new Interpolator({ delayTicks: 1 });
    it.reset(30);
    it.onUpdate(10, 1000);
    it.onUpdate(12, 1000 + 2 * PERIOD);
    const s = it.sample(history, ARENA_SCHEMA, 1000 + 2 * PERIOD);
    assert.ok(s !== null);
    assert.ok(Math.abs(s.renderTick - 11) < 1e-9);
    const x = /** @type {number} */ (s.entities.find((e) => e.id === 1)?.x);
    assert.ok(Math.abs(x - 10) < 1e-9, `${x}`);
  });
});
