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
export function certificateHash(hash: CertificateHash): Uint8Array;
/**
 * Where a server says how to open a WebTransport session to it: `GET
 * /webtransport` at the http(s) origin of its WebSocket URL (`ws://h:p/ws`
 * gives `http://h:p/webtransport`, `wss://` gives `https://`).
 * @param {string} wsUrl
 * @returns {string}
 */
export function webTransportInfoUrl(wsUrl: string): string;
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
export function discoverWebTransport(wsUrl: string, options?: {
    fetch?: FetchLike;
    timeoutMs?: number;
}): Promise<{
    url: string;
    certificateHashes: CertificateHash[];
}>;
/**
 * The WebTransport constructor to use, or null when there is none.
 * @param {WebTransportConstructor | undefined} given
 * @returns {WebTransportConstructor | null}
 */
export function webTransportConstructor(given: WebTransportConstructor | undefined): WebTransportConstructor | null;
/**
 * A frame with its length prefix.
 * @param {Uint8Array} frame
 */
export function lengthPrefixed(frame: Uint8Array): Uint8Array<ArrayBuffer>;
/**
 * Opens a WebTransport session to `url` and its control stream.
 * @param {string} url `https://host:port/tickwire`
 * @param {import('./transport.js').TransportHandlers} handlers
 * @param {WebTransportOptions} [options]
 * @returns {Promise<import('./transport.js').Transport>}
 */
export function openWebTransport(url: string, handlers: import("./transport.js").TransportHandlers, options?: WebTransportOptions): Promise<import("./transport.js").Transport>;
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
export const ABORT_CODE: 0;
/**
 * Splits a byte stream into length-prefixed frames (u32 little-endian
 * length, then the frame).
 */
export class FrameSplitter {
    /** @param {number} maxFrame */
    constructor(maxFrame: number);
    /** @private */
    private maxFrame;
    /** @private @type {Uint8Array} */
    private buf;
    /**
     * Adds bytes; returns the frames they complete. Throws a
     * `TransportError` (`frame_too_large`) for a length over the limit.
     * @param {Uint8Array} chunk
     * @returns {Uint8Array[]}
     */
    push(chunk: Uint8Array): Uint8Array[];
}
/**
 * A certificate hash: its 32 bytes, as hex (`AB:CD:..` or `abcd..`, as the
 * server logs it), as base64, or as the `{algorithm: 'sha-256', value}`
 * entries of the server's `GET /webtransport` (`value` in base64).
 */
export type CertificateHash = string | Uint8Array | ArrayBuffer | {
    algorithm: string;
    value: string | Uint8Array | ArrayBuffer;
};
/**
 * The part of `fetch` the discovery uses.
 */
export type FetchLike = (url: string, init?: {
    signal?: AbortSignal;
}) => Promise<{
    ok: boolean;
    status: number;
    json: () => Promise<unknown>;
}>;
/**
 * The part of the standard WebTransport API this transport uses.
 */
export type WebTransportLike = {
    ready: Promise<unknown>;
    closed: Promise<{
        closeCode?: number;
        reason?: string;
    }>;
    createBidirectionalStream: () => Promise<{
        readable: ReadableStream<Uint8Array>;
        writable: WritableStream<Uint8Array>;
    }>;
    datagrams: {
        readable: ReadableStream<Uint8Array>;
        writable: WritableStream<Uint8Array>;
        maxDatagramSize?: number;
    };
    close: (info?: {
        closeCode?: number;
        reason?: string;
    }) => void;
};
export type WebTransportConstructor = new (url: string, options?: object) => WebTransportLike;
export type WebTransportOptions = {
    /**
     * the constructor (default: `globalThis.WebTransport`)
     */
    WebTransport?: WebTransportConstructor | undefined;
    /**
     * SHA-256 hashes of the server's certificate
     */
    certificateHashes?: CertificateHash[] | undefined;
    /**
     * how long opening may take
     */
    timeoutMs?: number | undefined;
    /**
     * the largest stream frame accepted, bytes (default 256 KiB)
     */
    maxFrame?: number | undefined;
};
