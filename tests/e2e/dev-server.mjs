#!/usr/bin/env node
// A throwaway stand-in for the Valerix gateway, for UI work and UI-only browser tests.
//
//   node tests/e2e/dev-server.mjs [--port 5180] [--host 127.0.0.1] [--dist web/dist]
//
// Serves web/dist (index.html for unknown non-API paths) and fakes, in memory, the parts of
// the gateway contract the UI uses: products, orders (Idempotency-Key, PENDING → CONFIRMED by a
// "reconciler", ship, cancel, 409 insufficient_stock, 422), /api/v1/chaos (admin token from
// VALERIX_ADMIN_TOKEN, default "dev-token"), /api/v1/system and /api/v1/events (SSE, 1 s).
// The chaos latency gremlin slows simulated reservation calls like the real inventory does, so
// the latency tile and the breaker move. Nothing here is the real system: the e2e tests must
// also pass against the real gateway (services/web).

import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';

const here = dirname(fileURLToPath(import.meta.url));
const args = parseArgs(process.argv.slice(2));
const PORT = Number(args.port ?? 5180);
const HOST = args.host ?? '127.0.0.1';
const DIST = resolve(args.dist ?? join(here, '../../web/dist'));
const ADMIN_TOKEN = process.env.VALERIX_ADMIN_TOKEN || 'dev-token';

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; ++i) {
    const m = /^--([^=]+)(?:=(.*))?$/.exec(argv[i]);
    if (!m) continue;
    out[m[1]] = m[2] ?? argv[++i];
  }
  return out;
}

// ------------------------------------------------------------------ state

const CATALOG = [
  ['KB-MECH-001', 'Mechanical keyboard, brown switches', 8900, 120],
  ['MS-WL-002', 'Wireless mouse', 2900, 300],
  ['MN-27-4K', '27" 4K monitor', 32900, 40],
  ['HD-NC-100', 'Noise-cancelling headphones', 19900, 75],
  ['CB-USBC-1M', 'USB-C cable, 1 m', 900, 1000],
  ['CB-HDMI-2M', 'HDMI cable, 2 m', 1200, 600],
  ['DK-TB4', 'Thunderbolt 4 dock', 24900, 25],
  ['WC-1080P', '1080p webcam', 5900, 150],
  ['MC-USB-CARD', 'USB condenser microphone', 7900, 60],
  ['LP-STAND-AL', 'Aluminium laptop stand', 3900, 200],
  ['SSD-NVME-1T', 'NVMe SSD, 1 TB', 8900, 180],
  ['SSD-NVME-2T', 'NVMe SSD, 2 TB', 14900, 90],
  ['RAM-DDR5-32', 'DDR5 memory, 32 GB kit', 11900, 110],
  ['PSU-750-GLD', '750 W power supply, 80+ Gold', 10900, 45],
  ['CH-ERGO-01', 'Ergonomic office chair', 29900, 15],
  ['DSK-LAMP-LED', 'LED desk lamp', 3400, 250],
  ['PAD-XL-CLOTH', 'Extra-large mouse pad', 1900, 400],
  ['HUB-USB3-7', '7-port USB 3 hub', 3900, 130],
  ['SPK-BT-MINI', 'Bluetooth mini speaker', 4900, 85],
  ['GPU-RTX-LTD', 'Graphics card, limited edition', 79900, 7],
];
const products = new Map(
  CATALOG.map(([sku, name, price_cents, stock]) => [sku, { sku, name, price_cents, available: stock, on_hand: stock }]),
);
const orders = new Map(); // id -> order
const keys = new Map(); // idempotency key -> { fingerprint, promise|answer }
const DEFAULT_CHAOS = () => ({
  latency: { mode: 'off', every_nth: 0, probability: 0, delay_ms: 3000, jitter_ms: 0, routes: ['reserve', 'commit', 'release'] },
  crash: { mode: 'off', every_nth: 0, probability: 0, point: 'after_commit', action: 'exit' },
  seed: 42,
});
let chaos = DEFAULT_CHAOS();
let chaosCalls = 0;

const DEADLINE_MS = 5000;
const TRY_TIMEOUT_MS = 2000;
const SLOW_CALL_MS = 2000;

// A small count-based breaker like the order-service's.
const breaker = {
  state: 'closed',
  window: [], // { failed, slow }
  openedAt: 0,
  trial: 0,
  notPermitted: 0,
  transitions: [], // { from, to, at }
};
function transition(to) {
  if (breaker.state === to) return;
  breaker.transitions.unshift({ from: breaker.state, to, at: Date.now() });
  breaker.transitions.length = Math.min(breaker.transitions.length, 20);
  breaker.state = to;
  breaker.window = [];
  breaker.trial = 0;
  if (to === 'open') breaker.openedAt = Date.now();
}
function permit() {
  if (breaker.state === 'open') {
    if (Date.now() - breaker.openedAt < 5000) {
      breaker.notPermitted++;
      return false;
    }
    transition('half_open');
  }
  if (breaker.state === 'half_open') {
    if (breaker.trial >= 3) {
      breaker.notPermitted++;
      return false;
    }
    breaker.trial++;
  }
  return true;
}
function recordCall(failed, ms) {
  const slow = ms >= SLOW_CALL_MS;
  if (breaker.state === 'half_open') {
    // Simpler than the real breaker: one good trial call closes it, so it cannot stay half-open
    // for want of traffic.
    transition(failed || slow ? 'open' : 'closed');
    return;
  }
  breaker.window.push({ failed, slow });
  if (breaker.window.length > 20) breaker.window.shift();
  if (breaker.window.length >= 10) {
    const f = breaker.window.filter((c) => c.failed).length / breaker.window.length;
    const s = breaker.window.filter((c) => c.slow).length / breaker.window.length;
    if (f >= 0.5 || s >= 0.8) transition('open');
  }
}
function rates() {
  const n = breaker.window.length;
  if (n < 10) return { failure_rate: -1, slow_call_rate: -1 };
  return {
    failure_rate: (100 * breaker.window.filter((c) => c.failed).length) / n,
    slow_call_rate: (100 * breaker.window.filter((c) => c.slow).length) / n,
  };
}

const budget = { requests: 0, retries: 0, refused: 0 };

// Rolling 30 s latency of the (fake) order-service API.
const latencies = []; // { at, ms }
function recordLatency(ms) {
  latencies.push({ at: Date.now(), ms });
}
function latencySummary() {
  const now = Date.now();
  while (latencies.length && now - latencies[0].at > 30_000) latencies.shift();
  const values = latencies.map((l) => l.ms).sort((a, b) => a - b);
  const q = (p) => (values.length ? values[Math.min(values.length - 1, Math.floor(p * values.length))] : 0);
  const average = values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0;
  return {
    requests: values.length,
    average_ms: average,
    p50_ms: q(0.5),
    p95_ms: q(0.95),
    p99_ms: q(0.99),
    max_ms: values.length ? values[values.length - 1] : 0,
    state: average > 1000 ? 'red' : 'green',
  };
}
// The real gateway polls the order-service every second; those fast calls count too.
setInterval(() => recordLatency(1 + Math.random()), 1000).unref();

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** One simulated reservation (a reserve) call to inventory: resolves 'ok' | 'timeout'. */
async function inventoryCall(budgetMs) {
  let delay = 2 + Math.random() * 5;
  const l = chaos.latency;
  const slowed = l.routes.includes('reserve');
  if (slowed) chaosCalls++;
  if (slowed && ((l.mode === 'every_nth' && l.every_nth > 0 && chaosCalls % l.every_nth === 0) || (l.mode === 'probability' && Math.random() < l.probability))) {
    delay += l.delay_ms + Math.random() * l.jitter_ms;
  }
  const limit = Math.min(TRY_TIMEOUT_MS, budgetMs);
  const started = Date.now();
  await sleep(Math.min(delay, limit));
  const timedOut = delay > limit;
  recordCall(timedOut, Date.now() - started);
  return timedOut ? 'timeout' : 'ok';
}

function reserve(order) {
  for (const item of order.items) {
    const p = products.get(item.sku);
    if (p.available < item.quantity) return { ok: false, sku: item.sku, requested: item.quantity, available: p.available };
  }
  for (const item of order.items) products.get(item.sku).available -= item.quantity;
  return { ok: true };
}

/** Tries to reserve within the deadline; returns true when inventory answered. */
async function drive(order, deadlineMs) {
  const end = Date.now() + deadlineMs;
  budget.requests++;
  for (let attempt = 0; attempt < 4 && Date.now() < end; ++attempt) {
    if (attempt > 0) {
      budget.retries++;
      await sleep(Math.random() * 50 * 2 ** attempt);
    }
    if (!permit()) return false;
    if ((await inventoryCall(end - Date.now())) === 'ok') return true;
  }
  return false;
}

function settle(order) {
  const result = reserve(order);
  order.updated_at = new Date().toISOString();
  if (result.ok) {
    order.status = 'CONFIRMED';
    order.status_reason = null;
    return { status: 201, body: order };
  }
  order.status = 'REJECTED';
  order.status_reason = `insufficient stock for ${result.sku}`;
  return {
    status: 409,
    body: {
      type: 'https://valerix.dev/problems/insufficient_stock',
      title: 'Insufficient stock',
      status: 409,
      code: 'insufficient_stock',
      detail: `only ${result.available} of ${result.sku} available, ${result.requested} requested`,
      order_id: order.id,
      sku: result.sku,
      requested: result.requested,
      available: result.available,
    },
    problem: true,
  };
}

// The "reconciler": finishes PENDING orders and SHIPPING ones.
let reconciling = false;
setInterval(async () => {
  if (reconciling) return;
  reconciling = true;
  try {
    for (const order of orders.values()) {
      if (order.status !== 'PENDING' && order.status !== 'SHIPPING') continue;
      if (!(await drive(order, DEADLINE_MS))) continue;
      if (order.status === 'PENDING') {
        const answer = settle(order);
        const key = [...keys.values()].find((k) => k.orderId === order.id);
        if (key) key.answer = answer;
      } else if (order.status === 'SHIPPING') {
        for (const item of order.items) products.get(item.sku).on_hand -= item.quantity;
        order.status = 'SHIPPED';
        order.updated_at = new Date().toISOString();
      }
    }
  } finally {
    reconciling = false;
  }
}, 500).unref();

function backlog() {
  const pending = [...orders.values()].filter((o) => o.status === 'PENDING' || o.status === 'SHIPPING');
  const oldest = pending.reduce((m, o) => Math.min(m, Date.parse(o.updated_at)), Date.now());
  return { backlog: pending.length, oldest_age_seconds: pending.length ? (Date.now() - oldest) / 1000 : 0 };
}

function snapshot() {
  const r = rates();
  return {
    generated_at: new Date().toISOString(),
    components: [
      { name: 'web', status: 'ok' },
      { name: 'order', status: 'ok' },
      { name: 'inventory', status: 'ok' },
      { name: 'order_db', status: 'ok' },
      { name: 'inventory_db', status: 'ok' },
      { name: 'backup', status: 'unknown', detail: 'not running (dev server)' },
      { name: 'prometheus', status: 'unknown', detail: 'not running (dev server)' },
    ],
    order_latency: latencySummary(),
    breaker: {
      state: breaker.state,
      failure_rate: r.failure_rate,
      slow_call_rate: r.slow_call_rate,
      not_permitted: breaker.notPermitted,
      open_remaining_ms: breaker.state === 'open' ? Math.max(0, 5000 - (Date.now() - breaker.openedAt)) : 0,
      transitions: breaker.transitions.map((t) => ({ from: t.from, to: t.to, seconds_ago: (Date.now() - t.at) / 1000 })),
    },
    retry_budget: { ...budget },
    reconciler: backlog(),
    chaos,
    backups: null,
    external_sync: null,
    alerts: latencySummary().state === 'red' ? [{ name: 'OrderLatencyHigh', severity: 'page', summary: 'order-service 30 s average latency above 1 s' }] : [],
  };
}

// ------------------------------------------------------------------ HTTP helpers

function send(res, status, body, headers = {}) {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': body && body.code && status >= 400 ? 'application/problem+json' : 'application/json',
    'Cache-Control': 'no-store',
    'X-Request-Id': randomUUID(),
    ...headers,
  });
  res.end(text);
}

function problem(res, status, code, detail, extra = {}) {
  send(res, status, { type: `https://valerix.dev/problems/${code}`, title: code.replace(/_/g, ' '), status, code, detail, ...extra });
}

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text) return { value: undefined };
  try {
    return { value: JSON.parse(text) };
  } catch {
    return { error: true };
  }
}

function isAdmin(req) {
  return req.headers.authorization === `Bearer ${ADMIN_TOKEN}`;
}

// ------------------------------------------------------------------ routes

async function createOrder(req, res) {
  const key = req.headers['idempotency-key'];
  if (!key) return problem(res, 400, 'idempotency_key_missing', 'send a unique Idempotency-Key header');
  const body = await readJson(req);
  if (body.error) return problem(res, 400, 'malformed_json', 'the body is not valid JSON');
  const b = body.value;
  if (!b || typeof b.customer_id !== 'string' || b.customer_id.length < 1 || b.customer_id.length > 64)
    return problem(res, 422, 'validation_failed', 'customer_id must be a string of 1..64 characters', { field: 'customer_id' });
  if (!Array.isArray(b.items) || b.items.length < 1 || b.items.length > 50)
    return problem(res, 422, 'validation_failed', 'items must hold 1..50 entries', { field: 'items' });
  for (const [i, item] of b.items.entries()) {
    if (!Number.isInteger(item?.quantity) || item.quantity < 1 || item.quantity > 1000)
      return problem(res, 422, 'validation_failed', 'quantity must be an integer from 1 to 1000', { field: `items[${i}].quantity` });
    if (!products.has(item.sku))
      return problem(res, 422, 'unknown_sku', `unknown SKU ${item.sku}`, { field: `items[${i}].sku`, sku: item.sku });
  }
  const fingerprint = JSON.stringify(b);
  const existing = keys.get(key);
  if (existing) {
    if (existing.fingerprint !== fingerprint)
      return problem(res, 422, 'idempotency_key_reused', 'this Idempotency-Key was used with a different body');
    const answer = existing.answer ?? (await existing.promise);
    const order = orders.get(existing.orderId);
    const replay = answer.status === 202 ? { status: 202, body: order } : answer;
    return send(res, replay.status, replay.body, { 'Idempotent-Replayed': 'true' });
  }
  const now = new Date().toISOString();
  const order = {
    id: randomUUID(),
    customer_id: b.customer_id,
    status: 'PENDING',
    items: b.items.map((i) => ({ sku: i.sku, quantity: i.quantity, unit_price_cents: products.get(i.sku).price_cents })),
    total_cents: b.items.reduce((sum, i) => sum + i.quantity * products.get(i.sku).price_cents, 0),
    status_reason: null,
    created_at: now,
    updated_at: now,
  };
  orders.set(order.id, order);
  const entry = { fingerprint, orderId: order.id, answer: null, promise: null };
  entry.promise = (async () => {
    const answered = await drive(order, DEADLINE_MS);
    if (!answered) {
      order.status_reason = 'inventory unavailable; the reconciler will finish this order';
      return { status: 202, body: order };
    }
    return settle(order);
  })();
  keys.set(key, entry);
  entry.answer = await entry.promise;
  const headers = entry.answer.status < 300 ? { Location: `/api/v1/orders/${order.id}` } : {};
  send(res, entry.answer.status, entry.answer.body, headers);
}

async function orderAction(res, order, action) {
  if (action === 'cancel') {
    if (order.status === 'CANCELLED') return send(res, 200, order);
    if (order.status !== 'PENDING' && order.status !== 'CONFIRMED')
      return problem(res, 409, 'invalid_transition', `an order in ${order.status} cannot be cancelled`);
    if (order.status === 'CONFIRMED') for (const item of order.items) products.get(item.sku).available += item.quantity;
    order.status = 'CANCELLED';
    order.status_reason = 'cancelled by the customer';
  } else {
    if (order.status === 'SHIPPED' || order.status === 'SHIPPING') return send(res, order.status === 'SHIPPED' ? 200 : 202, order);
    if (order.status !== 'CONFIRMED') return problem(res, 409, 'invalid_transition', `an order in ${order.status} cannot be shipped`);
    order.status = 'SHIPPING';
    order.updated_at = new Date().toISOString();
    if (await drive(order, DEADLINE_MS)) {
      for (const item of order.items) products.get(item.sku).on_hand -= item.quantity;
      order.status = 'SHIPPED';
    }
  }
  order.updated_at = new Date().toISOString();
  send(res, order.status === 'SHIPPING' ? 202 : 200, order);
}

async function api(req, res, url) {
  const path = url.pathname;
  const method = req.method;
  const started = Date.now();
  const timed = path.startsWith('/api/v1/orders') || path === '/api/v1/resilience';
  res.on('finish', () => {
    if (timed) recordLatency(Date.now() - started);
  });

  if (path === '/api/v1/system' && method === 'GET') return send(res, 200, snapshot());
  if (path === '/api/v1/events' && method === 'GET') {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive' });
    res.write('retry: 2000\n\n');
    const push = () => res.write(`event: system\ndata: ${JSON.stringify(snapshot())}\n\n`);
    push();
    const timer = setInterval(push, 1000);
    req.on('close', () => clearInterval(timer));
    return;
  }
  if (path === '/api/v1/products' && method === 'GET') return send(res, 200, { products: [...products.values()] });
  let m = /^\/api\/v1\/products\/([^/]+)$/.exec(path);
  if (m && method === 'GET') {
    const p = products.get(decodeURIComponent(m[1]));
    return p ? send(res, 200, p) : problem(res, 404, 'product_not_found', 'no such product');
  }
  if (m && method === 'PUT') {
    // Admin upsert, as inventory's: name, price and on-hand stock (never below what is reserved).
    if (!isAdmin(req)) return problem(res, 401, 'unauthorized', 'an admin bearer token is required');
    const body = await readJson(req);
    const v = body.value;
    if (body.error || typeof v !== 'object' || v === null) return problem(res, 400, 'malformed_json', 'the body must be a JSON object');
    for (const [field, ok] of [
      ['name', typeof v.name === 'string' && v.name.length >= 1 && v.name.length <= 200],
      ['price_cents', Number.isInteger(v.price_cents) && v.price_cents >= 0],
      ['on_hand', Number.isInteger(v.on_hand) && v.on_hand >= 0],
    ]) {
      if (!ok) return problem(res, 422, 'validation_failed', `${field} is missing or invalid`, { field });
    }
    const sku = decodeURIComponent(m[1]);
    const old = products.get(sku);
    const reserved = old ? old.on_hand - old.available : 0;
    if (v.on_hand < reserved) return problem(res, 409, 'on_hand_below_reserved', `${reserved} are reserved`);
    products.set(sku, { sku, name: v.name, price_cents: v.price_cents, available: v.on_hand - reserved, on_hand: v.on_hand });
    return send(res, old ? 200 : 201, products.get(sku));
  }
  m = /^\/api\/v1\/products\/([^/]+)\/restock$/.exec(path);
  if (m && method === 'POST') {
    if (!isAdmin(req)) return problem(res, 401, 'unauthorized', 'an admin bearer token is required');
    const p = products.get(decodeURIComponent(m[1]));
    if (!p) return problem(res, 404, 'product_not_found', 'no such product');
    const body = await readJson(req);
    const quantity = body.value?.quantity;
    if (!Number.isInteger(quantity) || quantity < 1)
      return problem(res, 422, 'validation_failed', 'quantity must be a positive integer', { field: 'quantity' });
    p.available += quantity;
    p.on_hand += quantity;
    return send(res, 200, p);
  }
  if (path === '/api/v1/orders' && method === 'POST') return createOrder(req, res);
  if (path === '/api/v1/orders' && method === 'GET') {
    const status = url.searchParams.get('status') || null;
    const limit = Math.min(Number(url.searchParams.get('limit') || 20), 100);
    const cursor = Number(url.searchParams.get('cursor') || 0);
    const all = [...orders.values()].filter((o) => !status || o.status === status).reverse();
    const page = all.slice(cursor, cursor + limit);
    return send(res, 200, { orders: page, next_cursor: cursor + limit < all.length ? String(cursor + limit) : null });
  }
  m = /^\/api\/v1\/orders\/([^/]+)(?:\/(ship|cancel))?$/.exec(path);
  if (m) {
    const order = orders.get(m[1]);
    if (!order) return problem(res, 404, 'order_not_found', `no order with id ${m[1]}`);
    if (!m[2] && method === 'GET') return send(res, 200, order);
    if (m[2] && method === 'POST') return orderAction(res, order, m[2]);
  }
  if (path === '/api/v1/resilience' && method === 'GET') {
    const s = snapshot();
    return send(res, 200, { breaker: s.breaker, retry_budget: s.retry_budget, reconciler: s.reconciler, latency_30s: s.order_latency });
  }
  if (path === '/api/v1/chaos') {
    if (!isAdmin(req)) return problem(res, 401, 'unauthorized', 'an admin bearer token is required');
    if (method === 'GET') return send(res, 200, chaos);
    if (method === 'PUT') {
      const body = await readJson(req);
      if (body.error || (body.value !== undefined && (typeof body.value !== 'object' || body.value === null)))
        return problem(res, 400, 'malformed_json', 'the body must be a JSON object');
      const v = body.value ?? {};
      const next = DEFAULT_CHAOS();
      Object.assign(next.latency, v.latency ?? {});
      Object.assign(next.crash, v.crash ?? {});
      if (v.seed !== undefined) next.seed = v.seed;
      const routes = next.latency.routes;
      if (!Array.isArray(routes) || routes.length === 0 || new Set(routes).size !== routes.length ||
          !routes.every((r) => ['reserve', 'commit', 'release'].includes(r)))
        return problem(res, 422, 'validation_failed', 'latency.routes must be a list of one or more of reserve, commit, release', { field: 'latency.routes' });
      for (const section of ['latency', 'crash']) {
        const s = next[section];
        if (!['off', 'every_nth', 'probability'].includes(s.mode))
          return problem(res, 422, 'validation_failed', `${section}.mode must be one of off, every_nth, probability`, { field: `${section}.mode` });
        if (s.mode === 'every_nth' && !(s.every_nth >= 1))
          return problem(res, 422, 'validation_failed', `${section}.every_nth must be at least 1 in every_nth mode`, { field: `${section}.every_nth` });
        if (s.mode === 'probability' && !(s.probability > 0 && s.probability <= 1))
          return problem(res, 422, 'validation_failed', `${section}.probability must be above 0 in probability mode`, { field: `${section}.probability` });
      }
      chaos = next;
      chaosCalls = 0;
      return send(res, 200, chaos);
    }
  }
  return problem(res, 404, 'not_found', `no route for ${method} ${path}`);
}

// ------------------------------------------------------------------ static files

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

async function staticFile(req, res, url) {
  let rel = normalize(decodeURIComponent(url.pathname)).replace(/^(\.\.[/\\])+/, '');
  let file = join(DIST, rel);
  if (!file.startsWith(DIST)) file = join(DIST, 'index.html');
  let info = await stat(file).catch(() => null);
  if (!info || info.isDirectory()) {
    file = join(DIST, 'index.html');
    info = await stat(file).catch(() => null);
    if (!info) {
      res.writeHead(503, { 'Content-Type': 'text/plain' });
      return res.end('web/dist is missing: run `npm ci && npm run build` in web/\n');
    }
  }
  const body = await readFile(file);
  const immutable = file.includes(`${DIST}/assets/`);
  res.writeHead(200, {
    'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
    'Cache-Control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

const server = createServer((req, res) => {
  const url = new URL(req.url, `http://${req.headers.host ?? 'localhost'}`);
  const handler = url.pathname.startsWith('/api/') ? api(req, res, url) : staticFile(req, res, url);
  handler.catch((error) => {
    console.error(error);
    if (!res.headersSent) problem(res, 500, 'internal_error', String(error));
    else res.end();
  });
});
server.listen(PORT, HOST, () => {
  const address = server.address();
  console.log(`valerix dev server on http://${HOST}:${address.port}/ (dist ${DIST}, admin token from VALERIX_ADMIN_TOKEN or "dev-token")`);
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));
