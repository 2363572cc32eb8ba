/**
 * Maps an i32 to a u32 so that small magnitudes stay small: 0, -1, 1, -2, ...
 * @param {number} value
 */
export function zigzag(value: number): number;
/**
 * The inverse of `zigzag`: a u32 back to an i32.
 * @param {number} value
 */
export function unzigzag(value: number): number;
/** Appends bits to a byte buffer; `finish` pads the last byte with zeros. */
export class BitWriter {
    /** @private @type {number[]} */
    private out;
    /** @private */
    private acc;
    /** @private bits held in `acc` (< 8 between calls) */
    private pending;
    /**
     * Writes the low `count` bits of `value` (`count <= 32`).
     * @param {number} value
     * @param {number} count
     */
    bits(value: number, count: number): void;
    /**
     * Writes `n` (a u32) as an exponential-Golomb code of order `k`.
     * @param {number} n
     * @param {number} k
     */
    golomb(n: number, k: number): void;
    /**
     * Writes a signed i32, zigzag-mapped, as `golomb`.
     * @param {number} value
     * @param {number} k
     */
    signed(value: number, k: number): void;
    /** The bytes, the last one zero-padded. */
    finish(): Uint8Array<ArrayBuffer>;
}
/** Reads what `BitWriter` wrote; every read is bounds-checked. */
export class BitReader {
    /** @param {Uint8Array} bytes */
    constructor(bytes: Uint8Array);
    /** @private */
    private bytes;
    /** @private the next bit, counted from the first byte's lowest */
    private pos;
    /** @private */
    private get available();
    /** @private @returns {number} the next bit */
    private bit;
    /**
     * Reads `count` bits (`count <= 32`) as an unsigned number.
     * @param {number} count
     */
    bits(count: number): number;
    /**
     * Reads an exponential-Golomb code of order `k`: zero bits up to a one,
     * then `zeros + k` bits. More than `32 - k` zeros is corrupt (no u32
     * needs them).
     * @param {number} k
     */
    golomb(k: number): number;
    /** Reads a signed value written by `BitWriter.signed`. @param {number} k */
    signed(k: number): number;
    /** Checks that only zero padding of the last byte is left. */
    finish(): void;
}
