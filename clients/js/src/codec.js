// Frames to messages and back: a bincode-2-compatible encoder and decoder
// for every client and server message (docs/protocol.md, "Frames" and
// "Wire types"), the compact `Update` layout, and the arena's input.
//
// Decoding never throws anything but a `DecodeError`, and allocates in
// proportion to the frame: a length or count is checked against the bytes
// left before anything is read.

import { DecodeError, EncodeError } from './errors.js';
import {
  CLOSE_REASONS,
  ERROR_CODES,
  LEAVE_REASONS,
  MAX_ROOM_ID,
  ROLES,
  VISIBILITIES,
} from './protocol.js';

/** Default largest frame a server accepts from a client, bytes. */
export const MAX_CLIENT_FRAME = 4 * 1024;
/** Default largest frame a client accepts from a server, bytes. */
export const MAX_SERVER_FRAME = 256 * 1024;
/** Ceiling for any frame whatever the configured limits, bytes. */
export const HARD_FRAME_LIMIT = 1 << 20;
/** The kind byte of an `Update`. */
export const UPDATE_KIND = 12;
/** The kind byte of a `Redirect` (it follows the update). */
export const REDIRECT_KIND = 13;

const U16_MARKER = 251;
const U32_MARKER = 252;
const U64_MARKER = 253;

const utf8Encoder = new TextEncoder();
// fatal: invalid UTF-8 is malformed; ignoreBOM: a leading U+FEFF is part
// of the string, as it is for Rust.
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// ---- writer and reader ----

/** Appends wire values to a growing buffer. */
export class Writer {
  constructor(capacity = 64) {
    /** @private */
    this.buf = new Uint8Array(capacity);
    /** @private */
    this.len = 0;
    /** @private */
    this.view = new DataView(this.buf.buffer);
  }

  /** @private @param {number} extra */
  reserve(extra) {
    if (this.len + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  /** @param {number} byte */
  u8(byte) {
    this.reserve(1);
    this.buf[this.len++] = byte & 0xff;
  }

  /** @param {Uint8Array} bytes */
  raw(bytes) {
    this.reserve(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
  }

  /**
   * A bincode varint of an unsigned integer of `bits` bits, shortest form.
   * @param {number | bigint} value
   * @param {16 | 32 | 64} bits
   */
  varint(value, bits) {
    const v = typeof value === 'bigint' ? value : checkedInteger(value);
    const max = bits === 64 ? 0xffff_ffff_ffff_ffffn : bits === 32 ? 0xffff_ffffn : 0xffffn;
    const big = BigInt(v);
    if (big < 0n || big > max) throw new EncodeError(`${value} does not fit a u${bits}`);
    if (big < 251n) {
      this.u8(Number(big));
    } else if (big <= 0xffffn) {
      this.u8(U16_MARKER);
      this.reserve(2);
      this.view.setUint16(this.len, Number(big), true);
      this.len += 2;
    } else if (big <= 0xffff_ffffn) {
      this.u8(U32_MARKER);
      this.reserve(4);
      this.view.setUint32(this.len, Number(big), true);
      this.len += 4;
    } else {
      this.u8(U64_MARKER);
      this.reserve(8);
      this.view.setBigUint64(this.len, big, true);
      this.len += 8;
    }
  }

  /** @param {number} value */
  f32(value) {
    this.reserve(4);
    this.view.setFloat32(this.len, value, true);
    this.len += 4;
  }

  /** @param {number} value */
  u32le(value) {
    this.reserve(4);
    this.view.setUint32(this.len, value >>> 0, true);
    this.len += 4;
  }

  /** An unsigned LEB128 u32 (the `Update` header). @param {number} value */
  leb128(value) {
    let v = checkedInteger(value);
    if (v < 0 || v > 0xffff_ffff) throw new EncodeError(`${value} does not fit a u32`);
    while (v >= 0x80) {
      this.u8((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.u8(v);
  }

  /** The bytes written (a copy). */
  finish() {
    return this.buf.slice(0, this.len);
  }
}

/** @param {number} value */
function checkedInteger(value) {
  if (!Number.isInteger(value)) throw new EncodeError(`${value} is not an integer`);
  return value;
}

/** Reads wire values from a frame; every read is bounds-checked. */
export class Reader {
  /** @param {Uint8Array} bytes */
  constructor(bytes) {
    /** @private */
    this.bytes = bytes;
    /** @private */
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    /** The read position. */
    this.pos = 0;
  }

  /** Bytes not read yet. */
  get remaining() {
    return this.bytes.length - this.pos;
  }

  /** @private @param {number} n */
  need(n) {
    if (this.remaining < n) throw new DecodeError('truncated', 'truncated frame');
  }

  u8() {
    this.need(1);
    return this.bytes[this.pos++];
  }

  /** @param {number} n */
  raw(n) {
    this.need(n);
    const out = this.bytes.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /**
   * A bincode varint of a `bits`-bit field: a marker wider than the field
   * is malformed, as are 254 and 255. A longer form than needed is
   * accepted, as bincode accepts it.
   * @param {16 | 32} bits
   * @returns {number}
   */
  varint(bits) {
    const first = this.u8();
    if (first < 251) return first;
    if (first === U16_MARKER) {
      this.need(2);
      const v = this.view.getUint16(this.pos, true);
      this.pos += 2;
      return v;
    }
    if (first === U32_MARKER && bits === 32) {
      this.need(4);
      const v = this.view.getUint32(this.pos, true);
      this.pos += 4;
      return v;
    }
    throw new DecodeError('malformed', 'integer out of range');
  }

  /** A varint u64, exact. @returns {bigint} */
  varint64() {
    const first = this.u8();
    if (first < 251) return BigInt(first);
    if (first === U16_MARKER) {
      this.need(2);
      const v = this.view.getUint16(this.pos, true);
      this.pos += 2;
      return BigInt(v);
    }
    if (first === U32_MARKER) {
      this.need(4);
      const v = this.view.getUint32(this.pos, true);
      this.pos += 4;
      return BigInt(v);
    }
    if (first === U64_MARKER) {
      this.need(8);
      const v = this.view.getBigUint64(this.pos, true);
      this.pos += 8;
      return v;
    }
    throw new DecodeError('malformed', 'integer out of range');
  }

  /**
   * A length or count (a varint u64) of items at least `itemSize` bytes
   * each, checked against the bytes left.
   * @param {number} itemSize
   */
  length(itemSize) {
    const n = this.varint64();
    if (n * BigInt(itemSize) > BigInt(this.remaining)) {
      throw new DecodeError('truncated', 'a length runs past the end of the frame');
    }
    return Number(n);
  }

  f32() {
    this.need(4);
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }

  u32le() {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  /** An unsigned LEB128 u32: at most 5 bytes, no overlong form. */
  leb128() {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const byte = this.u8();
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) {
        if (shift > 0 && byte === 0) throw new DecodeError('malformed', 'overlong integer');
        if (value > 0xffff_ffff) throw new DecodeError('malformed', 'integer out of range');
        return value;
      }
    }
    throw new DecodeError('malformed', 'integer longer than 5 bytes');
  }

  /** Everything left. */
  rest() {
    return this.raw(this.remaining);
  }
}

// ---- value codecs ----

/**
 * Encodes and decodes one wire type.
 * @template T
 * @typedef {{enc: (w: Writer, v: T) => void, dec: (r: Reader) => T}} Codec
 */

/** @type {Codec<number>} */
const u8 = {
  enc: (w, v) => {
    if (!Number.isInteger(v) || v < 0 || v > 255) throw new EncodeError(`${v} does not fit a u8`);
    w.u8(v);
  },
  dec: (r) => r.u8(),
};

/** @type {Codec<boolean>} */
const bool = {
  enc: (w, v) => w.u8(v ? 1 : 0),
  dec: (r) => {
    const b = r.u8();
    if (b > 1) throw new DecodeError('malformed', 'invalid boolean');
    return b === 1;
  },
};

/** @type {Codec<number>} */
const u16 = { enc: (w, v) => w.varint(v, 16), dec: (r) => r.varint(16) };
/** @type {Codec<number>} */
const u32 = { enc: (w, v) => w.varint(v, 32), dec: (r) => r.varint(32) };
/** The most ticks a second a room runs (`TickRate::MAX_HZ`). */
const MAX_TICK_RATE = 240;
/** @type {Codec<number>} a tick rate, 1..=240: anything else is malformed */
const tickRate = {
  enc: (w, v) => w.varint(v, 16),
  dec: (r) => {
    const hz = r.varint(16);
    if (hz < 1 || hz > MAX_TICK_RATE) throw new DecodeError('malformed', `a tick rate of ${hz} Hz is outside 1..=${MAX_TICK_RATE}`);
    return hz;
  },
};
/** @type {Codec<bigint>} */
const u64 = {
  enc: (w, v) => w.varint(v, 64),
  dec: (r) => r.varint64(),
};

/**
 * `RoomId`: a u64 on the wire, a number here. Every id is below 2^53 (the
 * node's 21-bit tag above the 32-bit room number), so a larger one is
 * malformed rather than rounded.
 * @type {Codec<number>}
 */
const roomId = {
  enc: (w, v) => {
    if (!Number.isSafeInteger(v) || v < 0) throw new EncodeError(`${v} is not a room id (0..=${MAX_ROOM_ID})`);
    w.varint(v, 64);
  },
  dec: (r) => {
    const id = r.varint64();
    if (id > BigInt(MAX_ROOM_ID)) throw new DecodeError('malformed', `room id ${id} is above 2^53 - 1`);
    return Number(id);
  },
};

/** @type {Codec<Uint8Array>} */
const bytes = {
  enc: (w, v) => {
    if (!(v instanceof Uint8Array)) throw new EncodeError('bytes must be a Uint8Array');
    w.varint(v.length, 64);
    w.raw(v);
  },
  dec: (r) => r.raw(r.length(1)),
};

/** @type {Codec<string>} */
const string = {
  enc: (w, v) => {
    if (typeof v !== 'string') throw new EncodeError('a string field holds a non-string');
    bytes.enc(w, utf8Encoder.encode(v));
  },
  dec: (r) => {
    const raw = r.raw(r.length(1));
    try {
      return utf8Decoder.decode(raw);
    } catch {
      throw new DecodeError('malformed', 'invalid UTF-8 in a string');
    }
  },
};

/**
 * `[u8; n]`: exactly n bytes, no length.
 * @param {number} n
 * @returns {Codec<Uint8Array>}
 */
function fixed(n) {
  return {
    enc: (w, v) => {
      if (!(v instanceof Uint8Array) || v.length !== n) {
        throw new EncodeError(`expected ${n} bytes`);
      }
      w.raw(v);
    },
    dec: (r) => r.raw(n),
  };
}

/**
 * `RoomCode`: six bytes, carried as a string of six characters. A decoded
 * code holds whatever bytes the peer sent (each byte one character).
 * @type {Codec<string>}
 */
const roomCode = {
  enc: (w, v) => {
    if (typeof v !== 'string' || v.length !== 6) throw new EncodeError('a room code has 6 characters');
    for (let i = 0; i < 6; i++) {
      const c = v.charCodeAt(i);
      if (c > 0xff) throw new EncodeError('a room code is ASCII');
      w.u8(c);
    }
  },
  dec: (r) => String.fromCharCode(...r.raw(6)),
};

/**
 * @template T
 * @param {Codec<T>} inner
 * @returns {Codec<T | null>}
 */
function option(inner) {
  return {
    enc: (w, v) => {
      if (v === null || v === undefined) {
        w.u8(0);
      } else {
        w.u8(1);
        inner.enc(w, v);
      }
    },
    dec: (r) => {
      const tag = r.u8();
      if (tag === 0) return null;
      if (tag === 1) return inner.dec(r);
      throw new DecodeError('malformed', 'unknown enum value');
    },
  };
}

/**
 * @template T
 * @param {Codec<T>} inner
 * @returns {Codec<T[]>}
 */
function vec(inner) {
  return {
    enc: (w, v) => {
      if (!Array.isArray(v)) throw new EncodeError('a list field holds a non-array');
      w.varint(v.length, 64);
      for (const item of v) inner.enc(w, item);
    },
    dec: (r) => {
      const n = r.length(1);
      /** @type {T[]} */
      const out = [];
      for (let i = 0; i < n; i++) out.push(inner.dec(r));
      return out;
    },
  };
}

/**
 * Orders strings by their UTF-8 bytes (Rust's `BTreeMap<String, _>`).
 * @param {Uint8Array} a
 * @param {Uint8Array} b
 */
function compareBytes(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/**
 * `map` (string to string), sorted by key bytes. Decoding accepts any
 * order (a later duplicate wins), as bincode does; the result has no
 * prototype, so any key is an ordinary property.
 * @type {Codec<import('./protocol.js').StringMap>}
 */
const stringMap = {
  enc: (w, v) => {
    const entries = Object.entries(v ?? {}).map(([k, val]) => {
      if (typeof val !== 'string') throw new EncodeError(`map value for ${k} is not a string`);
      return /** @type {[Uint8Array, Uint8Array]} */ ([utf8Encoder.encode(k), utf8Encoder.encode(val)]);
    });
    entries.sort((x, y) => compareBytes(x[0], y[0]));
    w.varint(entries.length, 64);
    for (const [k, val] of entries) {
      bytes.enc(w, k);
      bytes.enc(w, val);
    }
  },
  dec: (r) => {
    const n = r.length(2);
    /** @type {import('./protocol.js').StringMap} */
    const out = Object.create(null);
    for (let i = 0; i < n; i++) {
      const k = string.dec(r);
      out[k] = string.dec(r);
    }
    return out;
  },
};

/**
 * A unit enum: the variant index as a varint u32, carried as its name.
 * @template {string} N
 * @param {readonly N[]} names
 * @param {string} what
 * @returns {Codec<N>}
 */
function unitEnum(names, what) {
  return {
    enc: (w, v) => {
      const i = names.indexOf(v);
      if (i < 0) throw new EncodeError(`${String(v)} is not a ${what}`);
      w.varint(i, 32);
    },
    dec: (r) => {
      const i = r.varint(32);
      if (i >= names.length) throw new DecodeError('malformed', 'unknown enum value');
      return names[i];
    },
  };
}

/**
 * A struct: its fields in order. Encoding reads `fields` from the object;
 * decoding builds one with `type` set when given.
 * @param {[string, Codec<any>][]} fields
 * @param {string} [type]
 * @returns {Codec<any>}
 */
function struct(fields, type) {
  return {
    enc: (w, v) => {
      for (const [name, codec] of fields) codec.enc(w, v[name]);
    },
    dec: (r) => {
      /** @type {Record<string, unknown>} */
      const out = type === undefined ? {} : { type };
      for (const [name, codec] of fields) out[name] = codec.dec(r);
      return out;
    },
  };
}

/**
 * An enum with fields: the variant index as a varint u32, then the
 * variant's struct; carried as an object with `type` the variant name.
 * @param {[string, [string, Codec<any>][]][]} variants
 * @param {string} what
 * @returns {Codec<any>}
 */
function taggedEnum(variants, what) {
  const bodies = variants.map(([name, fields]) => struct(fields, name));
  return {
    enc: (w, v) => {
      const i = variants.findIndex(([name]) => name === v?.type);
      if (i < 0) throw new EncodeError(`${String(v?.type)} is not a ${what}`);
      w.varint(i, 32);
      bodies[i].enc(w, v);
    },
    dec: (r) => {
      const i = r.varint(32);
      if (i >= variants.length) throw new DecodeError('malformed', 'unknown enum value');
      return bodies[i].dec(r);
    },
  };
}

// ---- the protocol's types ----

const closeReason = unitEnum(CLOSE_REASONS, 'CloseReason');
const errorCode = unitEnum(ERROR_CODES, 'ErrorCode');
const visibility = unitEnum(VISIBILITIES, 'Visibility');
const role = unitEnum(ROLES, 'Role');
const leaveReason = unitEnum(LEAVE_REASONS, 'LeaveReason');
const resumeToken = fixed(16);

const roomInfo = struct([
  ['id', roomId],
  ['code', option(roomCode)],
  ['name', string],
  ['game', string],
  ['visibility', visibility],
  ['players', u16],
  ['maxPlayers', u16],
  ['spectators', u16],
  ['options', stringMap],
  ['metadata', stringMap],
  ['locked', bool],
]);

const roomFilter = struct([
  ['game', option(string)],
  ['metadata', stringMap],
]);

const roomTarget = taggedEnum(
  [
    ['Id', [['id', roomId]]],
    ['Code', [['code', roomCode]]],
  ],
  'RoomTarget',
);

const eventOutcome = taggedEnum(
  [
    ['Data', [['data', bytes]]],
    [
      'Error',
      [
        ['code', errorCode],
        ['message', string],
      ],
    ],
  ],
  'EventOutcome',
);

/** @type {[string, Codec<any>][]} */
const roomEventFields = [
  ['name', string],
  ['data', bytes],
  ['ackId', option(u32)],
];
/** @type {[string, Codec<any>][]} */
const eventReplyFields = [
  ['ackId', u32],
  ['outcome', eventOutcome],
];
/** @type {[string, Codec<any>][]} */
const pingFields = [['sentAtUs', u64]];
/** @type {[string, Codec<any>][]} */
const pongFields = [
  ['pingSentAtUs', u64],
  ['sentAtUs', u64],
  ['heldUs', u32],
];
/** @type {[string, Codec<any>][]} */
const closeFields = [
  ['reason', closeReason],
  ['message', string],
];

/** Client message kinds, in wire order. @type {[string, [string, Codec<any>][]][]} */
const CLIENT_MESSAGES = [
  [
    'Hello',
    [
      ['protocolVersion', u16],
      ['clientName', string],
      ['authTicket', option(string)],
      ['resumeToken', option(resumeToken)],
      ['resumeFrom', option(u32)],
    ],
  ],
  [
    'ListRooms',
    [
      ['requestId', u32],
      ['filter', roomFilter],
    ],
  ],
  [
    'CreateRoom',
    [
      ['requestId', u32],
      ['game', option(string)],
      ['name', string],
      ['visibility', visibility],
      ['maxPlayers', u16],
      ['options', stringMap],
      ['joinAs', option(role)],
      ['joinOptions', stringMap],
    ],
  ],
  [
    'JoinRoom',
    [
      ['requestId', u32],
      ['target', roomTarget],
      ['role', role],
      ['joinOptions', stringMap],
    ],
  ],
  [
    'QuickJoin',
    [
      ['requestId', u32],
      ['game', option(string)],
      ['options', stringMap],
      ['metadata', stringMap],
      ['joinOptions', stringMap],
    ],
  ],
  ['LeaveRoom', [['requestId', u32]]],
  [
    'Inputs',
    [
      ['newestSeq', u32],
      ['inputs', vec(bytes)],
      ['ack', option(u32)],
    ],
  ],
  ['Ack', [['tick', u32]]],
  ['Event', roomEventFields],
  ['EventReply', eventReplyFields],
  ['Ping', pingFields],
  ['Pong', pongFields],
  ['Close', closeFields],
  [
    'ClaimSeat',
    [
      ['requestId', u32],
      ['reservation', string],
    ],
  ],
];

/** Server message kinds but `Update` and `Redirect`, in wire order. @type {[string, [string, Codec<any>][]][]} */
const SERVER_MESSAGES = [
  [
    'Welcome',
    [
      ['protocolVersion', u16],
      ['player', u32],
      ['resumeToken', resumeToken],
      ['resumed', bool],
      ['heartbeatIntervalMs', u32],
      ['reconnectGraceMs', u32],
    ],
  ],
  ['Rejected', closeFields],
  [
    'RoomList',
    [
      ['requestId', u32],
      ['rooms', vec(roomInfo)],
    ],
  ],
  [
    'RoomCreated',
    [
      ['requestId', u32],
      ['room', roomInfo],
    ],
  ],
  [
    'Joined',
    [
      ['requestId', option(u32)],
      ['room', roomInfo],
      ['role', role],
      ['tickRate', tickRate],
      ['tickZeroUnixUs', u64],
      ['tick', u32],
    ],
  ],
  [
    'Left',
    [
      ['requestId', option(u32)],
      ['room', roomId],
      ['reason', leaveReason],
      ['message', string],
    ],
  ],
  ['Event', roomEventFields],
  ['EventReply', eventReplyFields],
  ['Ping', pingFields],
  ['Pong', pongFields],
  [
    'Error',
    [
      ['requestId', option(u32)],
      ['code', errorCode],
      ['message', string],
    ],
  ],
  ['Close', closeFields],
];

/** `Redirect`'s fields, after its kind byte (it follows the `Update`). */
const redirect = struct(
  [
    ['requestId', u32],
    ['node', string],
    ['ws', string],
    ['quic', option(string)],
    ['reservation', string],
    ['validForMs', u32],
  ],
  'Redirect',
);

const clientCodecs = CLIENT_MESSAGES.map(([name, fields]) => struct(fields, name));
const serverCodecs = SERVER_MESSAGES.map(([name, fields]) => struct(fields, name));
const clientKinds = new Map(CLIENT_MESSAGES.map(([name], i) => [name, i]));
const serverKinds = new Map(SERVER_MESSAGES.map(([name], i) => [name, i]));

/**
 * @param {Uint8Array} frame
 * @param {number} limit
 * @param {number} kinds
 */
function checkFrame(frame, limit, kinds) {
  if (!(frame instanceof Uint8Array)) throw new DecodeError('malformed', 'a frame is a Uint8Array');
  const cap = Math.min(limit, HARD_FRAME_LIMIT);
  if (frame.length > cap) {
    throw new DecodeError('too_large', `frame of ${frame.length} bytes exceeds the ${cap}-byte limit`);
  }
  if (frame.length === 0) throw new DecodeError('empty', 'empty frame');
  if (frame[0] >= kinds) throw new DecodeError('unknown_kind', `unknown message kind ${frame[0]}`);
}

/** @param {Reader} r */
function checkEnd(r) {
  if (r.remaining > 0) {
    throw new DecodeError('trailing_bytes', `${r.remaining} trailing bytes after the message`);
  }
}

/**
 * Any error a decoder raises, as a `DecodeError` (a bug here must not
 * escape as something else).
 * @param {unknown} e
 * @returns {never}
 */
function rethrow(e) {
  if (e instanceof DecodeError) throw e;
  throw new DecodeError('malformed', `invalid value: ${e instanceof Error ? e.message : String(e)}`);
}

/**
 * The frame for a client message.
 * @param {import('./protocol.js').ClientMessage} message
 * @returns {Uint8Array}
 */
export function encodeClient(message) {
  const kind = clientKinds.get(message?.type);
  if (kind === undefined) throw new EncodeError(`${String(message?.type)} is not a client message`);
  const w = new Writer();
  w.u8(kind);
  clientCodecs[kind].enc(w, message);
  return w.finish();
}

/**
 * Decodes one client frame of at most `limit` bytes.
 * @param {Uint8Array} frame
 * @param {number} [limit]
 * @returns {import('./protocol.js').ClientMessage}
 */
export function decodeClient(frame, limit = MAX_CLIENT_FRAME) {
  checkFrame(frame, limit, CLIENT_MESSAGES.length);
  try {
    const r = new Reader(frame);
    const kind = r.u8();
    const message = clientCodecs[kind].dec(r);
    checkEnd(r);
    return message;
  } catch (e) {
    return rethrow(e);
  }
}

/**
 * The frame for a server message (an `Update` in its own layout).
 * @param {import('./protocol.js').ServerMessage} message
 * @returns {Uint8Array}
 */
export function encodeServer(message) {
  if (message?.type === 'Update') {
    const w = new Writer(16 + message.delta.length);
    writeUpdateHeader(w, message);
    w.raw(message.delta);
    return w.finish();
  }
  if (message?.type === 'Redirect') {
    const w = new Writer();
    w.u8(REDIRECT_KIND);
    redirect.enc(w, message);
    return w.finish();
  }
  const kind = serverKinds.get(message?.type);
  if (kind === undefined) throw new EncodeError(`${String(message?.type)} is not a server message`);
  const w = new Writer();
  w.u8(kind);
  serverCodecs[kind].enc(w, message);
  return w.finish();
}

/**
 * @param {Writer} w
 * @param {import('./protocol.js').Update} update
 */
function writeUpdateHeader(w, update) {
  let age = 0;
  if (update.baseline !== null) {
    age = update.tick - update.baseline;
    if (!(age > 0)) throw new EncodeError('update baseline must be before its tick');
  }
  w.u8(UPDATE_KIND);
  w.leb128(update.tick);
  w.leb128(age);
  w.leb128(update.latenessUs);
  w.u32le(update.checksum);
}

/**
 * Decodes one server frame of at most `limit` bytes.
 * @param {Uint8Array} frame
 * @param {number} [limit]
 * @returns {import('./protocol.js').ServerMessage}
 */
export function decodeServer(frame, limit = MAX_SERVER_FRAME) {
  checkFrame(frame, limit, REDIRECT_KIND + 1);
  try {
    const r = new Reader(frame);
    const kind = r.u8();
    if (kind === UPDATE_KIND) return decodeUpdate(r);
    const message = kind === REDIRECT_KIND ? redirect.dec(r) : serverCodecs[kind].dec(r);
    checkEnd(r);
    return message;
  } catch (e) {
    return rethrow(e);
  }
}

/**
 * @param {Reader} r positioned after the kind byte
 * @returns {import('./protocol.js').Update}
 */
function decodeUpdate(r) {
  const tick = r.leb128();
  const age = r.leb128();
  const latenessUs = r.leb128();
  const checksum = r.u32le();
  if (age > tick) throw new DecodeError('malformed', 'baseline before tick 0');
  return {
    type: 'Update',
    tick,
    baseline: age === 0 ? null : tick - age,
    latenessUs,
    checksum,
    delta: r.rest(),
  };
}

// ---- the arena's input ----

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
export function encodeArenaInput(input) {
  const w = new Writer(13);
  w.f32(input.moveX);
  w.f32(input.moveY);
  w.f32(input.aim);
  bool.enc(w, input.fire);
  return w.finish();
}

/**
 * Decodes an arena input.
 * @param {Uint8Array} bytes
 * @returns {ArenaInput}
 */
export function decodeArenaInput(bytes) {
  try {
    const r = new Reader(bytes);
    const input = { moveX: r.f32(), moveY: r.f32(), aim: r.f32(), fire: bool.dec(r) };
    checkEnd(r);
    return input;
  } catch (e) {
    return rethrow(e);
  }
}

/**
 * A frame as lowercase hex (golden vectors are written this way).
 * @param {Uint8Array} bytes
 */
export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Bytes from hex (whitespace ignored).
 * @param {string} hex
 * @returns {Uint8Array}
 */
export function fromHex(hex) {
  const clean = hex.replace(/\s+/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) {
    throw new DecodeError('malformed', 'not hex');
  }
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}
