// Bit-level writer and reader with exponential-Golomb integer codes, the
// alphabet of the delta bitstream (docs/protocol.md, "Delta bitstream").
// Bits are packed least-significant first. Values are unsigned 32-bit
// integers (numbers); signed values go through the zigzag map.

import { DeltaError } from './errors.js';

/** Appends bits to a byte buffer; `finish` pads the last byte with zeros. */
export class BitWriter {
  constructor() {
    /** @private @type {number[]} */
    this.out = [];
    /** @private */
    this.acc = 0;
    /** @private bits held in `acc` (< 8 between calls) */
    this.pending = 0;
  }

  /**
   * Writes the low `count` bits of `value` (`count <= 32`).
   * @param {number} value
   * @param {number} count
   */
  bits(value, count) {
    for (let i = 0; i < count; i++) {
      const bit = Math.floor(value / 2 ** i) % 2;
      this.acc |= bit << this.pending;
      this.pending++;
      if (this.pending === 8) {
        this.out.push(this.acc);
        this.acc = 0;
        this.pending = 0;
      }
    }
  }

  /**
   * Writes `n` (a u32) as an exponential-Golomb code of order `k`.
   * @param {number} n
   * @param {number} k
   */
  golomb(n, k) {
    const v = n + 2 ** k;
    let len = k + 1; // the bit length of v, at least k + 1
    while (2 ** len <= v) len++;
    const zeros = len - k - 1;
    this.bits(0, zeros);
    this.bits(1, 1);
    this.bits(v - 2 ** (len - 1), len - 1);
  }

  /**
   * Writes a signed i32, zigzag-mapped, as `golomb`.
   * @param {number} value
   * @param {number} k
   */
  signed(value, k) {
    this.golomb(zigzag(value), k);
  }

  /** The bytes, the last one zero-padded. */
  finish() {
    if (this.pending > 0) {
      this.out.push(this.acc);
      this.acc = 0;
      this.pending = 0;
    }
    return Uint8Array.from(this.out);
  }
}

/** Reads what `BitWriter` wrote; every read is bounds-checked. */
export class BitReader {
  /** @param {Uint8Array} bytes */
  constructor(bytes) {
    /** @private */
    this.bytes = bytes;
    /** @private the next bit, counted from the first byte's lowest */
    this.pos = 0;
  }

  /** @private */
  get available() {
    return this.bytes.length * 8 - this.pos;
  }

  /** @private @returns {number} the next bit */
  bit() {
    const byte = this.bytes[this.pos >>> 3];
    const bit = (byte >>> (this.pos & 7)) & 1;
    this.pos++;
    return bit;
  }

  /**
   * Reads `count` bits (`count <= 32`) as an unsigned number.
   * @param {number} count
   */
  bits(count) {
    if (this.available < count) throw new DeltaError('truncated', 'delta truncated');
    let value = 0;
    for (let i = 0; i < count; i++) value += this.bit() * 2 ** i;
    return value;
  }

  /**
   * Reads an exponential-Golomb code of order `k`: zero bits up to a one,
   * then `zeros + k` bits. More than `32 - k` zeros is corrupt (no u32
   * needs them).
   * @param {number} k
   */
  golomb(k) {
    let zeros = 0;
    for (;;) {
      if (this.available === 0) throw new DeltaError('truncated', 'delta truncated');
      if (this.bit() === 1) break;
      zeros++;
      if (zeros + k > 32) throw new DeltaError('corrupt', 'corrupt delta: integer code longer than 32 bits');
    }
    const bodyLen = zeros + k;
    const body = this.bits(bodyLen);
    const value = 2 ** bodyLen + body - 2 ** k;
    if (value > 0xffff_ffff) throw new DeltaError('corrupt', 'corrupt delta: integer out of range');
    return value;
  }

  /** Reads a signed value written by `BitWriter.signed`. @param {number} k */
  signed(k) {
    return unzigzag(this.golomb(k));
  }

  /** Checks that only zero padding of the last byte is left. */
  finish() {
    if (this.available >= 8) throw new DeltaError('trailing_bytes', 'trailing bytes after the delta');
    while (this.available > 0) {
      if (this.bit() !== 0) throw new DeltaError('corrupt', 'corrupt delta: non-zero padding bits');
    }
  }
}

/**
 * Maps an i32 to a u32 so that small magnitudes stay small: 0, -1, 1, -2, ...
 * @param {number} value
 */
export function zigzag(value) {
  return ((value << 1) ^ (value >> 31)) >>> 0;
}

/**
 * The inverse of `zigzag`: a u32 back to an i32.
 * @param {number} value
 */
export function unzigzag(value) {
  return ((value >>> 1) ^ -(value & 1)) | 0;
}
