// The Client shell against a scripted fake server (the `ws` package's
// WebSocketServer): what a misbehaving or unusual server sends becomes a
// clear event or close reason, never an exception.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';

import { Client, decodeClient, encodeServer } from '../src/index.js';
import { until } from '../test-support/util.js';

/** @type {import('../src/protocol.js').Welcome} */
const WELCOME = {
  type: 'Welcome',
  protocolVersion: 2,
  player: 3,
  resumeToken: new Uint8Array(16).fill(4),
  resumed: false,
  heartbeatIntervalMs: 1000,
  reconnectGraceMs: 30_000,
};

/** @type {import('../src/protocol.js').Joined} */
const JOINED = {
  type: 'Joined',
  requestId: null,
  room: {
    id: 9,
    code: '234567',
    name: 'r',
    game: 'arena',
    visibility: 'Public',
    players: 1,
    maxPlayers: 4,
    spectators: 0,
    options: {},
    metadata: {},
    locked: false,
  },
  role: 'Player',
  tickRate: 30,
  tickZeroUnixUs: 0n,
  tick: 0,
};

/**
 * A WebSocket server that greets every client and hands each connection
 * and the client's messages to the test.
 */
async function fakeServer() {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((r) => wss.once('listening', r));
  /** @type {{socket: WebSocket, received: import('../src/protocol.js').ClientMessage[], closeCode: number | null}[]} */
  const connections = [];
  /** @type {(conn: (typeof connections)[number], hello: import('../src/protocol.js').Hello) => void} */
  let onHello = (conn) => conn.socket.send(encodeServer(WELCOME));
  wss.on('connection', (socket) => {
    const conn = { socket, received: /** @type {import('../src/protocol.js').ClientMessage[]} */ ([]), closeCode: /** @type {number | null} */ (null) };
    connections.push(conn);
    socket.on('message', (data) => {
      const message = decodeClient(new Uint8Array(/** @type {Buffer} */ (data)));
      conn.received.push(message);
      if (message.type === 'Hello') onHello(conn, message);
    });
    socket.on('close', (code) => {
      conn.closeCode = code;
    });
  });
  const address = /** @type {import('node:net').AddressInfo} */ (wss.address());
  return {
    url: `ws://127.0.0.1:${address.port}/ws`,
    connections,
    /** @param {typeof onHello} handler */
    setOnHello(handler) {
      onHello = handler;
    },
    close: () => new Promise((r) => wss.close(() => r(undefined))),
  };
}

describe('the client shell', () => {
  /** @type {Awaited<ReturnType<typeof fakeServer>>[]} */
  const servers = [];
  after(async () => {
    for (const s of servers) {
      for (const c of s.connections) c.socket.terminate();
      await s.close();
    }
  });

  /** @param {Partial<import('../src/client.js').ClientOptions>} [options] */
  async function setup(options = {}) {
    const server = await fakeServer();
    servers.push(server);
    const client = await Client.connect(server.url, { WebSocket, name: 'x', ...options });
    const conn = server.connections[0];
    return { server, client, conn };
  }

  test('an undecodable frame is an error event, and the session closes with MalformedFrame', async () => {
    const { client, conn } = await setup();
    /** @type {unknown[]} */
    const errors = [];
    client.on('error', (e) => errors.push(e));
    const closed = client.waitFor('close', { timeoutMs: 5000 });
    conn.socket.send(Uint8Array.of(0x63, 1, 2));
    const why = await closed;
    assert.deepEqual(why, { reason: 'MalformedFrame', message: 'undecodable server frame: unknown message kind 99', rejected: false });
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof Error && /** @type {any} */ (errors[0]).code === 'unknown_kind');
    await until(() => conn.received.some((m) => m.type === 'Close'), 2000, 'the goodbye');
    assert.deepEqual(conn.received.at(-1), { type: 'Close', reason: 'Normal', message: 'undecodable server frame: unknown message kind 99' });
    await client.closed;
    assert.ok(client.isClosed);
  });

  test('a text frame is an error too', async () => {
    const { client, conn } = await setup();
    client.on('error', () => {});
    const closed = client.waitFor('close', { timeoutMs: 5000 });
    conn.socket.send('hello');
    assert.equal((await closed).reason, 'MalformedFrame');
  });

  test('a corrupt update is an updateFailed event, not acknowledged; the session goes on', async () => {
    const { client, conn } = await setup();
    conn.socket.send(encodeServer(JOINED));
    await client.waitFor('joined', { timeoutMs: 5000 });
    const failed = client.waitFor('updateFailed', { timeoutMs: 5000 });
    conn.socket.send(encodeServer({ type: 'Update', tick: 1, baseline: null, latenessUs: 0, checksum: 1, delta: Uint8Array.of(7) }));
    const error = await failed;
    assert.equal(error.code, 'checksum_mismatch');
    const applied = client.waitFor('update', { timeoutMs: 5000 });
    conn.socket.send(encodeServer({ type: 'Update', tick: 2, baseline: null, latenessUs: 0, checksum: 0x811c9dc5, delta: Uint8Array.of(7) }));
    assert.equal((await applied).tick, 2);
    await until(() => conn.received.some((m) => m.type === 'Ack'), 2000, 'the ack');
    assert.deepEqual(
      conn.received.filter((m) => m.type === 'Ack'),
      [{ type: 'Ack', tick: 2 }],
      'only the world rebuilt is acknowledged',
    );
    await client.close();
  });

  test('server events that ask: refused without a handler, answered by one, refused when it throws', async () => {
    const { client, conn } = await setup();
    conn.socket.send(encodeServer(JOINED));
    await client.waitFor('joined', { timeoutMs: 5000 });
    /** @type {unknown[]} */
    const errors = [];
    client.on('error', (e) => errors.push(e));
    client.on('ask', (data) => ({ got: data }));
    client.on('boom', () => {
      throw new Error('handler failed');
    });
    /** @type {[string, unknown][]} */
    const any = [];
    client.onAny((name, data) => {
      any.push([name, data]);
    });
    const send = (/** @type {string} */ name, /** @type {number} */ ackId) =>
      conn.socket.send(encodeServer({ type: 'Event', name, data: new TextEncoder().encode('{"n":1}'), ackId }));
    // With onAny listening, every event has a handler.
    send('ask', 1);
    send('boom', 2);
    await until(() => conn.received.filter((m) => m.type === 'EventReply').length === 2, 2000, 'two answers');
    const replies = conn.received.filter((m) => m.type === 'EventReply');
    assert.deepEqual(replies[0], { type: 'EventReply', ackId: 1, outcome: { type: 'Data', data: new TextEncoder().encode('{"got":{"n":1}}') } });
    assert.deepEqual(replies[1], { type: 'EventReply', ackId: 2, outcome: { type: 'Error', code: 'EventRefused', message: 'handler failed' } });
    assert.equal(errors.length, 1, 'the throw is reported');
    assert.deepEqual(any, [
      ['ask', { n: 1 }],
      ['boom', { n: 1 }],
    ]);
    // Reserved names reach onAny only.
    send('update', 3);
    await until(() => any.length === 3, 2000, 'onAny');
    const bare = await setup();
    bare.conn.socket.send(encodeServer(JOINED));
    await bare.client.waitFor('joined', { timeoutMs: 5000 });
    bare.conn.socket.send(encodeServer({ type: 'Event', name: 'nobody', data: new Uint8Array(0), ackId: 7 }));
    await until(() => bare.conn.received.some((m) => m.type === 'EventReply'), 2000, 'the refusal');
    assert.deepEqual(bare.conn.received.find((m) => m.type === 'EventReply'), {
      type: 'EventReply',
      ackId: 7,
      outcome: { type: 'Error', code: 'EventRefused', message: 'no handler for "nobody"' },
    });
    await client.close();
    await bare.client.close();
  });

  test('Close IdleTimeout parks the seat: the client comes back with its token and gets it', async () => {
    const { server, client, conn } = await setup();
    server.setOnHello((c, hello) => {
      if (hello.resumeToken === null) return;
      c.socket.send(encodeServer({ ...WELCOME, resumed: true, resumeToken: new Uint8Array(16).fill(5) }));
      c.socket.send(encodeServer(JOINED));
    });
    conn.socket.send(encodeServer(JOINED));
    await client.waitFor('joined', { timeoutMs: 5000 });
    conn.socket.send(encodeServer({ type: 'Update', tick: 4, baseline: null, latenessUs: 0, checksum: 0x811c9dc5, delta: Uint8Array.of(7) }));
    await client.waitFor('update', { timeoutMs: 5000 });
    const reconnecting = client.waitFor('reconnecting', { timeoutMs: 5000 });
    const resumed = client.waitFor('resumed', { timeoutMs: 5000 });
    conn.socket.send(encodeServer({ type: 'Close', reason: 'IdleTimeout', message: 'nothing received in time' }));
    assert.equal((await reconnecting).cause, 'IdleTimeout');
    const back = await resumed;
    assert.equal(back.room?.room.id, 9);
    const hello = server.connections[1].received[0];
    assert.ok(hello.type === 'Hello');
    assert.deepEqual(hello.resumeToken, new Uint8Array(16).fill(4));
    assert.equal(hello.resumeFrom, 4);
    assert.deepEqual(client.resumeToken, new Uint8Array(16).fill(5));
    await client.close();
  });

  test('no answer to the Hello in time is a timeout', async () => {
    const server = await fakeServer();
    servers.push(server);
    server.setOnHello(() => {});
    await assert.rejects(Client.connect(server.url, { WebSocket, connectTimeoutMs: 300 }), { name: 'ConnectionError', code: 'timeout' });
  });

  test('no WebSocket at all is a clear error', async () => {
    await assert.rejects(Client.connect('ws://127.0.0.1:1/ws', {}), (e) => {
      const err = /** @type {any} */ (e);
      return err.code === 'transport' && err.cause?.code === 'unsupported';
    });
  });
});
