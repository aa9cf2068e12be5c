#!/usr/bin/env bash
# WAL bytes each order writes in order_db and inventory_db, at a fixed open-loop rate, on the running local stack.
#
#   VALERIX_DATA_DIR=/var/lib/valerix bench/wal_per_order.sh [--rate R] [--seconds S] [--label L]
#
# Takes a CHECKPOINT in both clusters first, so the figure includes the full-page images the first write to each
# page after a checkpoint costs — which is where key order shows (random keys touch many more pages).
# Compare runs of equal length: the full-page images fall in the first seconds after the checkpoint.
# Seeds nothing: run bench/orders.sh once (or the seed-products scenario) so the BENCH- catalog exists.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
DATA=${VALERIX_DATA_DIR:-/var/lib/valerix}
RATE=500 SECONDS_=20 LABEL=run SKUS=10000
while (($#)); do
  case $1 in
    --rate) RATE=$2; shift 2 ;;
    --seconds) SECONDS_=$2; shift 2 ;;
    --label) LABEL=$2; shift 2 ;;
    --skus) SKUS=$2; shift 2 ;;
    -h|--help) sed -n 2,9p "$0"; exit 0 ;;
    *) echo "wal_per_order.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
LOADGEN=$(valerix_loadgen "$ROOT")
[[ -n $LOADGEN ]] || { echo "wal_per_order.sh: valerix-loadgen not built (./valerix build)" >&2; exit 1; }
WIDTH=${#SKUS}; ((WIDTH < 4)) && WIDTH=4
q() { psql -X -q -At -h "$DATA/run" -p "$1" -U postgres "$2" -c "$3"; }

q 5432 order_db "CHECKPOINT"; q 5433 inventory_db "CHECKPOINT"
o0=$(q 5432 order_db "SELECT pg_current_wal_lsn()"); i0=$(q 5433 inventory_db "SELECT pg_current_wal_lsn()")
n0=$(q 5432 order_db "SELECT count(*) FROM orders")
echo "wal_per_order.sh: $LABEL — $RATE orders/s for $SECONDS_ s on a table of $n0 orders"
JSON=$(mktemp /tmp/valerix-wal.XXXXXX.json)
"$LOADGEN" --quiet --scenario orders --rate "$RATE" --duration "$SECONDS_" --skus "$SKUS" --sku-width "$WIDTH" \
  --sku-prefix BENCH- --json "$JSON" | sed 's/^/    /'
o1=$(q 5432 order_db "SELECT pg_current_wal_lsn()"); i1=$(q 5433 inventory_db "SELECT pg_current_wal_lsn()")
n1=$(q 5432 order_db "SELECT count(*) FROM orders")
ob=$(q 5432 order_db "SELECT pg_wal_lsn_diff('$o1', '$o0')"); ib=$(q 5433 inventory_db "SELECT pg_wal_lsn_diff('$i1', '$i0')")
/usr/bin/python3 - "$LABEL" "$((n1 - n0))" "$ob" "$ib" "$JSON" <<'PY'
import json, sys
label, n, ob, ib, path = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
lat = json.load(open(path))["latency_ms"]
if n == 0:
    sys.exit("wal_per_order.sh: no orders were stored")
print(f"{label}: {n} orders; WAL per order: order_db {ob / n:.0f} B, inventory_db {ib / n:.0f} B; "
      f"latency p50 {lat['p50']} / p99 {lat['p99']} ms")
PY
rm -f "$JSON"
