/**
 * The WebSocket constructor to use, or null when there is none.
 * @param {WebSocketConstructor | undefined} given
 * @returns {WebSocketConstructor | null}
 */
export function webSocketConstructor(given: WebSocketConstructor | undefined): WebSocketConstructor | null;
/**
 * Opens a WebSocket to `url`.
 * @param {string} url
 * @param {import('./transport.js').TransportHandlers} handlers
 * @param {WebSocketOptions} [options]
 * @returns {Promise<import('./transport.js').Transport>}
 */
export function openWebSocket(url: string, handlers: import("./transport.js").TransportHandlers, options?: WebSocketOptions): Promise<import("./transport.js").Transport>;
/**
 * The standard WebSocket surface this transport uses (browsers' and the
 * `ws` package's both have it; `terminate` is the `ws` package's).
 */
export type WebSocketLike = {
    binaryType: string;
    readyState: number;
    send: (data: Uint8Array) => void;
    close: (code?: number, reason?: string) => void;
    terminate?: (() => void) | undefined;
    addEventListener: (type: string, listener: (event: any) => void) => void;
    removeEventListener: (type: string, listener: (event: any) => void) => void;
};
/**
 * A WebSocket constructor: the browser's, or the `ws` package's default
 * export. Its instances must have the surface of `WebSocketLike`.
 */
export type WebSocketConstructor = new (url: string) => any;
export type WebSocketOptions = {
    /**
     * the constructor (default: `globalThis.WebSocket`)
     */
    WebSocket?: WebSocketConstructor | undefined;
    /**
     * how long opening may take
     */
    timeoutMs?: number | undefined;
};
