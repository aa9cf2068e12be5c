#!/usr/bin/env python3
"""Helpers of bench/orders.sh: read fields of valerix-loadgen JSON, snapshot process CPU and memory, and assemble
the run's JSON and summary table. Standard library only.

  orders_report.py field FILE PATH            print one value ("latency_ms.p99", "dependencies.0.breaker.state")
  orders_report.py procs NAME=PID[+] ...       JSON {NAME: {"cpu_s", "rss_peak_mb", "runq_s", "slices"}}; PID+ adds
                                               the PID's children
  orders_report.py cpudelta BEFORE AFTER N    JSON CPU seconds per 1,000 orders between two `procs` snapshots
  orders_report.py summary DIR OUT_FILE        assemble DIR/*.json into OUT_FILE and print the summary table and
                                               the issue #9 targets, each met / not met / not measured
  orders_report.py docs OUT_FILE DOC           write the run of OUT_FILE into DOC (docs/benchmarks.md) as the
                                               section between the "orders.sh: latest run" markers, added before
                                               "## Orders end to end" when DOC has none
  orders_report.py pgbench-log RATE CLIENTS DIR [SKIP_S [SQL]]
                                               JSON latency percentiles of the pgbench -l logs in DIR (from each
                                               transaction's scheduled start, as pgbench -R measures), without the
                                               transactions that ended in the first SKIP_S seconds (a warm-up);
                                               SQL names what the script ran
"""
import json
import math
import os
import statistics
import sys

TICKS = os.sysconf("SC_CLK_TCK")


def field(path, dotted):
    with open(path) as f:
        value = json.load(f)
    for part in dotted.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def stat_fields(pid):
    """The fields of /proc/PID/stat after the command name (state first), or None when the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()


def children(pid):
    kids = []
    for entry in os.listdir("/proc"):
        fields = stat_fields(entry) if entry.isdigit() else None
        if fields and int(fields[1]) == pid:
            kids.append(int(entry))
    return kids


def cpu_seconds(fields):
    """utime + stime of a live process from its stat_fields (its exited children are not included)."""
    return (int(fields[11]) + int(fields[12])) / TICKS


def run_queue(pid, proc="/proc"):
    """(seconds spent runnable but waiting for a CPU, time slices run) of a live process, summed over its threads,
    from PROC/PID/task/*/schedstat (on-CPU ns, run-queue wait ns, slices); (0.0, 0) when it is gone."""
    waited_ns = slices = 0
    try:
        tasks = os.listdir(f"{proc}/{pid}/task")
    except OSError:
        return 0.0, 0
    for task in tasks:
        try:
            with open(f"{proc}/{pid}/task/{task}/schedstat") as f:
                fields = f.read().split()
        except OSError:
            continue
        waited_ns += int(fields[1])
        slices += int(fields[2])
    return waited_ns / 1e9, slices


def rss_peak_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def procs(specs):
    out = {}
    for spec in specs:
        name, pid_text = spec.split("=", 1)
        with_children = pid_text.endswith("+")
        pid = int(pid_text.rstrip("+"))
        each = {}
        for p in [pid] + (children(pid) if with_children else []):
            fields = stat_fields(p)
            if fields is None:  # exited since it was listed
                continue
            waited, slices = run_queue(p)
            # The start time (clock ticks since boot) tells a process from a later one with its PID.
            each[str(p)] = {"start": int(fields[19]), "cpu_s": cpu_seconds(fields), "runq_s": waited,
                            "slices": slices}
        out[name] = {"cpu_s": round(sum(v["cpu_s"] for v in each.values()), 2),
                     "rss_peak_mb": round(rss_peak_mb(pid), 1), "processes": len(each),
                     "runq_s": round(sum(v["runq_s"] for v in each.values()), 4),
                     "slices": sum(v["slices"] for v in each.values()), "pids": each}
    return out


def spent_between(before, now):
    """{cpu_s, runq_s, slices} a group of processes spent between two `procs` snapshots of it. Per process when both
    list their processes: what each spent since the first snapshot, its whole life if it started after it; one that
    exited in between is left out (its last moments are lost, rather than its whole life subtracted). Otherwise the
    difference of the totals."""
    if "pids" in before and "pids" in now:
        spent = {"cpu_s": 0.0, "runq_s": 0.0, "slices": 0}
        for pid, figures in now["pids"].items():
            earlier = before["pids"].get(pid)
            same = earlier is not None and earlier["start"] == figures["start"]
            for key in spent:
                spent[key] += figures[key] - (earlier[key] if same else 0)
        return spent
    return {key: now[key] - before.get(key, 0) for key in ("cpu_s", "runq_s", "slices") if key in now}


def cpu_delta(before_file, after_file, orders):
    with open(before_file) as f:
        before = json.load(f)
    with open(after_file) as f:
        after = json.load(f)
    out = {"orders": orders, "processes": {}}
    for name, now in after.items():
        earlier = before.get(name, {})
        spent = spent_between(earlier, now)
        out["processes"][name] = {"cpu_s": round(spent["cpu_s"], 2),
                                  "cpu_s_per_1000_orders": round(spent["cpu_s"] * 1000 / orders, 3) if orders else None,
                                  "rss_peak_mb": now["rss_peak_mb"]}
        if "runq_s" in earlier and "runq_s" in spent:
            # How long, on average, the process waited for a CPU each time it became runnable: the share of an
            # order's latency that is the machine's queue, not the process's work, at each hop.
            out["processes"][name]["runq_s"] = round(spent["runq_s"], 3)
            out["processes"][name]["wait_ms_per_slice"] = (round(spent["runq_s"] * 1000 / spent["slices"], 3)
                                                           if spent["slices"] > 0 and spent["runq_s"] >= 0 else None)
    return out


def cpu_per_order(cpu):
    """'order 0.08, inventory 0.02, ...': CPU seconds per 1,000 orders of each process of a cpudelta result."""
    return ", ".join(f"{name} {fmt(v['cpu_s_per_1000_orders'], 2)}" for name, v in cpu["processes"].items())


def cpu_wait(cpu):
    """'waited for a CPU each time it ran: order 0.21, ... ms', or '' for snapshots taken without run queues."""
    waits = [f"{name} {fmt(v['wait_ms_per_slice'], 2)}" for name, v in cpu["processes"].items()
             if v.get("wait_ms_per_slice") is not None]
    return f"; waited for a CPU each time it ran: {', '.join(waits)} ms" if waits else ""


def load(directory, name):
    path = os.path.join(directory, name + ".json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def decided_per_s(run):
    """Orders decided per second in a valerix-loadgen run: answered 201 (confirmed) or 409 (rejected), the whole
    path of an order. Not 2xx: a 202 was parked for the reconciler (the breaker opened, a call timed out)."""
    span = run.get("completion_span_s") or 0
    decided = run.get("status", {}).get("201", 0) + run.get("status", {}).get("409", 0)
    return decided / span if span else 0.0


def pgbench_log(rate, clients, directory, skip_s=0.0, sql="create_order_deferred, one order per transaction"):
    """The pgbench per-transaction logs in DIR (client transaction latency_us script epoch_s epoch_us [lag_us]; the
    time is when the transaction ended), without those scheduled in the first skip_s seconds of the run, which
    starts when the first transaction was scheduled to. As valerix-loadgen does: by scheduled start, so a slow
    transaction of the warm-up that ends after it does not count."""
    rows = []  # (end, latency_ms)
    for name in os.listdir(directory):
        with open(os.path.join(directory, name)) as f:
            for line in f:
                parts = line.split()
                if len(parts) < 6:
                    continue
                rows.append((int(parts[4]) + int(parts[5]) / 1e6, int(parts[2]) / 1000.0))
    if rows:
        # The run starts at the first transaction's scheduled start: its end less its latency (-R counts from there).
        start = min(end - latency / 1000.0 for end, latency in rows) + skip_s
        rows = [(end, latency) for end, latency in rows if end - latency / 1000.0 >= start]
    if not rows:
        raise ValueError(f"no pgbench log lines in {directory}" + (f" after the first {skip_s:g} s" if skip_s else ""))
    latencies = sorted(latency for _, latency in rows)
    ends = [end for end, _ in rows]

    def at(q):  # nearest rank, as valerix-loadgen's report: the smallest value with at least q of all at or below it
        return latencies[max(0, min(len(latencies) - 1, math.ceil(q * len(latencies)) - 1))]

    span = max(ends) - min(ends) or 1.0
    result = {"tool": "pgbench", "sql": sql, "target_rate": rate, "clients": clients, "warm_up_dropped_s": skip_s,
              "transactions": len(latencies), "achieved_per_s": round(len(latencies) / span, 1),
              "latency_ms": {"p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "p99_9": at(0.999),
                             "max": latencies[-1]}}
    lat = result["latency_ms"]
    result["summary"] = (f"PostgreSQL alone at {rate:,.1f}/s ({clients} clients, {sql}): p50 {lat['p50']:.2f} / "
                         f"p99 {lat['p99']:.2f} ms, p99.9 {lat['p99_9']:.2f}, max {lat['max']:.2f} ms, "
                         f"{result['achieved_per_s']:,.1f}/s achieved")
    return result


def fmt(value, digits=1):
    return "-" if value is None else f"{value:,.{digits}f}"


def targets(result, first_level="50"):
    """Issue #9's targets judged on one run's assembled result: (target, figure, verdict) each, the verdict
    "met", "NOT MET" or "not measured" (the part did not run, or found nothing to judge)."""
    def get(*path):
        value = result
        for part in path:
            if not isinstance(value, dict) or part not in value:
                return None
            value = value[part]
        return value

    def judge(name, value, ok, shown):
        if value is None:
            return (name, "-", "not measured")
        return (name, shown(value), "met" if ok(value) else "NOT MET")

    def p99_of(run, expected):
        """A run's p99, or (failed) the count of answers that were errors or not `expected`: the latency figures
        cover the answers that came, so a run with failures is not judged on them."""
        if not isinstance(run, dict) or "latency_ms" not in run:
            return None
        failed = run.get("errors", 0) + sum(n for status, n in run.get("status", {}).items() if status != expected)
        return ("failed", failed) if failed else run["latency_ms"]["p99"]

    def p99_within(limit):
        return lambda v: not isinstance(v, tuple) and v <= limit

    def p99_shown(v):
        return f"{v[1]:,} answers failed or unexpected" if isinstance(v, tuple) else f"{v:,.1f} ms"

    uniform, hot = get("saturation_uniform", "decided_per_s"), get("saturation_hot", "decided_per_s")
    hot_ratio = hot / uniform if uniform and hot is not None else None
    drain = get("reconciler_drain")
    drain_s = (drain["seconds_from_live"] if drain.get("drained") else float("inf")) if drain else None
    rss = [get("cpu", "processes", name, "rss_peak_mb") for name in ("order", "inventory")]
    rss_max = max(rss) if None not in rss else None
    return [
        judge("open-loop saturation >= 1.0 x the pgbench replay", get("saturation_open_loop_vs_pgbench"),
              lambda v: v >= 1.0, lambda v: f"{v:.2f} x"),
        judge(f"p99 <= 10 ms at {first_level} % of saturation", p99_of(get("open_loop", first_level), "201"),
              p99_within(10), p99_shown),
        judge("hot-SKU saturation >= 0.7 x uniform", hot_ratio, lambda v: v >= 0.7, lambda v: f"{v:.2f} x"),
        judge("gremlin: p50 of the undelayed orders <= 1.5 x clean (median of the pairs)",
              get("gremlin_pairs", first_level, "median_ratio"), lambda v: v <= 1.5, lambda v: f"{v:.2f} x"),
        judge("gremlin: no thread or connection starvation (every /live within 1 s, no call waiting for or short of a connection)",
              get("gremlin_starvation", first_level), lambda v: not starved(v), starvation_shown),
        judge("breaker open: fast-failed creates p99 <= 2 ms", p99_of(get("breaker_fast_fail"), "202"),
              p99_within(2), p99_shown),
        judge("reconciler clears the PENDING orders in <= 10 s", drain_s, lambda v: v <= 10,
              lambda v: "not drained" if v == float("inf") else f"{v:.1f} s"),
        judge("each service <= 64 MB RSS at saturation", rss_max, lambda v: v <= 64,
              lambda v: f"{v:.1f} MB (the larger of the two)"),
    ]


DOC_BEGIN = "<!-- orders.sh: latest run, begin (bench/orders.sh rewrites this section; --no-docs leaves it) -->"
DOC_END = "<!-- orders.sh: latest run, end -->"


def docs_section(result):
    """The markdown of one run: where, what, the summary rows and the targets."""
    meta = result.get("meta", {})

    def cell(text):
        return str(text).replace("|", "\\|")

    lines = [DOC_BEGIN, "## Latest run of `bench/orders.sh` (written by the script)", "",
             f"{meta.get('date', '?')} · commit {meta.get('commit', '?')}"
             + (" with uncommitted changes" if meta.get("dirty") else "")
             + f" · {meta.get('machine', '?')} · load average at start {meta.get('load_average_at_start', '?')}"
             + f" · data folder `{meta.get('data_dir', '?')}`", "",
             f"Command: `{meta.get('command', '?')}`", "",
             "| measurement | figure | detail |", "|---|---|---|"]
    lines += [f"| {cell(m)} | {cell(f)} | {cell(d)} |" for m, f, d in result.get("summary_rows", [])]
    lines += ["", "| issue #9 target | this run | |", "|---|---|---|"]
    lines += [f"| {cell(t)} | {cell(f)} | {v} |" for t, f, v in result.get("targets", [])]
    lines += ["", "The dated tables below keep every run by hand, with what changed between them.", DOC_END]
    return "\n".join(lines)


def write_docs(out_file, doc_file):
    with open(out_file) as f:
        result = json.load(f)
    with open(doc_file) as f:
        doc = f.read()
    section = docs_section(result)
    if DOC_BEGIN in doc and DOC_END in doc:
        before, rest = doc.split(DOC_BEGIN, 1)
        doc = before + section + rest.split(DOC_END, 1)[1]
    elif "\n## Orders end to end" in doc:
        before, after = doc.split("\n## Orders end to end", 1)
        doc = before + "\n" + section + "\n\n## Orders end to end" + after
    else:
        doc = doc.rstrip("\n") + "\n\n" + section + "\n"
    with open(doc_file, "w") as f:
        f.write(doc)


def hiccup_rows(idle_spin, idle_wake, load_wake, load_orders):
    """Summary rows of valerix-hiccup's figures (any of them may be None): the CPU time a spinning thread per CPU
    lost while the machine idled, to the host and to the machine's other processes, and how late 1 ms sleeps woke,
    idle and beside an open-loop run of orders."""
    rows = []
    if idle_spin:
        for part, by in (("host", "the host or interrupts (not switched out)"),
                         ("processes", "other processes (switched out)")):
            stalls = idle_spin[part]
            rows.append((f"machine idle: {len(idle_spin['cpus'])} threads spinning {idle_spin['seconds']} s, "
                         f"taken by {by}",
                         f"{stalls['over_5ms']} stalls > 5 ms",
                         f"longest {fmt(stalls['max_ms'])} ms, {stalls['over_1ms']} over 1 ms, {stalls['over_10ms']} "
                         f"over 10 ms; {fmt(stalls['lost_ms'], 0)} ms in all"))

    def wake_row(title, probe, detail=""):
        late, samples = probe["all"]["late_us"], probe["all"]["samples"]
        return (title, f"p99 {fmt(late['p99'] / 1000, 2)} / p99.9 {fmt(late['p99.9'] / 1000, 2)} ms",
                f"p50 {fmt(late['p50'] / 1000, 2)} ms, max {fmt(late['max'] / 1000)} ms, {samples:,} wake-ups{detail}")

    if idle_wake:
        rows.append(wake_row("machine idle: 1 ms sleeps wake late by", idle_wake))
    if load_wake:
        if load_orders:
            lat = load_orders["latency_ms"]
            rows.append(wake_row(f"beside the open loop at {fmt(load_orders['target_rate'])}/s: 1 ms sleeps wake late by",
                                 load_wake, f"; the orders of that run p50 {fmt(lat['p50'], 2)} / p99 "
                                            f"{fmt(lat['p99'], 2)} ms"))
        else:
            rows.append(wake_row("beside the open loop: 1 ms sleeps wake late by", load_wake))
    return rows


LIVE_LIMIT_MS = 1000  # a delayed call holding an I/O thread would hold /live for the gremlin's 3 s


def starvation(probes):
    """The starvation probes (bench/starvation_probe.py) beside one level's gremlin runs, taken together, or None."""
    probes = [p for p in probes if p]
    if not probes:
        return None
    live = {}
    for probe in probes:
        for name, figures in probe["live"].items():
            into = live.setdefault(name, {"probes": 0, "failed": 0, "max_ms": 0.0, "p99_ms": []})
            into["probes"] += figures["probes"]
            into["failed"] += figures["failed"]
            into["max_ms"] = max(into["max_ms"], figures["max_ms"] or 0.0)
            if figures["p99_ms"] is not None:
                into["p99_ms"].append(figures["p99_ms"])
    for figures in live.values():
        figures["worst_p99_ms"] = max(figures.pop("p99_ms"), default=None)
    metrics = [p["metrics"] for p in probes if p["metrics"].get("samples")]
    return {
        "runs": len(probes), "live": live,
        "live_failed": sum(f["failed"] for f in live.values()),
        "live_max_ms": max((f["max_ms"] for f in live.values()), default=0.0),
        "runs_without_metrics": len(probes) - len(metrics),
        "inventory_connections_open_peak": max((m["inventory_connections_open_peak"] for m in metrics), default=None),
        "inventory_connections_max": max((m["inventory_connections_max"] for m in metrics), default=None),
        # Absent from probes of a service without the gauge (before it existed).
        "inventory_connection_waiters_peak": max((m.get("inventory_connection_waiters_peak", 0) for m in metrics),
                                                 default=None),
        "db_pool_waiters_peak": max((m["db_pool_waiters_peak"] for m in metrics), default=None),
        "pool_exhausted": sum(m["pool_exhausted"] for m in metrics) if metrics else None,
        "deadline_expiries": sum(m["deadline_expiries"] for m in metrics) if metrics else None,
        "inventory_call_errors": sum(m["inventory_call_errors"] for m in metrics) if metrics else None,
    }


def starved(figures):
    """Whether the probes saw starvation: a /live unanswered or later than LIVE_LIMIT_MS, a call to inventory given up
    for want of a free connection or seen waiting for one (every 250 ms), or a run whose metrics were not read (which
    proves nothing)."""
    return (figures["live_failed"] > 0 or figures["live_max_ms"] > LIVE_LIMIT_MS or figures["runs_without_metrics"] > 0
            or figures["pool_exhausted"] > 0 or (figures["inventory_connection_waiters_peak"] or 0) > 0)


def starvation_shown(figures):
    live = ", ".join(f"{name} /live max {fmt(f['max_ms'])} ms" + (f" ({f['failed']} unanswered)" if f["failed"] else "")
                     for name, f in sorted(figures["live"].items()))
    if figures["runs_without_metrics"]:
        return live + f"; order-service metrics not read beside {figures['runs_without_metrics']} run(s)"
    return (f"{live}; inventory connections peak {figures['inventory_connections_open_peak']} of "
            f"{figures['inventory_connections_max']} ({figures['inventory_connection_waiters_peak']} calls waiting for one "
            f"at most), {figures['pool_exhausted']} calls short of one")


def summary(directory, out_file):
    meta = load(directory, "meta") or {}
    result = {"meta": meta}
    rows = []  # (measurement, figure, detail)

    pg = load(directory, "pgbench")
    if pg:
        result["pgbench"] = pg
        for clients, run in sorted(pg["runs"].items(), key=lambda kv: int(kv[0])):
            flat, balanced = run["flat_out"], run["balanced"]
            rows.append((f"pgbench replay, {clients}+{clients} clients",
                         f"{fmt(run['orders_per_s'])} orders/s",
                         f"balanced: order_db {fmt(balanced['order_db_orders_per_s'])}/s (2 tx each), "
                         f"inventory_db {fmt(balanced['inventory_db_tps'])} tps; flat out: "
                         f"{fmt(flat['order_db_orders_per_s'])} / {fmt(flat['inventory_db_tps'])}"))

    for name, title in (("saturation_uniform", "saturation, uniform"), ("saturation_hot", "saturation, hot")):
        sat = load(directory, name)
        if not sat:
            continue
        result[name] = sat
        lat = sat["latency_ms"]
        sat["decided_per_s"] = round(decided_per_s(sat), 1)
        rows.append((f"{title} ({sat['concurrency']} workers)", f"{fmt(sat['decided_per_s'])} orders/s",
                     f"p50 {fmt(lat['p50'], 2)} / p99 {fmt(lat['p99'], 2)} ms, status {sat['status']}, "
                     f"errors {sat['errors']}"))
    sustained = load(directory, "saturation_open")
    if sustained:
        result["saturation_open_loop"] = sustained
        lat = sustained["latency_ms"]
        sustained["decided_per_s"] = round(decided_per_s(sustained), 1)
        rows.append(("saturation, uniform, open loop (sustained)", f"{fmt(sustained['decided_per_s'])} orders/s",
                     f"offered {fmt(sustained['target_rate'])}/s: p50 {fmt(lat['p50'], 2)} / p99 "
                     f"{fmt(lat['p99'], 2)} ms, errors {sustained['errors']}"))
        if pg:
            ratio = sustained["decided_per_s"] / pg["best_orders_per_s"]
            result["saturation_open_loop_vs_pgbench"] = ratio
            rows.append(("open-loop saturation / pgbench replay", f"{ratio:.2f}", ""))
    cpu = load(directory, "cpu")
    if cpu:
        result["cpu"] = cpu
        rows.append(("CPU s per 1,000 orders (uniform saturation)", "", cpu_per_order(cpu) + cpu_wait(cpu)))
        rss = [f"{name} {fmt(v['rss_peak_mb'])} MB" for name, v in cpu["processes"].items()
               if name in ("order", "inventory")]
        rows.append(("peak RSS (since process start)", "", ", ".join(rss)))

    def runs_by_level(prefix):
        """(level, run) of every '<prefix><level>.json' in the run's folder, by level."""
        names = (f for f in os.listdir(directory) if f.startswith(prefix) and f.endswith(".json"))
        levels = sorted(int(f[len(prefix):-5]) for f in names)
        return [(str(level), load(directory, f"{prefix}{level}")) for level in levels]

    def latency_row(title, run):
        lat = run["latency_ms"]
        return (f"{title} ({fmt(run['target_rate'])}/s)", f"p50 {fmt(lat['p50'], 2)} / p99 {fmt(lat['p99'], 2)} ms",
                f"p99.9 {fmt(lat['p99_9'], 2)} ms, max {fmt(lat['max'], 2)} ms, achieved "
                f"{fmt(run['ok_per_s'])}/s, status {run['status']}, errors {run['errors']}")

    def tail_row(title, run, detail):
        lat = run["latency_ms"]
        rows.append((f"{title} ({fmt(run['target_rate'])}/s)", f"p50 {fmt(lat['p50'], 2)} / p99 {fmt(lat['p99'], 2)} ms",
                     f"p99.9 {fmt(lat['p99_9'], 2)} ms, max {fmt(lat['max'], 2)} ms{detail}"))

    def run_cpu_row(part, key, level, more=lambda cpu: ""):
        """The row under a load run, when it has cpu_<part>_<level>.json (kept in result[key][level]): every
        process's CPU per order and wait for a CPU, then what `more` says of those figures."""
        cpu_here = load(directory, f"cpu_{part}_{level}")
        if cpu_here:
            result.setdefault(key, {})[level] = cpu_here
            rows.append(("  CPU s per 1,000 orders, that run", "",
                         cpu_per_order(cpu_here) + cpu_wait(cpu_here) + more(cpu_here)))

    result["open_loop"] = {}
    for level, run in runs_by_level("open_"):
        result["open_loop"][level] = run
        rows.append(latency_row(f"open loop at {level} %", run))
        run_cpu_row("open", "open_loop_cpu", level)

    hiccup = {name: load(directory, f"hiccup_{name}") for name in ("idle_spin", "idle_wake", "load_wake", "load_orders")}
    if any(hiccup.values()):
        result["hiccup"] = {name: value for name, value in hiccup.items() if value}
        rows.extend(hiccup_rows(hiccup["idle_spin"], hiccup["idle_wake"], hiccup["load_wake"], hiccup["load_orders"]))

    half = load(directory, "dbhalf_service")
    if half:
        result["half_database_ceiling"] = {"service": half}
        rows.append(latency_row("at half the pgbench ceiling: the service", half))
        for db in ("order_db", "inventory_db"):
            alone = load(directory, f"dbhalf_{db}")
            if not alone:
                continue
            result["half_database_ceiling"][db] = alone
            tail_row(f"  PostgreSQL alone, {alone['sql']}", alone,
                     f"; pgbench -R, {alone['clients']} clients, first {fmt(alone['warm_up_dropped_s'], 0)} s "
                     f"dropped, {fmt(alone['achieved_per_s'])}/s achieved")

    for level, run in runs_by_level("gateway_"):
        result.setdefault("gateway", {})[level] = run
        rows.append(latency_row(f"through the gateway at {level} %", run))
        run_cpu_row("gateway", "gateway_cpu", level,
                    lambda cpu: f"; gateway peak RSS {fmt(cpu['processes']['web']['rss_peak_mb'])} MB")

    for level, run in runs_by_level("gremlin_"):
        result.setdefault("gremlin", {})[level] = run
        fast_runs = run["latency_ms_under_1s"]
        # The 202s within 1 s are creates the open breaker (or a timeout) sent to the reconciler at once: fast, but
        # not served. The 201s within 1 s are the orders inventory confirmed without a delay: judge by both.
        served = run.get("latency_ms_under_1s_by_status", {}).get("201", {"count": 0, "p50": 0, "p99": 0})
        clean = result["open_loop"].get(level)
        ratio = ""
        if clean and clean["latency_ms"]["p50"] > 0:
            ratio_value = fast_runs["p50"] / clean["latency_ms"]["p50"]
            served_ratio = served["p50"] / clean["latency_ms"]["p50"] if served["count"] else None
            run["p50_not_delayed_vs_clean"] = ratio_value
            run["p50_confirmed_not_delayed_vs_clean"] = served_ratio
            ratio = f", {ratio_value:.2f} x the clean run's p50"
            if served_ratio is not None:
                ratio += f"; 201 within 1 s: {served['count']}, p50 {fmt(served['p50'], 2)} ms = {served_ratio:.2f} x"
        rows.append((f"gremlin every 5th call +3 s at {level} % ({fmt(run['target_rate'])}/s)",
                     f"p50 {fmt(fast_runs['p50'], 2)} ms not delayed",
                     f"{fast_runs['count']} of {run['responses']} answered within 1 s (p99 {fmt(fast_runs['p99'], 2)} ms)"
                     f"{ratio}; all: p50 {fmt(run['latency_ms']['p50'], 2)} / p99 {fmt(run['latency_ms']['p99'], 2)} ms, "
                     f"status {run['status']}, errors {run['errors']}, generator peak {run.get('max_in_flight')} "
                     f"in flight on {run.get('max_connections_open')} connections"))

    # Repeated pairs (--gremlin-pairs): the ratio of one pair moves 1.0-1.9 x between runs a minute apart on a 2-core
    # machine, so the median over the pairs is the figure to judge the target by.
    pairs = []
    for level, run in runs_by_level("gremlin_"):
        pairs.append((level, 1, result["open_loop"].get(level), run))
        extra = sorted(int(f.split("-")[2]) for f in os.listdir(directory)
                       if f.startswith(f"gremlinpair-{level}-") and f.endswith("-chaos.json"))
        for pair in extra:
            pairs.append((level, pair, load(directory, f"gremlinpair-{level}-{pair}-clean"),
                          load(directory, f"gremlinpair-{level}-{pair}-chaos")))
    by_level = {}
    for level, pair, clean, chaos in pairs:
        served = chaos.get("latency_ms_under_1s_by_status", {}).get("201", {"count": 0, "p50": 0})
        if not clean or clean["latency_ms"]["p50"] <= 0 or not served["count"]:
            continue
        by_level.setdefault(level, []).append(
            {"pair": pair, "clean_p50_ms": clean["latency_ms"]["p50"], "confirmed_within_1s": served["count"],
             "confirmed_within_1s_p50_ms": served["p50"], "ratio": served["p50"] / clean["latency_ms"]["p50"],
             "status": chaos["status"], "clean_status": clean["status"]})
    for level, entries in by_level.items():
        ratios = sorted(e["ratio"] for e in entries)
        median = statistics.median(ratios)
        result.setdefault("gremlin_pairs", {})[level] = {"pairs": entries, "median_ratio": median}
        rows.append((f"gremlin at {level} %: median of {len(entries)} pair(s)", f"{median:.2f} x",
                     "201 within 1 s p50 / clean p50 per pair: " +
                     ", ".join(f"{e['confirmed_within_1s_p50_ms']:.1f}/{e['clean_p50_ms']:.1f} ms = {e['ratio']:.2f}"
                               + ("" if set(e["clean_status"]) <= {"201"} else f" (clean run {e['clean_status']})")
                               for e in entries)))
    for level in sorted({level for level, *_ in pairs}, key=int):
        probes = [load(directory, f[:-len(".json")]) for f in sorted(os.listdir(directory))
                  if f.startswith(f"gremlinprobe-{level}-") and f.endswith(".json")]
        figures = starvation(probes)
        if figures:
            result.setdefault("gremlin_starvation", {})[level] = figures
            rows.append((f"gremlin at {level} %: starvation probes ({figures['runs']} run(s))",
                         "none" if not starved(figures) else "STARVED", starvation_shown(figures) +
                         f"; database pool waiters peak {figures['db_pool_waiters_peak']}, deadline expiries "
                         f"{figures['deadline_expiries']}, other failed calls {figures['inventory_call_errors']}"))

    fast = load(directory, "fastfail")
    if fast:
        result["breaker_fast_fail"] = fast
        tail_row("breaker open: create", fast, f", status {fast['status']}")
    alone = load(directory, "fastfail_pgbench")
    if alone:
        result["breaker_fast_fail_database_alone"] = alone
        tail_row("  the same SQL, PostgreSQL alone", alone,
                 f"; pgbench -R, {alone['clients']} clients, create_order_deferred one order per transaction, "
                 f"{fmt(alone['achieved_per_s'])}/s achieved")
    fill = load(directory, "pending_fill")
    if fill:
        result["pending_fill"] = fill
    drain = load(directory, "drain")
    if drain:
        result["reconciler_drain"] = drain
        if drain.get("drained"):
            rows.append((f"reconciler drain of {drain['pending_at_start']:,} PENDING",
                         f"{fmt(drain['seconds_from_live'], 2)} s",
                         f"first progress after {fmt(drain['first_progress_s'], 2)} s, then "
                         f"{fmt(drain['orders_per_s_after_first_progress'])} orders/s; "
                         f"final statuses {drain['final_statuses']}"))
        else:
            rows.append((f"reconciler drain of {drain['pending_at_start']:,} PENDING", "NOT DRAINED",
                         f"{drain.get('pending_left')} still pending after {drain.get('waited_s')} s"))

    levels = meta.get("levels", "50").split()
    result["summary_rows"] = rows
    result["targets"] = targets(result, levels[0] if levels else "50")
    with open(out_file, "w") as f:
        json.dump(result, f, indent=2)
    width = max(len(r[0]) for r in rows) if rows else 10
    fig = max(len(r[1]) for r in rows) if rows else 10
    print(f"machine: {meta.get('machine', '?')}; commit {meta.get('commit', '?')}; {meta.get('date', '')}")
    for measurement, figure, detail in rows:
        print(f"  {measurement:<{width}}  {figure:>{fig}}  {detail}")
    print("issue #9 targets:")
    width = max(len(t[0]) for t in result["targets"])
    for target, figure, verdict in result["targets"]:
        print(f"  {target:<{width}}  {figure:>12}  {verdict}")
    print(f"JSON: {out_file}")


def main(argv):
    if len(argv) >= 3 and argv[1] == "field":
        value = field(argv[2], argv[3])
        print(json.dumps(value) if isinstance(value, (dict, list)) else value)
    elif len(argv) >= 2 and argv[1] == "procs":
        print(json.dumps(procs(argv[2:])))
    elif len(argv) == 5 and argv[1] == "cpudelta":
        print(json.dumps(cpu_delta(argv[2], argv[3], int(argv[4]))))
    elif 5 <= len(argv) <= 7 and argv[1] == "pgbench-log":
        extra = {"skip_s": float(argv[5])} if len(argv) >= 6 else {}
        if len(argv) == 7:
            extra["sql"] = argv[6]
        print(json.dumps(pgbench_log(float(argv[2]), int(argv[3]), argv[4], **extra)))
    elif len(argv) == 4 and argv[1] == "summary":
        summary(argv[2], argv[3])
    elif len(argv) == 4 and argv[1] == "docs":
        write_docs(argv[2], argv[3])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
