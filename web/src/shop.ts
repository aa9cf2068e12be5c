// Storefront: products with live stock, a cart, placing orders (one Idempotency-Key per
// submit), and "my orders" with live status, ship and cancel.

import {
  describeProblem,
  NetworkError,
  request,
  submitOrder,
  uuid,
  type Order,
  type OrderItem,
  type OrderStatus,
  type Problem,
  type Product,
} from './api';
import { fill, formatCents, formatTime, h, setText, store, type KeyValueStore } from './dom';

const ACTIVE: ReadonlySet<OrderStatus> = new Set(['PENDING', 'SHIPPING']);
const MAX_TRACKED = 50;
const MAX_QUANTITY = 1000;

const STATUS_TEXT: Record<OrderStatus, string> = {
  PENDING: 'Pending',
  CONFIRMED: 'Confirmed',
  REJECTED: 'Rejected',
  SHIPPING: 'Shipping',
  SHIPPED: 'Shipped',
  CANCELLED: 'Cancelled',
};

const STATUS_HELP: Record<OrderStatus, string> = {
  PENDING: 'Waiting for the warehouse to reserve stock; this updates by itself.',
  CONFIRMED: 'Stock is reserved. You can ship or cancel it.',
  REJECTED: 'Not enough stock; nothing was reserved.',
  SHIPPING: 'Handing over to the warehouse; this updates by itself.',
  SHIPPED: 'On its way.',
  CANCELLED: 'Cancelled; the stock was released.',
};

function load<T>(storage: KeyValueStore, key: string, fallback: T): T {
  try {
    const text = storage.getItem(key);
    return text ? (JSON.parse(text) as T) : fallback;
  } catch {
    return fallback;
  }
}

function save(storage: KeyValueStore, key: string, value: unknown): void {
  try {
    if (value === null) storage.removeItem(key);
    else storage.setItem(key, JSON.stringify(value));
  } catch {
    // Storage full or disabled: the page still works for this visit.
  }
}

/** The last 8 hex digits: an order id is a UUIDv7, whose first ones are its creation time (shared by every order
 * of the same minute), and whose last ones are random. */
function shortId(id: string): string {
  return id.slice(-8);
}

/** The parts of a product card that change after it is built. */
interface ProductCard {
  card: HTMLElement;
  name: HTMLElement;
  price: HTMLElement;
  stock: HTMLElement;
  add: HTMLButtonElement;
  inCart: HTMLElement;
}

interface PendingSubmit {
  key: string;
  body: string; // the exact JSON sent, so a retry of the same cart reuses the key
}

export class Shop {
  readonly root: HTMLElement;
  readonly heading: HTMLHeadingElement;

  private products = new Map<string, Product>();
  private productOrder: string[] = [];
  private productCards = new Map<string, ProductCard>();
  /** Orders with a ship or cancel request under way. */
  private busyOrders = new Set<string>();
  private cart: Map<string, number>;
  private customer: string;
  private orderIds: string[] = [];
  private orders = new Map<string, Order>();
  private fetchedAt = new Map<string, number>();
  private pending: PendingSubmit | null;
  private submitting = false;
  private visible = false;
  private productsLoadedOnce = false;

  private productList = h('div', { class: 'product-grid', 'data-testid': 'products', 'aria-busy': 'true' });
  private productNotice = h('p', { class: 'notice', role: 'status' }, 'Loading products…');
  private cartList = h('ul', { class: 'cart-lines', 'data-testid': 'cart' });
  private cartTotal = h('p', { class: 'cart-total' });
  private cartCount = h('span', { class: 'badge', 'aria-hidden': 'true' });
  private placeButton = h('button', { class: 'primary big', type: 'submit', 'data-testid': 'place-order' }, 'Place order');
  private message = h('div', { class: 'message', role: 'status', 'aria-live': 'polite', 'data-testid': 'order-message' });
  private customerInput = h('input', {
    id: 'customer-id',
    name: 'customer',
    autocomplete: 'username',
    maxlength: 64,
    spellcheck: 'false',
    'aria-describedby': 'customer-help',
    'data-testid': 'customer-id',
  });
  private ordersList = h('ol', { class: 'orders', 'data-testid': 'my-orders' });
  private ordersEmpty = h('p', { class: 'muted' }, 'No orders yet. Orders you place appear here with their live status.');
  private ordersAnnouncer = h('p', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite' });
  private mobileBar = h('a', { class: 'mobile-cart-bar', href: '#cart', 'data-testid': 'mobile-cart-bar' });

  constructor() {
    this.cart = new Map(load<[string, number][]>(store('local'), 'valerix.cart', []));
    this.customer = store('local').getItem('valerix.customer') || `guest-${uuid().slice(0, 6)}`;
    store('local').setItem('valerix.customer', this.customer);
    this.pending = load<PendingSubmit | null>(store('session'), 'valerix.pendingSubmit', null);
    this.orderIds = this.loadOrderIds();

    this.heading = h('h1', { tabindex: '-1' }, 'Shop');
    this.customerInput.value = this.customer;
    this.customerInput.addEventListener('change', () => this.changeCustomer(this.customerInput.value));

    const form = h(
      'form',
      { class: 'checkout', 'aria-label': 'Checkout', onsubmit: (e: Event) => this.onSubmit(e) },
      h('label', { for: 'customer-id' }, 'Customer ID'),
      this.customerInput,
      h('p', { id: 'customer-help', class: 'hint' }, 'Your orders are kept under this ID on this device.'),
      this.placeButton,
      this.message,
    );

    this.root = h(
      'section',
      { class: 'view shop', 'aria-labelledby': 'shop-title', 'data-testid': 'shop' },
      h(
        'div',
        { class: 'view-head' },
        Object.assign(this.heading, { id: 'shop-title' }),
        h('p', { class: 'lead' }, 'Pick products, place an order, and watch it move through the system.'),
      ),
      h(
        'div',
        { class: 'shop-layout' },
        h(
          'section',
          { class: 'panel products-panel', 'aria-labelledby': 'products-title', id: 'products' },
          h('h2', { id: 'products-title' }, 'Products'),
          this.productNotice,
          this.productList,
        ),
        h(
          'div',
          { class: 'side' },
          h(
            'section',
            { class: 'panel cart-panel', id: 'cart', 'aria-labelledby': 'cart-title', tabindex: '-1' },
            h('h2', { id: 'cart-title' }, 'Cart ', this.cartCount),
            this.cartList,
            this.cartTotal,
            form,
          ),
          h(
            'section',
            { class: 'panel orders-panel', 'aria-labelledby': 'orders-title', id: 'orders' },
            h('h2', { id: 'orders-title', tabindex: '-1' }, 'My orders'),
            this.ordersEmpty,
            this.ordersList,
            this.ordersAnnouncer,
          ),
        ),
      ),
      this.mobileBar,
    );

    this.renderCart();
    this.renderOrders();
    setInterval(() => this.tick(), 1000);
    void this.loadProducts();
    void this.discoverOrders();
  }

  setVisible(visible: boolean): void {
    this.visible = visible;
    if (visible) void this.loadProducts();
  }

  // ---------------------------------------------------------------- periodic work

  private tickCount = 0;

  private tick(): void {
    if (document.hidden) return;
    ++this.tickCount;
    if (this.visible && this.tickCount % 3 === 0) void this.loadProducts();
    const now = Date.now();
    for (const id of this.orderIds) {
      const order = this.orders.get(id);
      const age = now - (this.fetchedAt.get(id) ?? 0);
      const due = !order || ACTIVE.has(order.status) ? 1000 : this.visible ? 15_000 : 60_000;
      if (age >= due) void this.refreshOrder(id);
    }
  }

  // ---------------------------------------------------------------- products

  private loadingProducts = false;

  private async loadProducts(): Promise<void> {
    if (this.loadingProducts) return;
    this.loadingProducts = true;
    try {
      const response = await request<{ products: Product[] }>('GET', '/api/v1/products', { timeoutMs: 8000 });
      if (response.ok && response.body) {
        this.products.clear();
        for (const product of response.body.products) this.products.set(product.sku, product);
        this.productOrder = response.body.products.map((p) => p.sku);
        this.productsLoadedOnce = true;
        setText(this.productNotice, '');
        this.productNotice.hidden = true;
        this.renderProducts();
      } else {
        this.showProductProblem(`Products are unavailable right now: ${describeProblem(response.problem, response.status)}`);
      }
    } catch (error) {
      this.showProductProblem(`Products are unavailable right now: ${(error as Error).message}. Retrying…`);
    } finally {
      this.loadingProducts = false;
    }
  }

  private showProductProblem(text: string): void {
    this.productNotice.hidden = false;
    this.productNotice.className = this.productsLoadedOnce ? 'notice warn' : 'notice error';
    setText(this.productNotice, this.productsLoadedOnce ? `${text} Stock shown may be out of date.` : text);
  }

  private renderProducts(): void {
    this.productList.setAttribute('aria-busy', 'false');
    // Cards of products no longer listed go first, so that they do not push the others out of place below.
    const listed = new Set(this.productOrder);
    for (const [sku, card] of this.productCards) {
      if (!listed.has(sku)) {
        card.card.remove();
        this.productCards.delete(sku);
      }
    }
    let position = 0;
    for (const sku of this.productOrder) {
      const product = this.products.get(sku)!;
      let card = this.productCards.get(sku);
      if (!card) {
        const stock = h('p', { class: 'stock', 'data-testid': 'stock' });
        const inCart = h('span', { class: 'in-cart' });
        const add = h(
          'button',
          {
            class: 'secondary',
            type: 'button',
            'data-testid': 'add-to-cart',
            'aria-label': `Add ${product.name} to cart`,
            onclick: () => this.addToCart(sku),
          },
          'Add to cart',
        );
        const name = h('h3', null);
        const price = h('p', { class: 'price', 'data-testid': 'price' });
        const element = h(
          'article',
          { class: 'product', 'data-sku': sku },
          name,
          h('p', { class: 'sku' }, sku),
          price,
          stock,
          h('div', { class: 'product-actions' }, add, inCart),
        );
        card = { card: element, name, price, stock, add, inCart };
        this.productCards.set(sku, card);
      }
      this.updateCard(product, card);
      // Server order, moving only a card out of place: a card taken out and put back loses the keyboard focus of
      // its "Add to cart" button, which a refresh every few seconds must not do.
      const here = this.productList.children[position] ?? null;
      if (here !== card.card) this.productList.insertBefore(card.card, here);
      position += 1;
    }
    // Fresh prices and stock for the cart, but never under the hands of someone typing a quantity.
    const active = document.activeElement;
    if (!(active instanceof HTMLInputElement && this.cartList.contains(active))) this.renderCart();
  }

  private updateCard(product: Product, card: ProductCard): void {
    // Name and price too: an admin may change them (PUT /api/v1/products/{sku}) while the page is open.
    setText(card.name, product.name);
    setText(card.price, formatCents(product.price_cents));
    card.add.setAttribute('aria-label', `Add ${product.name} to cart`);
    const available = product.available;
    const text = available <= 0 ? 'Out of stock' : available <= 10 ? `Only ${available} left` : `${available} in stock`;
    setText(card.stock, text);
    card.stock.className = `stock ${available <= 0 ? 'out' : available <= 10 ? 'low' : 'ok'}`;
    card.stock.dataset.available = String(available);
    const quantity = this.cart.get(product.sku) ?? 0;
    card.add.disabled = available <= 0 || quantity >= Math.min(available, MAX_QUANTITY);
    setText(card.inCart, quantity ? `${quantity} in cart` : '');
  }

  // ---------------------------------------------------------------- cart

  private addToCart(sku: string): void {
    this.setQuantity(sku, (this.cart.get(sku) ?? 0) + 1);
    const product = this.products.get(sku);
    this.say(product ? `${product.name} added to the cart.` : 'Added to the cart.', 'info');
  }

  private setQuantity(sku: string, quantity: number): void {
    if (!Number.isFinite(quantity) || quantity <= 0) this.cart.delete(sku);
    else this.cart.set(sku, Math.min(Math.floor(quantity), MAX_QUANTITY));
    save(store('local'), 'valerix.cart', [...this.cart]);
    this.renderCart();
    const product = this.products.get(sku);
    const card = this.productCards.get(sku);
    if (product && card) this.updateCard(product, card);
  }

  private renderCart(): void {
    const lines: HTMLElement[] = [];
    let total = 0;
    let count = 0;
    for (const [sku, quantity] of this.cart) {
      const product = this.products.get(sku);
      const name = product?.name ?? sku;
      count += quantity;
      if (product) total += product.price_cents * quantity;
      const tooMany = product !== undefined && quantity > product.available;
      const input = h('input', {
        type: 'number',
        inputmode: 'numeric',
        min: 1,
        max: MAX_QUANTITY,
        value: quantity,
        class: 'qty',
        'aria-label': `Quantity of ${name}`,
        onchange: (e: Event) => this.setQuantity(sku, Number((e.target as HTMLInputElement).value)),
      });
      lines.push(
        h(
          'li',
          { class: 'cart-line', 'data-sku': sku },
          h('span', { class: 'cart-name' }, name),
          h(
            'span',
            { class: 'stepper' },
            h('button', {
              type: 'button',
              class: 'icon',
              'aria-label': `One less ${name}`,
              text: '−',
              onclick: () => this.setQuantity(sku, quantity - 1),
            }),
            input,
            h('button', {
              type: 'button',
              class: 'icon',
              'aria-label': `One more ${name}`,
              text: '+',
              onclick: () => this.setQuantity(sku, quantity + 1),
            }),
          ),
          h('span', { class: 'cart-price' }, product ? formatCents(product.price_cents * quantity) : ''),
          h('button', {
            type: 'button',
            class: 'link remove',
            'aria-label': `Remove ${name} from the cart`,
            text: 'Remove',
            onclick: () => this.setQuantity(sku, 0),
          }),
          tooMany ? h('span', { class: 'cart-warn' }, `Only ${product!.available} available`) : null,
        ),
      );
    }
    // Keep focus on a stepper button across re-renders (keyboard users press it repeatedly).
    const focused = document.activeElement;
    const focusKey =
      focused instanceof HTMLElement && this.cartList.contains(focused) ? focused.getAttribute('aria-label') : null;
    if (lines.length) fill(this.cartList, lines);
    else fill(this.cartList, h('li', { class: 'muted empty' }, 'Your cart is empty. Add a product to start.'));
    if (focusKey) {
      const again = [...this.cartList.querySelectorAll<HTMLElement>('[aria-label]')].find(
        (el) => el.getAttribute('aria-label') === focusKey,
      );
      (again ?? this.placeButton).focus();
    }
    setText(this.cartTotal, count ? `Total ${formatCents(total)}` : '');
    setText(this.cartCount, count ? String(count) : '');
    this.cartCount.hidden = !count;
    this.placeButton.disabled = this.submitting || count === 0;
    setText(this.mobileBar, count ? `Cart: ${count} item${count === 1 ? '' : 's'} · ${formatCents(total)} — check out` : '');
    this.mobileBar.hidden = !count;
  }

  // ---------------------------------------------------------------- placing an order

  private onSubmit(event: Event): void {
    event.preventDefault();
    void this.placeOrder();
  }

  private async placeOrder(): Promise<void> {
    // A second click while the first submit runs does nothing: one submit, one key.
    if (this.submitting) return;
    const customer = this.customerInput.value.trim();
    if (!customer) {
      this.say('Enter a customer ID first.', 'error');
      this.customerInput.focus();
      return;
    }
    if (customer !== this.customer) this.changeCustomer(customer);
    // In SKU order: the same cart is the same body (and so the same key on a retry), however its lines were added.
    const items: OrderItem[] = [...this.cart]
      .map(([sku, quantity]) => ({ sku, quantity }))
      .sort((a, b) => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0));
    if (!items.length) return;
    const body = { customer_id: customer, items };
    const bodyText = JSON.stringify(body);
    // Same cart as a submit whose outcome we never learned: reuse its key (a safe retry). A changed cart is a new
    // order with a new key, and the earlier one may have been placed after all: ask before risking two.
    const retry = this.pending?.body === bodyText;
    if (
      this.pending &&
      !retry &&
      !window.confirm(
        'We could not confirm your previous order, so it may have been placed. The cart has changed since: placing it ' +
          'now is a new order, and you may get both. Place the changed cart anyway?',
      )
    ) {
      this.say('Nothing sent. Press “Place order” with the cart as it was to retry the previous order safely.', 'info');
      return;
    }
    const key = retry && this.pending ? this.pending.key : uuid();
    this.pending = { key, body: bodyText };
    save(store('session'), 'valerix.pendingSubmit', this.pending);

    this.submitting = true;
    this.placeButton.disabled = true;
    this.placeButton.setAttribute('aria-busy', 'true');
    setText(this.placeButton, 'Placing order…');
    this.say('Placing your order…', 'info');
    try {
      const response = await submitOrder(key, body, (attempt, reason) =>
        this.say(`Still trying (attempt ${attempt}): ${reason}`, 'info'),
      );
      this.handleAnswer(response.status, response.body, response.problem, items);
    } catch (error) {
      const reason = error instanceof NetworkError ? error.message : String(error);
      this.say(
        `We could not confirm your order (${reason}). Press “Place order” again: it is safe, the same request is resent and you will not be charged twice.`,
        'error',
      );
    } finally {
      this.submitting = false;
      this.placeButton.removeAttribute('aria-busy');
      setText(this.placeButton, 'Place order');
      this.renderCart();
    }
  }

  private handleAnswer(status: number, order: Order | null, problem: Problem | null, sent: OrderItem[]): void {
    const final = (): void => {
      this.pending = null;
      save(store('session'), 'valerix.pendingSubmit', null);
    };
    if ((status === 201 || status === 202) && order) {
      final();
      this.track(order);
      // Only what was ordered leaves the cart: lines added or raised while the order was being placed stay.
      for (const { sku, quantity } of sent) {
        const left = (this.cart.get(sku) ?? 0) - quantity;
        if (left > 0) this.cart.set(sku, left);
        else this.cart.delete(sku);
      }
      save(store('local'), 'valerix.cart', [...this.cart]);
      const id = shortId(order.id);
      if (order.status === 'CONFIRMED') this.say(`Order ${id} is confirmed. Thank you!`, 'success');
      else
        this.say(
          `Order ${id} is received and waiting for the warehouse (${STATUS_TEXT[order.status] ?? order.status}). It updates below by itself.`,
          'info',
        );
      void this.loadProducts();
      return;
    }
    if (status === 409 && problem?.code === 'insufficient_stock') {
      final();
      const name = (problem.sku && this.products.get(problem.sku)?.name) || problem.sku || 'a product';
      this.say(
        `Not enough stock for ${name}: you asked for ${problem.requested ?? '?'}, ${problem.available ?? 0} available. Lower the quantity and try again.`,
        'error',
      );
      if (problem.order_id) void this.refreshOrder(problem.order_id, true);
      void this.loadProducts();
      return;
    }
    if (status === 422 || status === 400 || status === 413) {
      final();
      const field = problem?.field ? ` (${problem.field})` : '';
      this.say(`The order was not accepted${field}: ${describeProblem(problem, status)}`, 'error');
      // An unknown SKU is found by inventory after the order was stored: it is kept as REJECTED, like a 409's.
      if (problem?.order_id) void this.refreshOrder(problem.order_id, true);
      return;
    }
    // 5xx after retries, key in flight, anything unexpected: the outcome is unknown; keep the key. A key still in
    // flight names its order: show it in My orders, where it updates by itself.
    if (problem?.order_id) void this.refreshOrder(problem.order_id, true);
    this.say(
      `We could not confirm your order: ${describeProblem(problem, status)} Press “Place order” again to retry safely.`,
      'error',
    );
  }

  private say(text: string, kind: 'info' | 'success' | 'error'): void {
    this.message.className = `message ${kind}`;
    setText(this.message, text);
  }

  // ---------------------------------------------------------------- my orders

  private ordersKey(): string {
    return `valerix.orders.${this.customer}`;
  }

  private loadOrderIds(): string[] {
    const ids = load<string[]>(store('local'), this.ordersKey(), []);
    return Array.isArray(ids) ? ids.filter((id) => typeof id === 'string').slice(0, MAX_TRACKED) : [];
  }

  private changeCustomer(value: string): void {
    const customer = value.trim().slice(0, 64);
    if (!customer || customer === this.customer) {
      this.customerInput.value = this.customer;
      return;
    }
    this.customer = customer;
    this.customerInput.value = customer;
    store('local').setItem('valerix.customer', customer);
    this.orderIds = this.loadOrderIds();
    this.orders.clear();
    this.fetchedAt.clear();
    this.renderOrders();
    void this.discoverOrders();
  }

  /** Adds orders of this customer from the most recent page (e.g. placed on another device). */
  private async discoverOrders(): Promise<void> {
    const customer = this.customer;
    try {
      const response = await request<{ orders: Order[] }>('GET', '/api/v1/orders?limit=100', { timeoutMs: 8000 });
      if (!response.ok || !response.body || customer !== this.customer) return;
      const mine = response.body.orders.filter((o) => o.customer_id === customer);
      for (const order of mine.reverse()) this.track(order, false);
      this.renderOrders();
    } catch {
      // Optional: the tracked ids still work.
    }
  }

  private track(order: Order, render = true): void {
    if (order.customer_id && order.customer_id !== this.customer) {
      // Placed for a customer the page has since switched away from: keep it in that customer's list, so it is
      // there when the page switches back.
      const key = `valerix.orders.${order.customer_id}`;
      const ids = load<string[]>(store('local'), key, []);
      if (Array.isArray(ids) && !ids.includes(order.id)) {
        save(store('local'), key, [order.id, ...ids].slice(0, MAX_TRACKED));
      }
      return;
    }
    if (!this.orderIds.includes(order.id)) {
      this.orderIds.unshift(order.id);
      this.orderIds = this.orderIds.slice(0, MAX_TRACKED);
      save(store('local'), this.ordersKey(), this.orderIds);
    }
    this.setOrder(order);
    if (render) this.renderOrders();
  }

  private setOrder(order: Order): void {
    const before = this.orders.get(order.id);
    // A poll sent before a ship or cancel may answer after it: never go back to an older state of the order.
    const older = before?.updated_at && order.updated_at && Date.parse(order.updated_at) < Date.parse(before.updated_at);
    if (older) return;
    this.orders.set(order.id, order);
    this.fetchedAt.set(order.id, Date.now());
    if (before && before.status !== order.status) {
      setText(this.ordersAnnouncer, `Order ${shortId(order.id)} is now ${STATUS_TEXT[order.status] ?? order.status}.`);
    }
  }

  private inflight = new Set<string>();

  private async refreshOrder(id: string, trackIt = false): Promise<void> {
    if (this.inflight.has(id)) return;
    this.inflight.add(id);
    this.fetchedAt.set(id, Date.now());
    try {
      const response = await request<Order>('GET', `/api/v1/orders/${encodeURIComponent(id)}`, { timeoutMs: 8000 });
      if (response.ok && response.body) {
        if (trackIt) this.track(response.body);
        else if (this.orderIds.includes(id)) {
          const before = this.orders.get(id);
          this.setOrder(response.body);
          if (!before || before.status !== response.body.status || before.updated_at !== response.body.updated_at)
            this.renderOrders();
        }
      } else if (response.status === 404) {
        this.orderIds = this.orderIds.filter((x) => x !== id);
        save(store('local'), this.ordersKey(), this.orderIds);
        this.renderOrders();
      }
    } catch {
      // Try again on the next tick.
    } finally {
      this.inflight.delete(id);
    }
  }

  private async act(order: Order, action: 'ship' | 'cancel'): Promise<void> {
    if (this.busyOrders.has(order.id)) return;
    if (action === 'cancel' && !window.confirm(`Cancel order ${shortId(order.id)}? The stock is released.`)) return;
    // One action per order at a time: Ship then Cancel while the ship runs only earned a confusing 409. The row's
    // buttons stay disabled through any re-render until the answer is in.
    this.busyOrders.add(order.id);
    this.renderOrders();
    try {
      const response = await request<Order>('POST', `/api/v1/orders/${encodeURIComponent(order.id)}/${action}`, {
        timeoutMs: 15_000,
      });
      if (response.ok && response.body) {
        this.setOrder(response.body);
        const done = STATUS_TEXT[response.body.status] ?? response.body.status;
        this.say(`Order ${shortId(order.id)}: ${done}.`, 'success');
        void this.loadProducts();
      } else {
        this.say(`Could not ${action} order ${shortId(order.id)}: ${describeProblem(response.problem, response.status)}`, 'error');
        void this.refreshOrder(order.id);
      }
    } catch (error) {
      this.say(`Could not ${action} order ${shortId(order.id)}: ${(error as Error).message}. Try again.`, 'error');
    } finally {
      this.busyOrders.delete(order.id);
      this.renderOrders();
    }
  }

  private renderOrders(): void {
    const focusedAction =
      document.activeElement instanceof HTMLElement && this.ordersList.contains(document.activeElement)
        ? document.activeElement.getAttribute('data-focus-key')
        : null;
    const items: HTMLElement[] = [];
    for (const id of this.orderIds) {
      const order = this.orders.get(id);
      if (!order) {
        items.push(
          h('li', { class: 'order', 'data-order-id': id }, h('span', { class: 'muted' }, `Order ${shortId(id)} — loading…`)),
        );
        continue;
      }
      const status = order.status;
      const itemsText = order.items
        .map((item) => `${item.quantity} × ${this.products.get(item.sku)?.name ?? item.sku}`)
        .join(', ');
      const busy = this.busyOrders.has(id);
      const canShip = status === 'CONFIRMED';
      const canCancel = status === 'PENDING' || status === 'CONFIRMED';
      const actions: HTMLElement[] = [];
      if (canShip) {
        const ship = h('button', {
          type: 'button',
          class: 'secondary small',
          'data-testid': 'ship',
          'data-focus-key': `ship-${id}`,
          'aria-label': `Ship order ${shortId(id)}`,
          text: 'Ship',
          disabled: busy,
          'aria-busy': busy,
          onclick: () => void this.act(order, 'ship'),
        });
        actions.push(ship);
      }
      if (canCancel) {
        const cancel = h('button', {
          type: 'button',
          class: 'ghost small',
          'data-testid': 'cancel',
          'data-focus-key': `cancel-${id}`,
          'aria-label': `Cancel order ${shortId(id)}`,
          text: 'Cancel',
          disabled: busy,
          'aria-busy': busy,
          onclick: () => void this.act(order, 'cancel'),
        });
        actions.push(cancel);
      }
      items.push(
        h(
          'li',
          { class: 'order', 'data-order-id': id, 'data-status': status, 'data-testid': 'order' },
          h(
            'div',
            { class: 'order-head' },
            h('span', { class: 'order-id', title: id }, `#${shortId(id)}`),
            h(
              'span',
              { class: `status status-${status.toLowerCase()}`, 'data-testid': 'order-status', title: STATUS_HELP[status] },
              ACTIVE.has(status) ? h('span', { class: 'spinner', 'aria-hidden': 'true' }) : null,
              STATUS_TEXT[status] ?? status,
            ),
            h('span', { class: 'order-time' }, formatTime(order.created_at)),
          ),
          h('p', { class: 'order-items' }, itemsText),
          h(
            'div',
            { class: 'order-foot' },
            h('span', { class: 'order-total' }, order.total_cents != null ? formatCents(order.total_cents) : ''),
            actions.length ? h('span', { class: 'order-actions' }, actions) : null,
          ),
          order.status_reason && status !== 'CONFIRMED' && status !== 'SHIPPED'
            ? h('p', { class: 'order-reason muted' }, order.status_reason)
            : ACTIVE.has(status)
              ? h('p', { class: 'order-reason muted' }, STATUS_HELP[status])
              : null,
        ),
      );
    }
    fill(this.ordersList, items);
    this.ordersEmpty.hidden = items.length > 0;
    if (focusedAction) {
      const again = this.ordersList.querySelector<HTMLElement>(`[data-focus-key="${focusedAction}"]`);
      if (again) again.focus();
      else this.ordersList.closest('section')?.querySelector<HTMLElement>('h2')?.focus();
    }
  }
}
