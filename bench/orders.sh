#!/usr/bin/env bash
# Orders end to end, in one run against the running local stack (./valerix up), as root:
#   1. seeds a catalog of bench SKUs with huge stock (PUT /api/v1/products/{sku}, admin);
#   2. the database-only ceiling: pgbench replays the SQL of one order on order_db and inventory_db concurrently;
#   3. saturation: closed loop (uniform mix, then the hot-SKU mix), orders/s, CPU per 1,000 orders, peak RSS;
#      then the open-loop saturation: the highest fixed arrival rate sustained (>= 97 % achieved, p99 <= 500 ms),
#      searched down from the closed-loop figure in 10 % steps;
#   4. open loop at shares of the open-loop saturation (default 50 %): p50/p99/p99.9, every process's CPU per
#      1,000 orders and how long it waited for a CPU each time it ran (/proc/PID/task/*/schedstat); the same shares
#      through the web gateway (:8080), which proxies POST /api/v1/orders to order-service;
#   4a. the same rate from both sides: half the database-only ceiling of step 2, offered to the service (open loop)
#      and, without it, to both databases' parts of the order (pgbench -R, a 3 s warm-up dropped): the latency the
#      database alone has at half its own capacity, against the service's end-to-end latency at that rate;
#   4b. the latency gremlin (every 5th inventory call +3 s) at the first share: p50 of the orders it did not delay
#      (answered within 1 s) against the clean run's p50; beside it, both services' /live and order-service's
#      connections to inventory and database pool (thread and connection starvation);
#   5. breaker fast-fail: inventory stopped, breaker open, latency of creates (202 PENDING); then the same SQL
#      without the service: pgbench -R of create_order_deferred, one order per transaction, on a schema copy;
#   6. reconciler drain: N PENDING orders (created while inventory is down), inventory started, seconds until the
#      reconciler has finished them all;
#   0. (part hiccup) the machine's own noise floor: before any load, how much CPU a spinning thread per CPU loses
#      to the host and how late a thread sleeping 1 ms wakes; after step 4, the same wake-up lateness beside one
#      more open-loop run at the first share — what every process of the system waits for a CPU at that rate.
# Writes one JSON file to --out, prints a summary table and the issue #9 targets (met or not), and writes the run
# into docs/benchmarks.md as its "latest run" section (--no-docs: not). Restores the stack on exit (inventory
# started, chaos off). See docs/benchmarks.md.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
cd "$ROOT"
DATA="${VALERIX_DATA_DIR:-/var/lib/valerix}"

usage() {
  cat <<EOF
Usage: bench/orders.sh [options]      (root; uses the local stack in VALERIX_DATA_DIR=$DATA, or starts it there)

  --seconds S         measured seconds of each load run (default 10; at most 20 is kind to a 2-core machine)
  --warmup S          warm-up before each saturation run (default 2)
  --workers "N ..."   closed-loop worker counts tried for saturation; the best is kept (default "32 64")
  --levels "P ..."    open-loop runs at these percentages of the open-loop saturation (default "50 25 75"),
                      each also through the gateway; the first level is also run with the gremlin and with
                      the breaker open, and is the one the p99 target is judged at
  --skus N            bench catalog size, BENCH-00001.. (default 10000)
  --pg-clients "N .." pgbench clients per database; the best is kept (default "16 32")
  --drain-orders N    PENDING orders for the reconciler drain (default 10000)
  --gremlin-pairs N   clean + gremlin run pairs at the first level (default 3; the first pair's clean run is the
                      open-loop run): one pair's ratio moves 1.0-1.9 x run to run here, the median is the figure
  --fastfail-rate R   open-loop creates per second while the breaker is open (default: the first
                      --levels share of the uniform saturation, or 100 without a saturation run)
  --only LIST         run only these parts, comma-separated: hiccup,pgbench,saturation,open,dbhalf,gateway,
                      gremlin,fastfail,drain (dbhalf needs pgbench in the same run; hiccup beside load needs
                      saturation)
  --out DIR           where the JSON goes (default /tmp)
  --loadgen PATH      valerix-loadgen binary (default build-bench/, then build/)
  --no-docs           leave docs/benchmarks.md as it is (default: its "latest run" section is rewritten)
EOF
}

SECONDS_PER_RUN=10
WARMUP=2
WORKERS="32 64"
LEVELS="50 25 75"
SKUS=10000
PG_CLIENTS="16 32"
DRAIN_ORDERS=10000
GREMLIN_PAIRS=3
FASTFAIL_RATE=""
ONLY="hiccup,pgbench,saturation,open,dbhalf,gateway,gremlin,fastfail,drain"
OUT=/tmp
LOADGEN=""
DOCS=1
while (($#)); do
  case $1 in
    --seconds) SECONDS_PER_RUN=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    --levels) LEVELS=$2; shift 2 ;;
    --skus) SKUS=$2; shift 2 ;;
    --pg-clients) PG_CLIENTS=$2; shift 2 ;;
    --gremlin-pairs) GREMLIN_PAIRS=$2; shift 2 ;;
    --drain-orders) DRAIN_ORDERS=$2; shift 2 ;;
    --fastfail-rate) FASTFAIL_RATE=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --loadgen) LOADGEN=$2; shift 2 ;;
    --no-docs) DOCS=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "orders.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
  esac
done

die() {
  echo "orders.sh: $*" >&2
  [[ -n ${WORK:-} ]] && echo "orders.sh: partial results in $WORK" >&2
  exit 1
}
say() { echo "==> $*"; }
wants() { [[ ",$ONLY," == *",$1,"* ]]; }
is_uint() { [[ $1 =~ ^[0-9]+$ ]] && (($1 > 0)); }
for n in $SECONDS_PER_RUN $SKUS $DRAIN_ORDERS ${FASTFAIL_RATE:-1} $WORKERS $LEVELS $PG_CLIENTS $GREMLIN_PAIRS; do
  is_uint "$n" || die "expected a positive integer, got '$n' (see --help)"
done
[[ $WARMUP =~ ^[0-9]+$ ]] || die "--warmup must be a whole number of seconds"
for part in ${ONLY//,/ }; do
  [[ $part =~ ^(hiccup|pgbench|saturation|open|dbhalf|gateway|gremlin|fastfail|drain)$ ]] || die "--only: unknown part '$part'"
done
if { wants open || wants gateway || wants gremlin; } && ! wants saturation; then
  die "--only open/gateway/gremlin need saturation too (the rates are shares of it)"
fi
if wants dbhalf && ! wants pgbench; then
  die "--only dbhalf needs pgbench too (its rate is half the pgbench ceiling)"
fi

((EUID == 0)) || die "run as root (psql over the PostgreSQL socket, ./valerix ctl)"
ORDER_URL=http://127.0.0.1:3001
INVENTORY_URL=http://127.0.0.1:3002
WEB_URL=http://127.0.0.1:8080
if ! curl -fsS "$ORDER_URL/live" >/dev/null 2>&1; then
  # The harness uses the running local stack, or starts it (and leaves it running: ./valerix down stops it).
  say "No stack answering on $ORDER_URL: starting it (VALERIX_DATA_DIR=$DATA ./valerix up)"
  VALERIX_DATA_DIR="$DATA" "$ROOT/valerix" up || die "./valerix up failed"
  for _ in $(seq 1 60); do curl -fsS "$ORDER_URL/live" >/dev/null 2>&1 && break; sleep 1; done
fi
[[ -n $LOADGEN ]] || LOADGEN=$(valerix_loadgen "$ROOT")
[[ -n $LOADGEN && -x $LOADGEN ]] ||
  die "valerix-loadgen not found; build it: cmake -S . -B build-bench -G Ninja && ninja -C build-bench valerix-loadgen"
HICCUP=$(valerix_hiccup "$ROOT")
! wants hiccup || [[ -n $HICCUP ]] || die "valerix-hiccup not found (part hiccup); build it: ./valerix build"
for tool in pgbench psql curl awk; do command -v $tool >/dev/null || die "$tool is missing: ./valerix deps"; done
# Debian's python3 (./valerix deps); a pyenv shim first on PATH can take seconds per start on a busy machine.
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3) || die "python3 is missing: ./valerix deps"
TOKEN_FILE="$DATA/secrets/admin-token"
[[ -r $TOKEN_FILE ]] || die "no admin token at $TOKEN_FILE (VALERIX_DATA_DIR=$DATA)"
ADMIN="Authorization: Bearer $(cat "$TOKEN_FILE")"
curl -fsS "$ORDER_URL/live" >/dev/null || die "order-service is not answering on $ORDER_URL: ./valerix up"
curl -fsS "$INVENTORY_URL/live" >/dev/null || die "inventory-service is not answering on $INVENTORY_URL: ./valerix up"

WIDTH=${#SKUS}
((WIDTH < 4)) && WIDTH=4
WORK=$(mktemp -d /tmp/valerix-orders-bench.XXXXXX)
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULT="$OUT/valerix-orders-bench-$STAMP.json"
REPORT="$PY $ROOT/bench/orders_report.py"
CATALOG=(--skus "$SKUS" --sku-width "$WIDTH" --sku-prefix BENCH-)
INVENTORY_STOPPED=0

ctl() { VALERIX_DATA_DIR="$DATA" "$ROOT/valerix" ctl "$@"; }
order_sql() { psql -X -q -At -h "$DATA/run" -p 5432 -U postgres order_db -c "$1"; }
set_chaos() {
  curl -fsS -o /dev/null -X PUT "$INVENTORY_URL/admin/chaos" -H "$ADMIN" -H 'Content-Type: application/json' -d "$1"
}
chaos_off() { set_chaos '{}'; }
breaker_field() {
  local body
  body=$(curl -fsS "$ORDER_URL/api/v1/resilience") || { echo unknown; return 0; }
  $PY -c "import json,sys; print(json.loads(sys.argv[1])['dependencies'][0]['breaker']['$1'])" "$body"
}
# The tail of a gremlin run (the last delayed calls timing out and their retries, with no new orders to dilute them)
# can open the breaker after the load stops; with no traffic it stays open. A few orders one at a time give it its
# trial calls, so the next measured run starts against a closed breaker.
wait_breaker_closed() {
  local i
  for ((i = 0; i < 30; i++)); do
    [[ $(breaker_field state) == closed ]] && return 0
    lg --scenario orders "${CATALOG[@]}" --concurrency 1 --requests 5 >/dev/null || true
    sleep 1
  done
  echo "    the breaker is still $(breaker_field state) after 30 s: the next run starts with it so" >&2
}
# Another `./valerix up` (rebuild) or a crash during the run would make the figures meaningless: stop and say so.
SERVICE_PIDS=""
service_pids() { echo "$(ctl pid order) $(ctl pid inventory)"; }
check_not_restarted() {
  local now
  now=$(service_pids)
  [[ $now == "$SERVICE_PIDS" ]] ||
    die "a service restarted during the run (order, inventory pids: $SERVICE_PIDS -> $now); figures discarded"
}
pending_since() { order_sql "SELECT count(*) FROM inventory_intents WHERE state = 'pending' AND created_at >= '$1'"; }
now_s() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
restore() {
  if ((INVENTORY_STOPPED)); then
    echo "==> Restoring: starting inventory"
    ctl start inventory >/dev/null || echo "orders.sh: could not start inventory: ./valerix ctl start inventory" >&2
    for _ in $(seq 1 100); do curl -fsS "$INVENTORY_URL/live" >/dev/null 2>&1 && break; sleep 0.1; done
  fi
  chaos_off 2>/dev/null || echo "orders.sh: could not turn chaos off" >&2
  # The pgbench schema copies, should a part have stopped before dropping them (FORCE: a pgbench may still run).
  if declare -F admin_sql >/dev/null; then
    admin_sql 5432 postgres -c "DROP DATABASE IF EXISTS order_db_pgbench WITH (FORCE)" >/dev/null 2>&1 || true
    admin_sql 5433 postgres -c "DROP DATABASE IF EXISTS inventory_db_pgbench WITH (FORCE)" >/dev/null 2>&1 || true
  fi
}
trap restore EXIT
trap 'exit 130' INT TERM

lg() { "$LOADGEN" --quiet "$@"; }
SERVICE_PIDS=$(service_pids)

cat >"$WORK/meta.json" <<EOF
{"date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)", "commit": "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)",
 "dirty": $([[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]] && echo true || echo false),
 "machine": "$(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r)",
 "load_average_at_start": "$(cut -d' ' -f1-3 /proc/loadavg)",
 "seconds_per_run": $SECONDS_PER_RUN, "catalog_skus": $SKUS, "data_dir": "$DATA", "levels": "$LEVELS",
 "command": "bench/orders.sh --seconds $SECONDS_PER_RUN --warmup $WARMUP --workers '$WORKERS' --levels '$LEVELS' --skus $SKUS --pg-clients '$PG_CLIENTS' --drain-orders $DRAIN_ORDERS --gremlin-pairs $GREMLIN_PAIRS --fastfail-rate ${FASTFAIL_RATE:-auto} --only $ONLY"}
EOF

say "Chaos off; seeding $SKUS bench SKUs (BENCH-$(printf "%0${WIDTH}d" 1)..) with 1e9 units each"
chaos_off
lg --scenario seed-products "${CATALOG[@]}" --token-file "$TOKEN_FILE" --concurrency 16 --json "$WORK/seed.json" |
  sed 's/^/    /'
[[ $($REPORT field "$WORK/seed.json" errors) == 0 ]] || die "seeding failed (see above)"

if wants hiccup; then
  # Before any load: what the host takes from this machine's CPUs while the stack idles. The spinning threads keep
  # every CPU busy, so they run alone, then the wake-up probe.
  say "Machine hiccups, idle: one thread per CPU spinning ${SECONDS_PER_RUN}s, then sleeping 1 ms at a time ${SECONDS_PER_RUN}s"
  "$HICCUP" --mode spin --seconds "$SECONDS_PER_RUN" --json "$WORK/hiccup_idle_spin.json" | sed 's/^/    /'
  "$HICCUP" --mode wake --seconds "$SECONDS_PER_RUN" --json "$WORK/hiccup_idle_wake.json" | sed 's/^/    /'
fi

# Schema copies for pgbench: it writes there, never into the stack's own tables (see the pgbench part).
PG_PW=$(cat "$DATA/secrets/postgres-password")
admin_sql() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -h "$DATA/run" -p "$1" -U postgres -d "$2" "${@:3}"; }
bench_db() {  # PORT SOURCE COPY [TABLE whose rows are copied too ...]
  local port=$1 src=$2 dst=$3 t
  admin_sql "$port" postgres -c "DROP DATABASE IF EXISTS $dst" -c "CREATE DATABASE $dst" >/dev/null
  pg_dump -h "$DATA/run" -p "$port" -U postgres --schema-only --no-owner --no-privileges "$src" |
    admin_sql "$port" "$dst" >/dev/null || die "could not copy the schema of $src into $dst"
  for t in "${@:4}"; do
    pg_dump -h "$DATA/run" -p "$port" -U postgres --data-only --table="$t" "$src" |
      admin_sql "$port" "$dst" >/dev/null || die "could not copy table $t into $dst"
  done
}
# pgbench_logged PORT DB SCRIPT RATE SECONDS DIR: the references without the service. pgbench -R on a schema copy,
# REFERENCE_CLIENTS clients, latency from each transaction's scheduled start (as valerix-loadgen counts it), one log
# line per transaction in DIR, its output in DIR.txt.
REFERENCE_CLIENTS=4
pgbench_logged() {
  rm -rf "$6" && mkdir -p "$6"
  (cd "$6" && PGPASSWORD=$PG_PW pgbench -h 127.0.0.1 -p "$1" -U postgres -n -M prepared -c $REFERENCE_CLIENTS -j 2 \
    -R "$4" -T "$5" -l -D skus="$SKUS" -D width="$WIDTH" -f "$ROOT/bench/$3" "$2" >"$6.txt" 2>&1)
}

if wants pgbench; then
  # One order = one pass of order_db.pgbench (create_order, finish_reserve: two transactions) and one of
  # inventory_db.pgbench (reserve_stock). pgbench talks to one database, so the two parts run as two pgbench
  # processes at the same time, sharing the CPUs and the disk as the services' databases do. Round 1 runs both
  # flat out; the faster side then burns CPU the slower one could use, so round 2 throttles the faster side (-R)
  # to 1.25x the slower side's round-1 rate. A round's figure is min(order_db, inventory_db); the better round counts.
  say "Database-only ceiling: pgbench, both databases' parts of one order at the same time, 2 x ${SECONDS_PER_RUN}s"
  # pgbench writes into copies of the two schemas (plus the seeded catalog) on the same clusters, never into the
  # stack's own tables: a replayed order has no reservation in the other database, so in order_db/inventory_db its
  # rows would break the invariants of the design (and a later chaos scenario on this stack would report them).
  bench_db 5432 order_db order_db_pgbench
  bench_db 5433 inventory_db inventory_db_pgbench products
  echo "    pgbench runs on order_db_pgbench and inventory_db_pgbench (schema copies; dropped afterwards)"
  ORDER_PW=$PG_PW
  INVENTORY_PW=$PG_PW
  tps() { sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$1" | head -1; }
  lat() { sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' "$1" | head -1; }
  # pg_pair CLIENTS TAG ORDER_RATE INVENTORY_RATE (0: unthrottled) -> "order_tps inventory_tps"
  pg_pair() {
    local clients=$1 tag=$2 order_rate=(-c "$1") inventory_rate=(-c "$1")
    (($(printf '%.0f' "$3"))) && order_rate+=(-R "$3")
    (($(printf '%.0f' "$4"))) && inventory_rate+=(-R "$4")
    PGPASSWORD=$ORDER_PW pgbench -h 127.0.0.1 -p 5432 -U postgres -n -M prepared "${order_rate[@]}" -j 2 \
      -T "$SECONDS_PER_RUN" -D skus="$SKUS" -D width="$WIDTH" -f bench/order_db.pgbench order_db_pgbench \
      >"$WORK/pg-order-$tag.txt" 2>&1 &
    local order_job=$!
    PGPASSWORD=$INVENTORY_PW pgbench -h 127.0.0.1 -p 5433 -U postgres -n -M prepared "${inventory_rate[@]}" \
      -j 2 -T "$SECONDS_PER_RUN" -D skus="$SKUS" -D width="$WIDTH" -f bench/inventory_db.pgbench inventory_db_pgbench \
      >"$WORK/pg-inventory-$tag.txt" 2>&1 &
    local inventory_job=$!
    local order_rc=0 inventory_rc=0
    wait $order_job || order_rc=$?
    wait $inventory_job || inventory_rc=$?  # both end before either failure stops the script
    ((order_rc == 0)) || { cat "$WORK/pg-order-$tag.txt" >&2; die "pgbench on order_db failed"; }
    ((inventory_rc == 0)) || { cat "$WORK/pg-inventory-$tag.txt" >&2; die "pgbench on inventory_db failed"; }
    echo "    $tag: order_db $(tps "$WORK/pg-order-$tag.txt") orders/s (latency $(lat "$WORK/pg-order-$tag.txt") ms" \
      "per 2 transactions), inventory_db $(tps "$WORK/pg-inventory-$tag.txt") tps" \
      "(latency $(lat "$WORK/pg-inventory-$tag.txt") ms)" >&2
    echo "$(tps "$WORK/pg-order-$tag.txt") $(tps "$WORK/pg-inventory-$tag.txt")"
  }
  runs="{"
  for clients in $PG_CLIENTS; do
    read -r o1 i1 < <(pg_pair "$clients" "$clients-clients-flat-out" 0 0)
    read -r o_limit i_limit < <($PY -c "o, i = $o1, $i1; print(0, round(o * 1.25, 1)) if o < i else print(round(i * 1.25, 1), 0)")
    read -r o2 i2 < <(pg_pair "$clients" "$clients-clients-balanced" "$o_limit" "$i_limit")
    # The throttle should only help; on a shared machine noise can make round 2 worse, so keep the better round.
    orders=$($PY -c "print(round(max(min($o1, $i1), min($o2, $i2)), 1))")
    echo "    -> $orders orders/s with $clients clients per database"
    [[ $runs == "{" ]] || runs+=","
    runs+="\"$clients\": {\"flat_out\": {\"order_db_orders_per_s\": $o1, \"inventory_db_tps\": $i1},"
    runs+=" \"balanced\": {\"order_db_orders_per_s\": $o2, \"inventory_db_tps\": $i2,"
    runs+=" \"order_db_rate_limit\": $o_limit, \"inventory_db_rate_limit\": $i_limit}, \"orders_per_s\": $orders}"
  done
  admin_sql 5432 postgres -c "DROP DATABASE IF EXISTS order_db_pgbench" >/dev/null
  admin_sql 5433 postgres -c "DROP DATABASE IF EXISTS inventory_db_pgbench" >/dev/null
  check_not_restarted
  best=$($PY -c "import json; r=json.loads('$runs}'); print(max(v['orders_per_s'] for v in r.values()))")
  echo "{\"runs\": $runs}, \"best_orders_per_s\": $best}" >"$WORK/pgbench.json"
fi

SATURATION=""
if wants saturation; then
  pids() { ctl pid "$1"; }
  ORDER_PID=$(pids order); INVENTORY_PID=$(pids inventory)
  ORDER_DB_PID=$(pids order-db); INVENTORY_DB_PID=$(pids inventory-db)
  # snapshot FILE [NAME=PID ...]: CPU seconds and peak RSS of these processes and the services and their databases.
  snapshot() {
    local out=$1
    shift
    $REPORT procs "$@" order="$ORDER_PID" inventory="$INVENTORY_PID" order_db="$ORDER_DB_PID+" \
      inventory_db="$INVENTORY_DB_PID+" >"$out"
  }
  # answered RUN_JSON WARMUP_S: the orders a load run answered 201 over its warm-up and measured time alike, which
  # is what CPU counted around the whole run is divided by.
  answered() {
    $PY -c "import json; d=json.load(open('$1')); print(round(d['ok_per_s'] * (d['completion_span_s'] + $2)))"
  }
  for mix in uniform hot; do
    best_rate=0
    for workers in $WORKERS; do
      say "Saturation, $mix mix: closed loop, $workers workers, ${WARMUP}s warm-up + ${SECONDS_PER_RUN}s"
      hot_flags=()
      [[ $mix == hot ]] && hot_flags=(--hot --hot-skus 10 --hot-share 0.5)
      snapshot "$WORK/cpu-before.json"
      lg --scenario orders "${CATALOG[@]}" "${hot_flags[@]}" --concurrency "$workers" --warmup "$WARMUP" \
        --duration "$SECONDS_PER_RUN" --label "saturation-$mix-$workers" --json "$WORK/sat-$mix-$workers.json" |
        sed 's/^/    /'
      snapshot "$WORK/cpu-after.json"
      rate=$($REPORT field "$WORK/sat-$mix-$workers.json" ok_per_s)
      if $PY -c "import sys; sys.exit(0 if $rate > $best_rate else 1)"; then
        best_rate=$rate
        cp "$WORK/sat-$mix-$workers.json" "$WORK/saturation_$mix.json"
        if [[ $mix == uniform ]]; then
          $REPORT cpudelta "$WORK/cpu-before.json" "$WORK/cpu-after.json" \
            "$(answered "$WORK/sat-$mix-$workers.json" "$WARMUP")" >"$WORK/cpu.json"
        fi
      fi
    done
    [[ $mix == uniform ]] && SATURATION=$best_rate
    check_not_restarted
  done
  echo "    uniform saturation, closed loop: $SATURATION orders/s"
  # A closed loop slows its clients down when the system does; an open loop does not. The rate the system sustains
  # against arrivals it does not control is the saturation the latency levels are shares of.
  CLOSED=$SATURATION
  SATURATION=""
  for share in 100 90 80 70 60 50 40 30; do
    rate=$($PY -c "print(round($CLOSED * $share / 100, 1))")
    say "Open-loop saturation: $rate orders/s ($share % of the closed-loop figure) for 5 s"
    lg --scenario orders "${CATALOG[@]}" --rate "$rate" --duration 5 --warmup 1 --label "sustain-$share" \
      --json "$WORK/sustain-$share.json" | sed 's/^/    /'
    check_not_restarted
    if $PY - "$WORK/sustain-$share.json" <<'PYEOF'
import json, sys
run = json.load(open(sys.argv[1]))
# Decided orders only: a 202 (parked for the reconciler: the breaker opened, a call timed out) is not served.
sys.exit(0 if run["errors"] == 0 and run["ok_per_s"] >= 0.97 * run["target_rate"]
         and set(run["status"]) <= {"201", "409"} and run["latency_ms"]["p99"] <= 500 else 1)
PYEOF
    then
      SATURATION=$rate
      cp "$WORK/sustain-$share.json" "$WORK/saturation_open.json"
      break
    fi
  done
  [[ -n $SATURATION ]] || die "no open-loop rate down to 30 % of $CLOSED/s was sustained"
  echo "    uniform saturation, open loop: $SATURATION orders/s (closed loop $CLOSED/s)"
fi

if wants open && [[ -n $SATURATION ]]; then
  for level in $LEVELS; do
    rate=$($PY -c "print(round($SATURATION * $level / 100, 1))")
    say "Open loop at $level % of saturation: $rate orders/s for ${SECONDS_PER_RUN}s"
    snapshot "$WORK/cpu-before.json"
    lg --scenario orders "${CATALOG[@]}" --rate "$rate" --duration "$SECONDS_PER_RUN" --warmup 1 \
      --label "open-$level" --json "$WORK/open_$level.json" | sed 's/^/    /'
    snapshot "$WORK/cpu-after.json"
    # CPU per order at this rate, and how long each process waited for a CPU each time it ran (the run queue).
    $REPORT cpudelta "$WORK/cpu-before.json" "$WORK/cpu-after.json" "$(answered "$WORK/open_$level.json" 1)" \
      >"$WORK/cpu_open_$level.json"
    check_not_restarted
  done
fi

if wants hiccup && [[ -n $SATURATION ]]; then
  # One more run at the first share, with the wake-up probe beside it (a separate run, so the probe's 2,000
  # wake-ups a second stay out of the figures above): how late a thread that needs a CPU gets one at this rate.
  level=${LEVELS%% *}
  rate=$($PY -c "print(round($SATURATION * $level / 100, 1))")
  say "Machine hiccups beside the open loop at $level % ($rate orders/s, ${SECONDS_PER_RUN}s): wake-up lateness"
  "$HICCUP" --mode wake --seconds $((SECONDS_PER_RUN + 1)) --json "$WORK/hiccup_load_wake.json" >"$WORK/hiccup.log" &
  probe=$!
  lg --scenario orders "${CATALOG[@]}" --rate "$rate" --duration "$SECONDS_PER_RUN" --warmup 1 \
    --label "hiccup-$level" --json "$WORK/hiccup_load_orders.json" | sed 's/^/    /'
  wait "$probe" || die "valerix-hiccup failed: $(cat "$WORK/hiccup.log")"
  sed 's/^/    /' "$WORK/hiccup.log"
  check_not_restarted
fi

if wants dbhalf && [[ -f $WORK/pgbench.json ]]; then
  # The latency target is a share of the service's own saturation, which is several times the database-only
  # ceiling; here both sides get the same rate, half of that ceiling, so the service's latency has a reference:
  # what PostgreSQL alone answers at half its own capacity on this machine, at this moment.
  HALF=$($PY -c "print(round($($REPORT field "$WORK/pgbench.json" best_orders_per_s) / 2, 1))")
  say "Half the database-only ceiling, $HALF orders/s: the service (open loop, ${SECONDS_PER_RUN}s)"
  lg --scenario orders "${CATALOG[@]}" --rate "$HALF" --duration "$SECONDS_PER_RUN" --warmup 1 --label dbhalf \
    --json "$WORK/dbhalf_service.json" | sed 's/^/    /'
  check_not_restarted
  say "Half the database-only ceiling, $HALF orders/s: PostgreSQL alone (pgbench -R, $REFERENCE_CLIENTS clients per" \
    "database, 3 + ${SECONDS_PER_RUN}s)"
  bench_db 5432 order_db order_db_pgbench
  bench_db 5433 inventory_db inventory_db_pgbench products
  rm -rf "$WORK/halfpg" && mkdir -p "$WORK/halfpg"
  pgbench_logged 5432 order_db_pgbench order_db.pgbench "$HALF" $((SECONDS_PER_RUN + 3)) "$WORK/halfpg/order_db" &
  order_job=$!
  pgbench_logged 5433 inventory_db_pgbench inventory_db.pgbench "$HALF" $((SECONDS_PER_RUN + 3)) \
    "$WORK/halfpg/inventory_db" &
  inventory_job=$!
  # Both runs end before either copy is dropped, whichever failed.
  order_rc=0 inventory_rc=0
  wait $order_job || order_rc=$?
  wait $inventory_job || inventory_rc=$?
  admin_sql 5432 postgres -c "DROP DATABASE IF EXISTS order_db_pgbench" >/dev/null
  admin_sql 5433 postgres -c "DROP DATABASE IF EXISTS inventory_db_pgbench" >/dev/null
  ((order_rc == 0)) || { cat "$WORK/halfpg/order_db.txt" >&2; die "pgbench -R on order_db failed"; }
  ((inventory_rc == 0)) || { cat "$WORK/halfpg/inventory_db.txt" >&2; die "pgbench -R on inventory_db failed"; }
  $REPORT pgbench-log "$HALF" $REFERENCE_CLIENTS "$WORK/halfpg/order_db" 3 "order_db's part: create_order, finish_reserve" \
    >"$WORK/dbhalf_order_db.json" || die "could not read the pgbench log in $WORK/halfpg/order_db"
  $REPORT pgbench-log "$HALF" $REFERENCE_CLIENTS "$WORK/halfpg/inventory_db" 3 "inventory_db's part: reserve_stock" \
    >"$WORK/dbhalf_inventory_db.json" || die "could not read the pgbench log in $WORK/halfpg/inventory_db"
  echo "    $($REPORT field "$WORK/dbhalf_order_db.json" summary)"
  echo "    $($REPORT field "$WORK/dbhalf_inventory_db.json" summary)"
fi

if wants gateway && [[ -n $SATURATION ]]; then
  curl -fsS "$WEB_URL/live" >/dev/null 2>&1 || die "the web gateway is not answering on $WEB_URL"
  WEB_PID=$(pids web)
  for level in $LEVELS; do
    rate=$($PY -c "print(round($SATURATION * $level / 100, 1))")
    say "Through the gateway: open loop at $level % of saturation, $rate orders/s for ${SECONDS_PER_RUN}s via $WEB_URL"
    snapshot "$WORK/cpu-before.json" web="$WEB_PID"
    lg --scenario orders "${CATALOG[@]}" --url "$WEB_URL" --rate "$rate" --duration "$SECONDS_PER_RUN" --warmup 1 \
      --label "gateway-$level" --json "$WORK/gateway_$level.json" | sed 's/^/    /'
    snapshot "$WORK/cpu-after.json" web="$WEB_PID"
    # What the gateway adds: every process's CPU per order, the gateway's included.
    $REPORT cpudelta "$WORK/cpu-before.json" "$WORK/cpu-after.json" "$(answered "$WORK/gateway_$level.json" 1)" \
      >"$WORK/cpu_gateway_$level.json"
    check_not_restarted
  done
fi

if wants gremlin && [[ -n $SATURATION ]]; then
  level=${LEVELS%% *}
  rate=$($PY -c "print(round($SATURATION * $level / 100, 1))")
  say "Latency gremlin every 5th inventory call +3 s: open loop at $level % ($rate orders/s) for ${SECONDS_PER_RUN}s"
  # A delayed order holds its client's connection for up to the 5 s deadline: give the generator as many
  # connections as that needs (rate x 6 s), or orders queue inside the generator for a connection and the
  # undelayed ones look slow for a reason no real population of clients has.
  connections=$($PY -c "print(max(256, int($rate * 6)))")
  for ((pair = 1; pair <= GREMLIN_PAIRS; pair++)); do
    # Pair 1 is judged against the open-loop run above; later pairs take their own clean run just before.
    if ((pair == 1)); then
      gremlin_json="$WORK/gremlin_$level.json"
    else
      say "Gremlin pair $pair of $GREMLIN_PAIRS: clean, then the gremlin, at $rate orders/s"
      wait_breaker_closed
      lg --scenario orders "${CATALOG[@]}" --rate "$rate" --duration "$SECONDS_PER_RUN" --warmup 1 \
        --max-connections "$connections" --label "gremlin-clean-$level-$pair" \
        --json "$WORK/gremlinpair-$level-$pair-clean.json" | sed 's/^/    /'
      gremlin_json="$WORK/gremlinpair-$level-$pair-chaos.json"
    fi
    wait_breaker_closed
    set_chaos '{"latency":{"mode":"every_nth","every_nth":5,"delay_ms":3000}}'
    # Beside the run: both services' /live (late if a delayed call held an I/O thread) and order-service's
    # connections to inventory and database pool waits — the issue's "no thread or connection starvation".
    $PY "$ROOT/bench/starvation_probe.py" --seconds "$((SECONDS_PER_RUN + 1))" --interval 0.1 \
      --live "order=$ORDER_URL/live" --live "inventory=$INVENTORY_URL/live" --metrics "$ORDER_URL/metrics" \
      --out "$WORK/gremlinprobe-$level-$pair.json" &
    probe_pid=$!
    lg --scenario orders "${CATALOG[@]}" --rate "$rate" --duration "$SECONDS_PER_RUN" --warmup 1 \
      --max-connections "$connections" --label "gremlin-$level-$pair" --json "$gremlin_json" | sed 's/^/    /'
    wait "$probe_pid" || die "the starvation probe beside gremlin run $pair failed"
    chaos_off
    check_not_restarted
    # Let the delayed calls finish and the reconciler settle before the next run.
    sleep 5
  done
fi

if wants fastfail || wants drain; then
  PHASE_START=$(order_sql "SELECT now()")
  say "Stopping inventory (./valerix ctl stop inventory)"
  check_not_restarted
  INVENTORY_STOPPED=1
  ctl stop inventory | sed 's/^/    /'
  ! curl -fsS "$INVENTORY_URL/live" >/dev/null 2>&1 || die "inventory still answers after ./valerix ctl stop inventory"
  ORDER_PID_NOW=$(ctl pid order)

  say "Tripping the breaker: creates until GET /api/v1/resilience says open"
  for _ in $(seq 1 30); do
    [[ $(breaker_field state) == open ]] && break
    lg --scenario orders "${CATALOG[@]}" --concurrency 4 --requests 8 >/dev/null
  done
  [[ $(breaker_field state) == open ]] || die "the breaker did not open with inventory stopped"
  echo "    breaker open, $(breaker_field open_remaining_ms) ms until half-open"

  if wants fastfail; then
    if [[ -z $FASTFAIL_RATE ]]; then
      FASTFAIL_RATE=100
      [[ -n $SATURATION ]] && FASTFAIL_RATE=$($PY -c "print(round($SATURATION * ${LEVELS%% *} / 100, 1))")
    fi
    refused_before=$(breaker_field not_permitted)
    say "Breaker fast-fail: open loop $FASTFAIL_RATE creates/s for 5 s while inventory is down"
    lg --scenario orders "${CATALOG[@]}" --rate "$FASTFAIL_RATE" --duration 5 --label fastfail \
      --json "$WORK/fastfail.json" | sed 's/^/    /'
    refused_after=$(breaker_field not_permitted)
    echo "    breaker refused $((refused_after - refused_before)) calls during the run; state now $(breaker_field state)"
    [[ $($REPORT field "$WORK/fastfail.json" status) =~ ^\{\"202\":\ [0-9]+\}$ ]] ||
      die "creates during the fast-fail run were not all 202 PENDING: $($REPORT field "$WORK/fastfail.json" status)"

    # The same SQL without the service: create_order_deferred, one order per transaction, at the same rate from
    # pgbench (-R, latency from the scheduled start, as valerix-loadgen measures), on a schema copy of order_db.
    say "Breaker fast-fail, the database alone: pgbench -R $FASTFAIL_RATE of create_order_deferred for 5 s"
    bench_db 5432 order_db order_db_pgbench
    pgbench_logged 5432 order_db_pgbench order_db_deferred.pgbench "$FASTFAIL_RATE" 5 "$WORK/ffpg" ||
      { cat "$WORK/ffpg.txt" >&2; die "pgbench of create_order_deferred failed"; }
    admin_sql 5432 postgres -c "DROP DATABASE IF EXISTS order_db_pgbench" >/dev/null
    $REPORT pgbench-log "$FASTFAIL_RATE" $REFERENCE_CLIENTS "$WORK/ffpg" >"$WORK/fastfail_pgbench.json" ||
      die "could not read the pgbench log in $WORK/ffpg"
    echo "    $($REPORT field "$WORK/fastfail_pgbench.json" summary)"
  fi

  if wants drain; then
    pending=$(pending_since "$PHASE_START")
    need=$((DRAIN_ORDERS - pending))
    if ((need > 0)); then
      say "Creating $need more orders while inventory is down (closed loop, 32 workers)"
      lg --scenario orders "${CATALOG[@]}" --concurrency 32 --requests "$need" --label pending-fill \
        --json "$WORK/pending_fill.json" | sed 's/^/    /'
    fi
    [[ $(ctl pid order) == "$ORDER_PID_NOW" ]] || die "order-service restarted while inventory was down"
    pending=$(pending_since "$PHASE_START")
    say "Starting inventory with $pending PENDING orders (reserve intents) in order_db"
    t_start=$(now_s)
    ctl start inventory | sed 's/^/    /'
    until curl -fsS "$INVENTORY_URL/live" >/dev/null 2>&1; do sleep 0.05; done
    t_live=$(now_s)
    INVENTORY_STOPPED=0
    first_progress=""
    drained=false
    left=$pending
    series=""  # [seconds after /live, pending] every ~0.25 s
    deadline=$((${t_live%.*} + 600))
    while ((${EPOCHREALTIME%.*} < deadline)); do
      left=$(pending_since "$PHASE_START")
      t=$(now_s)
      series+="${series:+, }[$(elapsed "$t_live" "$t"), $left]"
      if [[ -z $first_progress ]] && ((left < pending)); then first_progress=$t; fi
      if ((left == 0)); then drained=true; break; fi
      sleep 0.2
    done
    t_end=$(now_s)
    resilience=$(curl -fsS "$ORDER_URL/api/v1/resilience" || echo null)
    statuses=$(order_sql "SELECT coalesce(json_object_agg(status, n), '{}') FROM (SELECT status, count(*) AS n FROM orders WHERE created_at >= '$PHASE_START' GROUP BY status) s")
    seconds=$(elapsed "$t_live" "$t_end")
    fp=$(elapsed "$t_live" "${first_progress:-$t_end}")
    rate=$(awk -v n="$pending" -v d="$(elapsed "${first_progress:-$t_end}" "$t_end")" 'BEGIN { printf "%.1f", (d > 0 ? n / d : 0) }')
    echo "    drained=$drained: $pending -> $left pending in $seconds s after inventory answered /live" \
      "(start command took $(elapsed "$t_start" "$t_live") s); first progress after $fp s"
    echo "    orders created in this phase by status: $statuses"
    cat >"$WORK/drain.json" <<EOF
{"drained": $drained, "pending_at_start": $pending, "pending_left": $left, "seconds_from_live": $seconds,
 "seconds_from_start_command": $(elapsed "$t_start" "$t_end"), "first_progress_s": $fp,
 "orders_per_s_after_first_progress": $rate, "waited_s": $seconds, "final_statuses": $statuses,
 "resilience_at_end": $resilience, "pending_series": [$series]}
EOF
  fi
fi

restore
trap - EXIT
echo
mkdir -p "$OUT"
$REPORT summary "$WORK" "$RESULT"
if ((DOCS)); then
  $REPORT docs "$RESULT" "$ROOT/docs/benchmarks.md"
  echo "docs/benchmarks.md: the \"latest run\" section now holds this run (--no-docs to leave it)"
fi
rm -rf "$WORK"
