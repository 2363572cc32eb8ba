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

  test('a redirect: goodbye to this node, a new player on the other, the seat claimed there; drops resume there', async () => {
    const { server: a, client, conn } = await setup();
    const b = await fakeServer();
    servers.push(b);
    const welcomeB = { ...WELCOME, player: 8, resumeToken: new Uint8Array(16).fill(8) };
    const roomOnB = { ...JOINED.room, id: 2 ** 53 - 1 };
    b.setOnHello((c, hello) => {
      if (hello.resumeToken === null) {
        c.socket.send(encodeServer(welcomeB));
      } else {
        c.socket.send(encodeServer({ ...welcomeB, resumed: true }));
        c.socket.send(encodeServer({ ...JOINED, room: roomOnB }));
      }
    });
    /** @type {{node: string, ws: string}[]} */
    const redirects = [];
    client.on('redirected', (r) => redirects.push(r));
    const moved = client.waitFor('moved', { timeoutMs: 5000 });
    const joining = client.quickJoin();
    await until(() => conn.received.some((m) => m.type === 'QuickJoin'), 2000, 'the quick-join');
    const ask = conn.received.find((m) => m.type === 'QuickJoin');
    assert.ok(ask?.type === 'QuickJoin');
    conn.socket.send(
      encodeServer({ type: 'Redirect', requestId: ask.requestId, node: 'b', ws: b.url, quic: null, reservation: 'resv', validForMs: 5000 }),
    );
    const there = await moved;
    assert.deepEqual(redirects, [{ node: 'b', ws: b.url }]);
    assert.equal(there.node, 'b');
    assert.equal(there.attempts, 1);
    assert.equal(there.welcome.player, 8);
    await until(() => b.connections[0]?.received.some((m) => m.type === 'ClaimSeat'), 2000, 'the claim');
    const [hello, claim] = b.connections[0].received;
    assert.ok(hello.type === 'Hello' && hello.resumeToken === null && hello.resumeFrom === null && hello.clientName === 'x');
    assert.deepEqual(claim, { type: 'ClaimSeat', requestId: ask.requestId, reservation: 'resv' });
    b.connections[0].socket.send(encodeServer({ ...JOINED, requestId: ask.requestId, room: roomOnB }));
    const joined = await joining;
    assert.equal(joined.room.id, 2 ** 53 - 1);
    assert.equal(client.room?.room.id, 2 ** 53 - 1);
    assert.equal(client.player, 8);
    assert.equal(client.serverUrl, b.url);
    // This node heard the goodbye, and its connection closed normally.
    await until(() => conn.closeCode !== null, 2000, 'the old connection closed');
    assert.deepEqual(conn.received.at(-1), { type: 'Close', reason: 'Normal', message: 'moving to node b' });
    assert.equal(conn.closeCode, 1000);
    // A drop now resumes on node b with its token, not on the first node.
    const resumed = client.waitFor('resumed', { timeoutMs: 5000 });
    b.connections[0].socket.terminate();
    const back = await resumed;
    assert.equal(back.room?.room.id, 2 ** 53 - 1);
    assert.equal(a.connections.length, 1, 'the first node is not called again');
    const again = b.connections[1].received[0];
    assert.ok(again.type === 'Hello');
    assert.deepEqual(again.resumeToken, new Uint8Array(16).fill(8));
    await client.close();
  });

  test('a redirect to a node that cannot be reached: reconnecting events, then lost (unreachable) and closed', async () => {
    const { client, conn } = await setup({ reconnect: { firstDelayMs: 20, maxDelayMs: 50 } });
    /** @type {number[]} */
    const attempts = [];
    client.on('reconnecting', (r) => attempts.push(r.attempt));
    const lost = client.waitFor('lost', { timeoutMs: 5000 });
    const closed = client.closed;
    const joining = client.joinRoom(7);
    joining.catch(() => {});
    await until(() => conn.received.some((m) => m.type === 'JoinRoom'), 2000, 'the join');
    const ask = /** @type {import('../src/protocol.js').JoinRoom} */ (conn.received.find((m) => m.type === 'JoinRoom'));
    conn.socket.send(
      encodeServer({ type: 'Redirect', requestId: ask.requestId, node: 'gone', ws: 'ws://127.0.0.1:1/ws', quic: null, reservation: 'r', validForMs: 400 }),
    );
    const why = await lost;
    assert.deepEqual(why.reason.type === 'unreachable' && [why.reason.node, why.connected], ['gone', false]);
    assert.match(why.message, /could not reach node gone/);
    await assert.rejects(joining, { name: 'RequestError', code: 'closed' });
    await closed;
    assert.ok(client.isClosed);
    assert.ok(attempts.length >= 1 && attempts[0] === 2, `later attempts back off: ${attempts}`);
  });

  test('a redirect to a node with QUIC but no WebTransport endpoint falls back to WebSocket there', async () => {
    /** @type {string[]} */
    const asked = [];
    const { client, conn } = await setup({
      // WebTransport fails here: the first node is reached over WebSocket.
      webtransport: {
        url: 'https://127.0.0.1:1/tickwire',
        WebTransport: /** @type {any} */ (class {
          constructor() {
            throw new Error('no WebTransport');
          }
        }),
      },
      fetch: async (url) => {
        asked.push(url);
        return { ok: false, status: 404, json: async () => ({ error: 'webtransport disabled' }) };
      },
    });
    assert.equal(client.transport, 'websocket');
    const b = await fakeServer();
    servers.push(b);
    const moved = client.waitFor('moved', { timeoutMs: 5000 });
    client.quickJoin().catch(() => {});
    await until(() => conn.received.some((m) => m.type === 'QuickJoin'), 2000, 'the quick-join');
    const ask = /** @type {import('../src/protocol.js').QuickJoin} */ (conn.received.find((m) => m.type === 'QuickJoin'));
    conn.socket.send(
      encodeServer({ type: 'Redirect', requestId: ask.requestId, node: 'b', ws: b.url, quic: '127.0.0.1:1', reservation: 'r', validForMs: 5000 }),
    );
    await moved;
    assert.deepEqual(asked, [b.url.replace('ws://', 'http://').replace('/ws', '/webtransport')]);
    assert.equal(client.transport, 'websocket');
    assert.equal(b.connections.length, 1);
    await client.close();
  });

  test('followRedirects false: the request rejects with the redirect, and the client stays', async () => {
    const { server, client, conn } = await setup({ followRedirects: false });
    const joining = client.quickJoin();
    await until(() => conn.received.some((m) => m.type === 'QuickJoin'), 2000, 'the quick-join');
    const ask = /** @type {import('../src/protocol.js').QuickJoin} */ (conn.received.find((m) => m.type === 'QuickJoin'));
    /** @type {import('../src/protocol.js').Redirect} */
    const redirect = { type: 'Redirect', requestId: ask.requestId, node: 'b', ws: 'ws://b/ws', quic: null, reservation: 'r', validForMs: 400 };
    conn.socket.send(encodeServer(redirect));
    await assert.rejects(joining, (e) => {
      const err = /** @type {any} */ (e);
      assert.equal(err.code, 'redirected');
      assert.deepEqual(err.redirect, redirect);
      return true;
    });
    assert.equal(client.state.type, 'lobby');
    assert.equal(client.serverUrl, server.url, 'no move');
    assert.ok(!conn.received.some((m) => m.type === 'Close'));
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
