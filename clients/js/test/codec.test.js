// The codec against the golden vectors (every file decoded, its fields
// checked, re-encoded to the same bytes), round trips, and malformed
// frames.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  applyDelta,
  ARENA_SCHEMA,
  checksum,
  entity,
  world,
  DecodeError,
  EncodeError,
  decodeArenaInput,
  decodeClient,
  decodeServer,
  encodeArenaInput,
  encodeClient,
  encodeServer,
  fromHex,
  toHex,
  closeCode,
  closeReasonFromCode,
  CLOSE_REASONS,
  parseRoomCode,
} from '../src/index.js';
import { goldenVectors, plain, rng } from '../test-support/util.js';

const token = (/** @type {number} */ b) => new Uint8Array(16).fill(b);
const text = (/** @type {string} */ s) => new TextEncoder().encode(s);

const ROOM = {
  id: 7,
  code: '2266GG',
  name: 'lobby one',
  game: 'arena',
  visibility: 'Private',
  players: 3,
  maxPlayers: 16,
  spectators: 1,
  options: { tick_rate: '30' },
  metadata: { map: 'dunes' },
  locked: false,
};

/** What each golden file holds (shared/src/protocol/samples.rs). @type {Record<string, unknown>} */
const EXPECTED = {
  client_hello: {
    type: 'Hello',
    protocolVersion: 2,
    clientName: 'bot-1',
    authTicket: 'ticket',
    resumeToken: token(9),
    resumeFrom: 899,
  },
  client_list_rooms: { type: 'ListRooms', requestId: 1, filter: { game: 'arena', metadata: { map: 'dunes' } } },
  client_create_room: {
    type: 'CreateRoom',
    requestId: 2,
    game: 'arena',
    name: 'lobby one',
    visibility: 'Public',
    maxPlayers: 16,
    options: { tick_rate: '30' },
    joinAs: 'Player',
    joinOptions: { team: 'red' },
  },
  client_join_room_by_code: {
    type: 'JoinRoom',
    requestId: 3,
    target: { type: 'Code', code: '2266GG' },
    role: 'Spectator',
    joinOptions: {},
  },
  client_join_room_by_id: {
    type: 'JoinRoom',
    requestId: 4,
    target: { type: 'Id', id: 7 },
    role: 'Player',
    joinOptions: { team: 'red' },
  },
  client_quick_join: {
    type: 'QuickJoin',
    requestId: 5,
    game: null,
    options: {},
    metadata: { mode: 'duel' },
    joinOptions: {},
  },
  client_leave_room: { type: 'LeaveRoom', requestId: 6 },
  client_inputs: {
    type: 'Inputs',
    newestSeq: 300,
    inputs: [Uint8Array.of(1, 2, 3), Uint8Array.of(4, 5, 6)],
    ack: 899,
  },
  client_ack: { type: 'Ack', tick: 900 },
  client_event: { type: 'Event', name: 'chat', data: text('gg'), ackId: 11 },
  client_event_reply: { type: 'EventReply', ackId: 12, outcome: { type: 'Data', data: Uint8Array.of(1) } },
  client_ping: { type: 'Ping', sentAtUs: 1_700_000_000_000_000n },
  client_pong: { type: 'Pong', pingSentAtUs: 5n, sentAtUs: 6n, heldUs: 0 },
  client_close: { type: 'Close', reason: 'Normal', message: 'bye' },
  client_claim_seat: { type: 'ClaimSeat', requestId: 4, reservation: 'resv.sig' },
  server_welcome: {
    type: 'Welcome',
    protocolVersion: 2,
    player: 42,
    resumeToken: token(7),
    resumed: false,
    heartbeatIntervalMs: 1000,
    reconnectGraceMs: 30000,
  },
  server_rejected: { type: 'Rejected', reason: 'VersionMismatch', message: 'speak v1' },
  server_room_list: { type: 'RoomList', requestId: 1, rooms: [ROOM] },
  server_room_created: { type: 'RoomCreated', requestId: 2, room: ROOM },
  server_joined: {
    type: 'Joined',
    requestId: 3,
    room: ROOM,
    role: 'Player',
    tickRate: 30,
    tickZeroUnixUs: 1_700_000_000_000_000n,
    tick: 42,
  },
  server_left: { type: 'Left', requestId: null, room: 7, reason: 'Kicked', message: 'afk' },
  server_event: { type: 'Event', name: 'round_over', data: text('{"winner":3}'), ackId: 1 },
  server_event_reply: { type: 'EventReply', ackId: 11, outcome: { type: 'Data', data: text('ok') } },
  server_event_reply_error: {
    type: 'EventReply',
    ackId: 12,
    outcome: { type: 'Error', code: 'RateLimited', message: 'events: 20 a second at most' },
  },
  server_ping: { type: 'Ping', sentAtUs: 1n },
  server_pong: { type: 'Pong', pingSentAtUs: 1_700_000_000_000_000n, sentAtUs: 2n, heldUs: 33333 },
  server_error: { type: 'Error', requestId: 4, code: 'RoomFull', message: 'room r7 is full' },
  server_close: { type: 'Close', reason: 'ServerShutdown', message: 'restarting' },
  server_redirect: {
    type: 'Redirect',
    requestId: 4,
    node: 'b',
    ws: 'ws://10.0.0.2:7000/ws',
    quic: '10.0.0.2:7001',
    reservation: 'resv.sig',
    validForMs: 30000,
  },
  server_update_full: {
    type: 'Update',
    tick: 42,
    baseline: null,
    latenessUs: 250,
    checksum: 0x72cacf48,
    delta: fromHex('db05d00bd05795ff039008494a42070a4da0c49418490a'),
  },
  server_update_delta: {
    type: 'Update',
    tick: 20000,
    baseline: 19999,
    latenessUs: 0,
    checksum: 0xf3276f40,
    delta: fromHex('0e882315acc2aaa2812a4b995529d3bcef653a15'),
  },
};

describe('golden vectors', () => {
  const vectors = goldenVectors();

  test('every golden file has expected fields here, and every expectation a file', () => {
    assert.deepEqual([...vectors.keys()].sort(), Object.keys(EXPECTED).sort());
  });

  for (const [name, bytes] of vectors) {
    test(`${name} decodes to its fields and encodes back to the same bytes`, () => {
      const client = name.startsWith('client_');
      const message = client ? decodeClient(bytes) : decodeServer(bytes);
      assert.deepStrictEqual(plain(message), EXPECTED[name]);
      const again = client
        ? encodeClient(/** @type {any} */ (message))
        : encodeServer(/** @type {any} */ (message));
      assert.equal(toHex(again), toHex(bytes));
      // The expectation itself encodes to the file too.
      const fromExpected = client
        ? encodeClient(/** @type {any} */ (EXPECTED[name]))
        : encodeServer(/** @type {any} */ (EXPECTED[name]));
      assert.equal(toHex(fromExpected), toHex(bytes));
    });
  }

  test('the sample updates rebuild the worlds the protocol doc lists, checksums included', () => {
    const full = /** @type {import('../src/protocol.js').Update} */ (decodeServer(/** @type {Uint8Array} */ (vectors.get('server_update_full'))));
    const w42 = applyDelta(ARENA_SCHEMA, null, full.tick, full.delta);
    assert.deepStrictEqual(w42, world(42, [entity(1, 0, [32000, 16000, 341, -256, 512, 100, 0, 42]), entity(3, 1, [33000, 17000, 905, 905, 42, 25])]));
    assert.equal(checksum(w42), full.checksum);
    const delta = /** @type {import('../src/protocol.js').Update} */ (decodeServer(/** @type {Uint8Array} */ (vectors.get('server_update_delta'))));
    const base = world(19999, [
      entity(1, 0, [20000, 30000, 341, -256, 652, 100, 2, 42]),
      entity(2, 0, [40000, 30000, 0, 0, 2048, 100, 0, 7]),
      entity(5, 1, [21000, 30000, -1280, 0, 7, 12]),
      entity(6, 1, [25000, 10000, 691, 1077, 42, 1]),
    ]);
    const w20000 = applyDelta(ARENA_SCHEMA, base, delta.tick, delta.delta);
    assert.deepStrictEqual(
      w20000,
      world(20000, [
        entity(1, 0, [20341, 29744, 341, -256, 652, 90, 2, 42]),
        entity(2, 0, [39573, 30000, -427, 0, 2100, 100, 0, 7]),
        entity(7, 1, [38297, 29898, -1276, -102, 7, 29]),
      ]),
    );
    assert.equal(checksum(w20000), delta.checksum);
  });

  test('the sample RoomInfo is the same 54 bytes in RoomList, RoomCreated and Joined', () => {
    const list = toHex(/** @type {Uint8Array} */ (vectors.get('server_room_list')));
    const created = toHex(/** @type {Uint8Array} */ (vectors.get('server_room_created')));
    const joined = toHex(/** @type {Uint8Array} */ (vectors.get('server_joined')));
    const info = list.slice(6);
    assert.equal(info.length, 108);
    assert.ok(created.includes(info) && joined.includes(info));
  });
});

describe('wire types', () => {
  test('varints take the shortest form on the way out and any form on the way in', () => {
    for (const [value, hex] of /** @type {[number, string][]} */ ([
      [0, '00'],
      [250, 'fa'],
      [251, 'fbfb00'],
      [65535, 'fbffff'],
      [65536, 'fc00000100'],
      [0xffffffff, 'fcffffffff'],
    ])) {
      assert.equal(toHex(encodeClient({ type: 'Ack', tick: value })), `07${hex}`);
      assert.equal(/** @type {any} */ (decodeClient(fromHex(`07${hex}`))).tick, value);
    }
    // A longer form than needed is accepted, as bincode accepts it.
    assert.equal(/** @type {any} */ (decodeClient(fromHex('07fb0500'))).tick, 5);
    assert.equal(/** @type {any} */ (decodeClient(fromHex('07fc05000000'))).tick, 5);
    // u64 fields take the 8-byte form and keep every bit.
    const ping = /** @type {any} */ (decodeServer(fromHex('08fdffffffffffffffff')));
    assert.equal(ping.sentAtUs, 0xffff_ffff_ffff_ffffn);
    assert.equal(toHex(encodeServer(ping)), '08fdffffffffffffffff');
  });

  test('room ids are u64 up to 2^53 - 1: node-tagged ids round trip, larger ones are refused', () => {
    const max = 2 ** 53 - 1;
    for (const [id, hex] of /** @type {[number, string][]} */ ([
      [7, '07'],
      [0xffff_ffff, 'fcffffffff'],
      [2 ** 32, 'fd0000000001000000'],
      // node tag 5, room 1 (RoomId::compose(5, 1))
      [5 * 2 ** 32 + 1, 'fd0100000005000000'],
      [max, 'fdffffffffffff1f00'],
    ])) {
      const join = encodeClient({ type: 'JoinRoom', requestId: 1, target: { type: 'Id', id }, role: 'Player', joinOptions: {} });
      assert.equal(toHex(join), `030100${hex}0000`, `${id}`);
      assert.equal(/** @type {any} */ (decodeClient(join)).target.id, id);
      const left = encodeServer({ type: 'Left', requestId: null, room: id, reason: 'Requested', message: '' });
      assert.equal(toHex(left), `0500${hex}0000`);
      assert.equal(/** @type {any} */ (decodeServer(left)).room, id);
      const list = encodeServer({ type: 'RoomList', requestId: 1, rooms: [{ ...ROOM, id, visibility: 'Private' }] });
      assert.equal(/** @type {any} */ (decodeServer(list)).rooms[0].id, id);
      const created = encodeServer({ type: 'RoomCreated', requestId: 2, room: { ...ROOM, id, visibility: 'Private' } });
      assert.equal(/** @type {any} */ (decodeServer(created)).room.id, id);
    }
    // 2^53 and u64::MAX do not fit a JavaScript number exactly: malformed.
    for (const hex of ['fd0000000000002000', 'fdffffffffffffffff']) {
      assert.throws(() => decodeServer(fromHex(`0500${hex}0000`)), { name: 'DecodeError', code: 'malformed' }, hex);
      assert.throws(() => decodeClient(fromHex(`030100${hex}0000`)), { name: 'DecodeError', code: 'malformed' }, hex);
    }
    for (const id of [2 ** 53, -1, 1.5, Number.NaN]) {
      assert.throws(
        () => encodeClient({ type: 'JoinRoom', requestId: 1, target: { type: 'Id', id }, role: 'Player', joinOptions: {} }),
        EncodeError,
        `${id}`,
      );
    }
  });

  test('a redirect without QUIC, and a claim, round trip', () => {
    /** @type {import('../src/protocol.js').Redirect} */
    const redirect = { type: 'Redirect', requestId: 300, node: 'n', ws: 'wss://x/ws', quic: null, reservation: '', validForMs: 0 };
    const frame = encodeServer(redirect);
    assert.equal(toHex(frame), '0dfb2c01016e0a7773733a2f2f782f7773000000');
    assert.deepStrictEqual(decodeServer(frame), redirect);
    const claim = encodeClient({ type: 'ClaimSeat', requestId: 300, reservation: 'r' });
    assert.equal(toHex(claim), '0dfb2c010172');
  });

  test('a marker wider than the field, 254 and 255 are malformed', () => {
    for (const hex of ['07fd0500000000000000', '07fe', '07ff']) {
      assert.throws(() => decodeClient(fromHex(hex)), (e) => e instanceof DecodeError, hex);
    }
    // protocol_version is a u16: a u32 marker is malformed.
    assert.throws(
      () => decodeClient(fromHex('00fc020000000161000000')),
      { name: 'DecodeError', code: 'malformed' },
    );
  });

  test('maps are written sorted by key bytes and read in any order', () => {
    const msg = /** @type {const} */ ({
      type: 'QuickJoin',
      requestId: 1,
      game: null,
      options: { b: '2', a: '1', 'é': '3', Z: '0' },
      metadata: {},
      joinOptions: {},
    });
    const bytes = encodeClient(msg);
    // Z (0x5a) < a < b < é (0xc3 0xa9)
    assert.equal(toHex(bytes), '0401000401' + '5a01' + '30' + '0161' + '0131' + '0162' + '0132' + '02c3a9' + '0133' + '0000');
    const unsorted = fromHex('040100' + '02' + '0162' + '0132' + '0161' + '0131' + '0000');
    assert.deepStrictEqual(plain(/** @type {any} */ (decodeClient(unsorted)).options), { a: '1', b: '2' });
  });

  test('a decoded map takes any key as an ordinary entry, __proto__ too', () => {
    const frame = encodeClient({
      type: 'JoinRoom',
      requestId: 1,
      target: { type: 'Id', id: 1 },
      role: 'Player',
      joinOptions: JSON.parse('{"__proto__":"x"}'),
    });
    const decoded = /** @type {any} */ (decodeClient(frame));
    assert.equal(Object.getPrototypeOf(decoded.joinOptions), null);
    assert.equal(decoded.joinOptions.__proto__, 'x');
  });

  test('strings keep a leading byte order mark and refuse invalid UTF-8', () => {
    const bom = '\ufeffhi';
    const frame = encodeServer({ type: 'Close', reason: 'Normal', message: bom });
    assert.equal(/** @type {any} */ (decodeServer(frame)).message, bom);
    assert.throws(() => decodeServer(fromHex('0b0001ff')), { name: 'DecodeError', code: 'malformed' });
  });

  test('bools and option tags other than 0 and 1 are malformed', () => {
    const welcome = '00022a' + '07'.repeat(16);
    assert.throws(() => decodeServer(fromHex(`${welcome}02fbe803fb3075`)), { code: 'malformed' });
    assert.throws(() => decodeClient(fromHex('0b0002')), (e) => e instanceof DecodeError);
    assert.throws(() => decodeClient(fromHex('0902026f6b02')), { code: 'malformed' });
  });

  test('empty, unknown, truncated, oversized and trailing frames each give their error', () => {
    assert.throws(() => decodeServer(new Uint8Array(0)), { code: 'empty' });
    assert.throws(() => decodeServer(Uint8Array.of(14)), { code: 'unknown_kind' });
    assert.throws(() => decodeClient(Uint8Array.of(14)), { code: 'unknown_kind' });
    // Kind 13 is ClaimSeat and Redirect: a bare kind byte is truncated.
    assert.throws(() => decodeServer(Uint8Array.of(13)), { code: 'truncated' });
    assert.throws(() => decodeClient(Uint8Array.of(13)), { code: 'truncated' });
    assert.throws(() => decodeServer(fromHex('0d0401620000000000')), { code: 'trailing_bytes' });
    assert.throws(() => decodeServer(fromHex('0b01')), { code: 'truncated' });
    assert.throws(() => decodeServer(fromHex('0801ff')), { code: 'trailing_bytes' });
    assert.throws(() => decodeClient(new Uint8Array(4097)), { code: 'too_large' });
    assert.throws(() => decodeServer(new Uint8Array(10), 9), { code: 'too_large' });
    // A length far beyond the frame is caught before any allocation.
    assert.throws(() => decodeServer(fromHex('0b00fdffffffffffffff7f')), { code: 'truncated' });
  });

  test('update headers: LEB128 without overlong forms, baseline not before tick 0', () => {
    const full = encodeServer({ type: 'Update', tick: 300, baseline: null, latenessUs: 0, checksum: 1, delta: Uint8Array.of(7) });
    assert.equal(toHex(full), '0cac02000001000000' + '07');
    const back = /** @type {any} */ (decodeServer(full));
    assert.equal(back.tick, 300);
    assert.equal(back.baseline, null);
    const max = encodeServer({ type: 'Update', tick: 0xffffffff, baseline: 0, latenessUs: 5, checksum: 0, delta: new Uint8Array(0) });
    assert.equal(/** @type {any} */ (decodeServer(max)).baseline, 0);
    assert.throws(() => decodeServer(fromHex('0c8000000000000000')), { code: 'malformed' }, 'overlong');
    assert.throws(() => decodeServer(fromHex('0cffffffffff0f00000000000000')), { code: 'malformed' }, '6 bytes');
    assert.throws(() => decodeServer(fromHex('0cffffffff1f000000000000')), { code: 'malformed' }, 'over u32');
    assert.throws(() => decodeServer(fromHex('0c0102000000000000')), { code: 'malformed' }, 'age > tick');
    assert.throws(() => decodeServer(fromHex('0c0100000000')), { code: 'truncated' });
    assert.throws(
      () => encodeServer({ type: 'Update', tick: 5, baseline: 5, latenessUs: 0, checksum: 0, delta: new Uint8Array(0) }),
      EncodeError,
    );
  });

  test('the arena input is three little-endian f32 and a bool', () => {
    const bytes = encodeArenaInput({ moveX: 1, moveY: -0.5, aim: 0, fire: true });
    assert.equal(toHex(bytes), '0000803f' + '000000bf' + '00000000' + '01');
    assert.deepStrictEqual(decodeArenaInput(bytes), { moveX: 1, moveY: -0.5, aim: 0, fire: true });
    assert.throws(() => decodeArenaInput(bytes.subarray(0, 12)), { code: 'truncated' });
    // The protocol doc's example (Game inputs), and its Inputs frame.
    const example = encodeArenaInput({ moveX: 1, moveY: -0.5, aim: Math.PI / 2, fire: true });
    assert.equal(toHex(example), '0000803f000000bfdb0fc93f01');
    assert.equal(
      toHex(encodeClient({ type: 'Inputs', newestSeq: 1, inputs: [example], ack: 41 })),
      '0601010d0000803f000000bfdb0fc93f010129',
    );
  });

  test('encoding refuses values the wire cannot carry', () => {
    assert.throws(() => encodeClient({ type: 'Ack', tick: -1 }), EncodeError);
    assert.throws(() => encodeClient({ type: 'Ack', tick: 2 ** 32 }), EncodeError);
    assert.throws(() => encodeClient({ type: 'Ack', tick: 1.5 }), EncodeError);
    assert.throws(
      () => encodeClient({ type: 'Hello', protocolVersion: 2, clientName: 'x', authTicket: null, resumeToken: new Uint8Array(3), resumeFrom: null }),
      EncodeError,
    );
    assert.throws(
      () => encodeClient({ type: 'JoinRoom', requestId: 1, target: { type: 'Code', code: 'ABC' }, role: 'Player', joinOptions: {} }),
      EncodeError,
    );
    assert.throws(() => encodeClient(/** @type {any} */ ({ type: 'Nope' })), EncodeError);
    assert.throws(() => encodeClient({ type: 'Close', reason: /** @type {any} */ ('Bad'), message: '' }), EncodeError);
  });
});

describe('close codes and room codes', () => {
  test('every reason maps to its code and back', () => {
    for (const reason of CLOSE_REASONS) assert.equal(closeReasonFromCode(closeCode(reason)), reason);
    assert.equal(closeCode('Normal'), 1000);
    assert.equal(closeCode('ServerShutdown'), 1001);
    assert.equal(closeCode('IdleTimeout'), 4007);
    assert.equal(closeReasonFromCode(1006), null);
    assert.equal(closeReasonFromCode(1002), null);
    assert.equal(closeReasonFromCode(null), null);
  });

  test('room codes parse case-insensitively from the alphabet only', () => {
    assert.equal(parseRoomCode('2266gg'), '2266GG');
    assert.equal(parseRoomCode('ABCDE0'), null);
    assert.equal(parseRoomCode('ABC'), null);
    assert.equal(parseRoomCode('ABCDEFG'), null);
  });
});

describe('round trips and fuzzing', () => {
  test('generated messages of every kind round-trip', () => {
    const r = rng(1);
    const str = () => 'x'.repeat(r.int(0, 300)) + 'ü';
    const map = () => Object.fromEntries(Array.from({ length: r.int(0, 4) }, (_, i) => [`k${i}${str()}`, str()]));
    // A node tag of up to 21 bits above a 32-bit room number.
    const roomId = () => (r.u32() % 2 ** 21) * 2 ** 32 + r.u32();
    const room = () => ({
      id: roomId(),
      code: r.int(0, 1) ? '23ABZZ' : null,
      name: str(),
      game: 'arena',
      visibility: /** @type {const} */ ('Public'),
      players: r.int(0, 65535),
      maxPlayers: r.int(0, 65535),
      spectators: r.int(0, 300),
      options: map(),
      metadata: map(),
      locked: r.int(0, 1) === 1,
    });
    for (let i = 0; i < 50; i++) {
      /** @type {import('../src/protocol.js').ClientMessage[]} */
      const clientMessages = [
        { type: 'Hello', protocolVersion: 2, clientName: str(), authTicket: r.int(0, 1) ? str() : null, resumeToken: r.int(0, 1) ? token(i) : null, resumeFrom: r.int(0, 1) ? r.u32() : null },
        { type: 'ListRooms', requestId: r.u32(), filter: { game: r.int(0, 1) ? str() : null, metadata: map() } },
        { type: 'CreateRoom', requestId: r.u32(), game: null, name: str(), visibility: 'Private', maxPlayers: r.int(0, 65535), options: map(), joinAs: r.int(0, 1) ? 'Spectator' : null, joinOptions: map() },
        { type: 'Inputs', newestSeq: r.u32(), inputs: Array.from({ length: r.int(0, 8) }, () => new Uint8Array(r.int(0, 20)).fill(r.int(0, 255))), ack: r.int(0, 1) ? r.u32() : null },
        { type: 'EventReply', ackId: r.u32(), outcome: r.int(0, 1) ? { type: 'Data', data: new Uint8Array(r.int(0, 300)) } : { type: 'Error', code: 'EventRefused', message: str() } },
        { type: 'Pong', pingSentAtUs: BigInt(r.u32()) * BigInt(r.u32()), sentAtUs: BigInt(r.u32()), heldUs: r.u32() },
        { type: 'JoinRoom', requestId: r.u32(), target: { type: 'Id', id: roomId() }, role: 'Player', joinOptions: map() },
        { type: 'ClaimSeat', requestId: r.u32(), reservation: str() },
      ];
      for (const m of clientMessages) assert.deepStrictEqual(plain(decodeClient(encodeClient(m), 1 << 20)), m);
      /** @type {import('../src/protocol.js').ServerMessage[]} */
      const serverMessages = [
        { type: 'RoomList', requestId: r.u32(), rooms: Array.from({ length: r.int(0, 5) }, room) },
        { type: 'Joined', requestId: r.int(0, 1) ? r.u32() : null, room: room(), role: 'Spectator', tickRate: r.int(1, 240), tickZeroUnixUs: BigInt(r.u32()) << 20n, tick: r.u32() },
        { type: 'Left', requestId: null, room: roomId(), reason: 'RoomClosed', message: str() },
        { type: 'Error', requestId: r.u32(), code: r.int(0, 1) ? 'ServerDraining' : 'ReservationRefused', message: str() },
        { type: 'Redirect', requestId: r.u32(), node: str(), ws: str(), quic: r.int(0, 1) ? str() : null, reservation: str(), validForMs: r.u32() },
      ];
      for (const m of serverMessages) assert.deepStrictEqual(plain(decodeServer(encodeServer(m))), m);
    }
  });

  test('random and mutated frames fail only with a DecodeError', () => {
    const r = rng(2);
    const seeds = [...goldenVectors().values()];
    for (let i = 0; i < 20_000; i++) {
      let frame;
      if (i % 2 === 0) {
        frame = new Uint8Array(r.int(0, 64)).map(() => r.int(0, 255));
      } else {
        frame = Uint8Array.from(seeds[r.int(0, seeds.length - 1)]);
        for (let k = r.int(1, 4); k > 0 && frame.length > 0; k--) frame[r.int(0, frame.length - 1)] = r.int(0, 255);
        if (r.int(0, 3) === 0) frame = frame.subarray(0, r.int(0, frame.length));
      }
      for (const decode of [decodeServer, decodeClient]) {
        try {
          decode(frame);
        } catch (e) {
          assert.ok(e instanceof DecodeError, `${toHex(frame)}: ${String(e)}`);
        }
      }
    }
  });
});

test('a Joined with a tick rate outside 1..=240 is malformed', async () => {
  const { decodeServer, encodeServer, fromHex } = await import('../src/index.js');
  const { readFileSync } = await import('node:fs');
  const joined = decodeServer(fromHex(readFileSync(new URL('../../../shared/tests/golden/server_joined.hex', import.meta.url), 'utf8').trim()));
  assert.equal(joined.type, 'Joined');
  if (joined.type !== 'Joined') return;
  for (const hz of [0, 241]) {
    const bytes = encodeServer({ ...joined, tickRate: hz });
    assert.throws(() => decodeServer(bytes), (e) => e instanceof Error && /tick rate/.test(e.message), `${hz} Hz`);
  }
});
