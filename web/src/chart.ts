// Latency percentiles over the last minutes as a small SVG line chart (log scale, so
// 10 ms and 5 s are both readable), with the 1 s red line of the latency tile. The chart
// is drawn at the pixel size of its box, so its text stays readable on a phone.

import { s } from './dom';
import type { LatencyPoint } from './live';

const PAD = { left: 48, right: 10, top: 10, bottom: 26 };
const MIN_MS = 1;
const MAX_MS = 10_000;
const THRESHOLD_MS = 1000;

export const SERIES: { key: keyof Omit<LatencyPoint, 't' | 'requests'>; label: string; className: string }[] = [
  { key: 'p99', label: 'p99', className: 'series-p99' },
  { key: 'p95', label: 'p95', className: 'series-p95' },
  { key: 'p50', label: 'p50', className: 'series-p50' },
  { key: 'avg', label: '30 s average', className: 'series-avg' },
];

export interface Chart {
  element: HTMLElement;
  update: (points: LatencyPoint[], windowMs: number) => void;
}

export function createChart(): Chart {
  const svg = s('svg', {
    class: 'chart',
    role: 'img',
    'aria-label': 'Order-service latency percentiles over the last minutes, logarithmic scale, with the 1 second limit',
    'data-testid': 'latency-chart',
  });
  const element = document.createElement('div');
  element.className = 'chart-box';
  element.append(svg);

  let last: { points: LatencyPoint[]; windowMs: number } = { points: [], windowMs: 5 * 60_000 };

  const draw = (): void => {
    const W = Math.max(260, Math.round(element.clientWidth || 600));
    const H = W < 480 ? 200 : 240;
    svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
    svg.setAttribute('width', String(W));
    svg.setAttribute('height', String(H));
    const right = W - PAD.right;
    const y = (ms: number): number => {
      const v = Math.min(Math.max(ms, MIN_MS), MAX_MS);
      const f = (Math.log10(v) - Math.log10(MIN_MS)) / (Math.log10(MAX_MS) - Math.log10(MIN_MS));
      return PAD.top + (1 - f) * (H - PAD.top - PAD.bottom);
    };
    const now = Date.now();
    const { points, windowMs } = last;
    const x = (t: number) => PAD.left + (1 - (now - t) / windowMs) * (right - PAD.left);

    const children: SVGElement[] = [];
    for (const ms of [1, 10, 100, 1000, 10_000]) {
      children.push(
        s('line', { class: 'grid', x1: PAD.left, x2: right, y1: y(ms), y2: y(ms) }),
        s('text', { x: PAD.left - 6, y: y(ms) + 4, 'text-anchor': 'end' }, ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`),
      );
    }
    children.push(
      s('line', { class: 'threshold', x1: PAD.left, x2: right, y1: y(THRESHOLD_MS), y2: y(THRESHOLD_MS) }),
      s('text', { class: 'threshold-label', x: PAD.left + 6, y: y(THRESHOLD_MS) - 5, 'text-anchor': 'start' }, 'red above 1 s average'),
    );
    // Ticks every 15 s on a 1-minute chart, every 30 s up to 2 minutes, else every minute
    // (every 2 on a phone).
    const minutes = windowMs / 60_000;
    const stepS = minutes <= 1 ? 15 : minutes <= 2 ? 30 : W < 480 ? 120 : 60;
    for (let sec = 0; sec <= minutes * 60; sec += stepS) {
      const xm = x(now - sec * 1000);
      const label = sec === 0 ? 'now' : sec % 60 === 0 ? `−${sec / 60} min` : `−${sec} s`;
      children.push(
        s('line', { class: 'tick', x1: xm, x2: xm, y1: H - PAD.bottom, y2: H - PAD.bottom + 4 }),
        s('text', { x: xm, y: H - 8, 'text-anchor': sec === 0 ? 'end' : 'middle' }, label),
      );
    }
    const visible = points.filter((p) => now - p.t <= windowMs);
    for (const series of SERIES) {
      const coords = visible
        .filter((p) => p.requests > 0)
        .map((p) => `${x(p.t).toFixed(1)},${y(p[series.key] || MIN_MS).toFixed(1)}`);
      children.push(s('polyline', { class: `line ${series.className}`, fill: 'none', points: coords.join(' ') }));
    }
    if (visible.length < 2) {
      children.push(s('text', { class: 'empty', x: (PAD.left + right) / 2, y: H / 2, 'text-anchor': 'middle' }, 'Collecting data…'));
    } else if (!visible.some((p) => p.requests > 0)) {
      children.push(s('text', { class: 'empty', x: (PAD.left + right) / 2, y: H / 2, 'text-anchor': 'middle' }, 'No order traffic yet'));
    }
    svg.replaceChildren(...children);
  };

  new ResizeObserver(() => draw()).observe(element);
  return {
    element,
    update: (points, windowMs) => {
      last = { points, windowMs };
      draw();
    },
  };
}
