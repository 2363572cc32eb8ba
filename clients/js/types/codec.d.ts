/**
 * The frame for a client message.
 * @param {import('./protocol.js').ClientMessage} message
 * @returns {Uint8Array}
 */
export function encodeClient(message: import("./protocol.js").ClientMessage): Uint8Array;
/**
 * Decodes one client frame of at most `limit` bytes.
 * @param {Uint8Array} frame
 * @param {number} [limit]
 * @returns {import('./protocol.js').ClientMessage}
 */
export function decodeClient(frame: Uint8Array, limit?: number): import("./protocol.js").ClientMessage;
/**
 * The frame for a server message (an `Update` in its own layout).
 * @param {import('./protocol.js').ServerMessage} message
 * @returns {Uint8Array}
 */
export function encodeServer(message: import("./protocol.js").ServerMessage): Uint8Array;
/**
 * Decodes one server frame of at most `limit` bytes.
 * @param {Uint8Array} frame
 * @param {number} [limit]
 * @returns {import('./protocol.js').ServerMessage}
 */
export function decodeServer(frame: Uint8Array, limit?: number): import("./protocol.js").ServerMessage;
/**
 * One arena player's input for one tick (`ArenaInput`).
 * @typedef {object} ArenaInput
 * @property {number} moveX move direction x in [-1, 1]
 * @property {number} moveY move direction y in [-1, 1]
 * @property {number} aim aim angle, radians counter-clockwise from +x
 * @property {boolean} fire fire along the aim, if the cooldown allows
 */
/**
 * Encodes an arena input: three little-endian `f32`s, then a bool.
 * @param {ArenaInput} input
 * @returns {Uint8Array}
 */
export function encodeArenaInput(input: ArenaInput): Uint8Array;
/**
 * Decodes an arena input.
 * @param {Uint8Array} bytes
 * @returns {ArenaInput}
 */
export function decodeArenaInput(bytes: Uint8Array): ArenaInput;
/**
 * A frame as lowercase hex (golden vectors are written this way).
 * @param {Uint8Array} bytes
 */
export function toHex(bytes: Uint8Array): string;
/**
 * Bytes from hex (whitespace ignored).
 * @param {string} hex
 * @returns {Uint8Array}
 */
export function fromHex(hex: string): Uint8Array;
/** Default largest frame a server accepts from a client, bytes. */
export const MAX_CLIENT_FRAME: number;
/** Default largest frame a client accepts from a server, bytes. */
export const MAX_SERVER_FRAME: number;
/** Ceiling for any frame whatever the configured limits, bytes. */
export const HARD_FRAME_LIMIT: number;
/** The kind byte of an `Update`. */
export const UPDATE_KIND: 12;
/** The kind byte of a `Redirect` (it follows the update). */
export const REDIRECT_KIND: 13;
/** Appends wire values to a growing buffer. */
export class Writer {
    constructor(capacity?: number);
    /** @private */
    private buf;
    /** @private */
    private len;
    /** @private */
    private view;
    /** @private @param {number} extra */
    private reserve;
    /** @param {number} byte */
    u8(byte: number): void;
    /** @param {Uint8Array} bytes */
    raw(bytes: Uint8Array): void;
    /**
     * A bincode varint of an unsigned integer of `bits` bits, shortest form.
     * @param {number | bigint} value
     * @param {16 | 32 | 64} bits
     */
    varint(value: number | bigint, bits: 16 | 32 | 64): void;
    /** @param {number} value */
    f32(value: number): void;
    /** @param {number} value */
    u32le(value: number): void;
    /** An unsigned LEB128 u32 (the `Update` header). @param {number} value */
    leb128(value: number): void;
    /** The bytes written (a copy). */
    finish(): Uint8Array<ArrayBuffer>;
}
/** Reads wire values from a frame; every read is bounds-checked. */
export class Reader {
    /** @param {Uint8Array} bytes */
    constructor(bytes: Uint8Array);
    /** @private */
    private bytes;
    /** @private */
    private view;
    /** The read position. */
    pos: number;
    /** Bytes not read yet. */
    get remaining(): number;
    /** @private @param {number} n */
    private need;
    u8(): number;
    /** @param {number} n */
    raw(n: number): Uint8Array<ArrayBuffer>;
    /**
     * A bincode varint of a `bits`-bit field: a marker wider than the field
     * is malformed, as are 254 and 255. A longer form than needed is
     * accepted, as bincode accepts it.
     * @param {16 | 32} bits
     * @returns {number}
     */
    varint(bits: 16 | 32): number;
    /** A varint u64, exact. @returns {bigint} */
    varint64(): bigint;
    /**
     * A length or count (a varint u64) of items at least `itemSize` bytes
     * each, checked against the bytes left.
     * @param {number} itemSize
     */
    length(itemSize: number): number;
    f32(): number;
    u32le(): number;
    /** An unsigned LEB128 u32: at most 5 bytes, no overlong form. */
    leb128(): number;
    /** Everything left. */
    rest(): Uint8Array<ArrayBuffer>;
}
/**
 * One arena player's input for one tick (`ArenaInput`).
 */
export type ArenaInput = {
    /**
     * move direction x in [-1, 1]
     */
    moveX: number;
    /**
     * move direction y in [-1, 1]
     */
    moveY: number;
    /**
     * aim angle, radians counter-clockwise from +x
     */
    aim: number;
    /**
     * fire along the aim, if the cooldown allows
     */
    fire: boolean;
};
/**
 * Encodes and decodes one wire type.
 */
export type Codec<T> = {
    enc: (w: Writer, v: T) => void;
    dec: (r: Reader) => T;
};
