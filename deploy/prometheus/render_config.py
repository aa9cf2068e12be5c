#!/usr/bin/env python3
"""Render the Prometheus configuration of Valerix.

One source for every place Prometheus runs, so they cannot drift apart:

  local    the committed deploy/prometheus/prometheus.yml (all jobs, 127.0.0.1 targets); `./valerix up`
           renders its own copy into <data>/prometheus/prometheus.yml with only the jobs whose supervisor
           programs exist (--programs) and absolute rule paths (--rules-dir).
  compose  the committed deploy/prometheus/prometheus.compose.yml (targets are compose service names).
  tests    tests/observability renders one with the test's own ports (--target JOB=HOST:PORT, --jobs).

Usage: render_config.py [--profile local|compose] [--programs "order inventory ..."] [--jobs a,b]
                        [--target JOB=HOST:PORT ...] [--scrape-interval 5s] [--rules-dir DIR] [--out FILE]
                        [--generated-by WHO]
Without --out the configuration goes to stdout. Standard library only.
"""
import argparse
import os
import re
import sys

# Scrape jobs: name -> (local supervisor program, local target, compose target). The `job` label of every
# series is this name: rules and dashboards select on it (job="order", ...).
JOBS = {
    "order": ("order", "127.0.0.1:3001", "order-service:3001"),
    "inventory": ("inventory", "127.0.0.1:3002", "inventory-service:3002"),
    "backup": ("backup", "127.0.0.1:3003", "backup-service:3003"),
    "web": ("web", "127.0.0.1:8080", "web:8080"),
    "order-db": ("order-db-exporter", "127.0.0.1:9187", "order-db-exporter:9187"),
    "inventory-db": ("inventory-db-exporter", "127.0.0.1:9188", "inventory-db-exporter:9187"),
}

DESCRIPTIONS = {
    "order": "order-service (orders, idempotency, breaker, reconciler)",
    "inventory": "inventory-service (products, reservations, chaos)",
    "backup": "backup-service (pgBackRest backups, external sync)",
    "web": "web gateway / UI",
    "order-db": "prometheus-postgres-exporter for order_db",
    "inventory-db": "prometheus-postgres-exporter for inventory_db",
}

_DURATION = re.compile(r"^([0-9]+)(ms|s|m)$")


def seconds(duration):
    m = _DURATION.match(duration)
    if not m:
        raise ValueError(f"unsupported duration {duration!r} (use e.g. 1s, 5s, 1m)")
    value = int(m.group(1))
    return {"ms": value / 1000, "s": value, "m": value * 60}[m.group(2)]


def scrape_timeout(interval):
    """A timeout below the interval (Prometheus refuses one above it): 80 % of it, at most 4 s."""
    s = seconds(interval)
    ms = int(min(s * 0.8, 4.0) * 1000)
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def render(jobs, targets, scrape_interval, evaluation_interval, rules_dir, header):
    lines = [
        *[f"# {line}".rstrip() for line in header],
        "global:",
        f"  scrape_interval: {scrape_interval}",
        f"  scrape_timeout: {scrape_timeout(scrape_interval)}",
        f"  evaluation_interval: {evaluation_interval}",
        "  external_labels:",
        "    system: valerix",
        "",
        "rule_files:",
        f"  - {os.path.join(rules_dir, '*.yml')}",
        "",
        "scrape_configs:",
    ]
    for job in jobs:
        lines += [
            f"  # {DESCRIPTIONS[job]}",
            f"  - job_name: {job}",
            "    metrics_path: /metrics",
            "    static_configs:",
            f"      - targets: ['{targets[job]}']",
        ]
    return "\n".join(lines) + "\n"


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", choices=["local", "compose"], default="local")
    ap.add_argument("--programs", help="local: space-separated supervisor programs of the stack; "
                                       "only jobs whose program is among them are scraped")
    ap.add_argument("--jobs", help="comma-separated jobs to keep (default: all)")
    ap.add_argument("--target", action="append", default=[], metavar="JOB=HOST:PORT", help="override a target")
    ap.add_argument("--scrape-interval", default="5s")
    ap.add_argument("--evaluation-interval", help="default: the scrape interval")
    ap.add_argument("--rules-dir", default="rules", help="folder of the rule files (relative: to the config file)")
    ap.add_argument("--out", help="write here (atomically) instead of stdout")
    ap.add_argument("--generated-by", help="who renders this copy (for its header comment)")
    args = ap.parse_args(argv)

    targets = {job: (local if args.profile == "local" else compose) for job, (_, local, compose) in JOBS.items()}
    for spec in args.target:
        job, sep, target = spec.partition("=")
        if not sep or job not in JOBS or not re.match(r"^[A-Za-z0-9._-]+:[0-9]+$", target):
            ap.error(f"--target {spec!r}: want JOB=HOST:PORT with JOB one of {', '.join(JOBS)}")
        targets[job] = target
    jobs = list(JOBS)
    if args.jobs is not None:
        wanted = [j for j in args.jobs.split(",") if j]
        unknown = [j for j in wanted if j not in JOBS]
        if unknown:
            ap.error(f"--jobs: unknown {unknown}; known: {', '.join(JOBS)}")
        jobs = [j for j in jobs if j in wanted]
    if args.programs is not None:
        present = set(args.programs.split())
        jobs = [j for j in jobs if JOBS[j][0] in present]
    seconds(args.scrape_interval)
    evaluation = args.evaluation_interval or args.scrape_interval
    seconds(evaluation)

    if args.generated_by:
        header = ["Prometheus configuration of Valerix.",
                  f"GENERATED by {args.generated_by} (deploy/prometheus/render_config.py); rewritten every time."]
    elif args.profile == "compose":
        header = ["Prometheus configuration for the compose deployment.",
                  "GENERATED by deploy/prometheus/render_config.py --profile compose: edit that script, then run",
                  "  python3 deploy/prometheus/render_config.py --profile compose --out deploy/prometheus/prometheus.compose.yml",
                  "Mount deploy/prometheus/ at /etc/prometheus/ (rule files are found relative to this file)."]
    else:
        header = ["Prometheus configuration of the local stack (`./valerix up`).",
                  "GENERATED by deploy/prometheus/render_config.py: edit that script, then run",
                  "  python3 deploy/prometheus/render_config.py --out deploy/prometheus/prometheus.yml",
                  "`./valerix up` renders its own copy into <data>/prometheus/ with only the jobs whose programs exist."]
    text = render(jobs, targets, args.scrape_interval, evaluation, args.rules_dir, header)
    if args.out:
        tmp = args.out + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, args.out)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
