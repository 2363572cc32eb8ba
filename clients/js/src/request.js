// The lobby requests a client makes (shared/src/client/request.rs): what
// each looks like, the message it becomes, and the answer it waits for.

import { parseRoomCode } from './protocol.js';

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
export function roomTarget(target) {
  if (typeof target === 'number') return { type: 'Id', id: target };
  if (typeof target === 'string') {
    const code = parseRoomCode(target);
    if (code === null) throw new RangeError(`${JSON.stringify(target)} is not an invite code`);
    return { type: 'Code', code };
  }
  return target;
}

/**
 * The message a request becomes under `requestId`.
 * @param {Request} request
 * @param {number} requestId
 * @returns {import('./protocol.js').ClientMessage}
 */
export function requestMessage(request, requestId) {
  switch (request.type) {
    case 'listRooms':
      return { type: 'ListRooms', requestId, filter: request.filter };
    case 'createRoom': {
      const s = request.spec;
      return {
        type: 'CreateRoom',
        requestId,
        game: s.game ?? null,
        name: s.name,
        visibility: s.visibility ?? 'Public',
        maxPlayers: s.maxPlayers ?? 16,
        options: s.options ?? {},
        joinAs: s.joinAs === undefined ? 'Player' : s.joinAs,
        joinOptions: s.joinOptions ?? {},
      };
    }
    case 'joinRoom':
      return {
        type: 'JoinRoom',
        requestId,
        target: request.target,
        role: request.role,
        joinOptions: request.joinOptions,
      };
    case 'quickJoin': {
      const s = request.spec;
      return {
        type: 'QuickJoin',
        requestId,
        game: s.game ?? null,
        options: s.options ?? {},
        metadata: s.metadata ?? {},
        joinOptions: s.joinOptions ?? {},
      };
    }
    case 'leaveRoom':
      return { type: 'LeaveRoom', requestId };
  }
}

/**
 * The answer a request waits for.
 * @param {Request} request
 * @returns {Expect}
 */
export function expectedAnswer(request) {
  switch (request.type) {
    case 'listRooms':
      return 'RoomList';
    case 'createRoom':
      return request.spec.joinAs === null ? 'RoomCreated' : 'Joined';
    case 'joinRoom':
    case 'quickJoin':
      return 'Joined';
    case 'leaveRoom':
      return 'Left';
  }
}
