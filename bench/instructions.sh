#!/usr/bin/env bash
# Instructions per order in each service, counted by valgrind --tool=callgrind on the running local stack: a figure
# that does not move with the machine's noise, to compare one build or change with another.
#
#   VALERIX_DATA_DIR=/var/lib/valerix bench/instructions.sh [--orders N] [--concurrency "1 16"]
#                                                         [--services "order inventory"] [--out DIR]
#
# For each service in turn: stops its supervisord program, runs the same binary with the same environment under
# callgrind, counts 5 s of idling (timers, pollers: what is not per order), then for each concurrency warms up,
# zeroes the counters, sends N orders to order-service (closed loop), dumps the counters and reports instructions
# (Ir) per order answered 201 and the functions that execute most of them. Then it stops the callgrind process (by
# its PID) and starts the program under supervisord again.
# At concurrency 1 every order is its own batch; at 16 concurrent orders share transactions and HTTP calls.
# Instructions of the PostgreSQL servers are not counted (see bench/orders.sh for their CPU seconds).
# Seeds nothing: run bench/orders.sh once (or the seed-products scenario) so the BENCH- catalog exists.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
DATA=${VALERIX_DATA_DIR:-/var/lib/valerix}
ORDERS=2000 CONCURRENCY="1 16" SERVICES="order inventory" OUT=/tmp SKUS=10000 IDLE_SECONDS=5
while (($#)); do
  case $1 in
    --orders) ORDERS=$2; shift 2 ;;
    --concurrency) CONCURRENCY=$2; shift 2 ;;
    --services) SERVICES=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --skus) SKUS=$2; shift 2 ;;
    -h|--help) sed -n 2,15p "$0"; exit 0 ;;
    *) echo "instructions.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
die() { echo "instructions.sh: $*" >&2; exit 1; }
say() { echo "==> $*"; }
((EUID == 0)) || die "run as root (./valerix ctl stops and starts the services)"
[[ $ORDERS =~ ^[1-9][0-9]*$ ]] || die "--orders must be a positive whole number, not '$ORDERS'"
for c in $CONCURRENCY; do [[ $c =~ ^[1-9][0-9]*$ ]] || die "--concurrency takes positive whole numbers, not '$c'"; done
for s in $SERVICES; do
  [[ $s == order || $s == inventory ]] || die "--services takes order and inventory, not '$s'"
done
command -v valgrind >/dev/null && command -v callgrind_control >/dev/null ||
  die "valgrind is not installed (./valerix deps installs it)"
LOADGEN=$(valerix_loadgen "$ROOT")
[[ -n $LOADGEN ]] || die "valerix-loadgen not built (./valerix build)"
CONF="$DATA/supervisord.conf"
[[ -r $CONF ]] || die "no $CONF: start the local stack first (VALERIX_DATA_DIR=$DATA ./valerix up)"
curl -fsS http://127.0.0.1:3001/live >/dev/null 2>&1 || die "order-service is not answering on :3001 (./valerix up)"
WIDTH=${#SKUS}; ((WIDTH < 4)) && WIDTH=4
ctl() { VALERIX_DATA_DIR="$DATA" "$ROOT/valerix" ctl "$@"; }
mkdir -p "$OUT" || die "--out: cannot create $OUT"
OUT=$(cd "$OUT" && pwd -P)  # valgrind runs in the service's own folder: its output path must not be relative
WORK=$(mktemp -d "$OUT/valerix-instructions.XXXXXX")
PY=/usr/bin/python3

# program_field NAME FIELD: command, directory, or the environment as KEY=VALUE lines, from supervisord.conf.
program_field() {
  $PY - "$CONF" "$1" "$2" <<'EOF'
import configparser, re, sys
conf = configparser.RawConfigParser(strict=False)
conf.read(sys.argv[1])
section = "program:" + sys.argv[2]
if not conf.has_section(section):
    sys.exit(f"no [{section}] in {sys.argv[1]}")
value = conf.get(section, sys.argv[3], fallback="")
if sys.argv[3] == "environment":
    for key, text in re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', value):
        print(f"{key}={text}")
else:
    print(value)
EOF
}

GRIND_PID=""
GRIND_SERVICE=""
restore() {
  if [[ -n $GRIND_PID ]] && kill -0 "$GRIND_PID" 2>/dev/null; then
    kill -TERM "$GRIND_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$GRIND_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$GRIND_PID" 2>/dev/null || true
  fi
  GRIND_PID=""
  if [[ -n $GRIND_SERVICE ]]; then
    ctl start "$GRIND_SERVICE" >/dev/null ||
      echo "instructions.sh: could not start $GRIND_SERVICE again: ./valerix ctl start $GRIND_SERVICE" >&2
    GRIND_SERVICE=""
  fi
}
trap restore EXIT

orders() {  # orders LABEL CONCURRENCY COUNT JSON
  "$LOADGEN" --quiet --scenario orders --sku-prefix BENCH- --skus "$SKUS" --sku-width "$WIDTH" \
    --concurrency "$2" --requests "$3" --duration 600 --label "$1" --json "$4" >/dev/null
}

# dump PID NAME: writes the counters since the last zeroing to $WORK/NAME.callgrind.
dump() {
  local before after
  before=$(ls "$WORK"/callgrind.out* 2>/dev/null | wc -l)
  callgrind_control -d "$1" >/dev/null 2>&1
  for _ in $(seq 1 100); do
    after=$(ls "$WORK"/callgrind.out* 2>/dev/null | wc -l)
    ((after > before)) && break
    sleep 0.1
  done
  local file
  file=$(ls -t "$WORK"/callgrind.out* | head -1)
  mv "$file" "$WORK/$2.callgrind"
}

REPORT="$PY $ROOT/bench/callgrind_report.py"
RUNS=()
for service in $SERVICES; do
  port=3001; [[ $service == inventory ]] && port=3002
  command=$(program_field "$service" command)
  directory=$(program_field "$service" directory)
  mapfile -t environment < <(program_field "$service" environment)
  say "$service: under callgrind ($command)"
  ctl stop "$service" >/dev/null
  GRIND_SERVICE=$service
  (cd "$directory" && exec env "${environment[@]}" valgrind --tool=callgrind --collect-atstart=yes \
    --compress-strings=no --compress-pos=no --callgrind-out-file="$WORK/callgrind.out" $command) \
    >"$WORK/$service.log" 2>&1 &
  GRIND_PID=$!
  for _ in $(seq 1 120); do curl -fsS "http://127.0.0.1:$port/live" >/dev/null 2>&1 && break; sleep 0.5; done
  curl -fsS "http://127.0.0.1:$port/live" >/dev/null 2>&1 ||
    die "$service did not answer under callgrind; see $WORK/$service.log"
  # Also wait for order-service to see inventory again (its breaker may have opened while inventory was down).
  for _ in $(seq 1 60); do
    orders warm 1 1 "$WORK/probe.json"
    [[ $($PY -c "import json; print(json.load(open('$WORK/probe.json'))['status'].get('201', 0))") == 1 ]] && break
    sleep 1
  done
  # Grow the PostgreSQL pools first (16 connections each by default): a new connection's SCRAM-SHA-256 login is
  # ~40 M instructions (OpenSSL's PBKDF2), and under callgrind's slowness more calls overlap than they would.
  orders warm 64 2000 "$WORK/warm.json"
  callgrind_control -z "$GRIND_PID" >/dev/null 2>&1
  sleep "$IDLE_SECONDS"
  dump "$GRIND_PID" "$service-idle"
  for c in $CONCURRENCY; do
    # Warm up at this concurrency too (batch sizes settle).
    orders warm "$c" $((200 > 20 * c ? 200 : 20 * c)) "$WORK/warm.json"
    callgrind_control -z "$GRIND_PID" >/dev/null 2>&1
    orders "$service-c$c" "$c" "$ORDERS" "$WORK/$service-c$c.json"
    dump "$GRIND_PID" "$service-c$c"
    $REPORT run "$service" "$c" "$WORK/$service-c$c.callgrind" "$WORK/$service-c$c.json" \
      "$WORK/$service-idle.callgrind" "$IDLE_SECONDS" "$WORK/$service-c$c.figures.json" | sed 's/^/    /'
    RUNS+=("$WORK/$service-c$c.figures.json")
  done
  restore
done

c=${CONCURRENCY##* }
say "Where the instructions go: each function's own instructions (not its callees'), per order, at concurrency $c"
for service in $SERVICES; do
  echo "  $service:"
  $REPORT top "$WORK/$service-c$c.figures.json" | sed 's/^/    /'
done
commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
$REPORT collect "$WORK/instructions.json" "$commit" "${RUNS[@]}"
echo "JSON: $WORK/instructions.json (callgrind files beside it: callgrind_annotate FILE)"
