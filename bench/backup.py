#!/usr/bin/env python3
"""Backup figures against the running local stack (./valerix up), as root:

  1. tops order_db up to --orders orders (synthetic REJECTED orders of customer "bench-backup": they hold no
     stock, so every invariant of the design still holds) and VACUUM ANALYZEs it;
  2. a full backup of stanza `order` through backup-service (POST /api/v1/backups), its duration and the size it
     added to the repository;
  3. --delta more orders, then an incremental backup: duration and size;
  4. a restore drill (POST /api/v1/restore-drills): restore, start and recovery seconds per stanza.

Prints a table and writes JSON to --out. Usage: bench/backup.py [--orders 1000000] [--delta 10000] [--out FILE]
"""
import argparse
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

DATA = os.environ.get("VALERIX_DATA_DIR", "/var/lib/valerix")
BACKUP = "http://127.0.0.1:3003"


def token():
    with open(os.path.join(DATA, "secrets", "admin-token")) as f:
        return f.read().strip()


def http(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(BACKUP + path, data=data, method=method,
                                 headers={"Authorization": "Bearer " + token(), "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def psql(sql):
    out = subprocess.run(["runuser", "-u", "postgres", "--", "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                          "-h", os.path.join(DATA, "run"), "-p", "5432", "-d", "order_db", "-c", sql],
                         check=True, capture_output=True, text=True, cwd="/")
    return out.stdout.strip()


def add_orders(n):
    if n <= 0:
        return
    print(f"  inserting {n:,} orders ...", flush=True)
    # Each order with its idempotency key (every order has exactly one: an invariant the scenario checker verifies).
    psql(f"""WITH o AS (
               INSERT INTO orders (id, customer_id, status, status_reason, items, total_cents, created_at, updated_at)
               SELECT gen_random_uuid(), 'bench-backup', 'REJECTED',
                      'insufficient stock of BENCH-' || lpad((g % 10000)::text, 5, '0') || ' (synthetic)',
                      jsonb_build_array(jsonb_build_object('sku', 'BENCH-' || lpad((g % 10000)::text, 5, '0'),
                                                           'quantity', 1 + g % 3, 'unit_price_cents', null)),
                      NULL, now() - (g || ' seconds')::interval, now()
               FROM generate_series(1, {n}) g
               RETURNING id, created_at)
             INSERT INTO idempotency_keys (key, fingerprint, order_id, response_status, response_body, created_at)
             SELECT 'bench-backup-' || o.id, md5('bench-backup-' || o.id), o.id, 409,
                    '{{"code":"insufficient_stock","detail":"bench/backup.py synthetic order"}}', o.created_at
             FROM o""")


def run_job(path, body=None, timeout=3600):
    status, job = http("POST", path, body)
    if status != 202:
        sys.exit(f"POST {path}: {status} {job}")
    deadline = time.time() + timeout
    while time.time() < deadline:
        status, job = http("GET", "/api/v1/backups/jobs/" + job["job_id"])
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.5)
    sys.exit(f"job {job['job_id']} did not finish within {timeout} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--delta", type=int, default=10_000)
    parser.add_argument("--out", default="/tmp/valerix-bench-backup.json")
    args = parser.parse_args()

    have = int(psql("SELECT count(*) FROM orders"))
    print(f"order_db has {have:,} orders; target {args.orders:,}")
    add_orders(args.orders - have)
    psql("VACUUM ANALYZE orders")
    db_bytes = int(psql("SELECT pg_database_size('order_db')"))
    orders = int(psql("SELECT count(*) FROM orders"))

    print("  full backup of stanza order ...", flush=True)
    full = run_job("/api/v1/backups", {"type": "full", "stanza": "order"})
    add_orders(args.delta)
    print("  incremental backup of stanza order ...", flush=True)
    incr = run_job("/api/v1/backups", {"type": "incr", "stanza": "order"})
    print("  restore drill of both stanzas ...", flush=True)
    drill = run_job("/api/v1/restore-drills")
    for job in (full, incr, drill):
        if job["status"] != "succeeded":
            sys.exit(f"job failed: {json.dumps(job, indent=1)}")

    f, i = full["steps"][0], incr["steps"][0]
    result = {
        "orders": orders, "order_db_bytes": db_bytes,
        "full": {"seconds": f["duration_seconds"], "database_bytes": f["size_bytes"], "repo_bytes": f["repo_size_bytes"]},
        "incr": {"orders_added": args.delta, "seconds": i["duration_seconds"], "repo_bytes": i["repo_size_bytes"]},
        "drill": {s["stanza"]: {k: s.get(k) for k in ("label", "restore_seconds", "start_seconds",
                                                      "recovery_seconds", "check_seconds", "ok")}
                  for s in drill["steps"]},
        "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                 cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip(),
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    with open(args.out, "w") as out:
        json.dump(result, out, indent=2)
    mb = 1024 * 1024
    print(f"\norder_db: {orders:,} orders, {db_bytes / mb:.0f} MiB")
    print(f"full backup:        {f['duration_seconds']:.1f} s, {f['size_bytes'] / mb:.0f} MiB read, "
          f"{f['repo_size_bytes'] / mb:.1f} MiB in the repository (zstd + AES-256)")
    print(f"incremental backup: {i['duration_seconds']:.1f} s after {args.delta:,} more orders, "
          f"{i['repo_size_bytes'] / mb:.1f} MiB in the repository")
    for s in drill["steps"]:
        print(f"restore drill {s['stanza']:<9}  restore {s['restore_seconds']:.1f} s + start {s['start_seconds']:.1f} s "
              f"= recovery {s['recovery_seconds']:.1f} s; checks {'passed' if s['ok'] else 'FAILED'}")
    print(f"\nJSON: {args.out}")


if __name__ == "__main__":
    main()
