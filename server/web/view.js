// The live viewer: joins an arena room (or a chat room) as a player or a
// spectator through the client library, WebTransport first and WebSocket
// when that fails (or `?transport=websocket`), and draws the room on a
// canvas between ticks (the library's interpolation buffer), with an
// overlay of tick, round trip, update size and bandwidth. As a player,
// the keyboard (WASD or arrows) moves and the mouse aims and fires: one
// input per update, like the Rust client. `window.tickwire` exposes the
// client and the figures, for tests and curious people.

import {
  Client,
  ARENA_KIND,
  ARENA_PLAYER_FIELD,
  ARENA_POSITION_SCALE,
  predictArenaPosition,
} from '/js/index.js';

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const params = new URLSearchParams(location.search);
const role = params.get('role') === 'Spectator' ? 'Spectator' : 'Player';
const canvas = /** @type {HTMLCanvasElement} */ ($('arena'));
const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
/** The arena is 1000 x 1000 units (0..=64000 in 1/64 units). */
const WORLD = 64000;
/** Local input prediction for the own avatar (`?predict=0` turns it off). */
const PREDICT = params.get('predict') !== '0';

/** What the page measured; read by the browser tests. */
const stats = {
  transport: /** @type {string | null} */ (null),
  updates: 0,
  checksumMismatches: 0,
  updateFailures: 0,
  frames: 0,
  lastUpdateBytes: 0,
  bytesPerSecond: 0,
  rttMs: /** @type {number | null} */ (null),
  tick: 0,
  room: /** @type {number | null} */ (null),
  player: /** @type {number | null} */ (null),
  inputs: 0,
  reconnects: 0,
  error: /** @type {string | null} */ (null),
};
/** @type {Array<[number, number]>} update arrivals (ms) and sizes, the last second */
const recent = [];

/** @type {any} */ (window).tickwire = { stats, client: null };

function say(/** @type {string} */ text) {
  $('message').textContent = text;
}

/** The WebTransport endpoint the server offers, or undefined. */
async function webtransportEndpoint() {
  if (params.get('transport') === 'websocket' || typeof (/** @type {any} */ (globalThis).WebTransport) !== 'function') {
    return undefined;
  }
  try {
    const response = await fetch('/webtransport');
    if (!response.ok) return undefined;
    const info = await response.json();
    return {
      url: info.url,
      certificateHashes: info.certificate_hashes.map((/** @type {{value: string}} */ h) =>
        Uint8Array.from(atob(h.value), (c) => c.charCodeAt(0))),
    };
  } catch {
    return undefined;
  }
}

// ---- input ----

const keys = new Set();
let aim = 0;
let firing = false;
addEventListener('keydown', (e) => keys.add(e.key.toLowerCase()));
addEventListener('keyup', (e) => keys.delete(e.key.toLowerCase()));
addEventListener('blur', () => keys.clear());
canvas.addEventListener('mousedown', () => { firing = true; canvas.focus(); });
addEventListener('mouseup', () => { firing = false; });

/** The current input from the keys and the mouse. */
function currentInput() {
  const right = keys.has('d') || keys.has('arrowright');
  const left = keys.has('a') || keys.has('arrowleft');
  const up = keys.has('w') || keys.has('arrowup');
  const down = keys.has('s') || keys.has('arrowdown');
  return { moveX: (right ? 1 : 0) - (left ? 1 : 0), moveY: (up ? 1 : 0) - (down ? 1 : 0), aim, fire: firing };
}

// ---- drawing ----

/** Canvas x, y of a world position (y up in the world, down on canvas). */
function toCanvas(/** @type {number} */ x, /** @type {number} */ y) {
  return [(x / WORLD) * canvas.width, canvas.height - (y / WORLD) * canvas.height];
}

/** @type {{x: number, y: number} | null} */
let me = null;

/**
 * Local input prediction of the own avatar. The interpolated world is
 * drawn a few ticks in the past, and the server's world lags the input by
 * a round trip, so the own avatar would answer a key that much late.
 * Instead it is drawn where the newest world puts it, moved on by the
 * current input for the time since that world (its age plus half a round
 * trip), as the arena's rule 2 moves it (velocity = stick x player speed
 * per tick, clamped to the arena); the drawn position eases towards that
 * target, so a correction from the server never jumps.
 */
const prediction = {
  /** @type {{x: number, y: number, tick: number, at: number} | null} newest authoritative position */
  base: null,
  /** @type {{x: number, y: number} | null} what was drawn last */
  drawn: null,
  /** grid units a full stick moves per tick */
  step: 0,
  periodMs: 1000 / 30,
};

canvas.addEventListener('mousemove', (e) => {
  if (!me) return;
  const rect = canvas.getBoundingClientRect();
  const [px, py] = toCanvas(me.x, me.y);
  const mx = ((e.clientX - rect.left) / rect.width) * canvas.width;
  const my = ((e.clientY - rect.top) / rect.height) * canvas.height;
  aim = Math.atan2(py - my, mx - px);
  if (aim < 0) aim += 2 * Math.PI;
});

/** @param {Client} client */
function draw(client) {
  stats.frames += 1;
  ctx.fillStyle = '#0b0f13';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.strokeStyle = '#1c242d';
  for (let i = 1; i < 10; i += 1) {
    const p = (i / 10) * canvas.width;
    ctx.beginPath(); ctx.moveTo(p, 0); ctx.lineTo(p, canvas.height); ctx.stroke();
    ctx.beginPath(); ctx.moveTo(0, p); ctx.lineTo(canvas.width, p); ctx.stroke();
  }
  const sample = client.sample();
  me = null;
  const predicted = predictOwn(client);
  if (sample) {
    for (const e of sample.entities) {
      if (e.x === null || e.y === null) continue;
      let [cx, cy] = toCanvas(e.x, e.y);
      if (e.kind === ARENA_KIND.PLAYER) {
        const mine = e.fields[ARENA_PLAYER_FIELD.PLAYER] === client.player;
        if (mine && predicted) [cx, cy] = toCanvas(predicted.x, predicted.y);
        if (mine) me = predicted ?? { x: e.x, y: e.y };
        const angle = (e.fields[ARENA_PLAYER_FIELD.AIM] / 4096) * 2 * Math.PI;
        ctx.fillStyle = mine ? '#4fb3ff' : '#4ccf7f';
        ctx.beginPath(); ctx.arc(cx, cy, mine ? 7 : 5, 0, 2 * Math.PI); ctx.fill();
        ctx.strokeStyle = ctx.fillStyle;
        ctx.beginPath(); ctx.moveTo(cx, cy); ctx.lineTo(cx + Math.cos(angle) * 12, cy - Math.sin(angle) * 12); ctx.stroke();
      } else {
        ctx.fillStyle = '#f2c14e';
        ctx.fillRect(cx - 1.5, cy - 1.5, 3, 3);
      }
    }
  }
  const now = performance.now();
  while (recent.length && recent[0][0] < now - 1000) recent.shift();
  stats.bytesPerSecond = recent.reduce((sum, [, bytes]) => sum + bytes, 0);
  $('overlay').textContent = [
    `transport ${stats.transport ?? '–'}   room ${stats.room ?? '–'}   ${role.toLowerCase()} #${stats.player ?? '–'}`,
    `tick ${stats.tick}   render ${sample ? sample.renderTick.toFixed(1) : '–'}`,
    `rtt ${stats.rttMs === null ? '–' : stats.rttMs.toFixed(1) + ' ms'}`,
    `update ${stats.lastUpdateBytes} B   ${(stats.bytesPerSecond / 1000).toFixed(2)} kB/s`,
    `checksum mismatches ${stats.checksumMismatches}   entities ${sample ? sample.entities.length : 0}`,
  ].join('\n');
  requestAnimationFrame(() => draw(client));
}

/**
 * Where to draw the own avatar now (see `prediction`); null when not
 * predicting (a spectator, before the first world, or `?predict=0`).
 * @param {Client} client
 */
function predictOwn(client) {
  const base = prediction.base;
  if (!PREDICT || role !== 'Player' || base === null) return null;
  const ticks = (performance.now() - base.at) / prediction.periodMs + (stats.rttMs ?? 0) / 2 / prediction.periodMs;
  const target = predictArenaPosition(base, currentInput(), ticks, prediction.step);
  const drawn = prediction.drawn ?? target;
  // Ease a third of the way each frame: smooth, and caught up in a few
  // frames after a correction.
  prediction.drawn = { x: drawn.x + (target.x - drawn.x) / 3, y: drawn.y + (target.y - drawn.y) / 3 };
  return prediction.drawn;
}

/**
 * Takes the own avatar's position from the newest world.
 * @param {Client} client
 * @param {any} world
 */
function rebase(client, world) {
  const own = world?.entities?.find(
    (/** @type {any} */ e) => e.kind === ARENA_KIND.PLAYER && e.fields[ARENA_PLAYER_FIELD.PLAYER] === client.player,
  );
  prediction.base = own
    ? { x: own.fields[ARENA_PLAYER_FIELD.X], y: own.fields[ARENA_PLAYER_FIELD.Y], tick: world.tick, at: performance.now() }
    : null;
}

// ---- the session ----

async function main() {
  const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  const webtransport = await webtransportEndpoint();
  const client = await Client.connect(wsUrl, {
    name: params.get('name') || 'web',
    ...(webtransport ? { webtransport } : {}),
  });
  /** @type {any} */ (window).tickwire.client = client;
  stats.transport = client.transport;
  stats.player = client.player;
  client.on('update', (/** @type {any} */ update, /** @type {any} */ world) => {
    rebase(client, world);
    stats.updates += 1;
    stats.tick = update.tick;
    stats.lastUpdateBytes = update.bytes;
    recent.push([performance.now(), update.bytes]);
    if (role === 'Player') {
      client.sendArenaInput(currentInput());
      stats.inputs += 1;
    }
  });
  client.on('updateFailed', (/** @type {any} */ error) => {
    stats.updateFailures += 1;
    if (error.code === 'checksum_mismatch') stats.checksumMismatches += 1;
  });
  client.on('rtt', (/** @type {number} */ ms) => { stats.rttMs = ms; });
  client.on('reconnecting', () => { stats.reconnects += 1; $('status').textContent = 'reconnecting…'; });
  client.on('resumed', () => { stats.transport = client.transport; $('status').textContent = 'connected'; });
  client.on('left', (/** @type {any} */ left) => { say(`left the room: ${left.reason} ${left.message}`); });
  client.on('lost', (/** @type {any} */ lost) => { say(`connection lost: ${lost.message}`); });
  client.on('close', (/** @type {any} */ closed) => { $('status').textContent = `closed: ${closed.reason ?? 'connection ended'}`; });
  client.on('said', (/** @type {any} */ data) => {
    $('chat-log').append(Object.assign(document.createElement('div'), { textContent: `${data.name ?? data.from}: ${data.text}` }));
  });
  const joinOptions = { role: /** @type {'Player' | 'Spectator'} */ (role) };
  const joined = params.get('quick')
    ? await client.quickJoin({})
    : params.get('code')
      ? await client.joinRoom(/** @type {string} */ (params.get('code')), joinOptions)
      : await client.joinRoom(Number(params.get('room')), joinOptions);
  stats.room = joined.room.id;
  // The arena's rule 2: a full stick moves player_speed (a room option,
  // 200 units a second by default) per second, on the 1/64-unit grid.
  const hz = joined.tickRate;
  const speed = Number(joined.room.options.player_speed ?? 200);
  prediction.periodMs = 1000 / hz;
  prediction.step = ((Number.isFinite(speed) ? speed : 200) / hz) * ARENA_POSITION_SCALE;
  $('status').textContent = `connected over ${client.transport}`;
  $('status').className = 'good';
  $('room-label').textContent = `${joined.room.name} (${joined.room.game}) · room ${joined.room.id}${joined.room.code ? ` · code ${joined.room.code}` : ''}`;
  $('help').textContent = role === 'Player' ? 'WASD or arrows move, the mouse aims, click fires' : 'watching';
  if (joined.room.game === 'chat') {
    $('chat').hidden = false;
    $('chat-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const input = /** @type {HTMLInputElement} */ ($('chat-text'));
      if (input.value.trim()) client.emit('say', { text: input.value.trim() });
      input.value = '';
    });
  }
  $('leave').addEventListener('click', async () => {
    await client.close('left the viewer');
    location.href = '/';
  });
  canvas.focus();
  // The library measures round trips when asked: once a second.
  client.ping();
  setInterval(() => {
    if (!client.isClosed) client.ping();
  }, 1000);
  requestAnimationFrame(() => draw(client));
}

main().catch((e) => {
  stats.error = /** @type {Error} */ (e).message;
  $('status').textContent = 'failed';
  $('status').className = 'bad';
  say(`cannot join: ${/** @type {Error} */ (e).message}`);
});
