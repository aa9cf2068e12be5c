#!/usr/bin/env python3
"""Watches the services for thread and connection starvation while bench/orders.sh runs the latency gremlin.
Standard library only.

  starvation_probe.py --seconds S --out FILE [--interval 0.05] [--metrics-every 0.25]
                      [--live NAME=URL ...] [--metrics URL]

Every --interval seconds it asks each service's GET /live on a new connection (an I/O thread held by a delayed call
would answer it late: each service serves /live on the threads that serve orders), and every --metrics-every seconds
it reads order-service's /metrics for its connections to inventory and its database pool. Writes JSON:
  {"live": {NAME: {"probes", "failed", "p50_ms", "p99_ms", "max_ms"}},
   "metrics": {"samples", "inventory_connections_open_peak", "inventory_connections_max",
               "inventory_connection_waiters_peak", "db_pool_waiters_peak", "pool_exhausted", "deadline_expiries",
               "inventory_call_errors"}}
where the last three are increases of order-service's counters over the probe.
"""
import argparse
import http.client
import json
import math
import sys
import threading
import time
import urllib.parse

POOL_EXHAUSTED = 'valerix_dependency_calls_total{dependency="inventory",outcome="pool_exhausted"}'
CALL_ERRORS = 'valerix_dependency_calls_total{dependency="inventory",outcome="error"}'
DEADLINE_EXPIRIES = 'valerix_deadline_expiries_total{dependency="inventory"}'
OPEN = "valerix_inventory_http_connections_open"
MAX = "valerix_inventory_http_connections_max"
CONNECTION_WAITERS = "valerix_inventory_http_connection_waiters"
WAITERS = "valerix_db_pool_waiters"


def get(url, timeout):
    """(status, body, seconds) of one GET on a new connection; status 0 when it failed."""
    parts = urllib.parse.urlsplit(url)
    started = time.monotonic()
    connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    try:
        connection.request("GET", parts.path or "/")
        response = connection.getresponse()
        body = response.read()
        return response.status, body, time.monotonic() - started
    except OSError:
        return 0, b"", time.monotonic() - started
    finally:
        connection.close()


def parse_metrics(text):
    """{series: value} of a Prometheus text exposition (series as written, labels included)."""
    values = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        try:
            values[series] = float(value)
        except ValueError:
            continue
    return values


def percentile(sorted_values, p):
    """Nearest rank, as valerix-loadgen reports."""
    if not sorted_values:
        return None
    return sorted_values[max(0, math.ceil(p / 100 * len(sorted_values)) - 1)]


def summarize_live(samples):
    """samples: [(ok, seconds)] -> the JSON of one service's /live probes."""
    times = sorted(seconds * 1000 for ok, seconds in samples if ok)
    return {"probes": len(samples), "failed": sum(1 for ok, _ in samples if not ok),
            "p50_ms": percentile(times, 50), "p99_ms": percentile(times, 99), "max_ms": times[-1] if times else None}


def summarize_metrics(scrapes):
    """scrapes: [{series: value}] in time order -> peaks of the gauges and increases of the counters."""
    if not scrapes:
        return {"samples": 0}

    def increase(series):
        first, last = scrapes[0].get(series, 0.0), scrapes[-1].get(series, 0.0)
        return int(last - first) if last >= first else int(last)  # the counter restarted: count from 0

    return {"samples": len(scrapes),
            "inventory_connections_open_peak": int(max(s.get(OPEN, 0) for s in scrapes)),
            "inventory_connections_max": int(scrapes[-1].get(MAX, 0)),
            "inventory_connection_waiters_peak": int(max(s.get(CONNECTION_WAITERS, 0) for s in scrapes)),
            "db_pool_waiters_peak": int(max(s.get(WAITERS, 0) for s in scrapes)),
            "pool_exhausted": increase(POOL_EXHAUSTED),
            "deadline_expiries": increase(DEADLINE_EXPIRIES),
            "inventory_call_errors": increase(CALL_ERRORS)}


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--interval", type=float, default=0.05)
    parser.add_argument("--metrics-every", type=float, default=0.25)
    parser.add_argument("--live", action="append", default=[], metavar="NAME=URL",
                        help="a service's /live (default: order and inventory on 3001 and 3002)")
    parser.add_argument("--metrics", default="http://127.0.0.1:3001/metrics", help="order-service's /metrics")
    args = parser.parse_args(argv[1:])
    targets = dict(item.split("=", 1) for item in args.live) or {
        "order": "http://127.0.0.1:3001/live", "inventory": "http://127.0.0.1:3002/live"}

    until = time.monotonic() + args.seconds
    live = {name: [] for name in targets}
    scrapes = []

    def probe(name, url):
        # On a fixed schedule, so that a stalled answer does not also delay the next probe's start.
        next_at = time.monotonic()
        while next_at < until:
            status, _, seconds = get(url, timeout=10)
            live[name].append((status == 200, seconds))
            next_at += args.interval
            time.sleep(max(0.0, next_at - time.monotonic()))

    def scrape():
        next_at = time.monotonic()
        while True:
            status, body, _ = get(args.metrics, timeout=10)
            if status == 200:
                scrapes.append(parse_metrics(body.decode("utf-8", "replace")))
            if next_at >= until:
                break
            next_at = min(until, next_at + args.metrics_every)
            time.sleep(max(0.0, next_at - time.monotonic()))

    threads = [threading.Thread(target=probe, args=item) for item in targets.items()]
    threads.append(threading.Thread(target=scrape))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result = {"seconds": args.seconds, "interval_s": args.interval,
              "live": {name: summarize_live(samples) for name, samples in live.items()},
              "metrics": summarize_metrics(scrapes)}
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
