// The transport contract: what the `Client` shell needs from a connection.
// A transport only moves frames (one frame is one protocol message); the
// session decides what to send and how (`reliable` or `unreliable`).

/**
 * How a transport ended: its close code (a WebSocket close code, or a
 * WebTransport / QUIC application error code) and reason, or the error
 * that broke it.
 * @typedef {{code: number | null, reason: string, error: import('../errors.js').TransportError | null}} TransportEnd
 */

/**
 * What a transport tells its owner. `onClose` is called once, last.
 * `onError` reports a broken frame (a text frame, a length prefix over
 * the limit); the transport closes after it.
 * @typedef {object} TransportHandlers
 * @property {(frame: Uint8Array) => void} onFrame
 * @property {(end: TransportEnd) => void} onClose
 * @property {(error: import('../errors.js').TransportError) => void} onError
 */

/**
 * An open connection to a tickwire server.
 * @typedef {object} Transport
 * @property {'websocket' | 'webtransport'} name
 * @property {boolean} datagrams whether unreliable frames may travel as datagrams
 * @property {(frame: Uint8Array, delivery: 'reliable' | 'unreliable') => void} send queues a frame (never throws)
 * @property {(code: number, reason: string) => void} close closes with a goodbye after what was queued
 * @property {() => void} abort lets go at once, without a goodbye (as a network failure would; the server keeps the seat)
 */

/** Default time to open a transport, milliseconds. */
export const OPEN_TIMEOUT_MS = 10_000;

/**
 * Runs `open` with a deadline; `onTimeout` undoes what it started.
 * @template T
 * @param {Promise<T>} open
 * @param {number} timeoutMs
 * @param {() => void} onTimeout
 * @param {() => Error} error
 * @returns {Promise<T>}
 */
export function withTimeout(open, timeoutMs, onTimeout, error) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      onTimeout();
      reject(error());
    }, timeoutMs);
    open.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
