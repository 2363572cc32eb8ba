// The lobby page: the live list of public rooms (`/rooms`, refreshed every
// second), quick-join, join by invite code, create a room, and play or
// watch one in the viewer (`/view`). Creating goes through the client
// library over the same WebSocket any client uses.

import { Client } from '/js/index.js';

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const value = (/** @type {string} */ id) => /** @type {HTMLInputElement} */ ($(id)).value.trim();

/** The viewer's address for these parameters, with the chosen transport and name. */
function viewer(/** @type {Record<string, string>} */ params) {
  const query = new URLSearchParams({ ...params, transport: value('transport'), name: value('name') || 'web' });
  return `/view?${query}`;
}

/** @param {string} tag @param {Record<string, string>} [attrs] @param {...(Node|string)} children */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  node.append(...children);
  return node;
}

async function refreshRooms() {
  try {
    const response = await fetch('/rooms');
    const rooms = await response.json();
    const body = /** @type {HTMLElement} */ ($('rooms').querySelector('tbody'));
    body.replaceChildren(...rooms.map((/** @type {any} */ room) => el('tr', { 'data-room': String(room.id) },
      el('td', {}, String(room.id)),
      el('td', {}, room.name),
      el('td', {}, room.game),
      el('td', { class: 'num' }, `${room.players} / ${room.max_players}`),
      el('td', { class: 'num' }, String(room.spectators)),
      el('td', {},
        room.locked || room.players >= room.max_players
          ? el('span', { class: 'muted' }, room.locked ? 'locked' : 'full')
          : el('a', { href: viewer({ room: String(room.id) }), 'data-play': String(room.id) }, 'Play'),
        ' ',
        el('a', { href: viewer({ room: String(room.id), role: 'Spectator' }), 'data-watch': String(room.id) }, 'Watch')),
    )));
    $('no-rooms').hidden = rooms.length > 0;
  } catch (e) {
    $('message').textContent = `cannot list rooms: ${/** @type {Error} */ (e).message}`;
  }
}

async function refreshHealth() {
  try {
    const health = await (await fetch('/healthz')).json();
    $('health').textContent = `${health.server} · ${health.status} · ${health.rooms} rooms · ${health.connections} connections`;
    $('health').className = health.status === 'ok' ? 'good' : 'warn';
  } catch {
    $('health').textContent = 'server unreachable';
    $('health').className = 'bad';
  }
}

$('quick-join').addEventListener('click', () => {
  location.href = viewer({ quick: '1' });
});

$('code-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const code = value('code').toUpperCase();
  if (code) location.href = viewer({ code });
});

$('create-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  $('message').textContent = '';
  const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  let client;
  try {
    client = await Client.connect(wsUrl, { name: value('name') || 'web', reconnect: false });
    // Created without joining: the viewer joins it (by code, which works
    // for private rooms too) on its own connection.
    const created = /** @type {import('/js/index.js').RoomInfo} */ (
      /** @type {any} */ (await client.createRoom({
        name: value('room-name') || 'room',
        game: value('room-game'),
        visibility: /** @type {'Public' | 'Private'} */ (value('room-visibility')),
        maxPlayers: Number(value('room-seats')) || 16,
        joinAs: null,
      })).room
    );
    location.href = viewer(created.code ? { code: created.code } : { room: String(created.id) });
  } catch (e) {
    $('message').textContent = `cannot create the room: ${/** @type {Error} */ (e).message}`;
  } finally {
    client?.close().catch(() => {});
  }
});

refreshRooms();
refreshHealth();
setInterval(refreshRooms, 1000);
setInterval(refreshHealth, 2000);
