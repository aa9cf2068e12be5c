// The HTTP API of the gateway (same origin): types and small request helpers.

export type OrderStatus = 'PENDING' | 'CONFIRMED' | 'REJECTED' | 'SHIPPING' | 'SHIPPED' | 'CANCELLED';

export interface Product {
  sku: string;
  name: string;
  price_cents: number;
  available: number;
  on_hand: number;
}

export interface OrderItem {
  sku: string;
  quantity: number;
  unit_price_cents?: number;
}

export interface Order {
  id: string;
  customer_id: string;
  status: OrderStatus;
  items: OrderItem[];
  total_cents?: number | null; // null until the order is priced (PENDING, REJECTED)
  status_reason?: string | null;
  created_at?: string;
  updated_at?: string;
}

export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  code?: string;
  field?: string;
  order_id?: string;
  sku?: string;
  requested?: number;
  available?: number;
}

export type ComponentStatus = 'ok' | 'degraded' | 'fail' | 'down' | 'unknown';

export interface ComponentHealth {
  name: string;
  status: ComponentStatus | string;
  detail?: string;
  /** The service's own deep health checks, when the gateway passes them on. */
  checks?: Record<string, { status?: string; error?: string; latency_ms?: number }>;
}

/** A one-line explanation of a component's health: its detail, or its failing checks. */
export function componentDetail(component: ComponentHealth): string {
  if (component.detail) return component.detail;
  const failing = Object.entries(component.checks ?? {}).filter(([, check]) => check && check.status && check.status !== 'ok');
  return failing.map(([name, check]) => `${name.replace(/_/g, ' ')}: ${check.error ?? check.status}`).join('; ');
}

export interface LatencySummary {
  requests: number;
  average_ms: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  max_ms: number;
  state: 'green' | 'red' | string;
}

export interface BreakerTransition {
  from: string;
  to: string;
  seconds_ago: number;
}

export interface Breaker {
  state: 'closed' | 'open' | 'half_open' | string;
  failure_rate: number;
  slow_call_rate: number;
  not_permitted: number;
  open_remaining_ms: number;
  transitions: BreakerTransition[];
}

export type ChaosMode = 'off' | 'every_nth' | 'probability';
export type ChaosRoute = 'reserve' | 'commit' | 'release';
export const CHAOS_ROUTES: readonly ChaosRoute[] = ['reserve', 'commit', 'release'];

export interface ChaosConfig {
  latency: {
    mode: ChaosMode;
    every_nth: number;
    probability: number;
    delay_ms: number;
    jitter_ms: number;
    /** The reservation calls the gremlin slows; absent (an older inventory) means all of them. */
    routes?: ChaosRoute[];
  };
  crash: {
    mode: ChaosMode;
    every_nth: number;
    probability: number;
    point: 'before_commit' | 'after_commit';
    action: 'exit' | 'error_500' | 'drop_connection';
  };
  seed: number;
}

export interface Alert {
  name?: string;
  alertname?: string;
  severity?: string;
  summary?: string;
  description?: string;
  state?: string;
  since?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface Snapshot {
  generated_at: string;
  components: ComponentHealth[];
  order_latency: LatencySummary | null;
  breaker: Breaker | null;
  retry_budget: { requests: number; retries: number; refused: number } | null;
  reconciler: { backlog: number; oldest_age_seconds: number } | null;
  chaos: ChaosConfig | null;
  backups: unknown;
  external_sync: unknown;
  alerts: Alert[] | null;
}

export interface ApiResponse<T> {
  status: number;
  ok: boolean;
  body: T | null;
  problem: Problem | null;
  headers: Headers;
}

/** The request never got an HTTP answer (network down, timeout, aborted). */
export class NetworkError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NetworkError';
  }
}

export interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

export async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { Accept: 'application/json', ...options.headers };
  let body: string | undefined;
  if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeoutMs ?? 10_000);
  let response: Response;
  let text: string;
  try {
    response = await fetch(path, { method, headers, body, signal: controller.signal, cache: 'no-store' });
    text = await response.text();
  } catch (error) {
    throw new NetworkError(controller.signal.aborted ? 'the request timed out' : 'the server could not be reached');
  } finally {
    clearTimeout(timer);
  }
  let parsed: unknown = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
  }
  const ok = response.status >= 200 && response.status < 300;
  const isProblem = !ok || (response.headers.get('Content-Type') ?? '').includes('problem+json');
  return {
    status: response.status,
    ok,
    body: ok ? (parsed as T) : null,
    problem: isProblem ? ((parsed as Problem) ?? { status: response.status, title: response.statusText }) : null,
    headers: response.headers,
  };
}

/** A random UUID v4. crypto.randomUUID needs a secure context; getRandomValues does not. */
export function uuid(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function describeProblem(problem: Problem | null, status: number): string {
  if (!problem) return `The server answered ${status}.`;
  const text = problem.detail || problem.title || `The server answered ${status}.`;
  // Details are sentences without their full stop ("… is not reachable right now; retry later"): messages go on
  // after them.
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Answers worth retrying with the same Idempotency-Key: nothing final was decided. */
function retryable(response: ApiResponse<unknown>): boolean {
  if (response.status === 502 || response.status === 503 || response.status === 504) return true;
  return response.status === 409 && response.problem?.code === 'idempotency_key_in_flight';
}

/**
 * POST /api/v1/orders with the given Idempotency-Key. Lost replies, timeouts, 502/503/504
 * and "key in flight" are retried with the *same* key, so one submit creates at most one
 * order however often the request reaches the server.
 */
export async function submitOrder(
  key: string,
  body: { customer_id: string; items: OrderItem[] },
  onRetry: (attempt: number, reason: string) => void,
  attempts = 4,
): Promise<ApiResponse<Order>> {
  let lastError: unknown = null;
  for (let attempt = 1; attempt <= attempts; ++attempt) {
    try {
      const response = await request<Order>('POST', '/api/v1/orders', {
        body,
        headers: { 'Idempotency-Key': key },
        timeoutMs: 15_000,
      });
      if (!retryable(response) || attempt === attempts) return response;
      lastError = null;
      onRetry(attempt + 1, describeProblem(response.problem, response.status));
    } catch (error) {
      if (!(error instanceof NetworkError)) throw error;
      lastError = error;
      if (attempt === attempts) break;
      onRetry(attempt + 1, error.message);
    }
    // Full-jitter exponential backoff: 0..(400 ms · 2^attempt).
    await sleep(Math.random() * 400 * 2 ** attempt);
  }
  throw lastError instanceof Error ? lastError : new NetworkError('the server could not be reached');
}
