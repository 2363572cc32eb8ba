// The WebTransport transport (browsers), following the protocol's QUIC
// rules (docs/protocol.md, "QUIC"):
//
// - the client opens one bidirectional stream right after the session is
//   ready; it carries control frames both ways, each prefixed with its
//   length as a u32 little-endian;
// - unreliable frames (inputs, acks) go as datagrams when they fit the
//   current maximum datagram size, else on the stream; the server's
//   updates may arrive as datagrams;
// - closing: the client's `Close` goes on the stream, the stream is
//   finished, then the session is closed with the close code as its
//   application error code.
//
// URL: `https://host:port/tickwire`. A server with a development
// certificate is reached by pinning its SHA-256 hash
// (`serverCertificateHashes`).

import { TransportError } from '../errors.js';
import { OPEN_TIMEOUT_MS, withTimeout } from './transport.js';

/**
 * The part of the standard WebTransport API this transport uses.
 * @typedef {object} WebTransportLike
 * @property {Promise<unknown>} ready
 * @property {Promise<{closeCode?: number, reason?: string}>} closed
 * @property {() => Promise<{readable: ReadableStream<Uint8Array>, writable: WritableStream<Uint8Array>}>} createBidirectionalStream
 * @property {{readable: ReadableStream<Uint8Array>, writable: WritableStream<Uint8Array>, maxDatagramSize?: number}} datagrams
 * @property {(info?: {closeCode?: number, reason?: string}) => void} close
 */

/**
 * @typedef {new (url: string, options?: object) => WebTransportLike} WebTransportConstructor
 */

/**
 * @typedef {object} WebTransportOptions
 * @property {WebTransportConstructor} [WebTransport] the constructor (default: `globalThis.WebTransport`)
 * @property {CertificateHash[]} [certificateHashes] SHA-256 hashes of the server's certificate
 * @property {number} [timeoutMs] how long opening may take
 * @property {number} [maxFrame] the largest stream frame accepted, bytes (default 256 KiB)
 */

/** The application error code a client gives when it lets go without a goodbye (not a close reason's code). */
export const ABORT_CODE = 0;

/** A datagram size to assume when the browser does not say. */
const DEFAULT_DATAGRAM_SIZE = 1200;

/**
 * A certificate hash: its 32 bytes, as hex (`AB:CD:..` or `abcd..`, as the
 * server logs it), as base64, or as the `{algorithm: 'sha-256', value}`
 * entries of the server's `GET /webtransport` (`value` in base64).
 * @typedef {string | Uint8Array | ArrayBuffer | {algorithm: string, value: string | Uint8Array | ArrayBuffer}} CertificateHash
 */

/**
 * A certificate hash as bytes. Throws a `TransportError` for anything but
 * a SHA-256 hash.
 * @param {CertificateHash} hash
 * @returns {Uint8Array}
 */
export function certificateHash(hash) {
  if (hash instanceof Uint8Array) return hash;
  if (hash instanceof ArrayBuffer) return new Uint8Array(hash);
  if (typeof hash === 'object' && hash !== null) {
    if (String(hash.algorithm).toLowerCase() !== 'sha-256') {
      throw new TransportError('connect_failed', `a certificate hash is SHA-256, not ${hash.algorithm}`);
    }
    return certificateHash(hash.value);
  }
  const text = String(hash).trim();
  const hex = text.replace(/[:\s]/g, '');
  if (hex.length === 64 && /^[0-9a-fA-F]+$/.test(hex)) {
    const out = new Uint8Array(32);
    for (let i = 0; i < 32; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
    return out;
  }
  if (/^[A-Za-z0-9+/]{43}=$/.test(text)) {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  }
  throw new TransportError('connect_failed', 'a certificate hash is the 32 bytes of a SHA-256, as hex or base64');
}

/**
 * Where a server says how to open a WebTransport session to it: `GET
 * /webtransport` at the http(s) origin of its WebSocket URL (`ws://h:p/ws`
 * gives `http://h:p/webtransport`, `wss://` gives `https://`).
 * @param {string} wsUrl
 * @returns {string}
 */
export function webTransportInfoUrl(wsUrl) {
  let url;
  try {
    url = new URL(wsUrl);
  } catch {
    throw new TransportError('connect_failed', `${wsUrl} is not a URL`);
  }
  const scheme = { 'ws:': 'http:', 'wss:': 'https:', 'http:': 'http:', 'https:': 'https:' }[url.protocol];
  if (scheme === undefined) throw new TransportError('connect_failed', `${wsUrl} is not a ws:// or wss:// URL`);
  return `${scheme}//${url.host}/webtransport`;
}

/**
 * The part of `fetch` the discovery uses.
 * @typedef {(url: string, init?: {signal?: AbortSignal}) => Promise<{ok: boolean, status: number, json: () => Promise<unknown>}>} FetchLike
 */

/**
 * Asks the server whose WebSocket URL is `wsUrl` for its WebTransport
 * endpoint (its `GET /webtransport`: `{url, certificate_hashes}`), as a
 * page does for the server it came from. Rejects with a `TransportError`
 * when the server serves no WebTransport or cannot be asked.
 * @param {string} wsUrl
 * @param {{fetch?: FetchLike, timeoutMs?: number}} [options]
 * @returns {Promise<{url: string, certificateHashes: CertificateHash[]}>}
 */
export async function discoverWebTransport(wsUrl, options = {}) {
  const infoUrl = webTransportInfoUrl(wsUrl);
  const doFetch = options.fetch ?? /** @type {{fetch?: FetchLike}} */ (globalThis).fetch;
  if (doFetch === undefined) throw new TransportError('unsupported', 'no fetch here to ask for the WebTransport endpoint');
  let info;
  try {
    const signal = typeof AbortSignal.timeout === 'function' ? AbortSignal.timeout(options.timeoutMs ?? OPEN_TIMEOUT_MS) : undefined;
    const response = await doFetch(infoUrl, signal === undefined ? {} : { signal });
    if (!response.ok) throw new Error(`status ${response.status}`);
    info = /** @type {{url?: unknown, certificate_hashes?: unknown}} */ (await response.json());
  } catch (e) {
    throw new TransportError('connect_failed', `no WebTransport endpoint from ${infoUrl}: ${e instanceof Error ? e.message : String(e)}`, {
      cause: e,
    });
  }
  if (typeof info?.url !== 'string' || !Array.isArray(info.certificate_hashes ?? [])) {
    throw new TransportError('connect_failed', `${infoUrl} did not describe a WebTransport endpoint`);
  }
  return { url: info.url, certificateHashes: /** @type {CertificateHash[]} */ (info.certificate_hashes ?? []) };
}

/**
 * The WebTransport constructor to use, or null when there is none.
 * @param {WebTransportConstructor | undefined} given
 * @returns {WebTransportConstructor | null}
 */
export function webTransportConstructor(given) {
  if (given !== undefined) return given;
  const global = /** @type {{WebTransport?: WebTransportConstructor}} */ (globalThis);
  return global.WebTransport ?? null;
}

/**
 * Splits a byte stream into length-prefixed frames (u32 little-endian
 * length, then the frame).
 */
export class FrameSplitter {
  /** @param {number} maxFrame */
  constructor(maxFrame) {
    /** @private */
    this.maxFrame = maxFrame;
    /** @private @type {Uint8Array} */
    this.buf = new Uint8Array(0);
  }

  /**
   * Adds bytes; returns the frames they complete. Throws a
   * `TransportError` (`frame_too_large`) for a length over the limit.
   * @param {Uint8Array} chunk
   * @returns {Uint8Array[]}
   */
  push(chunk) {
    const joined = new Uint8Array(this.buf.length + chunk.length);
    joined.set(this.buf);
    joined.set(chunk, this.buf.length);
    /** @type {Uint8Array[]} */
    const frames = [];
    let at = 0;
    while (joined.length - at >= 4) {
      const len = new DataView(joined.buffer, at, 4).getUint32(0, true);
      if (len > this.maxFrame) {
        throw new TransportError('frame_too_large', `a stream frame of ${len} bytes exceeds the ${this.maxFrame}-byte limit`);
      }
      if (joined.length - at - 4 < len) break;
      frames.push(joined.slice(at + 4, at + 4 + len));
      at += 4 + len;
    }
    this.buf = joined.slice(at);
    return frames;
  }
}

/**
 * A frame with its length prefix.
 * @param {Uint8Array} frame
 */
export function lengthPrefixed(frame) {
  const out = new Uint8Array(4 + frame.length);
  new DataView(out.buffer).setUint32(0, frame.length, true);
  out.set(frame, 4);
  return out;
}

/**
 * Opens a WebTransport session to `url` and its control stream.
 * @param {string} url `https://host:port/tickwire`
 * @param {import('./transport.js').TransportHandlers} handlers
 * @param {WebTransportOptions} [options]
 * @returns {Promise<import('./transport.js').Transport>}
 */
export function openWebTransport(url, handlers, options = {}) {
  const Ctor = webTransportConstructor(options.WebTransport);
  if (Ctor === null) {
    return Promise.reject(new TransportError('unsupported', 'no WebTransport here'));
  }
  /** @type {Record<string, unknown>} */
  const init = {};
  try {
    if (options.certificateHashes !== undefined && options.certificateHashes.length > 0) {
      init.serverCertificateHashes = options.certificateHashes.map((h) => ({
        algorithm: 'sha-256',
        value: certificateHash(h),
      }));
    }
  } catch (e) {
    return Promise.reject(e);
  }
  /** @type {WebTransportLike} */
  let wt;
  try {
    wt = new Ctor(url, init);
  } catch (e) {
    return Promise.reject(new TransportError('connect_failed', `cannot open ${url}: ${String(e)}`, { cause: e }));
  }
  const maxFrame = options.maxFrame ?? 256 * 1024;
  let opened = false;
  let ended = false;
  // The session's closed promise rejects when the connection breaks;
  // nobody may leave that unhandled.
  wt.closed.catch(() => {});

  /** @param {import('./transport.js').TransportEnd} end */
  const finish = (end) => {
    if (ended) return;
    ended = true;
    if (opened) handlers.onClose(end);
  };

  const open = async () => {
    await wt.ready;
    const stream = await wt.createBidirectionalStream();
    const writer = stream.writable.getWriter();
    const datagramWriter = wt.datagrams.writable.getWriter();
    // Writes are queued by the stream; their failures show as the
    // session closing, which `closed` reports.
    writer.closed.catch(() => {});
    datagramWriter.closed.catch(() => {});
    opened = true;

    wt.closed.then(
      (info) => finish({ code: info?.closeCode ?? null, reason: info?.reason ?? '', error: null }),
      (e) =>
        finish({
          code: typeof e?.closeCode === 'number' ? e.closeCode : null,
          reason: typeof e?.reason === 'string' ? e.reason : '',
          error: new TransportError('closed', `webtransport: ${e instanceof Error ? e.message : String(e)}`, { cause: e }),
        }),
    );

    const readStream = async () => {
      const reader = stream.readable.getReader();
      const splitter = new FrameSplitter(maxFrame);
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done || ended) break;
          for (const frame of splitter.push(value)) {
            if (ended) return;
            handlers.onFrame(frame);
          }
        }
      } catch (e) {
        if (ended) return;
        if (e instanceof TransportError) {
          handlers.onError(e);
          wt.close({ closeCode: ABORT_CODE, reason: e.message });
          return;
        }
      }
      if (!ended) {
        // The server finished its stream: the session is over.
        wt.close({ closeCode: 1000, reason: '' });
      }
    };
    const readDatagrams = async () => {
      const reader = wt.datagrams.readable.getReader();
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done || ended) break;
          handlers.onFrame(value);
        }
      } catch {
        // The session ended; `closed` reports it.
      }
    };
    readStream();
    readDatagrams();

    /** @type {import('./transport.js').Transport} */
    const transport = {
      name: 'webtransport',
      datagrams: true,
      send(frame, delivery) {
        if (ended) return;
        const limit = wt.datagrams.maxDatagramSize ?? DEFAULT_DATAGRAM_SIZE;
        const write =
          delivery === 'unreliable' && frame.length <= limit
            ? datagramWriter.write(frame)
            : writer.write(lengthPrefixed(frame));
        write.catch(() => {});
      },
      close(code, reason) {
        if (ended) return;
        // The `Close` frame is queued on the stream before this: finish
        // the stream after it, then close the session.
        writer
          .close()
          .catch(() => {})
          .finally(() => wt.close({ closeCode: code, reason }));
      },
      abort() {
        if (ended) return;
        writer.abort().catch(() => {});
        wt.close({ closeCode: ABORT_CODE, reason: 'dropped' });
      },
    };
    return transport;
  };

  return withTimeout(
    open(),
    options.timeoutMs ?? OPEN_TIMEOUT_MS,
    () => {
      ended = true;
      try {
        wt.close({ closeCode: ABORT_CODE, reason: 'timed out' });
      } catch {
        // Closing a session not yet ready may throw; it is gone either way.
      }
    },
    () => new TransportError('timeout', `opening ${url} timed out`),
  ).catch((e) => {
    ended = true;
    throw e instanceof TransportError
      ? e
      : new TransportError('connect_failed', `cannot open ${url}: ${e instanceof Error ? e.message : String(e)}`, {
          cause: e,
        });
  });
}
