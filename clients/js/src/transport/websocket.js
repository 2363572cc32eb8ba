// The WebSocket transport: one binary WebSocket message per frame, over
// `ws://host:port/ws` or `wss://host:port/ws`. Uses the WebSocket
// constructor given (Node: the `ws` package) or `globalThis.WebSocket`.

import { TransportError } from '../errors.js';
import { OPEN_TIMEOUT_MS, withTimeout } from './transport.js';

/**
 * The standard WebSocket surface this transport uses (browsers' and the
 * `ws` package's both have it; `terminate` is the `ws` package's).
 * @typedef {object} WebSocketLike
 * @property {string} binaryType
 * @property {number} readyState
 * @property {(data: Uint8Array) => void} send
 * @property {(code?: number, reason?: string) => void} close
 * @property {(() => void)} [terminate]
 * @property {(type: string, listener: (event: any) => void) => void} addEventListener
 * @property {(type: string, listener: (event: any) => void) => void} removeEventListener
 */

/**
 * A WebSocket constructor: the browser's, or the `ws` package's default
 * export. Its instances must have the surface of `WebSocketLike`.
 * @typedef {new (url: string) => any} WebSocketConstructor
 */

/**
 * @typedef {object} WebSocketOptions
 * @property {WebSocketConstructor} [WebSocket] the constructor (default: `globalThis.WebSocket`)
 * @property {number} [timeoutMs] how long opening may take
 */

const OPEN = 1;

/**
 * The WebSocket constructor to use, or null when there is none.
 * @param {WebSocketConstructor | undefined} given
 * @returns {WebSocketConstructor | null}
 */
export function webSocketConstructor(given) {
  if (given !== undefined) return given;
  const global = /** @type {{WebSocket?: WebSocketConstructor}} */ (globalThis);
  return global.WebSocket ?? null;
}

/**
 * Opens a WebSocket to `url`.
 * @param {string} url
 * @param {import('./transport.js').TransportHandlers} handlers
 * @param {WebSocketOptions} [options]
 * @returns {Promise<import('./transport.js').Transport>}
 */
export function openWebSocket(url, handlers, options = {}) {
  const Ctor = webSocketConstructor(options.WebSocket);
  if (Ctor === null) {
    return Promise.reject(
      new TransportError('unsupported', 'no WebSocket here: pass one as the `WebSocket` option (Node: the ws package)'),
    );
  }
  /** @type {WebSocketLike} */
  let ws;
  try {
    ws = /** @type {WebSocketLike} */ (new Ctor(url));
  } catch (e) {
    return Promise.reject(new TransportError('connect_failed', `cannot open ${url}: ${String(e)}`, { cause: e }));
  }
  ws.binaryType = 'arraybuffer';
  let opened = false;
  let ended = false;
  /** @type {{resolve: () => void, reject: (e: Error) => void} | null} */
  let pending = null;

  // The error listener stays attached for good: the `ws` package throws
  // an 'error' event that nobody listens to.
  const detach = () => {
    ws.removeEventListener('open', onOpen);
    ws.removeEventListener('message', onMessage);
    ws.removeEventListener('close', onCloseEvent);
  };
  /** @param {import('./transport.js').TransportEnd} end */
  const finish = (end) => {
    if (ended) return;
    ended = true;
    detach();
    if (opened) handlers.onClose(end);
  };
  function onOpen() {
    opened = true;
    pending?.resolve();
  }
  /** @param {{data: unknown}} event */
  function onMessage(event) {
    if (ended) return;
    const data = event.data;
    if (data instanceof ArrayBuffer) {
      handlers.onFrame(new Uint8Array(data));
    } else if (ArrayBuffer.isView(data)) {
      handlers.onFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    } else {
      handlers.onError(new TransportError('protocol', 'the server sent a text frame'));
    }
  }
  /** @param {{code?: number, reason?: string}} event */
  function onCloseEvent(event) {
    if (!opened) {
      pending?.reject(new TransportError('connect_failed', `cannot open ${url} (close code ${event.code ?? 'none'})`));
      ended = true;
      detach();
      return;
    }
    finish({ code: event.code ?? null, reason: event.reason ?? '', error: null });
  }
  /** @param {{message?: string, error?: unknown}} event */
  function onErrorEvent(event) {
    if (ended) return;
    const detail = event.message ?? (event.error instanceof Error ? event.error.message : 'connection error');
    if (!opened) {
      pending?.reject(new TransportError('connect_failed', `cannot open ${url}: ${detail}`, { cause: event.error }));
      ended = true;
      detach();
      ws.close();
      return;
    }
    // A 'close' event follows; it reports the end.
  }
  ws.addEventListener('open', onOpen);
  ws.addEventListener('message', onMessage);
  ws.addEventListener('close', onCloseEvent);
  ws.addEventListener('error', onErrorEvent);

  /** @type {import('./transport.js').Transport} */
  const transport = {
    name: 'websocket',
    datagrams: false,
    send(frame) {
      if (ended || ws.readyState !== OPEN) return;
      try {
        ws.send(frame);
      } catch {
        // The close event reports the end.
      }
    },
    close(code, reason) {
      if (ended) return;
      try {
        ws.close(code, reason);
      } catch {
        ws.close();
      }
    },
    abort() {
      if (ended) return;
      if (typeof ws.terminate === 'function') {
        // The socket is destroyed; its close event reports the end.
        ws.terminate();
        return;
      }
      // A browser WebSocket cannot be cut without a close frame, and a
      // close frame is a goodbye that frees the seat: let go of it
      // instead. The server replaces it when the session resumes.
      finish({ code: null, reason: 'dropped', error: null });
    },
  };
  const opening = new Promise((resolve, reject) => {
    pending = { resolve: () => resolve(transport), reject };
  });
  return withTimeout(
    /** @type {Promise<import('./transport.js').Transport>} */ (opening),
    options.timeoutMs ?? OPEN_TIMEOUT_MS,
    () => {
      ended = true;
      detach();
      if (typeof ws.terminate === 'function') ws.terminate();
      else ws.close();
    },
    () => new TransportError('timeout', `opening ${url} timed out`),
  );
}
