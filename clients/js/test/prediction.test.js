// Local input prediction of the own arena avatar (drawing only).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { predictArenaPosition, ARENA_AREA_MAX } from '../src/index.js';

const STEP = (200 / 30) * 64; // the arena's defaults: 200 units a second at 30 Hz

test('the stick moves the avatar as the arena does, clamped to the area', () => {
  const at = predictArenaPosition({ x: 1000, y: 1000 }, { moveX: 1, moveY: 0 }, 3, STEP);
  assert.ok(Math.abs(at.x - (1000 + 3 * STEP)) < 1e-9);
  assert.equal(at.y, 1000);
  const diagonal = predictArenaPosition({ x: 1000, y: 1000 }, { moveX: -1, moveY: 1 }, 1.5, STEP);
  assert.ok(Math.abs(diagonal.x - (1000 - 1.5 * STEP)) < 1e-9);
  assert.ok(Math.abs(diagonal.y - (1000 + 1.5 * STEP)) < 1e-9);
  // Against the walls: clamped like the server's rule.
  assert.deepEqual(predictArenaPosition({ x: 100, y: ARENA_AREA_MAX - 10 }, { moveX: -1, moveY: 1 }, 10, STEP), {
    x: 0,
    y: ARENA_AREA_MAX,
  });
});

test('no time, a released stick or a bad input leave the avatar where it is', () => {
  const base = { x: 5000, y: 7000 };
  assert.deepEqual(predictArenaPosition(base, { moveX: 1, moveY: 1 }, 0, STEP), base);
  assert.deepEqual(predictArenaPosition(base, { moveX: 0, moveY: 0 }, 5, STEP), base);
  assert.deepEqual(predictArenaPosition(base, { moveX: NaN, moveY: Infinity }, 5, STEP), base, "the server refuses such inputs");
  assert.deepEqual(predictArenaPosition(base, { moveX: 1, moveY: 0 }, -3, STEP), base, 'never backwards in time');
});
