// The WebTransport transport against a fake of the browser API (Node has
// none): framing on the control stream, datagrams when they fit, close
// codes, and a Client greeting over it.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  certificateHash,
  Client,
  decodeClient,
  encodeServer,
  FrameSplitter,
  lengthPrefixed,
  openWebTransport,
  TransportError,
  webTransportInfoUrl,
  discoverWebTransport,
} from '../src/index.js';
import { until } from '../test-support/util.js';

/** A stand-in for the browser's WebTransport, with a server side to drive. */
class FakeWebTransport {
  /** @type {FakeWebTransport[]} */
  static instances = [];
  /** Make the next sessions fail to become ready. */
  static failReady = false;

  /** @param {string} url @param {any} options */
  constructor(url, options) {
    FakeWebTransport.instances.push(this);
    this.url = url;
    this.options = options;
    /** Frames the client sent on the stream (length prefixes removed). @type {Uint8Array[]} */
    this.streamFrames = [];
    /** Datagrams the client sent. @type {Uint8Array[]} */
    this.datagramsSent = [];
    /** @type {{closeCode?: number, reason?: string} | null} */
    this.closeInfo = null;
    this.streamFinished = false;
    /** @type {ReadableStreamDefaultController<Uint8Array> | null} */
    this.streamController = null;
    /** @type {ReadableStreamDefaultController<Uint8Array> | null} */
    this.datagramController = null;
    /** @type {(frame: Uint8Array) => void} */
    this.onClientFrame = () => {};
    this.ready = FakeWebTransport.failReady ? Promise.reject(new Error('handshake failed')) : Promise.resolve();
    this.ready.catch(() => {});
    /** @type {(info: {closeCode?: number, reason?: string}) => void} */
    let resolveClosed = () => {};
    this.closed = new Promise((resolve) => {
      resolveClosed = resolve;
    });
    this.resolveClosed = resolveClosed;
    const self = this;
    this.datagrams = {
      maxDatagramSize: 64,
      readable: new ReadableStream({
        start(c) {
          self.datagramController = c;
        },
      }),
      writable: new WritableStream({
        write(chunk) {
          self.datagramsSent.push(chunk);
          self.onClientFrame(chunk);
        },
      }),
    };
  }

  async createBidirectionalStream() {
    const self = this;
    const splitter = new FrameSplitter(1 << 20);
    return {
      readable: new ReadableStream({
        start(c) {
          self.streamController = c;
        },
      }),
      writable: new WritableStream({
        write(chunk) {
          for (const frame of splitter.push(chunk)) {
            self.streamFrames.push(frame);
            self.onClientFrame(frame);
          }
        },
        close() {
          self.streamFinished = true;
        },
      }),
    };
  }

  /** @param {{closeCode?: number, reason?: string}} [info] */
  close(info = {}) {
    if (this.closeInfo !== null) return;
    this.closeInfo = info;
    this.resolveClosed(info);
  }

  /** The server sends bytes on the control stream. @param {Uint8Array} bytes */
  serverStream(bytes) {
    this.streamController?.enqueue(bytes);
  }

  /** The server sends a datagram. @param {Uint8Array} frame */
  serverDatagram(frame) {
    this.datagramController?.enqueue(frame);
  }

  /** The server closes the session. @param {number} closeCode @param {string} reason */
  serverClose(closeCode, reason) {
    this.close({ closeCode, reason });
  }
}

const HASH = 'AB:'.repeat(31) + 'AB';

/** @returns {import('../src/transport/transport.js').TransportHandlers & {frames: Uint8Array[], ends: any[], errors: any[]}} */
function recorder() {
  /** @type {Uint8Array[]} */
  const frames = [];
  /** @type {any[]} */
  const ends = [];
  /** @type {any[]} */
  const errors = [];
  return {
    frames,
    ends,
    errors,
    onFrame: (f) => frames.push(f),
    onClose: (e) => ends.push(e),
    onError: (e) => errors.push(e),
  };
}

describe('webtransport framing', () => {
  test('frames split across chunks come out whole; an oversized length is refused', () => {
    const splitter = new FrameSplitter(10);
    const bytes = new Uint8Array([...lengthPrefixed(Uint8Array.of(1, 2, 3)), ...lengthPrefixed(new Uint8Array(0)), ...lengthPrefixed(Uint8Array.of(9))]);
    const out = [];
    for (const b of bytes) out.push(...splitter.push(Uint8Array.of(b)));
    assert.deepEqual(out.map((f) => Array.from(f)), [[1, 2, 3], [], [9]]);
    assert.throws(() => new FrameSplitter(10).push(lengthPrefixed(new Uint8Array(11))), { code: 'frame_too_large' });
  });

  test('certificate hashes are taken as hex with or without colons, or bytes', () => {
    assert.deepEqual(Array.from(certificateHash(HASH)), new Array(32).fill(0xab));
    assert.deepEqual(certificateHash('ab'.repeat(32)), new Uint8Array(32).fill(0xab));
    const base64 = Buffer.alloc(32, 0xab).toString('base64');
    assert.deepEqual(certificateHash(base64), new Uint8Array(32).fill(0xab));
    assert.deepEqual(certificateHash({ algorithm: 'sha-256', value: base64 }), new Uint8Array(32).fill(0xab));
    assert.throws(() => certificateHash({ algorithm: 'sha-1', value: base64 }), TransportError);
    assert.throws(() => certificateHash('abcd'), TransportError);
  });
});

describe('webtransport transport', () => {
  test('control frames on the stream, small unreliable frames as datagrams, big ones on the stream', async () => {
    const handlers = recorder();
    const t = await openWebTransport('https://127.0.0.1:4433/tickwire', handlers, {
      WebTransport: FakeWebTransport,
      certificateHashes: [HASH],
    });
    const fake = /** @type {FakeWebTransport} */ (FakeWebTransport.instances.at(-1));
    assert.deepEqual(fake.options.serverCertificateHashes, [{ algorithm: 'sha-256', value: new Uint8Array(32).fill(0xab) }]);
    assert.equal(t.name, 'webtransport');
    assert.ok(t.datagrams);
    t.send(Uint8Array.of(0, 1), 'reliable');
    t.send(Uint8Array.of(6, 2), 'unreliable');
    t.send(new Uint8Array(65).fill(6), 'unreliable');
    await until(() => fake.streamFrames.length === 2 && fake.datagramsSent.length === 1, 1000, 'the writes');
    assert.deepEqual(Array.from(fake.streamFrames[0]), [0, 1]);
    assert.equal(fake.streamFrames[1].length, 65);
    assert.deepEqual(Array.from(fake.datagramsSent[0]), [6, 2]);

    const welcome = lengthPrefixed(Uint8Array.of(8, 1));
    fake.serverStream(welcome.subarray(0, 3));
    fake.serverStream(welcome.subarray(3));
    fake.serverDatagram(Uint8Array.of(12, 1, 0, 0, 0, 0, 0, 0, 7));
    await until(() => handlers.frames.length === 2, 1000, 'the frames');
    // Datagrams and the stream are not ordered with each other.
    assert.deepEqual(handlers.frames.map((f) => f[0]).sort((a, b) => a - b), [8, 12]);
    assert.deepEqual(Array.from(/** @type {Uint8Array} */ (handlers.frames.find((f) => f[0] === 8))), [8, 1]);

    fake.serverClose(4012, 'replaced');
    await until(() => handlers.ends.length === 1, 1000, 'the end');
    assert.deepEqual(handlers.ends[0], { code: 4012, reason: 'replaced', error: null });
  });

  test('closing finishes the stream, then closes with the code', async () => {
    const handlers = recorder();
    const t = await openWebTransport('https://h/tickwire', handlers, { WebTransport: FakeWebTransport });
    const fake = /** @type {FakeWebTransport} */ (FakeWebTransport.instances.at(-1));
    t.send(Uint8Array.of(12, 0, 0), 'reliable');
    t.close(1000, '');
    await until(() => fake.closeInfo !== null, 1000, 'the close');
    assert.ok(fake.streamFinished);
    assert.deepEqual(fake.closeInfo, { closeCode: 1000, reason: '' });
    assert.equal(fake.streamFrames.length, 1);
  });

  test('an oversized stream frame from the server is an error, then the end', async () => {
    const handlers = recorder();
    await openWebTransport('https://h/tickwire', handlers, { WebTransport: FakeWebTransport, maxFrame: 8 });
    const fake = /** @type {FakeWebTransport} */ (FakeWebTransport.instances.at(-1));
    fake.serverStream(lengthPrefixed(new Uint8Array(9)));
    await until(() => handlers.ends.length === 1, 1000, 'the end');
    assert.equal(handlers.errors[0]?.code, 'frame_too_large');
  });

  test('no WebTransport, or one that fails, is a TransportError', async () => {
    await assert.rejects(openWebTransport('https://h/tickwire', recorder(), {}), { name: 'TransportError', code: 'unsupported' });
    FakeWebTransport.failReady = true;
    try {
      await assert.rejects(openWebTransport('https://h/tickwire', recorder(), { WebTransport: FakeWebTransport }), {
        name: 'TransportError',
        code: 'connect_failed',
      });
    } finally {
      FakeWebTransport.failReady = false;
    }
  });

  test('a Client greets over WebTransport and sends inputs as datagrams, three at a time', async () => {
    /** @type {FakeWebTransport | null} */
    let fake = null;
    class Server extends FakeWebTransport {
      /** @param {string} url @param {any} options */
      constructor(url, options) {
        super(url, options);
        fake = this;
        this.onClientFrame = (/** @type {Uint8Array} */ frame) => {
          const m = decodeClient(frame);
          if (m.type === 'Hello') {
            this.serverStream(
              lengthPrefixed(
                encodeServer({
                  type: 'Welcome',
                  protocolVersion: 2,
                  player: 7,
                  resumeToken: new Uint8Array(16),
                  resumed: false,
                  heartbeatIntervalMs: 1000,
                  reconnectGraceMs: 0,
                }),
              ),
            );
          }
        };
      }
    }
    const client = await Client.connect('ws://unused.invalid/ws', {
      webtransport: { url: 'https://h/tickwire', WebTransport: Server },
      WebSocket: /** @type {any} */ (class {
        constructor() {
          throw new Error('WebSocket must not be tried');
        }
      }),
    });
    assert.equal(client.transport, 'webtransport');
    assert.equal(client.player, 7);
    assert.equal(client.session.config.inputRedundancy, 3);
    const server = /** @type {FakeWebTransport} */ (/** @type {unknown} */ (fake));
    // Inputs outside a room are the server's business to refuse; here they
    // show the routing.
    client.sendArenaInput({ moveX: 1, moveY: 0, aim: 0, fire: false });
    client.sendArenaInput({ moveX: 0, moveY: 1, aim: 0, fire: false });
    await until(() => server.datagramsSent.length === 2, 1000, 'input datagrams');
    const second = decodeClient(server.datagramsSent[1]);
    assert.ok(second.type === 'Inputs' && second.inputs.length === 2 && second.newestSeq === 2);
    const closed = client.close('done');
    await until(() => server.closeInfo !== null, 2000, 'the close');
    assert.equal(server.closeInfo?.closeCode, 1000);
    await closed;
    assert.ok(client.isClosed);
    const goodbye = server.streamFrames.map((f) => decodeClient(f)).at(-1);
    assert.deepEqual(goodbye, { type: 'Close', reason: 'Normal', message: 'done' });
  });

  test('a redirect to a node that serves QUIC: its /webtransport is asked, and the move goes over WebTransport', async () => {
    assert.equal(webTransportInfoUrl('ws://10.0.0.2:7000/ws'), 'http://10.0.0.2:7000/webtransport');
    assert.equal(webTransportInfoUrl('wss://b.example/ws'), 'https://b.example/webtransport');
    assert.throws(() => webTransportInfoUrl('ftp://x/'), TransportError);
    const token = (/** @type {number} */ b) => new Uint8Array(16).fill(b);
    /** @param {number} player @param {number} b */
    const welcome = (player, b) =>
      lengthPrefixed(
        encodeServer({ type: 'Welcome', protocolVersion: 2, player, resumeToken: token(b), resumed: false, heartbeatIntervalMs: 1000, reconnectGraceMs: 0 }),
      );
    /** @type {FakeWebTransport[]} */
    const sessions = [];
    class Server extends FakeWebTransport {
      /** @param {string} url @param {any} options */
      constructor(url, options) {
        super(url, options);
        sessions.push(this);
        this.onClientFrame = (/** @type {Uint8Array} */ frame) => {
          const m = decodeClient(frame);
          if (m.type === 'Hello') this.serverStream(welcome(url.includes('node-b') ? 8 : 7, 1));
          if (m.type === 'QuickJoin') {
            this.serverStream(
              lengthPrefixed(
                encodeServer({
                  type: 'Redirect',
                  requestId: m.requestId,
                  node: 'b',
                  ws: 'ws://node-b:7000/ws',
                  quic: 'node-b:7001',
                  reservation: 'resv',
                  validForMs: 5000,
                }),
              ),
            );
          }
        };
      }
    }
    /** @type {string[]} */
    const asked = [];
    /** @type {import('../src/transport/webtransport.js').FetchLike} */
    const fetch = async (url) => {
      asked.push(url);
      return { ok: true, status: 200, json: async () => ({ url: 'https://node-b:7001/tickwire', certificate_hashes: [{ algorithm: 'sha-256', value: 'q'.repeat(43) + '=' }] }) };
    };
    const client = await Client.connect('ws://node-a:7000/ws', {
      webtransport: { url: 'https://node-a:7001/tickwire', WebTransport: Server },
      fetch,
      WebSocket: /** @type {any} */ (class {
        constructor() {
          throw new Error('WebSocket must not be tried');
        }
      }),
    });
    assert.equal(client.player, 7);
    const moved = client.waitFor('moved', { timeoutMs: 5000 });
    client.quickJoin().catch(() => {});
    const there = await moved;
    assert.equal(there.welcome.player, 8);
    assert.deepEqual(asked, ['http://node-b:7000/webtransport']);
    assert.deepEqual(sessions.map((t) => t.url), ['https://node-a:7001/tickwire', 'https://node-b:7001/tickwire']);
    assert.equal(sessions[1].options.serverCertificateHashes[0].value.length, 32, "the node's certificate is pinned");
    assert.equal(client.transport, 'webtransport');
    assert.equal(client.serverUrl, 'ws://node-b:7000/ws');
    await until(() => sessions[0].closeInfo !== null, 2000, 'the goodbye to node a');
    assert.deepEqual(sessions[0].streamFrames.map((f) => decodeClient(f)).at(-1), { type: 'Close', reason: 'Normal', message: 'moving to node b' });
    await until(() => sessions[1].streamFrames.length === 2, 2000, 'the claim');
    assert.deepEqual(decodeClient(sessions[1].streamFrames[1]), { type: 'ClaimSeat', requestId: 1, reservation: 'resv' });
    await client.close();
  });

  test('asking a node that serves no WebTransport is a TransportError', async () => {
    /** @type {string[]} */
    const asked = [];
    /** @type {import('../src/transport/webtransport.js').FetchLike} */
    const fetch = async (url) => {
      asked.push(url);
      return { ok: false, status: 404, json: async () => ({ error: 'webtransport disabled' }) };
    };
    await assert.rejects(discoverWebTransport('ws://b:1/ws', { fetch }), { name: 'TransportError', code: 'connect_failed' });
    assert.deepEqual(asked, ['http://b:1/webtransport']);
  });
});
