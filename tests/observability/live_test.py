#!/usr/bin/env python3
"""Observability tests against the real services (run by CTest, see CMakeLists.txt).

  --check names     every metric name used by an alert/recording rule or a dashboard query is exported
                    by the real services (order, inventory, backup) or the exporters (their /metrics
                    pages), is a recording rule, a
                    Prometheus built-in, or is listed in deploy/prometheus/planned-metrics.txt; and no
                    planned metric is exported already.
  --check queries   Prometheus (1 s scrapes, the real rule files) scrapes the real services and both
                    exporters; the test makes the 30 s latency alert fire with the latency gremlin and
                    clear with normal traffic, places orders (confirmed, rejected, shipped, cancelled,
                    replayed), trips the circuit breaker with the crash simulator, waits for backup-service's
                    first backup, external sync and restore drill (pgBackRest, encrypted repository, WAL
                    archiving of the test cluster; started by its schedule), then evaluates EVERY
                    dashboard query and EVERY rule expression through /api/v1/query: each must be valid,
                    and each must return series unless it reads a planned metric. All targets must be up
                    and every rule healthy.

Usage: live_test.py --inventory BIN --order BIN --backup BIN --check names|queries
"""
import argparse
import glob
import json
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from promql_names import BUILTIN_SERIES, exported_names, metric_names  # noqa: E402
from stack import REPO, Stack, http, log  # noqa: E402

DASHBOARD_DIR = os.path.join(REPO, "deploy", "grafana", "dashboards")
PLANNED_FILE = os.path.join(REPO, "deploy", "prometheus", "planned-metrics.txt")

# Test-friendly resilience settings (as tests/functional does): a small breaker window, short open state,
# fast reconciler.
ORDER_ENV = {
    "VALERIX_BREAKER_WINDOW": "4",
    "VALERIX_BREAKER_MIN_CALLS": "2",
    "VALERIX_BREAKER_OPEN_MS": "1000",
    "VALERIX_INTENT_LEASE_MS": "6000",  # above the default 5 s inventory deadline, as order-service requires
    "VALERIX_RECONCILER_INTERVAL_MS": "50",
    "VALERIX_RECONCILE_BACKOFF_BASE_MS": "50",
    "VALERIX_RECONCILE_BACKOFF_CAP_MS": "400",
}
GREMLIN_DELAY_MS = 1500  # > the 1 s threshold, < the 2 s per-try timeout and slow-call duration


def planned_metrics():
    names = {}
    with open(PLANNED_FILE) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                name = line.split()[0]
                names[name] = line
    return names


def dashboard_queries():
    """[(where, expr)] for every target of every panel (rows' nested panels included)."""
    out = []
    for path in sorted(glob.glob(os.path.join(DASHBOARD_DIR, "*.json"))):
        with open(path) as f:
            dash = json.load(f)
        panels = []
        for p in dash.get("panels", []):
            panels.append(p)
            panels.extend(p.get("panels", []))
        for p in panels:
            for t in p.get("targets", []):
                out.append((f"dashboard '{dash['title']}' panel '{p.get('title')}' query {t.get('refId')}",
                            t["expr"]))
    if not out:
        raise RuntimeError(f"no dashboard queries found in {DASHBOARD_DIR}")
    return out


def rule_list(stack):
    """[(kind, name, group, expr, rule JSON)] of every rule Prometheus loaded from deploy/prometheus/rules."""
    out = []
    for group in stack.prom_api("/api/v1/rules")["groups"]:
        for r in group["rules"]:
            kind = "alert" if r["type"] == "alerting" else "record"
            out.append((kind, r["name"], group["name"], r["query"], r))
    if not out:
        raise RuntimeError("Prometheus loaded no rules")
    return out


# ---------------------------------------------------------------------------------------------- names

def _family(name):
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def check_names(stack):
    known, sources = set(), {}
    for name in stack.jobs:
        names = exported_names(stack.metrics_page(name))
        for n in names:
            sources.setdefault(n, name)
        known |= names
    rules = rule_list(stack)
    recorded = {name for kind, name, *_ in rules if kind == "record"}
    planned = planned_metrics()
    valid = known | recorded | BUILTIN_SERIES
    failures = []
    used = {}
    exprs = [(f"{kind} rule {name}", expr) for kind, name, _, expr, _ in rules] + dashboard_queries()
    for where, expr in exprs:
        for name in sorted(metric_names(expr)):
            used.setdefault(name, where)
            if name not in valid and name not in planned:
                failures.append(f"{where}: metric {name} is exported by no service or exporter "
                                f"(not in planned-metrics.txt either)\n    expr: {expr}")
    for name in sorted(set(planned) & known):
        failures.append(f"planned metric {name} is exported now (by {sources[name]}): delete its line from "
                        f"deploy/prometheus/planned-metrics.txt")
    for name in sorted(set(planned) - set(used)):
        failures.append(f"planned metric {name} is used by no rule or dashboard: delete its line from "
                        f"deploy/prometheus/planned-metrics.txt")
    ours = sorted(n for n in known if sources[n] in ("order", "inventory", "backup"))
    used_families = set(used) | {_family(n) for n in used}
    unused = [n for n in ours if n not in used_families and _family(n) not in used_families]
    log(f"checked {len(exprs)} expressions ({len(rules)} rules, {len(exprs) - len(rules)} dashboard queries); "
        f"{len(known)} exported names ({len(ours)} from the services), {len(recorded)} recording rules, "
        f"{len(planned)} planned")
    if unused:
        log("service metrics on no dashboard or rule (fine, for information): " + ", ".join(unused))
    return failures


# ---------------------------------------------------------------------------------------------- traffic

class Shop:
    def __init__(self, stack):
        self.stack = stack

    def put_product(self, sku, on_hand, price_cents):
        status, body = self.stack.admin("inventory", "PUT", f"/api/v1/products/{sku}",
                                        {"name": f"Test {sku}", "price_cents": price_cents, "on_hand": on_hand})
        assert status in (200, 201), f"PUT product {sku}: {status} {body}"

    def order(self, sku, quantity, key=None, timeout=15):
        key = key or str(uuid.uuid4())
        status, body = http("POST", self.stack.url("order", "/api/v1/orders"),
                            {"customer_id": "observability", "items": [{"sku": sku, "quantity": quantity}]},
                            {"Idempotency-Key": key}, timeout=timeout)
        try:
            doc = json.loads(body)
        except ValueError:
            doc = {}
        return status, doc, key

    def chaos(self, config):
        status, body = self.stack.admin("inventory", "PUT", "/admin/chaos", config)
        assert status == 200, f"PUT /admin/chaos: {status} {body}"

    def scalar_metric(self, service, name):
        for line in self.stack.metrics_page(service).splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        return None


def wait_for(what, predicate, timeout, interval=0.5):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def alert_state(stack, name):
    states = [a["state"] for a in stack.prom_api("/api/v1/alerts")["alerts"] if a["labels"].get("alertname") == name]
    return "firing" if "firing" in states else ("pending" if states else "inactive")


def latency_alert_scenario(stack, shop, failures):
    """The acceptance scenario: the latency gremlin makes inventory slow -> OrderServiceSlow fires; the
    gremlin is switched off and normal traffic resumes -> it clears."""
    shop.chaos({"latency": {"mode": "every_nth", "every_nth": 1, "delay_ms": GREMLIN_DELAY_MS}})
    stop = threading.Event()
    slow = []

    def slow_orders():
        while not stop.is_set():
            t0 = time.monotonic()
            status, _, _ = shop.order("OBS-A", 1)
            slow.append((status, time.monotonic() - t0))

    worker = threading.Thread(target=slow_orders, daemon=True)
    worker.start()
    t0 = time.monotonic()
    try:
        wait_for("OrderServiceSlow to fire", lambda: alert_state(stack, "OrderServiceSlow") == "firing", 40)
        log(f"OrderServiceSlow fired {time.monotonic() - t0:.1f} s after the gremlin started "
            f"({len(slow)} slow orders so far)")
    except AssertionError as e:
        failures.append(f"latency alert: {e}; slow orders (status, seconds): {slow[:10]}; 30 s average now: "
                        f"{stack.query('job:valerix_api_request_duration_seconds:mean30s')}")
    finally:
        stop.set()
        worker.join(30)
    shop.chaos({})
    for _ in range(30):
        shop.order("OBS-A", 1)
    t1 = time.monotonic()
    try:
        wait_for("OrderServiceSlow to clear", lambda: alert_state(stack, "OrderServiceSlow") == "inactive", 20)
        log(f"OrderServiceSlow cleared {time.monotonic() - t1:.1f} s after the gremlin stopped")
    except AssertionError as e:
        failures.append(f"latency alert: {e}; 30 s average now: "
                        f"{stack.query('job:valerix_api_request_duration_seconds:mean30s')}")


def business_traffic(shop):
    """Confirmed, rejected, shipped, cancelled and replayed orders."""
    statuses = []
    for i in range(6):
        status, doc, key = shop.order("OBS-A", 1 + i % 3)
        statuses.append((status, doc.get("status")))
    confirmed = [s for s in statuses if s[1] == "CONFIRMED"]
    assert confirmed, f"no order was confirmed: {statuses}"
    status, doc, key = shop.order("OBS-A", 2)
    replay_status, _, _ = shop.order("OBS-A", 2, key=key)  # same key and body: answered from the stored response
    order_id = doc.get("id")
    if order_id:
        http("POST", shop.stack.url("order", f"/api/v1/orders/{order_id}/ship"))
    status, doc, _ = shop.order("OBS-A", 1)
    if doc.get("id"):
        http("POST", shop.stack.url("order", f"/api/v1/orders/{doc['id']}/cancel"))
    rejected = [shop.order("OBS-LOW", 5)[0] for _ in range(2)]  # only 2 in stock
    http("GET", shop.stack.url("order", "/api/v1/orders"))
    log(f"orders: {statuses}, replay {replay_status}, out of stock {rejected}")
    page = shop.stack.metrics_page("order")
    for series in ('valerix_orders_total{status="CONFIRMED"}', 'valerix_orders_total{status="REJECTED"}',
                   'valerix_orders_total{status="SHIPPED"}', 'valerix_orders_total{status="CANCELLED"}'):
        assert series in page, f"order-service /metrics has no {series} after the business traffic"
    assert shop.scalar_metric("order", "valerix_idempotent_replays_total") >= 1, "the replay was not counted"


def breaker_traffic(shop):
    """The crash simulator answers 500 to every reservation call: the breaker opens, orders stay pending and
    the reconciler retries them; then chaos is switched off, the breaker closes and the backlog drains."""
    shop.chaos({"crash": {"mode": "every_nth", "every_nth": 1, "point": "before_commit", "action": "error_500"}})
    results = [shop.order("OBS-A", 1)[:2] for _ in range(4)]
    log(f"orders while inventory fails: {[(s, d.get('status')) for s, d in results]}")
    wait_for("the circuit breaker to open",
             lambda: "valerix_circuit_breaker_transitions_total{" in shop.stack.metrics_page("order"), 10, 0.2)
    shop.chaos({})
    wait_for("the reconciler backlog to drain", lambda: shop.scalar_metric("order", "valerix_reconciler_backlog") == 0,
             30)

    def closed():
        if shop.scalar_metric("order", "valerix_circuit_breaker_state") == 0:
            return True
        shop.order("OBS-A", 1)  # calls in half-open close the breaker
        return False

    wait_for("the circuit breaker to close", closed, 20)


# ---------------------------------------------------------------------------------------------- queries

def evaluate(stack, where, expr):
    """(error or None, number of series)."""
    try:
        return None, len(stack.query(expr))
    except Exception as e:  # the API's error message: a bad query
        return f"{where}: invalid query: {e}\n    expr: {expr}", 0


def check_queries(stack):
    failures = []
    shop = Shop(stack)
    shop.put_product("OBS-A", 100000, 1250)
    shop.put_product("OBS-LOW", 2, 300)

    latency_alert_scenario(stack, shop, failures)
    business_traffic(shop)
    breaker_traffic(shop)
    # The backup panels and rules read what the first backup, sync and drill publish (the drill's gauges
    # appear with it). They ran in the background during the traffic above.
    failures += stack.wait_backups()

    planned = set(planned_metrics())
    queries = dashboard_queries()
    rules = rule_list(stack)
    # Rule expressions must be valid; recording rules must also produce series (they feed dashboards).
    checks = [(w, e, not (metric_names(e) & planned)) for w, e in queries]
    checks += [(f"{kind} rule {name} (group {group})", expr, kind == "record" and not (metric_names(expr) & planned))
               for kind, name, group, expr, _ in rules]

    # Wait until every query that should return series does (rates need two scrapes after the last
    # counter appeared), then report.
    deadline = time.monotonic() + 45
    while True:
        errors, empty = [], []
        for where, expr, want_data in checks:
            error, n = evaluate(stack, where, expr)
            if error:
                errors.append(error)
            elif want_data and n == 0:
                empty.append(f"{where}: returned no series\n    expr: {expr}")
        if errors or not empty or time.monotonic() >= deadline:
            break
        time.sleep(1)
    failures += errors + empty
    log(f"evaluated {len(checks)} expressions ({len(queries)} dashboard queries, {len(rules)} rules): "
        f"{len(errors)} invalid, {len(empty)} without data")

    # The rule engine itself: every rule evaluated, without error.
    for kind, name, group, _, r in rule_list(stack):
        if r.get("health") != "ok":
            failures.append(f"{kind} rule {name}: health {r.get('health')}: {r.get('lastError')}")
    # Every target up.
    targets = stack.prom_api("/api/v1/targets")["activeTargets"]
    jobs = sorted(t["labels"]["job"] for t in targets)
    if jobs != sorted(stack.jobs):
        failures.append(f"unexpected scrape jobs: {jobs}")
    for t in targets:
        if t["health"] != "up":
            failures.append(f"target {t['labels']['job']} {t['scrapeUrl']} is {t['health']}: {t.get('lastError')}")
    # The exporters reach their database as the least-privilege role.
    for series in stack.query("pg_up"):
        if series["value"][1] != "1":
            failures.append(f"pg_up of {series['metric'].get('job')} is {series['value'][1]}")
    return failures


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--inventory", required=True, help="valerix-inventory binary")
    ap.add_argument("--order", required=True, help="valerix-order binary")
    ap.add_argument("--backup", required=True, help="valerix-backup binary")
    ap.add_argument("--check", choices=["names", "queries"], required=True)
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    failures = []
    try:
        with Stack(args.inventory, args.order, order_env=ORDER_ENV, backup_bin=args.backup) as stack:
            failures = check_names(stack) if args.check == "names" else check_queries(stack)
            if failures:
                for name in ("order", "inventory", "backup", "prometheus"):
                    for p in stack.processes:
                        if p.name == name and not p.running():
                            failures.append(f"{name} exited; log:\n{p.log_text()}")
                raise SystemExit(1)
    except SystemExit:
        pass
    if failures:
        print(f"\nFAILED ({len(failures)}):", file=sys.stderr)
        for f in failures:
            print(f"  - {f}", file=sys.stderr)
        return 1
    log(f"{args.check}: OK in {time.monotonic() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
