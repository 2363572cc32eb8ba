// A small line chart on a canvas, for the operator page and the viewer:
// series of [x, y] points drawn against shared axes. No dependencies.

/**
 * @typedef {{ label: string, color: string, points: Array<[number, number]> }} Series
 */

/**
 * Draws `series` on `canvas`, x being time (ms since the epoch), y from 0
 * to the largest value (at least `minMax`).
 * @param {HTMLCanvasElement} canvas
 * @param {Series[]} series
 * @param {{ minMax?: number, unit?: string }} [options]
 */
export function drawChart(canvas, series, options = {}) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth, height = canvas.clientHeight;
  if (canvas.width !== Math.round(width * ratio)) canvas.width = Math.round(width * ratio);
  if (canvas.height !== Math.round(height * ratio)) canvas.height = Math.round(height * ratio);
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) {
    ctx.fillStyle = '#8a96a3';
    ctx.fillText('waiting for samples…', 8, 16);
    return;
  }
  const x0 = Math.min(...all.map((p) => p[0]));
  const x1 = Math.max(...all.map((p) => p[0]), x0 + 1);
  const y1 = Math.max(options.minMax ?? 1, ...all.map((p) => p[1])) * 1.1;
  const left = 44, right = 6, top = 6, bottom = 16;
  const px = (/** @type {number} */ x) => left + ((x - x0) / (x1 - x0)) * (width - left - right);
  const py = (/** @type {number} */ y) => top + (1 - y / y1) * (height - top - bottom);
  ctx.strokeStyle = '#2a333d';
  ctx.fillStyle = '#8a96a3';
  ctx.font = '11px system-ui, sans-serif';
  ctx.lineWidth = 1;
  for (const frac of [0, 0.5, 1]) {
    const y = py(y1 * frac / 1.1);
    ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(width - right, y); ctx.stroke();
    ctx.fillText(format(y1 * frac / 1.1) + (options.unit ?? ''), 2, y + 4);
  }
  ctx.fillText(`${Math.round((x1 - x0) / 1000)} s`, width - right - 30, height - 3);
  let legend = left + 4;
  for (const s of series) {
    ctx.strokeStyle = s.color;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    s.points.forEach(([x, y], i) => (i === 0 ? ctx.moveTo(px(x), py(y)) : ctx.lineTo(px(x), py(y))));
    ctx.stroke();
    ctx.fillStyle = s.color;
    ctx.fillText(s.label, legend, height - 3);
    legend += ctx.measureText(s.label).width + 12;
  }
}

/**
 * A number for an axis: 1.2k, 3.4M, or with two decimals under 10.
 * @param {number} v
 */
export function format(v) {
  if (v >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  if (v >= 10) return v.toFixed(0);
  return v.toFixed(2);
}
