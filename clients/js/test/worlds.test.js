// World vectors: every file in shared/tests/golden/worlds/ (a baseline,
// an Update frame, the world it rebuilds and its checksum), and vectors
// recorded here from a real server's updates, written in the same format
// and checked by the same code.

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import WebSocket from 'ws';

import { checksum, Client, decodeServer, toHex } from '../src/index.js';
import { serverMissing, startServer } from '../test-support/server.js';
import { GOLDEN_DIR, sleep } from '../test-support/util.js';
import { checkWorldVector, worldToJson } from '../test-support/worlds.js';

const WORLDS_DIR = resolve(GOLDEN_DIR, 'worlds');

/**
 * Every vector in a directory, by file name.
 * @param {string} dir
 * @returns {[string, import('../test-support/worlds.js').WorldVector][]}
 */
function loadVectors(dir) {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => [f, JSON.parse(readFileSync(join(dir, f), 'utf8'))]);
}

describe('golden world vectors', () => {

  const vectors = loadVectors(WORLDS_DIR);
  test('the directory holds vectors', () => assert.ok(vectors.length > 0, `no .json file in ${WORLDS_DIR}`));
  for (const [file, vector] of vectors) {
    test(`${file}: the update rebuilds the expected world and checksum`, () => checkWorldVector(vector));
  }
});

const missing = serverMissing();

describe('world vectors recorded from a real server', { skip: missing ?? false }, () => {
  test('every update of a busy arena room, written as a vector, checks', async () => {
    const server = await startServer(['--seed', '7']);
    const dir = mkdtempSync(join(tmpdir(), 'tickwire-worlds-'));
    /** @type {Client | null} */
    let client = null;
    try {
      /** @type {Map<number, {baseline: import('../src/world.js').World | null, hex: string}>} */
      const frames = new Map();
      // A WebSocket that sees each frame before the client does, while the
      // replica still holds the update's baseline.
      class Recording extends WebSocket {
        /** @param {string} url */
        constructor(url) {
          super(url);
          this.addEventListener('message', (event) => {
            const bytes = new Uint8Array(/** @type {ArrayBuffer} */ (event.data));
            if (bytes[0] !== 12 || client === null) return;
            const update = decodeServer(bytes);
            if (update.type !== 'Update') return;
            const baseline = update.baseline === null ? null : (client.replica.worldAt(update.baseline) ?? null);
            frames.set(update.tick, { baseline, hex: toHex(bytes) });
          });
        }
      }
      const shooters = [];
      client = await Client.connect(server.url, { WebSocket: Recording, name: 'recorder' });
      const room = await client.createRoom({ name: 'vectors', options: { projectile_lifetime: '0.5' } });
      for (let i = 0; i < 3; i++) {
        const s = await Client.connect(server.url, { WebSocket, name: `shooter${i}` });
        shooters.push(s);
        await s.joinRoom(room.room.id);
        let n = 0;
        s.on('update', () => {
          n++;
          s.sendArenaInput({ moveX: Math.cos(n / 9 + i), moveY: Math.sin(n / 7), aim: n / 5 + i, fire: n % 3 === 0 });
        });
      }
      let written = 0;
      let withBaseline = 0;
      const recorder = client;
      recorder.on('update', (info, w) => {
        recorder.sendArenaInput({ moveX: 1, moveY: -1, aim: info.tick / 10, fire: info.tick % 4 === 0 });
        const frame = frames.get(info.tick);
        if (frame === undefined) return;
        if (frame.baseline !== null) withBaseline++;
        /** @type {import('../test-support/worlds.js').WorldVector} */
        const vector = {
          name: `recorded_${info.tick}`,
          schema: 'arena',
          baseline: frame.baseline === null ? null : worldToJson(frame.baseline),
          update_hex: frame.hex,
          expected: { ...worldToJson(w), checksum: checksum(w) },
        };
        writeFileSync(join(dir, `recorded_${String(info.tick).padStart(6, '0')}.json`), JSON.stringify(vector));
        written++;
      });
      await sleep(3000);
      for (const s of shooters) await s.close();
      await client.close();
      client = null;

      assert.ok(written >= 50, `${written} vectors recorded`);
      assert.ok(withBaseline >= written - 5, `${withBaseline} deltas among ${written}`);
      const vectors = loadVectors(dir);
      assert.equal(vectors.length, written);
      let projectiles = 0;
      for (const [, vector] of vectors) {
        checkWorldVector(vector);
        projectiles += vector.expected.entities.filter((e) => e.kind === 1).length;
      }
      assert.ok(projectiles > 0, 'projectiles were in flight: lifetimes and despawns exercised');
    } finally {
      await client?.close();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
