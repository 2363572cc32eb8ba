// The operator page: every room with its members and tick health, the
// server's figures over the last minutes, and the actions (kick a member,
// close a room). Everything goes through the operator API with the admin
// token, which is kept in this tab's sessionStorage only.

import { drawChart } from '/static/chart.js';

const TOKEN_KEY = 'tickwire-admin-token';
const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** @returns {string | null} */
const token = () => sessionStorage.getItem(TOKEN_KEY);

/** Shows `text` as the page's message (empty clears it). */
function say(/** @type {string} */ text) {
  $('message').textContent = text;
}

/**
 * A call to the operator API; a 401 forgets the token and asks again.
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 */
async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: {
      Authorization: `Bearer ${token() ?? ''}`,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    showLogin('That token was refused.');
    throw new Error('unauthorized');
  }
  const json = await response.json();
  if (!response.ok) throw new Error(json.error ?? `HTTP ${response.status}`);
  return json;
}

function showLogin(/** @type {string} */ why) {
  $('login').hidden = false;
  $('rooms-section').hidden = true;
  $('charts-section').hidden = true;
  say(why);
}

/** @param {string} tag @param {Record<string, string>} [attrs] @param {...(Node|string)} children */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  node.append(...children);
  return node;
}

const fixed = (/** @type {number} */ v, /** @type {number} */ d) => (Number.isFinite(v) ? v.toFixed(d) : '–');

/** @param {any} room */
function roomRows(room) {
  const h = room.health;
  const close = el('button', { class: 'danger', 'data-close': String(room.id) }, 'Close room');
  close.addEventListener('click', async () => {
    if (!confirm(`Close room ${room.id} (${room.name})? Every member is sent back to the lobby.`)) return;
    try {
      await api('POST', `/api/admin/rooms/${room.id}/close`, { message: 'closed by an operator' });
      say('');
      refresh();
    } catch (e) { say(`close failed: ${/** @type {Error} */ (e).message}`); }
  });
  const row = el('tr', { 'data-room': String(room.id) },
    el('td', {}, String(room.id)),
    el('td', {}, room.name),
    el('td', {}, room.game),
    el('td', {}, room.visibility + (room.locked ? ' (locked)' : '')),
    el('td', {}, room.code ?? ''),
    el('td', { class: 'num' }, `${room.players} / ${room.max_players}`),
    el('td', { class: 'num' }, String(room.spectators)),
    el('td', { class: 'num' }, room.tick === null ? 'no answer' : String(room.tick)),
    el('td', { class: 'num' }, h ? `${fixed(h.tick_mean_ms, 3)} / ${fixed(h.tick_p99_ms, 3)} / ${fixed(h.tick_max_ms, 3)}` : '–'),
    el('td', { class: 'num' + (h && h.late_ticks > 0 ? ' warn' : '') }, h ? String(h.late_ticks) : '–'),
    el('td', { class: 'num' }, h ? fixed(h.update_bytes_per_s / 1000, 1) : '–'),
    el('td', {}, close),
  );
  const members = el('table', { class: 'members' });
  for (const m of room.members) {
    const kick = el('button', { class: 'danger', 'data-kick': `${room.id}/${m.player}` }, 'Kick');
    kick.addEventListener('click', async () => {
      try {
        await api('POST', `/api/admin/rooms/${room.id}/players/${m.player}/kick`, { message: 'removed by an operator' });
        say('');
        refresh();
      } catch (e) { say(`kick failed: ${/** @type {Error} */ (e).message}`); }
    });
    members.append(el('tr', { 'data-member': String(m.player) },
      el('td', {}, `#${m.player}`),
      el('td', {}, m.name),
      el('td', { class: 'muted' }, m.role),
      el('td', { class: m.connected ? 'good' : 'warn' }, m.connected ? 'connected' : 'dropped, seat kept'),
      el('td', {}, kick)));
  }
  const detail = el('tr', {}, el('td', { colspan: '12' }, members));
  return [row, detail];
}

async function refreshRooms() {
  const rooms = await api('GET', '/api/admin/rooms');
  const body = /** @type {HTMLElement} */ ($('rooms').querySelector('tbody'));
  body.replaceChildren(...rooms.flatMap(roomRows));
  $('no-rooms').hidden = rooms.length > 0;
}

async function refreshCharts() {
  const { samples } = await api('GET', '/api/admin/history');
  /** @param {string} key @param {number} [scale] @returns {Array<[number, number]>} */
  const series = (key, scale = 1) => samples.map((/** @type {any} */ s) => [s.unix_ms, s[key] * scale]);
  drawChart(/** @type {HTMLCanvasElement} */ ($('chart-people')), [
    { label: 'connections', color: '#4fb3ff', points: series('connections') },
    { label: 'players', color: '#4ccf7f', points: series('players') },
    { label: 'spectators', color: '#f2c14e', points: series('spectators') },
  ]);
  drawChart(/** @type {HTMLCanvasElement} */ ($('chart-bytes')), [
    { label: 'out', color: '#4fb3ff', points: series('bytes_out_per_s') },
    { label: 'in', color: '#4ccf7f', points: series('bytes_in_per_s') },
  ]);
  drawChart(/** @type {HTMLCanvasElement} */ ($('chart-tick')), [
    { label: 'mean tick', color: '#f2c14e', points: series('tick_mean_ms') },
  ], { minMax: 0.1, unit: '' });
  drawChart(/** @type {HTMLCanvasElement} */ ($('chart-late')), [
    { label: 'late ticks/s', color: '#ff6b6b', points: series('late_ticks_per_s') },
    { label: 'updates/s ÷ 100', color: '#4fb3ff', points: series('updates_per_s', 0.01) },
  ]);
}

async function refreshHealth() {
  try {
    const response = await fetch('/healthz');
    const health = await response.json();
    $('health').textContent = `${health.server} · ${health.status} · ${health.rooms} rooms · ${health.connections} connections · up ${health.uptime_seconds} s`;
    $('health').className = health.status === 'ok' ? 'good' : 'warn';
  } catch {
    $('health').textContent = 'server unreachable';
    $('health').className = 'bad';
  }
}

async function refresh() {
  if (!token()) return showLogin('');
  $('login').hidden = true;
  $('rooms-section').hidden = false;
  $('charts-section').hidden = false;
  try {
    await Promise.all([refreshRooms(), refreshCharts()]);
  } catch (e) {
    if (/** @type {Error} */ (e).message !== 'unauthorized') say(`refresh failed: ${/** @type {Error} */ (e).message}`);
  }
}

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const value = /** @type {HTMLInputElement} */ ($('token')).value.trim();
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  say('');
  refresh();
});

refreshHealth();
refresh();
setInterval(refreshHealth, 2000);
setInterval(refresh, 1000);
