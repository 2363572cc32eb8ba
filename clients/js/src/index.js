// tickwire's JavaScript client library, for browsers and Node: the wire
// codec, the world replica, the sans-IO session, the interpolation buffer
// and the `Client` that drives them over WebTransport or WebSocket. See
// README.md for a tour.

export { Client, connect, RESERVED_EVENTS, CONNECT_TIMEOUT_MS, EMIT_TIMEOUT_MS, encodePayload, decodePayload } from './client.js';
export {
  TickwireError,
  DecodeError,
  EncodeError,
  DeltaError,
  ReplicaError,
  SessionError,
  RequestError,
  EmitError,
  TransportError,
  ConnectionError,
} from './errors.js';
export {
  PROTOCOL_VERSION,
  MAX_ROOM_ID,
  CLOSE_REASONS,
  ERROR_CODES,
  VISIBILITIES,
  ROLES,
  LEAVE_REASONS,
  ROOM_CODE_ALPHABET,
  closeCode,
  closeReasonFromCode,
  parseRoomCode,
  answeredRequest,
} from './protocol.js';
export {
  encodeClient,
  decodeClient,
  encodeServer,
  decodeServer,
  encodeArenaInput,
  decodeArenaInput,
  toHex,
  fromHex,
  Reader,
  Writer,
  MAX_CLIENT_FRAME,
  MAX_SERVER_FRAME,
  HARD_FRAME_LIMIT,
  UPDATE_KIND,
  REDIRECT_KIND,
} from './codec.js';
export { BitReader, BitWriter, zigzag, unzigzag } from './bits.js';
export { applyDelta, encodeDelta } from './delta.js';
export {
  ARENA_SCHEMA,
  ARENA_KIND,
  ARENA_PLAYER_FIELD,
  ARENA_PROJECTILE_FIELD,
  ARENA_POSITION_SCALE,
  ARENA_ANGLE_STEPS,
  CHAT_SCHEMA,
  BUILTIN_SCHEMAS,
  validateSchema,
  extrapolate,
  extrapolateEntity,
} from './schema.js';
export { MAX_FIELDS, entity, world, checksum, findEntity } from './world.js';
export { WorldHistory } from './history.js';
export { Replica, REPLICA_HISTORY } from './replica.js';
export { roomTarget, requestMessage, expectedAnswer } from './request.js';
export {
  defaultReconnectPolicy,
  nominalDelay,
  Backoff,
  resumable,
  stillConnected,
  describeLost,
} from './reconnect.js';
export {
  ClientSession,
  defaultSessionConfig,
  hello,
  DATAGRAM_INPUT_REDUNDANCY,
  MAX_INPUT_REDUNDANCY,
  MAX_EVENT_NAME,
} from './session.js';
export { Interpolator, sampleAt } from './interpolation.js';
export { extrapolateEntityFractional, predictArenaPosition, ARENA_AREA_MAX } from './prediction.js';
export { openWebSocket } from './transport/websocket.js';
export {
  openWebTransport,
  FrameSplitter,
  lengthPrefixed,
  certificateHash,
  discoverWebTransport,
  webTransportInfoUrl,
} from './transport/webtransport.js';

/** @typedef {import('./protocol.js').ClientMessage} ClientMessage */
/** @typedef {import('./protocol.js').ServerMessage} ServerMessage */
/** @typedef {import('./protocol.js').CloseReason} CloseReason */
/** @typedef {import('./protocol.js').ErrorCode} ErrorCode */
/** @typedef {import('./protocol.js').RoomInfo} RoomInfo */
/** @typedef {import('./protocol.js').Joined} Joined */
/** @typedef {import('./protocol.js').Left} Left */
/** @typedef {import('./protocol.js').Update} Update */
/** @typedef {import('./protocol.js').Welcome} Welcome */
/** @typedef {import('./world.js').World} World */
/** @typedef {import('./world.js').Entity} Entity */
/** @typedef {import('./schema.js').Schema} Schema */
/** @typedef {import('./codec.js').ArenaInput} ArenaInput */
/** @typedef {import('./client.js').ClientOptions} ClientOptions */
/** @typedef {import('./client.js').ClientEvents} ClientEvents */
/** @typedef {import('./client.js').Reply} Reply */
/** @typedef {import("./session.js").SessionConfig} SessionConfig */
/** @typedef {import("./session.js").SessionSettings} SessionSettings */
/** @typedef {import('./session.js').SessionEvent} SessionEvent */
/** @typedef {import('./session.js').Now} Now */
/** @typedef {import('./reconnect.js').ReconnectPolicy} ReconnectPolicy */
/** @typedef {import('./reconnect.js').LostReason} LostReason */
/** @typedef {import('./interpolation.js').Sample} Sample */
/** @typedef {import('./transport/transport.js').Transport} Transport */
