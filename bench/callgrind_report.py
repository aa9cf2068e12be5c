#!/usr/bin/env python3
"""Figures of bench/instructions.sh, from callgrind's output files (format: valgrind's docs, "Callgrind Format").

  callgrind_report.py run SERVICE CONCURRENCY CALLGRIND LOADGEN_JSON IDLE_CALLGRIND IDLE_SECONDS OUT_JSON
      prints the run's line, writes its figures
  callgrind_report.py top FIGURES_JSON                  the functions with the most instructions of their own
  callgrind_report.py collect OUT_JSON COMMIT RUN_JSON...  one JSON of every run

Counts are taken from the files callgrind writes with --compress-strings=no --compress-pos=no (names in full on
every line, absolute positions): a cost line follows fn= (the function's own cost) or calls= (the cost of that call,
callee included).
"""
import collections
import json
import sys

# Opening a PostgreSQL connection: SCRAM-SHA-256 is thousands of HMAC-SHA-256 rounds, millions of instructions, paid
# once per pooled connection. Counted apart so that a reconnect (under callgrind's slowness a health probe's short
# deadline can abandon a connection) does not pass for per-order work.
CONNECT_PREFIX = "valerix::pg::Connection::Connect("


def parse(path):
    """(total, own, inclusive_connect): every instruction, each function's own, and those under CONNECT_PREFIX."""
    own = collections.Counter()
    connect = 0
    function, callee, after_calls = None, None, False
    with open(path) as f:
        for line in f:
            if line.startswith("fn="):
                function = line[3:].strip()
            elif line.startswith("cfn="):
                callee = line[4:].strip()
            elif line.startswith("calls="):
                after_calls = True
            elif line[:1].isdigit() or line[:1] in "+-*":
                parts = line.split()
                if len(parts) < 2:
                    continue
                cost = int(parts[1])
                if after_calls:
                    after_calls = False
                    # A call into the connect coroutine from outside it: the whole login, callees included.
                    if callee and callee.startswith(CONNECT_PREFIX) and not (function or "").startswith(CONNECT_PREFIX):
                        connect += cost
                    continue
                if function:
                    own[function] += cost
    return sum(own.values()), own, connect


def orders_201(loadgen_json):
    with open(loadgen_json) as f:
        run = json.load(f)
    return run["status"].get("201", 0), run


def run_figures(service, concurrency, callgrind, loadgen_json, idle_callgrind, idle_seconds, top_count=12):
    total, own, connect = parse(callgrind)
    idle_total, _, idle_connect = parse(idle_callgrind)
    ok, run = orders_201(loadgen_json)
    if not ok:
        raise ValueError(f"no order answered 201 at concurrency {concurrency}: {run['status']}")
    return {"service": service, "concurrency": concurrency, "orders_201": ok, "status": run["status"],
            "seconds": run.get("completion_span_s"), "instructions": total, "connect_instructions": connect,
            "instructions_per_order": round((total - connect) / ok),
            "idle_instructions_per_s": round((idle_total - idle_connect) / idle_seconds),
            "idle_connect_instructions": idle_connect, "callgrind_file": callgrind,
            # The functions with the most instructions of their own, per order and as a share of the process's.
            "top_functions": [{"function": name, "per_order": round(ir / ok),
                               "percent": round(100 * ir / max(total, 1), 1)}
                              for name, ir in own.most_common(top_count)]}


def run_line(figures):
    others = {k: v for k, v in figures["status"].items() if k != "201"}
    line = (f"concurrency {figures['concurrency']:>3}: {figures['instructions_per_order']:>10,} instructions per order "
            f"({figures['orders_201']} orders 201{', others ' + str(others) if others else ''}; "
            f"{figures['seconds']:.1f} s); idle {figures['idle_instructions_per_s']:,}/s")
    if figures["connect_instructions"]:
        line += f"; not counted: {figures['connect_instructions']:,} opening PostgreSQL connections"
    return line


def top_lines(figures):
    lines = [f"{row['per_order']:>9,} {row['percent']:5.1f} %  {row['function'][:110]}"
             for row in figures["top_functions"]]
    if figures["connect_instructions"]:
        lines.append("(this list includes the PostgreSQL logins of that run: libcrypto's unnamed functions, HMAC, "
                     "SHA-256)")
    return lines


def main(argv):
    command = argv[1] if len(argv) > 1 else ""
    if command == "run" and len(argv) == 9:
        try:
            figures = run_figures(argv[2], int(argv[3]), argv[4], argv[5], argv[6], float(argv[7]))
        except ValueError as error:
            print(f"callgrind_report.py: {error}", file=sys.stderr)
            return 1
        print(run_line(figures))
        with open(argv[8], "w") as out:
            json.dump(figures, out)
        return 0
    if command == "top" and len(argv) == 3:
        with open(argv[2]) as f:
            print("\n".join(top_lines(json.load(f))))
        return 0
    if command == "collect" and len(argv) >= 4:
        runs = []
        for path in argv[4:]:
            with open(path) as f:
                runs.append(json.load(f))
        with open(argv[2], "w") as f:
            json.dump({"commit": argv[3], "runs": runs}, f, indent=2)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
