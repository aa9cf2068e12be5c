// Live system state: Server-Sent Events from /api/v1/events (event "system"), with a
// fallback to polling /api/v1/system while the stream is silent, and a short history of
// the order-service latency for the chart.

import { request, type Snapshot } from './api';
import { store } from './dom';

export type Connection = 'connecting' | 'live' | 'polling' | 'offline';

export interface LatencyPoint {
  t: number; // ms since epoch (browser clock)
  avg: number;
  p50: number;
  p95: number;
  p99: number;
  requests: number;
}

type Listener = (snapshot: Snapshot) => void;
type ConnectionListener = (connection: Connection) => void;

const HISTORY_MS = 5 * 60 * 1000;
const SILENCE_MS = 4000;
const HISTORY_KEY = 'valerix.latencyHistory';

export class Live {
  snapshot: Snapshot | null = null;
  receivedAt = 0;
  connection: Connection = 'connecting';
  readonly history: LatencyPoint[] = [];

  private source: EventSource | null = null;
  private listeners = new Set<Listener>();
  private connectionListeners = new Set<ConnectionListener>();
  private reconnectTimer: number | undefined;
  private polling = false;
  private paused = false;

  start(): void {
    this.restoreHistory();
    // A hidden tab holds no stream: over HTTP/1.1 a browser opens ~6 connections to the gateway for all its tabs
    // together, and with one stream per tab a few open tabs left none to load a page or place an order.
    document.addEventListener('visibilitychange', () => (document.hidden ? this.pause() : this.resume()));
    if (document.hidden) this.paused = true;
    else this.open();
    window.setInterval(() => this.checkSilence(), 1000);
  }

  private pause(): void {
    this.paused = true;
    window.clearTimeout(this.reconnectTimer);
    this.source?.close();
    this.source = null;
  }

  private resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.open();
  }

  onSnapshot(listener: Listener): void {
    this.listeners.add(listener);
    if (this.snapshot) listener(this.snapshot);
  }

  onConnection(listener: ConnectionListener): void {
    this.connectionListeners.add(listener);
    listener(this.connection);
  }

  /** Seconds since the last snapshot arrived (Infinity before the first). */
  age(): number {
    return this.receivedAt ? (Date.now() - this.receivedAt) / 1000 : Infinity;
  }

  private open(): void {
    if (this.source) this.source.close();
    const source = new EventSource('/api/v1/events');
    this.source = source;
    source.addEventListener('system', (event) => {
      try {
        this.accept(JSON.parse((event as MessageEvent<string>).data) as Snapshot, 'live');
      } catch {
        // A malformed event is skipped; the next one follows within a second.
      }
    });
    source.addEventListener('error', () => {
      if (source.readyState === EventSource.CLOSED) {
        // The browser gave up (e.g. the gateway answered an error): try again shortly.
        this.setConnection(this.snapshot ? 'offline' : 'connecting');
        window.clearTimeout(this.reconnectTimer);
        this.reconnectTimer = window.setTimeout(() => {
          if (!this.paused) this.open();
        }, 3000);
      } else if (this.connection === 'live') {
        this.setConnection('connecting');
      }
    });
  }

  private async checkSilence(): Promise<void> {
    if (this.paused || this.polling || Date.now() - this.receivedAt < SILENCE_MS) return;
    // The stream is silent (a buffering proxy, a reconnect): ask for one snapshot.
    this.polling = true;
    try {
      const response = await request<Snapshot>('GET', '/api/v1/system', { timeoutMs: 3000 });
      if (response.ok && response.body && Date.now() - this.receivedAt >= SILENCE_MS) {
        this.accept(response.body, 'polling');
      } else if (!response.ok) {
        this.setConnection('offline');
      }
    } catch {
      this.setConnection('offline');
    } finally {
      this.polling = false;
    }
  }

  private accept(snapshot: Snapshot, via: Connection): void {
    this.snapshot = snapshot;
    this.receivedAt = Date.now();
    this.setConnection(via);
    this.record(snapshot);
    for (const listener of this.listeners) {
      try {
        listener(snapshot);
      } catch (error) {
        // One broken view must not stop the others; make it visible to developers.
        console.warn('view update failed', error);
      }
    }
  }

  private record(snapshot: Snapshot): void {
    const latency = snapshot.order_latency;
    if (!latency) return;
    const now = Date.now();
    const last = this.history[this.history.length - 1];
    const point: LatencyPoint = {
      t: now,
      avg: latency.average_ms,
      p50: latency.p50_ms,
      p95: latency.p95_ms,
      p99: latency.p99_ms,
      requests: latency.requests,
    };
    // At most one point per ~second, whatever the event rate.
    if (last && now - last.t < 900) this.history[this.history.length - 1] = { ...point, t: last.t };
    else this.history.push(point);
    while (this.history.length && now - this.history[0].t > HISTORY_MS) this.history.shift();
    if (now - this.savedAt > 5000) this.saveHistory();
  }

  // The chart's history survives a reload of the tab (sessionStorage, at most 5 minutes).
  private savedAt = 0;

  private saveHistory(): void {
    this.savedAt = Date.now();
    try {
      store('session').setItem(HISTORY_KEY, JSON.stringify(this.history));
    } catch {
      // Not important enough to report.
    }
  }

  private restoreHistory(): void {
    try {
      const saved = JSON.parse(store('session').getItem(HISTORY_KEY) ?? '[]') as LatencyPoint[];
      const now = Date.now();
      if (Array.isArray(saved)) {
        this.history.push(...saved.filter((p) => p && typeof p.t === 'number' && now - p.t <= HISTORY_MS && p.t <= now));
      }
    } catch {
      // Start empty.
    }
    window.addEventListener('pagehide', () => this.saveHistory());
  }

  private setConnection(connection: Connection): void {
    if (this.connection === connection) return;
    this.connection = connection;
    for (const listener of this.connectionListeners) listener(connection);
  }
}

export const live = new Live();
