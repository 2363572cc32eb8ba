/** @typedef {typeof CLOSE_REASONS[number]} CloseReason */
/** @typedef {typeof ERROR_CODES[number]} ErrorCode */
/** @typedef {typeof VISIBILITIES[number]} Visibility */
/** @typedef {typeof ROLES[number]} Role */
/** @typedef {typeof LEAVE_REASONS[number]} LeaveReason */
/**
 * The WebSocket close code (and QUIC / WebTransport application error
 * code) of a reason: 1000 `Normal`, 1001 `ServerShutdown`, 4000 + index
 * otherwise.
 * @param {CloseReason} reason
 * @returns {number}
 */
export function closeCode(reason: CloseReason): number;
/**
 * The reason whose close code is `code`, if any.
 * @param {number | null | undefined} code
 * @returns {CloseReason | null}
 */
export function closeReasonFromCode(code: number | null | undefined): CloseReason | null;
/**
 * Parses an invite code typed by a person: case-insensitive, exactly six
 * characters of the alphabet. Returns the code in upper case, or null.
 * @param {string} text
 * @returns {string | null}
 */
export function parseRoomCode(text: string): string | null;
/**
 * String keys and values: `GameOptions` and `Metadata` on the wire. On
 * the wire a map is sorted by the keys' UTF-8 bytes; the encoder sorts.
 * @typedef {Record<string, string>} StringMap
 */
/**
 * @typedef {object} RoomInfo
 * @property {number} id up to 2^53 - 1 (`MAX_ROOM_ID`)
 * @property {string | null} code invite code (members and the creator only)
 * @property {string} name
 * @property {string} game
 * @property {Visibility} visibility
 * @property {number} players
 * @property {number} maxPlayers
 * @property {number} spectators
 * @property {StringMap} options
 * @property {StringMap} metadata
 * @property {boolean} locked
 */
/**
 * @typedef {object} RoomFilter
 * @property {string | null} game
 * @property {StringMap} metadata
 */
/** @typedef {{type: 'Id', id: number} | {type: 'Code', code: string}} RoomTarget */
/** @typedef {{type: 'Data', data: Uint8Array} | {type: 'Error', code: ErrorCode, message: string}} EventOutcome */
/**
 * @typedef {object} Hello
 * @property {'Hello'} type
 * @property {number} protocolVersion
 * @property {string} clientName
 * @property {string | null} authTicket
 * @property {Uint8Array | null} resumeToken 16 bytes
 * @property {number | null} resumeFrom
 */
/** @typedef {{type: 'ListRooms', requestId: number, filter: RoomFilter}} ListRooms */
/**
 * @typedef {object} CreateRoom
 * @property {'CreateRoom'} type
 * @property {number} requestId
 * @property {string | null} game
 * @property {string} name
 * @property {Visibility} visibility
 * @property {number} maxPlayers
 * @property {StringMap} options
 * @property {Role | null} joinAs
 * @property {StringMap} joinOptions
 */
/** @typedef {{type: 'JoinRoom', requestId: number, target: RoomTarget, role: Role, joinOptions: StringMap}} JoinRoom */
/**
 * @typedef {object} QuickJoin
 * @property {'QuickJoin'} type
 * @property {number} requestId
 * @property {string | null} game
 * @property {StringMap} options
 * @property {StringMap} metadata
 * @property {StringMap} joinOptions
 */
/** @typedef {{type: 'LeaveRoom', requestId: number}} LeaveRoom */
/** @typedef {{type: 'Inputs', newestSeq: number, inputs: Uint8Array[], ack: number | null}} Inputs */
/** @typedef {{type: 'Ack', tick: number}} Ack */
/** @typedef {{type: 'Event', name: string, data: Uint8Array, ackId: number | null}} RoomEvent */
/** @typedef {{type: 'EventReply', ackId: number, outcome: EventOutcome}} EventReply */
/** @typedef {{type: 'Ping', sentAtUs: bigint}} Ping */
/** @typedef {{type: 'Pong', pingSentAtUs: bigint, sentAtUs: bigint, heldUs: number}} Pong */
/** @typedef {{type: 'Close', reason: CloseReason, message: string}} Close */
/**
 * Claims the seat a `Redirect` reserved, on the node it named; valid once
 * welcomed and in no room. Answered like the request the redirect
 * answered.
 * @typedef {object} ClaimSeat
 * @property {'ClaimSeat'} type
 * @property {number} requestId the original request's id (echoed in the answer)
 * @property {string} reservation the redirect's reservation, as received
 */
/**
 * A message from a client.
 * @typedef {Hello | ListRooms | CreateRoom | JoinRoom | QuickJoin | LeaveRoom | Inputs | Ack | RoomEvent | EventReply | Ping | Pong | Close | ClaimSeat} ClientMessage
 */
/**
 * @typedef {object} Welcome
 * @property {'Welcome'} type
 * @property {number} protocolVersion
 * @property {number} player
 * @property {Uint8Array} resumeToken 16 bytes
 * @property {boolean} resumed
 * @property {number} heartbeatIntervalMs
 * @property {number} reconnectGraceMs
 */
/** @typedef {{type: 'Rejected', reason: CloseReason, message: string}} Rejected */
/** @typedef {{type: 'RoomList', requestId: number, rooms: RoomInfo[]}} RoomList */
/** @typedef {{type: 'RoomCreated', requestId: number, room: RoomInfo}} RoomCreated */
/**
 * @typedef {object} Joined
 * @property {'Joined'} type
 * @property {number | null} requestId absent when the seat came back by resuming
 * @property {RoomInfo} room
 * @property {Role} role
 * @property {number} tickRate ticks per second
 * @property {bigint} tickZeroUnixUs when tick 0 was due, microseconds since the Unix epoch
 * @property {number} tick the room's tick when joined
 */
/** @typedef {{type: 'Left', requestId: number | null, room: number, reason: LeaveReason, message: string}} Left */
/** @typedef {{type: 'Error', requestId: number | null, code: ErrorCode, message: string}} ErrorMessage */
/**
 * One tick's world: a delta against `baseline` (null: a full snapshot).
 * @typedef {object} Update
 * @property {'Update'} type
 * @property {number} tick
 * @property {number | null} baseline
 * @property {number} latenessUs
 * @property {number} checksum u32
 * @property {Uint8Array} delta
 */
/**
 * The answer to a `CreateRoom`, `JoinRoom` or `QuickJoin` whose room is
 * (or will be created) on another node of the cluster: connect to that
 * node, greet it as a new player (no resume token), and send a
 * `ClaimSeat` with the same request id and the reservation; that node's
 * answer is the request's answer.
 * @typedef {object} Redirect
 * @property {'Redirect'} type
 * @property {number} requestId the request answered
 * @property {string} node the id of the node to go to
 * @property {string} ws its WebSocket URL (`ws://` or `wss://`)
 * @property {string | null} quic its QUIC address (`host:port`), when it serves QUIC
 * @property {string} reservation the seat reservation: opaque, signed by the cluster, valid for one claim
 * @property {number} validForMs how long the reservation stays valid, from when this was sent
 */
/**
 * A message from the server.
 * @typedef {Welcome | Rejected | RoomList | RoomCreated | Joined | Left | RoomEvent | EventReply | Ping | Pong | ErrorMessage | Close | Update | Redirect} ServerMessage
 */
/**
 * The request a server message answers, if it answers one.
 * @param {ServerMessage} message
 * @returns {number | null}
 */
export function answeredRequest(message: ServerMessage): number | null;
/** The protocol version this library speaks. */
export const PROTOCOL_VERSION: 2;
/** The largest room id (2^53 - 1): 21 bits of node tag above 32 bits of room number. */
export const MAX_ROOM_ID: number;
/** `CloseReason` names, in wire order (the index is the variant index). */
export const CLOSE_REASONS: readonly ["Normal", "ServerShutdown", "ProtocolViolation", "MalformedFrame", "FrameTooLarge", "VersionMismatch", "HandshakeTimeout", "IdleTimeout", "Flooding", "SlowConsumer", "ServerFull", "AuthFailed", "Replaced", "UnsupportedFrame"];
/** `ErrorCode` names, in wire order. */
export const ERROR_CODES: readonly ["RoomNotFound", "RoomFull", "TooManyRooms", "NotInRoom", "AlreadyInRoom", "InvalidRequest", "BadOptions", "JoinRefused", "InvalidInput", "Stale", "RateLimited", "NotAPlayer", "RoomLocked", "UnknownGame", "EventTooLarge", "EventRefused", "ServerDraining", "ReservationRefused"];
/** `Visibility` names, in wire order. */
export const VISIBILITIES: readonly ["Public", "Private"];
/** `Role` names, in wire order. */
export const ROLES: readonly ["Player", "Spectator"];
/** `LeaveReason` names, in wire order. */
export const LEAVE_REASONS: readonly ["Requested", "RoomClosed", "Kicked"];
/** Characters of an invite code: no 0/O, 1/I/L. */
export const ROOM_CODE_ALPHABET: "23456789ABCDEFGHJKMNPQRSTUVWXYZ";
export type CloseReason = (typeof CLOSE_REASONS)[number];
export type ErrorCode = (typeof ERROR_CODES)[number];
export type Visibility = (typeof VISIBILITIES)[number];
export type Role = (typeof ROLES)[number];
export type LeaveReason = (typeof LEAVE_REASONS)[number];
/**
 * String keys and values: `GameOptions` and `Metadata` on the wire. On
 * the wire a map is sorted by the keys' UTF-8 bytes; the encoder sorts.
 */
export type StringMap = Record<string, string>;
export type RoomInfo = {
    /**
     * up to 2^53 - 1 (`MAX_ROOM_ID`)
     */
    id: number;
    /**
     * invite code (members and the creator only)
     */
    code: string | null;
    name: string;
    game: string;
    visibility: Visibility;
    players: number;
    maxPlayers: number;
    spectators: number;
    options: StringMap;
    metadata: StringMap;
    locked: boolean;
};
export type RoomFilter = {
    game: string | null;
    metadata: StringMap;
};
export type RoomTarget = {
    type: "Id";
    id: number;
} | {
    type: "Code";
    code: string;
};
export type EventOutcome = {
    type: "Data";
    data: Uint8Array;
} | {
    type: "Error";
    code: ErrorCode;
    message: string;
};
export type Hello = {
    type: "Hello";
    protocolVersion: number;
    clientName: string;
    authTicket: string | null;
    /**
     * 16 bytes
     */
    resumeToken: Uint8Array | null;
    resumeFrom: number | null;
};
export type ListRooms = {
    type: "ListRooms";
    requestId: number;
    filter: RoomFilter;
};
export type CreateRoom = {
    type: "CreateRoom";
    requestId: number;
    game: string | null;
    name: string;
    visibility: Visibility;
    maxPlayers: number;
    options: StringMap;
    joinAs: Role | null;
    joinOptions: StringMap;
};
export type JoinRoom = {
    type: "JoinRoom";
    requestId: number;
    target: RoomTarget;
    role: Role;
    joinOptions: StringMap;
};
export type QuickJoin = {
    type: "QuickJoin";
    requestId: number;
    game: string | null;
    options: StringMap;
    metadata: StringMap;
    joinOptions: StringMap;
};
export type LeaveRoom = {
    type: "LeaveRoom";
    requestId: number;
};
export type Inputs = {
    type: "Inputs";
    newestSeq: number;
    inputs: Uint8Array[];
    ack: number | null;
};
export type Ack = {
    type: "Ack";
    tick: number;
};
export type RoomEvent = {
    type: "Event";
    name: string;
    data: Uint8Array;
    ackId: number | null;
};
export type EventReply = {
    type: "EventReply";
    ackId: number;
    outcome: EventOutcome;
};
export type Ping = {
    type: "Ping";
    sentAtUs: bigint;
};
export type Pong = {
    type: "Pong";
    pingSentAtUs: bigint;
    sentAtUs: bigint;
    heldUs: number;
};
export type Close = {
    type: "Close";
    reason: CloseReason;
    message: string;
};
/**
 * Claims the seat a `Redirect` reserved, on the node it named; valid once
 * welcomed and in no room. Answered like the request the redirect
 * answered.
 */
export type ClaimSeat = {
    type: "ClaimSeat";
    /**
     * the original request's id (echoed in the answer)
     */
    requestId: number;
    /**
     * the redirect's reservation, as received
     */
    reservation: string;
};
/**
 * A message from a client.
 */
export type ClientMessage = Hello | ListRooms | CreateRoom | JoinRoom | QuickJoin | LeaveRoom | Inputs | Ack | RoomEvent | EventReply | Ping | Pong | Close | ClaimSeat;
export type Welcome = {
    type: "Welcome";
    protocolVersion: number;
    player: number;
    /**
     * 16 bytes
     */
    resumeToken: Uint8Array;
    resumed: boolean;
    heartbeatIntervalMs: number;
    reconnectGraceMs: number;
};
export type Rejected = {
    type: "Rejected";
    reason: CloseReason;
    message: string;
};
export type RoomList = {
    type: "RoomList";
    requestId: number;
    rooms: RoomInfo[];
};
export type RoomCreated = {
    type: "RoomCreated";
    requestId: number;
    room: RoomInfo;
};
export type Joined = {
    type: "Joined";
    /**
     * absent when the seat came back by resuming
     */
    requestId: number | null;
    room: RoomInfo;
    role: Role;
    /**
     * ticks per second
     */
    tickRate: number;
    /**
     * when tick 0 was due, microseconds since the Unix epoch
     */
    tickZeroUnixUs: bigint;
    /**
     * the room's tick when joined
     */
    tick: number;
};
export type Left = {
    type: "Left";
    requestId: number | null;
    room: number;
    reason: LeaveReason;
    message: string;
};
export type ErrorMessage = {
    type: "Error";
    requestId: number | null;
    code: ErrorCode;
    message: string;
};
/**
 * One tick's world: a delta against `baseline` (null: a full snapshot).
 */
export type Update = {
    type: "Update";
    tick: number;
    baseline: number | null;
    latenessUs: number;
    /**
     * u32
     */
    checksum: number;
    delta: Uint8Array;
};
/**
 * The answer to a `CreateRoom`, `JoinRoom` or `QuickJoin` whose room is
 * (or will be created) on another node of the cluster: connect to that
 * node, greet it as a new player (no resume token), and send a
 * `ClaimSeat` with the same request id and the reservation; that node's
 * answer is the request's answer.
 */
export type Redirect = {
    type: "Redirect";
    /**
     * the request answered
     */
    requestId: number;
    /**
     * the id of the node to go to
     */
    node: string;
    /**
     * its WebSocket URL (`ws://` or `wss://`)
     */
    ws: string;
    /**
     * its QUIC address (`host:port`), when it serves QUIC
     */
    quic: string | null;
    /**
     * the seat reservation: opaque, signed by the cluster, valid for one claim
     */
    reservation: string;
    /**
     * how long the reservation stays valid, from when this was sent
     */
    validForMs: number;
};
/**
 * A message from the server.
 */
export type ServerMessage = Welcome | Rejected | RoomList | RoomCreated | Joined | Left | RoomEvent | EventReply | Ping | Pong | ErrorMessage | Close | Update | Redirect;
