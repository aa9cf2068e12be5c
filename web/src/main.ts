import './style.css';
import { ControlRoom } from './control';
import { h, setText } from './dom';
import { live, type Connection } from './live';
import { Shop } from './shop';

type Route = 'shop' | 'control';

const ROUTES: Record<Route, { path: string; title: string }> = {
  shop: { path: '/', title: 'Shop' },
  control: { path: '/control', title: 'Control room' },
};

function routeOf(pathname: string): Route {
  return pathname.replace(/\/+$/, '') === '/control' ? 'control' : 'shop';
}

function main(): void {
  const app = document.getElementById('app')!;
  const shop = new Shop();
  const control = new ControlRoom(live);

  const links = {
    shop: h('a', { href: ROUTES.shop.path, 'data-testid': 'nav-shop' }, 'Shop'),
    control: h('a', { href: ROUTES.control.path, 'data-testid': 'nav-control' }, 'Control room'),
  };
  const liveDot = h('span', { class: 'live-dot', 'aria-hidden': 'true' });
  const liveText = h('span', null, 'Connecting…');
  const liveStatus = h('span', { class: 'live', role: 'status', 'data-testid': 'live-status' }, liveDot, liveText);
  const health = h('a', { class: 'health-chip', href: ROUTES.control.path, 'data-testid': 'health-chip', hidden: true });

  const skip = h('a', { class: 'skip-link', href: '#main' }, 'Skip to content');
  const header = h(
    'header',
    { class: 'topbar' },
    h('a', { class: 'brand', href: '/', 'aria-label': 'Valerix home' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, 'V'), 'Valerix'),
    h('nav', { 'aria-label': 'Main' }, h('ul', null, h('li', null, links.shop), h('li', null, links.control))),
    h('div', { class: 'topbar-right' }, health, liveStatus),
  );
  const mainEl = h('main', { id: 'main', tabindex: '-1' }, shop.root, control.root);
  app.replaceChildren(skip, header, mainEl);

  let current: Route | null = null;
  const show = (route: Route, focus: boolean) => {
    current = route;
    shop.root.hidden = route !== 'shop';
    control.root.hidden = route !== 'control';
    shop.setVisible(route === 'shop');
    control.setVisible(route === 'control');
    for (const [name, link] of Object.entries(links)) {
      if (name === route) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    document.title = `${ROUTES[route].title} · Valerix`;
    if (focus) (route === 'shop' ? shop.heading : control.heading).focus({ preventScroll: false });
  };

  // Same-origin links to our routes navigate without a reload.
  document.addEventListener('click', (event) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const link = (event.target as Element).closest?.('a');
    if (!link || link.target || link.origin !== location.origin) return;
    const path = link.pathname;
    if (path !== '/' && path !== '/control') return;
    event.preventDefault();
    const route = routeOf(path);
    if (route !== current || location.hash) history.pushState(null, '', ROUTES[route].path);
    show(route, true);
    window.scrollTo(0, 0);
  });
  window.addEventListener('popstate', () => show(routeOf(location.pathname), true));
  show(routeOf(location.pathname), false);

  const connectionText: Record<Connection, string> = {
    connecting: 'Connecting…',
    live: 'Live',
    polling: 'Live (polling)',
    offline: 'Offline, retrying…',
  };
  live.onConnection((connection) => {
    liveStatus.dataset.state = connection;
    setText(liveText, connectionText[connection]);
    // The last snapshot says nothing about now once the gateway is out of reach: no green "All systems normal"
    // beside "Offline". The next snapshot sets the chip again.
    if (connection === 'offline' && !health.hidden) {
      health.dataset.state = 'unknown';
      setText(health, 'Status unknown');
    }
  });
  live.onSnapshot((snapshot) => {
    const bad = snapshot.components.filter((c) => c.status === 'fail' || c.status === 'down' || c.status === 'degraded');
    const slow = snapshot.order_latency?.state === 'red';
    const open = snapshot.breaker?.state === 'open';
    const alerts = snapshot.alerts?.length ?? 0;
    const problems = [
      ...bad.map((c) => `${c.name.replace('_', ' ')} ${c.status}`),
      ...(slow ? ['orders slow'] : []),
      ...(open ? ['breaker open'] : []),
      ...(alerts ? [`${alerts} alert${alerts === 1 ? '' : 's'} firing`] : []),
    ];
    health.hidden = false;
    health.dataset.state = problems.length ? 'bad' : 'ok';
    setText(health, problems.length ? problems.slice(0, 2).join(', ') + (problems.length > 2 ? '…' : '') : 'All systems normal');
  });
  live.start();
}

main();
