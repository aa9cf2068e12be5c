#!/usr/bin/env bash
# Reservations per second: inventory-service over HTTP (wrk) against the same SQL run by pgbench directly on
# inventory_db, on this machine, in one run. Needs the local stack (./valerix up).
#   bench/reservations.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
DATA="${VALERIX_DATA_DIR:-/var/lib/valerix}"
SECONDS_PER_RUN="${1:-10}"
CONNECTIONS="${2:-32}"
SKUS=100
URL=http://127.0.0.1:3002
TOKEN="${VALERIX_ADMIN_TOKEN:-$(cat "$DATA/secrets/admin-token")}"
export PGPASSWORD="$(cat "$DATA/secrets/inventory-db-password")"

command -v wrk >/dev/null || { echo "wrk is missing: ./valerix deps" >&2; exit 1; }
curl -fsS "$URL/live" >/dev/null || { echo "inventory-service is not running: ./valerix up" >&2; exit 1; }

echo "==> Seeding $SKUS bench SKUs with plenty of stock"
for i in $(seq 1 $SKUS); do
  sku=$(printf 'BENCH-%04d' "$i")
  curl -fsS -o /dev/null -X PUT "$URL/api/v1/products/$sku" -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' -d '{"name":"Bench item","price_cents":100,"on_hand":1000000000}'
done

echo "==> PostgreSQL alone: pgbench, same SQL (reserve_stock), $CONNECTIONS clients, ${SECONDS_PER_RUN}s"
pg_out=$(pgbench -h 127.0.0.1 -p 5433 -U inventory_svc -n -M prepared -c "$CONNECTIONS" -j 2 -T "$SECONDS_PER_RUN" \
  -f bench/reserve.pgbench inventory_db 2>&1)
pg_tps=$(echo "$pg_out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -1)
echo "$pg_out" | grep -E "latency average|tps ="

echo "==> inventory-service over HTTP: wrk, $CONNECTIONS connections, ${SECONDS_PER_RUN}s"
wrk_out=$(BENCH_SKUS=$SKUS wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency -s bench/reserve.lua "$URL" 2>&1)
echo "$wrk_out" | grep -E "Latency|50%|99%|Requests/sec|non-2xx"
http_rps=$(echo "$wrk_out" | sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p')

echo
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; commit $(git rev-parse --short HEAD)"
echo "pgbench reserve_stock tps:      $pg_tps"
echo "HTTP reservations/s:            $http_rps"
awk -v a="$http_rps" -v b="$pg_tps" 'BEGIN { if (b > 0) printf "ratio HTTP / PostgreSQL alone:  %.2f\n", a / b }'
