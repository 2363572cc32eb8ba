/**
 * A room to create. Defaults: the server's default game, public, 16 seats,
 * no options, joined at once as a player.
 * @typedef {object} RoomSpec
 * @property {string} name display name, 1..=64 bytes
 * @property {string | null} [game]
 * @property {import('./protocol.js').Visibility} [visibility]
 * @property {number} [maxPlayers]
 * @property {import('./protocol.js').StringMap} [options]
 * @property {import('./protocol.js').Role | null} [joinAs] null: create without joining (answered with `RoomCreated`)
 * @property {import('./protocol.js').StringMap} [joinOptions]
 */
/**
 * What a quick-join looks for. Defaults: any room of the default game.
 * @typedef {object} QuickJoinSpec
 * @property {string | null} [game]
 * @property {import('./protocol.js').StringMap} [options]
 * @property {import('./protocol.js').StringMap} [metadata]
 * @property {import('./protocol.js').StringMap} [joinOptions]
 */
/**
 * Which room to join: a room id, an invite code (any case), or the wire
 * `RoomTarget`.
 * @typedef {number | string | import('./protocol.js').RoomTarget} JoinTarget
 */
/**
 * A lobby request.
 * @typedef {{type: 'listRooms', filter: import('./protocol.js').RoomFilter}
 *   | {type: 'createRoom', spec: RoomSpec}
 *   | {type: 'joinRoom', target: import('./protocol.js').RoomTarget, role: import('./protocol.js').Role, joinOptions: import('./protocol.js').StringMap}
 *   | {type: 'quickJoin', spec: QuickJoinSpec}
 *   | {type: 'leaveRoom'}} Request
 */
/** @typedef {'RoomList' | 'RoomCreated' | 'Joined' | 'Left'} Expect */
/**
 * A join target as the wire has it. Throws a RangeError for a code that
 * is not six characters of the alphabet.
 * @param {JoinTarget} target
 * @returns {import('./protocol.js').RoomTarget}
 */
export function roomTarget(target: JoinTarget): import("./protocol.js").RoomTarget;
/**
 * The message a request becomes under `requestId`.
 * @param {Request} request
 * @param {number} requestId
 * @returns {import('./protocol.js').ClientMessage}
 */
export function requestMessage(request: Request, requestId: number): import("./protocol.js").ClientMessage;
/**
 * The answer a request waits for.
 * @param {Request} request
 * @returns {Expect}
 */
export function expectedAnswer(request: Request): Expect;
/**
 * A room to create. Defaults: the server's default game, public, 16 seats,
 * no options, joined at once as a player.
 */
export type RoomSpec = {
    /**
     * display name, 1..=64 bytes
     */
    name: string;
    game?: string | null | undefined;
    visibility?: "Public" | "Private" | undefined;
    maxPlayers?: number | undefined;
    options?: Record<string, string> | undefined;
    /**
     * null: create without joining (answered with `RoomCreated`)
     */
    joinAs?: "Player" | "Spectator" | null | undefined;
    joinOptions?: Record<string, string> | undefined;
};
/**
 * What a quick-join looks for. Defaults: any room of the default game.
 */
export type QuickJoinSpec = {
    game?: string | null | undefined;
    options?: Record<string, string> | undefined;
    metadata?: Record<string, string> | undefined;
    joinOptions?: Record<string, string> | undefined;
};
/**
 * Which room to join: a room id, an invite code (any case), or the wire
 * `RoomTarget`.
 */
export type JoinTarget = number | string | import("./protocol.js").RoomTarget;
/**
 * A lobby request.
 */
export type Request = {
    type: "listRooms";
    filter: import("./protocol.js").RoomFilter;
} | {
    type: "createRoom";
    spec: RoomSpec;
} | {
    type: "joinRoom";
    target: import("./protocol.js").RoomTarget;
    role: import("./protocol.js").Role;
    joinOptions: import("./protocol.js").StringMap;
} | {
    type: "quickJoin";
    spec: QuickJoinSpec;
} | {
    type: "leaveRoom";
};
export type Expect = "RoomList" | "RoomCreated" | "Joined" | "Left";
