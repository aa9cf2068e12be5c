// Control room: topology with health colors, the 30 s latency tile, breaker, chart,
// reconciler, retry budget, chaos controls, backups, external sync and alerts.

import { CHAOS_ROUTES, componentDetail, describeProblem, NetworkError, request, type ChaosConfig, type ChaosMode, type ChaosRoute, type Snapshot } from './api';
import { createChart, SERIES } from './chart';
import { fill, formatAgo, formatMs, formatTime, h, s, setText, store } from './dom';
import type { Live } from './live';

const CHART_MAX_WINDOW_MS = 5 * 60 * 1000;
const TOKEN_KEY = 'valerix.adminToken';

const STATUS_LABEL: Record<string, string> = { ok: 'Healthy', degraded: 'Degraded', fail: 'Failing', down: 'Down', unknown: 'Unknown' };

const COMPONENT_LABEL: Record<string, string> = {
  web: 'Web gateway',
  order: 'Order service',
  inventory: 'Inventory service',
  order_db: 'Order DB',
  inventory_db: 'Inventory DB',
  backup: 'Backups',
  prometheus: 'Prometheus',
};

const BREAKER_LABEL: Record<string, string> = { closed: 'Closed', open: 'Open', half_open: 'Half-open' };
const BREAKER_HELP: Record<string, string> = {
  closed: 'Calls to inventory flow normally.',
  open: 'Inventory calls paused; new orders wait as PENDING for the reconciler.',
  half_open: 'Trying a few calls to see if inventory recovered.',
};

function statusClass(status: string): string {
  return Object.hasOwn(STATUS_LABEL, status) ? status : 'unknown';
}

function percent(rate: number): string {
  return rate < 0 ? 'not enough calls yet' : `${rate.toFixed(rate < 10 ? 1 : 0)} %`;
}

// ------------------------------------------------------------------ topology

interface Layout {
  viewBox: string;
  width: number; // box width
  nodes: Record<string, [number, number]>;
  paths?: Record<string, string>; // custom geometry for some edges, by "from>to"
}

const BOX_H = 56;

const LAYOUTS: Record<'wide' | 'narrow', Layout> = {
  wide: {
    viewBox: '0 0 500 306',
    width: 150,
    nodes: {
      web: [6, 16],
      order: [175, 16],
      inventory: [344, 16],
      prometheus: [6, 126],
      order_db: [175, 126],
      inventory_db: [344, 126],
      backup: [259, 236],
    },
  },
  narrow: {
    viewBox: '0 0 350 376',
    width: 150,
    nodes: {
      web: [10, 10],
      prometheus: [190, 10],
      order: [10, 110],
      order_db: [190, 110],
      inventory: [10, 210],
      inventory_db: [190, 210],
      backup: [190, 310],
    },
    paths: {
      // Around the right side, past the inventory DB.
      'backup>order_db': 'M 340 338 H 346 V 138 H 342',
    },
  },
};

const EDGES: { from: string; to: string; kind: 'call' | 'data' | 'watch' }[] = [
  { from: 'web', to: 'order', kind: 'call' },
  { from: 'order', to: 'inventory', kind: 'call' },
  { from: 'order', to: 'order_db', kind: 'data' },
  { from: 'inventory', to: 'inventory_db', kind: 'data' },
  { from: 'backup', to: 'order_db', kind: 'watch' },
  { from: 'backup', to: 'inventory_db', kind: 'watch' },
  { from: 'prometheus', to: 'web', kind: 'watch' },
  { from: 'prometheus', to: 'order', kind: 'watch' },
];

function edgePath(layout: Layout, from: string, to: string): string {
  const custom = layout.paths?.[`${from}>${to}`];
  if (custom) return custom;
  const W = layout.width;
  const [fx, fy] = layout.nodes[from];
  const [tx, ty] = layout.nodes[to];
  const cx1 = fx + W / 2;
  const cy1 = fy + BOX_H / 2;
  const cx2 = tx + W / 2;
  const cy2 = ty + BOX_H / 2;
  let p: [number, number, number, number];
  if (Math.abs(cy1 - cy2) < 1) p = cx1 < cx2 ? [fx + W, cy1, tx, cy2] : [fx, cy1, tx + W, cy2];
  else if (Math.abs(cx1 - cx2) < 1) p = cy1 < cy2 ? [cx1, fy + BOX_H, cx2, ty] : [cx1, fy, cx2, ty + BOX_H];
  else {
    const up = cy2 < cy1;
    p = [cx1 + (cx2 - cx1) * 0.15, up ? fy : fy + BOX_H, cx2 - (cx2 - cx1) * 0.15, up ? ty + BOX_H : ty];
  }
  return `M ${p[0]} ${p[1]} L ${p[2]} ${p[3]}`;
}

class Topology {
  readonly element: HTMLElement;
  private nodes: { name: string; group: SVGElement; status: SVGElement; title: SVGElement }[] = [];

  constructor() {
    this.element = h(
      'div',
      { class: 'topology-box', 'data-testid': 'topology' },
      this.build(LAYOUTS.wide, 'wide'),
      this.build(LAYOUTS.narrow, 'narrow'),
    );
  }

  private build(layout: Layout, kind: string): SVGElement {
    const marker = `arrow-${kind}`;
    const defs = s(
      'defs',
      null,
      s(
        'marker',
        { id: marker, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
        s('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrow-head' }),
      ),
    );
    const edges = s('g', { class: 'edges' });
    for (const edge of EDGES) {
      edges.append(
        s('path', { d: edgePath(layout, edge.from, edge.to), class: `edge edge-${edge.kind}`, fill: 'none', 'marker-end': `url(#${marker})` }),
      );
    }
    const nodes = s('g', { class: 'nodes' });
    for (const [name, [x, y]] of Object.entries(layout.nodes)) {
      const title = s('title', null, COMPONENT_LABEL[name]);
      const status = s('text', { x: x + layout.width / 2, y: y + 41, class: 'node-status', 'text-anchor': 'middle' }, '…');
      const group = s(
        'g',
        { class: 'node node-unknown', 'data-component': name, 'data-status': 'unknown' },
        title,
        s('rect', { x, y, width: layout.width, height: BOX_H, rx: 10 }),
        s('text', { x: x + layout.width / 2, y: y + 23, class: 'node-name', 'text-anchor': 'middle' }, COMPONENT_LABEL[name]),
        status,
      );
      nodes.append(group);
      this.nodes.push({ name, group, status, title });
    }
    return s(
      'svg',
      {
        class: `topology topology-${kind}`,
        viewBox: layout.viewBox,
        role: 'img',
        'aria-label':
          'System topology: the web gateway calls the order service, which calls the inventory service; each service has its own database; backups and Prometheus watch them. Each part is listed with its health below.',
      },
      defs,
      edges,
      nodes,
    );
  }

  update(snapshot: Snapshot): void {
    const statuses = new Map(snapshot.components.map((c) => [c.name, c]));
    for (const node of this.nodes) {
      const component = statuses.get(node.name);
      const status = statusClass(component?.status ?? 'unknown');
      node.group.setAttribute('class', `node node-${status}`);
      node.group.setAttribute('data-status', status);
      node.status.textContent = STATUS_LABEL[status];
      const detail = component ? componentDetail(component) : '';
      node.title.textContent = `${COMPONENT_LABEL[node.name]}: ${STATUS_LABEL[status]}${detail ? ` — ${detail}` : ''}`;
    }
  }
}

// ------------------------------------------------------------------ tiles

function tile(testid: string, title: string): { root: HTMLElement; value: HTMLElement; label: HTMLElement; sub: HTMLElement } {
  const value = h('p', { class: 'tile-value' }, '–');
  const label = h('p', { class: 'tile-label' });
  const sub = h('p', { class: 'tile-sub' });
  const root = h(
    'section',
    { class: 'tile', 'data-testid': testid, 'data-state': 'unknown', 'aria-label': title },
    h('h2', { class: 'tile-title' }, title),
    value,
    label,
    sub,
  );
  return { root, value, label, sub };
}

// ------------------------------------------------------------------ control room

type Field = HTMLInputElement | HTMLSelectElement;

export class ControlRoom {
  readonly root: HTMLElement;
  readonly heading: HTMLHeadingElement;
  private visible = false;

  private latency = tile('latency-tile', 'Order latency · 30 s average');
  private breaker = tile('breaker-tile', 'Circuit breaker · inventory');
  private backlog = tile('reconciler-tile', 'Reconciler backlog');
  private budget = tile('retry-tile', 'Retries · since start');

  private topology = new Topology();
  private componentList = h('ul', { class: 'component-list', 'data-testid': 'components' });
  private transitions = h('ol', { class: 'transitions', 'data-testid': 'breaker-transitions' });
  private chart = createChart();
  private chartLegend = h('ul', { class: 'legend' });
  private alerts = h('div', { class: 'alerts', role: 'alert', 'data-testid': 'alerts-banner' });
  private alertList = h('div', { 'data-testid': 'alerts' });
  private chartTitle = h('h2', { id: 'chart-title' }, 'Order latency');
  private backups = h('div', { 'data-testid': 'backups' });
  private externalSync = h('div', { 'data-testid': 'external-sync' });
  private generated = h('p', { class: 'muted small' });

  // Chaos form
  private chaosSummary = h('p', { class: 'chaos-summary', 'data-testid': 'chaos-summary' }, 'Waiting for the first update…');
  private chaosMessage = h('p', { class: 'message', role: 'status', 'aria-live': 'polite', 'data-testid': 'chaos-message' });
  private fields: Record<string, Field> = {};
  private chaosDirty = false;
  private routeBoxes = {} as Record<ChaosRoute, HTMLInputElement>;
  private routesField!: HTMLFieldSetElement;
  private applying = false;
  private applyButton = h('button', { type: 'submit', class: 'primary', 'data-testid': 'chaos-apply' }, 'Apply');
  private offButton = h('button', { type: 'button', class: 'secondary', 'data-testid': 'chaos-off' }, 'Turn all chaos off');
  private forgetButton = h('button', { type: 'button', class: 'link', 'data-testid': 'forget-token' }, 'Forget admin token');
  private dialog = h('dialog', { class: 'token-dialog', 'aria-labelledby': 'token-title', 'data-testid': 'token-dialog' });
  private tokenInput = h('input', {
    id: 'admin-token',
    type: 'password',
    autocomplete: 'off',
    required: true,
    'data-testid': 'token-input',
  });
  private tokenError = h('p', { class: 'message error', role: 'alert' });
  private tokenResolve: ((token: string | null) => void) | null = null;

  constructor(private readonly live: Live) {
    this.heading = h('h1', { tabindex: '-1', id: 'control-title' }, 'Control room');
    const legend = SERIES.slice()
      .reverse()
      .map((series) => h('li', null, h('span', { class: `swatch ${series.className}`, 'aria-hidden': 'true' }), series.label));
    fill(this.chartLegend, legend);

    this.root = h(
      'section',
      { class: 'view control', 'aria-labelledby': 'control-title', 'data-testid': 'control-room' },
      h(
        'div',
        { class: 'view-head' },
        this.heading,
        h('p', { class: 'lead' }, 'Live health of every part of Valerix. Updates every second.'),
        this.generated,
      ),
      this.alerts,
      h('div', { class: 'tiles' }, this.latency.root, this.breaker.root, this.backlog.root, this.budget.root),
      h(
        'div',
        { class: 'control-grid' },
        h(
          'section',
          { class: 'panel', 'aria-labelledby': 'topology-title' },
          h('h2', { id: 'topology-title' }, 'Topology'),
          this.topology.element,
          h(
            'p',
            { class: 'legend-line' },
            h('span', { class: 'dot ok' }), ' healthy ',
            h('span', { class: 'dot degraded' }), ' degraded (a service behind it fails) ',
            h('span', { class: 'dot fail' }), ' failing ',
            h('span', { class: 'dot down' }), ' down ',
            h('span', { class: 'dot unknown' }), ' unknown / not running',
          ),
          this.componentList,
        ),
        h(
          'section',
          { class: 'panel', 'aria-labelledby': 'chart-title' },
          this.chartTitle,
          this.chart.element,
          this.chartLegend,
          h('p', { class: 'hint' }, 'Percentiles over a rolling 30 s window, sampled every second while this page is open.'),
          h('h3', null, 'Breaker transitions'),
          this.transitions,
        ),
        this.buildChaosPanel(),
        h(
          'section',
          { class: 'panel', 'aria-labelledby': 'backups-title' },
          h('h2', { id: 'backups-title' }, 'Backups'),
          this.backups,
          h('h3', null, 'External sync (once a day)'),
          this.externalSync,
        ),
        h(
          'section',
          { class: 'panel', 'aria-labelledby': 'alerts-title' },
          h('h2', { id: 'alerts-title' }, 'Alerts'),
          this.alertList,
        ),
      ),
      this.buildTokenDialog(),
    );
    live.onSnapshot((snapshot) => this.render(snapshot));
    setInterval(() => {
      if (this.visible && !document.hidden) {
        this.updateChart();
        this.renderAge();
      }
    }, 1000);
  }

  setVisible(visible: boolean): void {
    this.visible = visible;
    if (visible) this.updateChart();
  }

  /** The chart spans the data it has, in whole minutes: 1 minute on a fresh page, up to 5. */
  private updateChart(): void {
    const history = this.live.history;
    const span = history.length ? Date.now() - history[0].t : 0;
    const minutes = Math.min(CHART_MAX_WINDOW_MS / 60_000, Math.max(1, Math.ceil(span / 60_000)));
    setText(this.chartTitle, `Order latency, last ${minutes === 1 ? 'minute' : `${minutes} minutes`}`);
    this.chart.update(history, minutes * 60_000);
  }

  // ---------------------------------------------------------------- rendering

  private render(snapshot: Snapshot): void {
    this.renderLatency(snapshot);
    this.renderBreaker(snapshot);
    this.renderReconciler(snapshot);
    this.renderBudget(snapshot);
    this.topology.update(snapshot);
    this.renderComponents(snapshot);
    this.renderChaos(snapshot.chaos);
    this.renderOptional(this.backups, snapshot.backups, 'Backups are not configured yet.');
    this.renderOptional(this.externalSync, snapshot.external_sync, 'External sync is not configured yet.');
    this.renderAlerts(snapshot);
    if (this.visible) this.updateChart();
    this.renderAge();
  }

  private renderAge(): void {
    const snapshot = this.live.snapshot;
    if (!snapshot) return;
    const age = this.live.age();
    const stale = age > 5 ? ` · no update for ${Math.round(age)} s` : '';
    setText(this.generated, `Snapshot from ${formatTime(snapshot.generated_at)}${stale}`);
    this.root.classList.toggle('stale', age > 5);
  }

  private renderLatency(snapshot: Snapshot): void {
    const t = this.latency;
    const l = snapshot.order_latency;
    if (!l) {
      t.root.dataset.state = 'unknown';
      setText(t.value, '–');
      setText(t.label, 'No data: the order service is not reachable');
      setText(t.sub, '');
      return;
    }
    const red = l.state === 'red';
    t.root.dataset.state = red ? 'red' : 'green';
    setText(t.value, l.requests > 0 ? formatMs(l.average_ms) : '–');
    setText(t.label, red ? 'Slow: average above 1 s' : l.requests > 0 ? 'Healthy: average under 1 s' : 'Healthy: no requests in 30 s');
    setText(
      t.sub,
      l.requests > 0
        ? `p50 ${formatMs(l.p50_ms)} · p95 ${formatMs(l.p95_ms)} · p99 ${formatMs(l.p99_ms)} · ${l.requests} requests`
        : 'Turns red when the 30 s average is above 1 s.',
    );
  }

  private renderBreaker(snapshot: Snapshot): void {
    const t = this.breaker;
    const b = snapshot.breaker;
    if (!b) {
      t.root.dataset.state = 'unknown';
      setText(t.value, '–');
      setText(t.label, 'No data: the order service is not reachable');
      setText(t.sub, '');
      fill(this.transitions, h('li', { class: 'muted' }, 'No data.'));
      return;
    }
    t.root.dataset.state = b.state;
    setText(t.value, BREAKER_LABEL[b.state] ?? b.state);
    const open = b.state === 'open' && b.open_remaining_ms > 0 ? ` Trial calls in ${(b.open_remaining_ms / 1000).toFixed(1)} s.` : '';
    setText(t.label, (BREAKER_HELP[b.state] ?? '') + open);
    const rates =
      b.failure_rate < 0 && b.slow_call_rate < 0
        ? 'Failure and slow-call rates appear after enough calls.'
        : `failures ${percent(b.failure_rate)} · slow calls ${percent(b.slow_call_rate)}`;
    setText(t.sub, rates + (b.not_permitted ? ` · ${b.not_permitted} calls held back since start` : ''));
    const items = b.transitions
      .slice()
      .sort((a, c) => a.seconds_ago - c.seconds_ago)
      .slice(0, 10)
      .map((tr) =>
        h(
          'li',
          null,
          h('span', { class: `pill breaker-${tr.from}` }, BREAKER_LABEL[tr.from] ?? tr.from),
          h('span', { 'aria-label': 'to' }, ' → '),
          h('span', { class: `pill breaker-${tr.to}` }, BREAKER_LABEL[tr.to] ?? tr.to),
          h('span', { class: 'muted' }, ` ${formatAgo(tr.seconds_ago)}`),
        ),
      );
    fill(this.transitions, items.length ? items : h('li', { class: 'muted' }, 'None yet: the breaker has stayed closed.'));
  }

  private renderReconciler(snapshot: Snapshot): void {
    const t = this.backlog;
    const r = snapshot.reconciler;
    if (!r) {
      t.root.dataset.state = 'unknown';
      setText(t.value, '–');
      setText(t.label, 'No data');
      setText(t.sub, '');
      return;
    }
    t.root.dataset.state = r.backlog === 0 ? 'green' : r.oldest_age_seconds > 60 ? 'red' : 'amber';
    setText(t.value, String(r.backlog));
    setText(t.label, r.backlog === 0 ? 'Nothing waiting: every order is settled.' : `${r.backlog === 1 ? 'step' : 'steps'} waiting for inventory`);
    setText(t.sub, r.backlog ? `oldest ${formatAgo(r.oldest_age_seconds).replace(' ago', '')} old` : '');
  }

  private lastRefused: number | null = null;
  private refusedChangedAt = 0;

  private renderBudget(snapshot: Snapshot): void {
    const t = this.budget;
    const r = snapshot.retry_budget;
    if (!r) {
      t.root.dataset.state = 'unknown';
      setText(t.value, '–');
      setText(t.label, 'No data');
      setText(t.sub, '');
      return;
    }
    if (this.lastRefused !== null && r.refused > this.lastRefused) this.refusedChangedAt = Date.now();
    this.lastRefused = r.refused;
    const recentlyRefused = Date.now() - this.refusedChangedAt < 30_000;
    t.root.dataset.state = recentlyRefused ? 'amber' : 'green';
    setText(t.value, String(r.retries));
    setText(t.label, `retries over ${r.requests} ${r.requests === 1 ? 'call' : 'calls'} to inventory`);
    setText(
      t.sub,
      r.refused
        ? `${r.refused} retries refused by the budget${recentlyRefused ? ' (just now)' : ''}, to spare inventory`
        : 'No retry refused by the budget',
    );
  }

  private renderComponents(snapshot: Snapshot): void {
    fill(
      this.componentList,
      snapshot.components.map((c) => {
        const status = statusClass(c.status);
        const detail = componentDetail(c);
        return h(
          'li',
          { 'data-component': c.name, 'data-status': status },
          h('span', { class: `dot ${status}`, 'aria-hidden': 'true' }),
          h('strong', null, COMPONENT_LABEL[c.name] ?? c.name),
          ` ${STATUS_LABEL[status]}`,
          detail ? h('span', { class: 'muted' }, ` — ${detail}`) : null,
        );
      }),
    );
  }

  private renderAlerts(snapshot: Snapshot): void {
    const alerts = snapshot.alerts ?? [];
    const items = alerts.map((a) => {
      const name = a.name ?? a.alertname ?? a.labels?.alertname ?? 'alert';
      const severity = a.severity ?? a.labels?.severity;
      const summary = a.summary ?? a.annotations?.summary ?? a.description ?? a.annotations?.description ?? '';
      return h('li', null, h('strong', null, name), severity ? ` (${severity})` : '', summary ? ` — ${summary}` : '');
    });
    const prometheus = snapshot.components.find((c) => c.name === 'prometheus');
    const evaluated = prometheus !== undefined && prometheus.status === 'ok';
    this.alertList.dataset.count = String(alerts.length);
    if (alerts.length) {
      fill(this.alertList, h('ul', { class: 'alert-list' }, items.map((li) => li.cloneNode(true))));
    } else {
      fill(
        this.alertList,
        h(
          'p',
          { class: 'muted' },
          evaluated
            ? 'No alert is firing.'
            : 'No alerts known: Prometheus, which evaluates the alert rules, is not running or not reachable.',
        ),
      );
    }
    const key = alerts.map((a) => a.name ?? a.alertname ?? a.labels?.alertname).join('|');
    if (!alerts.length) {
      fill(this.alerts);
      this.alerts.hidden = true;
    } else if (this.alerts.hidden || this.alerts.dataset.key !== key) {
      this.alerts.hidden = false;
      this.alerts.dataset.key = key;
      fill(this.alerts, h('h2', null, `${alerts.length} alert${alerts.length === 1 ? '' : 's'} firing`), h('ul', null, items));
    }
  }

  /** Backups and external sync: "not configured" while null; otherwise a readable summary. */
  private renderOptional(target: HTMLElement, value: unknown, empty: string): void {
    if (value === null || value === undefined) {
      target.dataset.state = 'not-configured';
      fill(target, h('p', { class: 'muted' }, h('span', { class: 'pill' }, 'Not configured'), ' ', empty));
      return;
    }
    target.dataset.state = 'configured';
    fill(target, describeValue(value));
  }

  // ---------------------------------------------------------------- chaos

  private field(name: string, el: Field): Field {
    this.fields[name] = el;
    el.name = name;
    el.id = `chaos-${name.replace('.', '-')}`;
    el.addEventListener('input', () => {
      this.chaosDirty = true;
      this.syncFieldVisibility();
    });
    return el;
  }

  private labelled(name: string, label: string, el: Field, hint?: string): HTMLElement {
    return h(
      'div',
      { class: 'field', 'data-field': name },
      h('label', { for: `chaos-${name.replace('.', '-')}` }, label),
      this.field(name, el),
      hint ? h('span', { class: 'hint' }, hint) : null,
    );
  }

  private select(options: [string, string][]): HTMLSelectElement {
    return h('select', null, options.map(([value, text]) => h('option', { value }, text)));
  }

  /** `step` 'any' for fractions: a step of 0.01 made the browser refuse 0.125, which inventory takes. */
  private number(min: number, max: number, step: number | 'any' = 1): HTMLInputElement {
    return h('input', { type: 'number', min, max, step, inputmode: 'decimal', required: true });
  }

  /** One checkbox per reservation call the gremlin may slow; counted among every Nth only when ticked. */
  private buildRouteBoxes(): HTMLElement {
    const names: Record<ChaosRoute, string> = { reserve: 'Reserve', commit: 'Commit (ship)', release: 'Release (cancel)' };
    this.routesField = h(
      'fieldset',
      { class: 'field routes', 'data-field': 'latency.routes' },
      h('legend', null, 'Calls slowed'),
      CHAOS_ROUTES.map((route) => {
        const box = h('input', { type: 'checkbox', id: `chaos-latency-route-${route}`, checked: true, 'data-testid': `chaos-route-${route}` });
        box.addEventListener('change', () => (this.chaosDirty = true));
        this.routeBoxes[route] = box;
        return h('label', { class: 'check', for: box.id }, box, ` ${names[route]}`);
      }),
    );
    return this.routesField;
  }

  private buildChaosPanel(): HTMLElement {
    const modes: [ChaosMode, string][] = [
      ['off', 'Off'],
      ['every_nth', 'Every Nth call'],
      ['probability', 'Random (probability)'],
    ];
    const preset = (label: string, testid: string, apply: () => void) =>
      h('button', { type: 'button', class: 'secondary small', 'data-testid': testid, onclick: () => { apply(); this.chaosDirty = true; this.syncFieldVisibility(); this.chaosMessage.className = 'message info'; setText(this.chaosMessage, `“${label}” filled in. Press Apply to turn it on.`); } }, label);
    const set = (name: string, value: string | number) => (this.fields[name].value = String(value));

    const form = h(
      'form',
      { class: 'chaos-form', onsubmit: (e: Event) => { e.preventDefault(); this.submitForm(); } },
      h(
        'div',
        { class: 'presets' },
        h('span', { class: 'muted' }, 'Quick fill:'),
        preset('Slow every call by 3 s', 'preset-slow', () => {
          set('latency.mode', 'every_nth'); set('latency.every_nth', 1); set('latency.delay_ms', 3000); set('latency.jitter_ms', 0);
          for (const route of CHAOS_ROUTES) this.routeBoxes[route].checked = true;
        }),
        preset('Crash 5 % after commit', 'preset-crash', () => {
          set('crash.mode', 'probability'); set('crash.probability', 0.05); set('crash.point', 'after_commit'); set('crash.action', 'exit');
        }),
      ),
      h(
        'fieldset',
        null,
        h('legend', null, 'Latency gremlin'),
        h('p', { class: 'hint' }, 'Delays the inventory reservation calls ticked below.'),
        h(
          'div',
          { class: 'field-row' },
          this.labelled('latency.mode', 'Mode', this.select(modes)),
          this.labelled('latency.every_nth', 'Every Nth call', this.number(1, 1_000_000), '1 = every call'),
          this.labelled('latency.probability', 'Probability', this.number(0, 1, 'any'), '0 to 1'),
          this.labelled('latency.delay_ms', 'Delay (ms)', this.number(0, 600_000)),
          this.labelled('latency.jitter_ms', 'Jitter (ms)', this.number(0, 600_000)),
        ),
        this.buildRouteBoxes(),
      ),
      h(
        'fieldset',
        null,
        h('legend', null, 'Crash simulator'),
        h('p', { class: 'hint' }, 'Makes the inventory service fail on reservation calls.'),
        h(
          'div',
          { class: 'field-row' },
          this.labelled('crash.mode', 'Mode', this.select(modes)),
          this.labelled('crash.every_nth', 'Every Nth call', this.number(1, 1_000_000)),
          this.labelled('crash.probability', 'Probability', this.number(0, 1, 'any'), '0 to 1'),
          this.labelled(
            'crash.point',
            'When',
            this.select([
              ['before_commit', 'Before the work is committed'],
              ['after_commit', 'After commit (reply lost)'],
            ]),
          ),
          this.labelled(
            'crash.action',
            'How',
            this.select([
              ['exit', 'Process exits (restarted)'],
              ['error_500', 'Answer 500'],
              ['drop_connection', 'Drop the connection'],
            ]),
          ),
        ),
      ),
      h('div', { class: 'field-row' }, this.labelled('seed', 'Random seed', this.number(0, Number.MAX_SAFE_INTEGER))),
      h('div', { class: 'actions' }, this.applyButton, this.offButton, this.forgetButton),
      this.chaosMessage,
    );
    this.offButton.addEventListener('click', () => void this.applyChaos({}));
    this.forgetButton.addEventListener('click', () => {
      store('session').removeItem(TOKEN_KEY);
      this.syncTokenButton();
      this.chaosMessage.className = 'message info';
      setText(this.chaosMessage, 'The admin token is forgotten; you will be asked again.');
    });
    this.fillForm(defaultChaos());
    this.syncTokenButton();
    return h(
      'section',
      { class: 'panel chaos-panel', 'aria-labelledby': 'chaos-title', 'data-testid': 'chaos' },
      h('h2', { id: 'chaos-title' }, 'Chaos controls'),
      h('p', { class: 'hint' }, 'Break things on purpose and watch the system cope. Needs the admin token, asked once per browser tab.'),
      this.chaosSummary,
      form,
    );
  }

  private syncTokenButton(): void {
    this.forgetButton.hidden = !store('session').getItem(TOKEN_KEY);
  }

  private syncFieldVisibility(): void {
    for (const section of ['latency', 'crash']) {
      const mode = this.fields[`${section}.mode`].value;
      // A hidden field is disabled too: the browser checks every enabled field on submit, and one it cannot show
      // (a probability of 0.5x left from another mode) made Apply do nothing at all.
      const show = (name: string, visible: boolean) => {
        const field = this.fields[name];
        const wrapper = field?.closest<HTMLElement>('.field');
        if (wrapper) wrapper.hidden = !visible;
        if (field) field.disabled = !visible;
      };
      show(`${section}.every_nth`, mode === 'every_nth');
      show(`${section}.probability`, mode === 'probability');
      show(`${section}.delay_ms`, section === 'latency' && mode !== 'off');
      show(`${section}.jitter_ms`, section === 'latency' && mode !== 'off');
      show(`${section}.point`, section === 'crash' && mode !== 'off');
      show(`${section}.action`, section === 'crash' && mode !== 'off');
    }
    this.routesField.hidden = this.fields['latency.mode'].value === 'off';
    const anyRandom = this.fields['latency.mode'].value === 'probability' || this.fields['crash.mode'].value === 'probability';
    const seed = this.fields.seed.closest<HTMLElement>('.field');
    if (seed) seed.hidden = !anyRandom;
    this.fields.seed.disabled = !anyRandom;
  }

  private fillForm(config: ChaosConfig): void {
    const set = (name: string, value: string | number) => (this.fields[name].value = String(value));
    set('latency.mode', config.latency.mode);
    set('latency.every_nth', Math.max(1, config.latency.every_nth || 1));
    set('latency.probability', config.latency.probability);
    set('latency.delay_ms', config.latency.delay_ms);
    set('latency.jitter_ms', config.latency.jitter_ms);
    for (const route of CHAOS_ROUTES) this.routeBoxes[route].checked = (config.latency.routes ?? CHAOS_ROUTES).includes(route);
    set('crash.mode', config.crash.mode);
    set('crash.every_nth', Math.max(1, config.crash.every_nth || 1));
    set('crash.probability', config.crash.probability);
    set('crash.point', config.crash.point);
    set('crash.action', config.crash.action);
    set('seed', config.seed);
    this.syncFieldVisibility();
  }

  private readForm(): Record<string, unknown> {
    const v = (name: string) => this.fields[name].value;
    const n = (name: string) => Number(this.fields[name].value);
    const latency: Record<string, unknown> = { mode: v('latency.mode') };
    if (latency.mode !== 'off') {
      if (latency.mode === 'every_nth') latency.every_nth = n('latency.every_nth');
      if (latency.mode === 'probability') latency.probability = n('latency.probability');
      latency.delay_ms = n('latency.delay_ms');
      latency.jitter_ms = n('latency.jitter_ms');
      latency.routes = CHAOS_ROUTES.filter((route) => this.routeBoxes[route].checked);
    }
    const crash: Record<string, unknown> = { mode: v('crash.mode') };
    if (crash.mode !== 'off') {
      if (crash.mode === 'every_nth') crash.every_nth = n('crash.every_nth');
      if (crash.mode === 'probability') crash.probability = n('crash.probability');
      crash.point = v('crash.point');
      crash.action = v('crash.action');
    }
    return { latency, crash, seed: n('seed') };
  }

  private submitForm(): void {
    const config = this.readForm();
    const latency = config.latency as { mode: string; routes?: ChaosRoute[] };
    if (latency.mode !== 'off' && latency.routes?.length === 0) {
      this.chaosMessage.className = 'message error';
      setText(this.chaosMessage, 'Nothing changed: tick at least one call for the latency gremlin to slow.');
      return;
    }
    void this.applyChaos(config);
  }

  private renderChaos(chaos: ChaosConfig | null): void {
    if (!chaos) {
      this.chaosSummary.className = 'chaos-summary warn';
      setText(this.chaosSummary, 'The inventory service is not reachable, so its chaos settings are unknown.');
      return;
    }
    const parts: string[] = [];
    const l = chaos.latency;
    const routes = l.routes && l.routes.length < CHAOS_ROUTES.length ? ` (${l.routes.join(' and ')} only)` : '';
    const delay = `+${formatMs(l.delay_ms)}${l.jitter_ms > 0 ? ` (up to ${formatMs(l.delay_ms + l.jitter_ms)})` : ''}`;
    if (l.mode === 'every_nth') parts.push(`latency ${delay} on ${l.every_nth === 1 ? 'every call' : `every ${ordinal(l.every_nth)} call`}${routes}`);
    if (l.mode === 'probability') parts.push(`latency ${delay} on ${formatPercent(l.probability)} of calls${routes}`);
    const c = chaos.crash;
    const how = c.action === 'exit' ? 'process exit' : c.action === 'error_500' ? '500 answer' : 'dropped connection';
    if (c.mode === 'every_nth') parts.push(`${how} ${c.point.replace('_', ' ')} on ${c.every_nth === 1 ? 'every call' : `every ${ordinal(c.every_nth)} call`}`);
    if (c.mode === 'probability') parts.push(`${how} ${c.point.replace('_', ' ')} on ${formatPercent(c.probability)} of calls`);
    this.chaosSummary.className = `chaos-summary ${parts.length ? 'active' : 'calm'}`;
    this.chaosSummary.dataset.active = parts.length ? 'true' : 'false';
    setText(this.chaosSummary, parts.length ? `Active now: ${parts.join('; ')}.` : 'Active now: nothing. Inventory behaves normally.');
    if (!this.chaosDirty && !this.applying) this.fillForm(chaos);
  }

  private async applyChaos(config: Record<string, unknown>): Promise<void> {
    if (this.applying) return;
    this.applying = true;
    this.applyButton.disabled = this.offButton.disabled = true;
    try {
      let message = '';
      for (let attempt = 0; attempt < 3; ++attempt) {
        let token = store('session').getItem(TOKEN_KEY);
        if (!token) {
          token = await this.askToken(message);
          if (!token) {
            this.chaosMessage.className = 'message info';
            setText(this.chaosMessage, 'Nothing changed: the admin token is needed for chaos controls.');
            return;
          }
          store('session').setItem(TOKEN_KEY, token);
          this.syncTokenButton();
        }
        this.chaosMessage.className = 'message info';
        setText(this.chaosMessage, 'Applying…');
        const response = await request<ChaosConfig>('PUT', '/api/v1/chaos', {
          body: config,
          headers: { Authorization: `Bearer ${token}` },
          timeoutMs: 10_000,
        });
        if (response.status === 401 || response.status === 403) {
          store('session').removeItem(TOKEN_KEY);
          this.syncTokenButton();
          message = 'That token was refused. Check it and try again.';
          continue;
        }
        if (response.ok) {
          this.chaosDirty = false;
          if (response.body) {
            this.fillForm(response.body);
            this.renderChaos(response.body);
          }
          this.chaosMessage.className = 'message success';
          setText(this.chaosMessage, Object.keys(config).length ? 'Applied. Watch the tiles and the chart.' : 'All chaos is off.');
        } else {
          const field = response.problem?.field ? ` (${response.problem.field})` : '';
          this.chaosMessage.className = 'message error';
          setText(this.chaosMessage, `Not applied${field}: ${describeProblem(response.problem, response.status)}`);
        }
        return;
      }
      this.chaosMessage.className = 'message error';
      setText(this.chaosMessage, 'Not applied: the admin token was refused.');
    } catch (error) {
      this.chaosMessage.className = 'message error';
      setText(this.chaosMessage, `Not applied: ${error instanceof NetworkError ? error.message : String(error)}.`);
    } finally {
      this.applying = false;
      this.applyButton.disabled = this.offButton.disabled = false;
    }
  }

  // ---------------------------------------------------------------- admin token dialog

  private buildTokenDialog(): HTMLDialogElement {
    const cancel = h('button', { type: 'button', class: 'secondary', value: 'cancel' }, 'Cancel');
    cancel.addEventListener('click', () => this.closeToken(null));
    fill(
      this.dialog,
      h(
        'form',
        {
          method: 'dialog',
          onsubmit: (e: Event) => {
            e.preventDefault();
            const token = this.tokenInput.value.trim();
            if (token) this.closeToken(token);
          },
        },
        h('h2', { id: 'token-title' }, 'Admin token'),
        h(
          'p',
          null,
          'Chaos controls need the admin token (VALERIX_ADMIN_TOKEN, or the file printed by ',
          h('code', null, './valerix up'),
          '). It is kept only in this browser tab.',
        ),
        this.tokenError,
        h('label', { for: 'admin-token' }, 'Token'),
        this.tokenInput,
        h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', 'data-testid': 'token-submit' }, 'Continue'), cancel),
      ),
    );
    this.dialog.addEventListener('cancel', (e) => {
      e.preventDefault();
      this.closeToken(null);
    });
    return this.dialog;
  }

  private askToken(error: string): Promise<string | null> {
    setText(this.tokenError, error);
    this.tokenError.hidden = !error;
    this.tokenInput.value = '';
    this.dialog.showModal();
    this.tokenInput.focus();
    return new Promise((resolve) => (this.tokenResolve = resolve));
  }

  private closeToken(token: string | null): void {
    this.dialog.close();
    const resolve = this.tokenResolve;
    this.tokenResolve = null;
    resolve?.(token);
    this.applyButton.focus();
  }
}

function ordinal(n: number): string {
  const suffix = n % 100 >= 11 && n % 100 <= 13 ? 'th' : ['th', 'st', 'nd', 'rd'][n % 10] ?? 'th';
  return `${n}${suffix}`;
}

function defaultChaos(): ChaosConfig {
  return {
    latency: { mode: 'off', every_nth: 1, probability: 0, delay_ms: 3000, jitter_ms: 0 },
    crash: { mode: 'off', every_nth: 1, probability: 0, point: 'after_commit', action: 'exit' },
    seed: 42,
  };
}

// "finished_at", "last_sync_time", and a key named just "at" (the external sync's last result).
const TIME_KEYS = /(^|_)(at|time)$/;

/** A probability as people write it: 0.004 → "0.4 %", 0.125 → "12.5 %", 0.05 → "5 %" (three digits at most). */
function formatPercent(probability: number): string {
  return `${Number((probability * 100).toPrecision(3))} %`;
}

/** A readable definition list of an object the gateway adds later (backups, external sync). */
function describeValue(value: unknown, depth = 0): HTMLElement {
  if (value === null || typeof value !== 'object') return h('span', null, String(value));
  if (Array.isArray(value)) {
    if (!value.length) return h('span', { class: 'muted' }, 'none');
    return h('ul', { class: 'plain' }, value.slice(0, 10).map((item) => h('li', null, describeValue(item, depth + 1))));
  }
  const entries = Object.entries(value as Record<string, unknown>);
  return h(
    'dl',
    { class: depth ? 'kv nested' : 'kv' },
    entries.flatMap(([key, v]) => [
      h('dt', null, key.replace(/_/g, ' ')),
      h(
        'dd',
        null,
        v === null
          ? h('span', { class: 'muted' }, '—')
          : typeof v === 'string' && TIME_KEYS.test(key)
            ? `${formatTime(v)}`
            : typeof v === 'object'
              ? describeValue(v, depth + 1)
              : String(v),
      ),
    ]),
  );
}
