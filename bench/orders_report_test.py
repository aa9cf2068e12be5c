#!/usr/bin/env python3
"""Unit tests of bench/orders_report.py's parts that compute figures (run by CTest as bench.orders_report)."""
import contextlib
import copy
import io
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import orders_report  # noqa: E402
import starvation_probe  # noqa: E402


class HiccupRows(unittest.TestCase):
    SPIN = {"mode": "spin", "seconds": 10, "cpus": [{"cpu": 0}, {"cpu": 1}],
            "host": {"gaps": 900, "lost_ms": 412.4, "over_1ms": 60, "over_5ms": 7, "over_10ms": 3, "max_ms": 28.37},
            "processes": {"gaps": 20, "lost_ms": 9.6, "over_1ms": 2, "over_5ms": 0, "over_10ms": 0, "max_ms": 3.0}}
    WAKE = {"mode": "wake", "seconds": 10, "cpus": [{"cpu": 0}, {"cpu": 1}],
            "all": {"samples": 17000, "late_us": {"p50": 91.0, "p99": 1104.0, "p99.9": 2866.0, "max": 11300.0}}}

    def test_rows_in_milliseconds_with_the_orders_of_the_probed_run(self):
        orders = {"target_rate": 1144.0, "latency_ms": {"p50": 11.1, "p99": 51.23}}
        rows = orders_report.hiccup_rows(self.SPIN, self.WAKE, self.WAKE, orders)
        self.assertEqual(len(rows), 4)
        self.assertIn("taken by the host", rows[0][0])
        self.assertEqual(rows[0][1], "7 stalls > 5 ms")
        self.assertIn("longest 28.4 ms, 60 over 1 ms, 3 over 10 ms; 412 ms", rows[0][2])
        self.assertIn("taken by other processes", rows[1][0])
        self.assertEqual(rows[1][1], "0 stalls > 5 ms")
        self.assertEqual(rows[2][1], "p99 1.10 / p99.9 2.87 ms")
        self.assertIn("max 11.3 ms, 17,000 wake-ups", rows[2][2])
        self.assertIn("1,144.0/s", rows[3][0])
        self.assertIn("the orders of that run p50 11.10 / p99 51.23 ms", rows[3][2])

    def test_missing_parts_give_no_rows(self):
        self.assertEqual(orders_report.hiccup_rows(None, None, None, None), [])
        self.assertEqual(len(orders_report.hiccup_rows(None, self.WAKE, None, None)), 1)


class Targets(unittest.TestCase):
    RESULT = {
        "saturation_open_loop_vs_pgbench": 3.11,
        "saturation_uniform": {"decided_per_s": 2000.0}, "saturation_hot": {"decided_per_s": 1300.0},
        "open_loop": {"50": {"latency_ms": {"p99": 163.6}, "errors": 0, "status": {"201": 9000}},
                      "25": {"latency_ms": {"p99": 4.0}, "errors": 0, "status": {"201": 4500}}},
        "gremlin_pairs": {"50": {"median_ratio": 1.17}},
        "breaker_fast_fail": {"latency_ms": {"p99": 18.55}, "errors": 0, "status": {"202": 5000}},
        "reconciler_drain": {"drained": True, "seconds_from_live": 3.1},
        "cpu": {"processes": {"order": {"rss_peak_mb": 17.1}, "inventory": {"rss_peak_mb": 70.0}}},
    }

    def test_each_target_judged_on_its_figure(self):
        verdicts = {t[0]: (t[1], t[2]) for t in orders_report.targets(self.RESULT)}
        self.assertEqual(verdicts["open-loop saturation >= 1.0 x the pgbench replay"], ("3.11 x", "met"))
        self.assertEqual(verdicts["p99 <= 10 ms at 50 % of saturation"], ("163.6 ms", "NOT MET"))
        self.assertEqual(verdicts["hot-SKU saturation >= 0.7 x uniform"], ("0.65 x", "NOT MET"))
        self.assertEqual(verdicts["breaker open: fast-failed creates p99 <= 2 ms"], ("18.6 ms", "NOT MET"))
        self.assertEqual(verdicts["reconciler clears the PENDING orders in <= 10 s"], ("3.1 s", "met"))
        self.assertEqual(verdicts["each service <= 64 MB RSS at saturation"][1], "NOT MET")
        gremlin = [t for t in orders_report.targets(self.RESULT) if t[0].startswith("gremlin")][0]
        self.assertEqual(gremlin[1:], ("1.17 x", "met"))

    def test_a_latency_target_is_not_met_by_a_run_with_failed_or_unexpected_answers(self):
        # The latency figures cover the answers that came: 2 % timed out and the rest were fast is not "p99 4 ms".
        failing = copy.deepcopy(self.RESULT)
        failing["open_loop"]["25"]["errors"] = 90
        failing["breaker_fast_fail"] = {"latency_ms": {"p99": 1.0}, "errors": 0, "status": {"202": 4990, "503": 10}}
        at_25 = {t[0]: (t[1], t[2]) for t in orders_report.targets(failing, "25")}
        self.assertEqual(at_25["p99 <= 10 ms at 25 % of saturation"], ("90 answers failed or unexpected", "NOT MET"))
        self.assertEqual(at_25["breaker open: fast-failed creates p99 <= 2 ms"],
                         ("10 answers failed or unexpected", "NOT MET"))
        failing["open_loop"]["25"]["errors"] = 0
        failing["open_loop"]["25"]["status"] = {"201": 4400, "202": 100}  # parked, not served
        self.assertIn(("p99 <= 10 ms at 25 % of saturation", "100 answers failed or unexpected", "NOT MET"),
                      orders_report.targets(failing, "25"))

    def test_the_first_level_is_judged_and_missing_parts_are_not_measured(self):
        at_25 = {t[0]: t[2] for t in orders_report.targets(self.RESULT, "25")}
        self.assertEqual(at_25["p99 <= 10 ms at 25 % of saturation"], "met")
        self.assertEqual(at_25["gremlin: p50 of the undelayed orders <= 1.5 x clean (median of the pairs)"],
                         "not measured")
        undrained = dict(self.RESULT, reconciler_drain={"drained": False})
        self.assertIn(("reconciler clears the PENDING orders in <= 10 s", "not drained", "NOT MET"),
                      orders_report.targets(undrained))
        self.assertEqual({t[2] for t in orders_report.targets({})}, {"not measured"})


class DecidedPerSecond(unittest.TestCase):
    def test_confirmed_and_rejected_count_parked_orders_do_not(self):
        run = {"completion_span_s": 10.0, "status": {"201": 9000, "409": 500, "202": 2000, "503": 7}}
        self.assertEqual(orders_report.decided_per_s(run), 950.0)
        self.assertEqual(orders_report.decided_per_s({"status": {"201": 5}}), 0.0)


class DocsSection(unittest.TestCase):
    RESULT = {"meta": {"date": "2026-12-06T13:11:48Z", "commit": "abc1234", "dirty": False, "machine": "2 cores",
                       "command": "bench/orders.sh --levels '50'"},
              "summary_rows": [["saturation | uniform", "2,332.9 orders/s", "p50 1 ms"]],
              "targets": [["p99 <= 10 ms at 50 % of saturation", "163.6 ms", "NOT MET"]]}

    def write(self, directory, doc, result):
        out, doc_file = os.path.join(directory, "run.json"), os.path.join(directory, "benchmarks.md")
        with open(out, "w") as f:
            json.dump(result, f)
        with open(doc_file, "w") as f:
            f.write(doc)
        orders_report.write_docs(out, doc_file)
        with open(doc_file) as f:
            return f.read()

    def test_added_before_the_orders_section_then_replaced_in_place(self):
        with tempfile.TemporaryDirectory() as directory:
            result = copy.deepcopy(self.RESULT)
            first = self.write(directory, "# Benchmarks\n\nintro\n\n## Orders end to end\n\ntables\n", result)
            self.assertTrue(first.startswith("# Benchmarks\n\nintro\n\n" + orders_report.DOC_BEGIN))
            self.assertIn(orders_report.DOC_END + "\n\n## Orders end to end\n\ntables\n", first)
            self.assertIn("| saturation \\| uniform | 2,332.9 orders/s | p50 1 ms |", first)
            self.assertIn("| p99 <= 10 ms at 50 % of saturation | 163.6 ms | NOT MET |", first)
            self.assertIn("commit abc1234 ·", first)
            result["meta"]["commit"] = "def5678"
            second = self.write(directory, first, result)
        self.assertEqual(second.count(orders_report.DOC_BEGIN), 1)
        self.assertIn("commit def5678", second)
        self.assertNotIn("abc1234", second)
        self.assertTrue(second.endswith("## Orders end to end\n\ntables\n"))


class PgbenchLog(unittest.TestCase):
    def write_logs(self, directory, per_client):
        for client, latencies_us in enumerate(per_client):
            with open(os.path.join(directory, f"pgbench_log.{1000 + client}" + (f".{client}" if client else "")),
                      "w") as f:
                for i, latency in enumerate(latencies_us):
                    # client transaction latency_us script epoch_s epoch_us lag_us (pgbench -R -l)
                    f.write(f"{client} {i} {latency} 0 {1700000000 + i // 100} {(i % 100) * 10000} 5\n")

    def test_percentiles_come_from_every_clients_log(self):
        with tempfile.TemporaryDirectory() as directory:
            # 1,000 transactions over two clients: 1..1000 ms, interleaved so neither log alone has the tail.
            self.write_logs(directory, [[ms * 1000 for ms in range(1, 1001, 2)], [ms * 1000 for ms in range(2, 1001, 2)]])
            result = orders_report.pgbench_log(500.0, 2, directory)
        self.assertEqual(result["transactions"], 1000)
        # Nearest rank: the 500th and 990th of 1,000 (not one place above).
        self.assertEqual(result["latency_ms"]["p50"], 500.0)
        self.assertEqual(result["latency_ms"]["p99"], 990.0)
        self.assertEqual(result["latency_ms"]["max"], 1000.0)
        self.assertEqual(result["target_rate"], 500.0)
        self.assertIn("p99 990.00 ms", result["summary"])

    def test_no_log_lines_is_an_error_not_a_zero(self):
        with tempfile.TemporaryDirectory() as directory:
            open(os.path.join(directory, "pgbench_log.1"), "w").close()
            with self.assertRaises(ValueError):
                orders_report.pgbench_log(500.0, 1, directory)

    def test_transactions_scheduled_in_the_warm_up_are_dropped(self):
        with tempfile.TemporaryDirectory() as directory:
            # 100 transactions ending each second for 5 s: the first second's are slow (a cold start: 0.9 s, so
            # scheduled from -0.9 to 0.09 s), the rest 1..400 ms. The run starts when the first was scheduled
            # (-0.9 s): a 1.85 s warm-up drops exactly the first second's transactions.
            latencies = [900_000] * 100 + [ms * 1000 for ms in range(1, 401)]
            self.write_logs(directory, [latencies])
            warm = orders_report.pgbench_log(100.0, 1, directory, skip_s=1.85, sql="order_db's part")
            early = orders_report.pgbench_log(100.0, 1, directory, skip_s=0.9)
            cold = orders_report.pgbench_log(100.0, 1, directory)
        self.assertEqual(warm["transactions"], 400)
        # 0.9 s in, none had ended yet, but 90 had been scheduled: slow ones of the warm-up that end after it do not
        # count (by scheduled start, as valerix-loadgen).
        self.assertEqual(early["transactions"], 410)
        self.assertEqual(warm["latency_ms"]["max"], 400.0)
        self.assertEqual(warm["latency_ms"]["p99"], 396.0)
        self.assertEqual(cold["latency_ms"]["p99"], 900.0)
        self.assertIn("order_db's part", warm["summary"])

    def test_a_warm_up_longer_than_the_run_is_an_error(self):
        with tempfile.TemporaryDirectory() as directory:
            self.write_logs(directory, [[1000] * 50])
            with self.assertRaises(ValueError):
                orders_report.pgbench_log(100.0, 1, directory, skip_s=5.0)


def cpu_between(before, after, orders):
    """cpu_delta of two `procs` snapshots given as dicts."""
    with tempfile.TemporaryDirectory() as directory:
        paths = [os.path.join(directory, name) for name in ("before.json", "after.json")]
        for path, snapshot in zip(paths, (before, after)):
            with open(path, "w") as f:
                json.dump(snapshot, f)
        return orders_report.cpu_delta(paths[0], paths[1], orders)


def summarize(files):
    """(result JSON, printed lines) of summary() over a run folder holding FILES ({name: JSON value})."""
    with tempfile.TemporaryDirectory() as directory:
        for name, value in files.items():
            with open(os.path.join(directory, name + ".json"), "w") as f:
                json.dump(value, f)
        out = os.path.join(directory, "result.json")
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            orders_report.summary(directory, out)
        with open(out) as f:
            return json.load(f), printed.getvalue().splitlines()


class Summary(unittest.TestCase):
    def test_half_ceiling_rows_put_the_service_next_to_each_database_alone(self):
        def run(rate, p50, p99):
            return {"target_rate": rate, "ok_per_s": rate, "status": {"201": 10}, "errors": 0,
                    "latency_ms": {"p50": p50, "p99": p99, "p99_9": p99, "max": p99}}

        result, lines = summarize({
            "dbhalf_service": run(300.0, 3.5, 20.0),
            "dbhalf_order_db": dict(run(300.0, 2.4, 13.5), sql="order_db's part", clients=4, warm_up_dropped_s=3.0,
                                    achieved_per_s=299.0),
            "dbhalf_inventory_db": dict(run(300.0, 2.0, 9.1), sql="inventory_db's part", clients=4,
                                        warm_up_dropped_s=3.0, achieved_per_s=298.0)})
        half = result["half_database_ceiling"]
        self.assertEqual(half["service"]["latency_ms"]["p99"], 20.0)
        self.assertEqual(half["order_db"]["latency_ms"]["p99"], 13.5)
        self.assertEqual(half["inventory_db"]["latency_ms"]["p99"], 9.1)
        service = next(i for i, line in enumerate(lines) if "at half the pgbench ceiling: the service" in line)
        self.assertIn("p50 3.50 / p99 20.00 ms", lines[service])
        self.assertIn("order_db's part (300.0/s)", lines[service + 1])
        self.assertIn("p99 13.50 ms", lines[service + 1])
        self.assertIn("inventory_db's part", lines[service + 2])

    def test_each_gateway_level_is_followed_by_what_every_process_spent_on_it(self):
        run = {"target_rate": 500.0, "ok_per_s": 500.0, "status": {"201": 5000}, "errors": 0,
               "latency_ms": {"p50": 6.0, "p99": 30.0, "p99_9": 40.0, "max": 41.0}}
        cpu = cpu_between({"web": {"cpu_s": 10.0, "rss_peak_mb": 9.0}, "order": {"cpu_s": 4.0, "rss_peak_mb": 17.0}},
                          {"web": {"cpu_s": 10.6, "rss_peak_mb": 9.5}, "order": {"cpu_s": 5.2, "rss_peak_mb": 17.0}},
                          6000)
        result, lines = summarize({"gateway_25": run, "cpu_gateway_25": cpu})
        self.assertAlmostEqual(result["gateway_cpu"]["25"]["processes"]["web"]["cpu_s_per_1000_orders"], 0.1)
        self.assertEqual(list(result["gateway"]), ["25"])  # the CPU file is not taken for a level of its own
        row = next(i for i, line in enumerate(lines) if "through the gateway at 25 %" in line)
        self.assertIn("web 0.10, order 0.20", lines[row + 1])
        self.assertIn("gateway peak RSS 9.5 MB", lines[row + 1])

    def test_each_open_loop_level_reports_cpu_and_the_wait_for_a_cpu_per_time_slice(self):
        run = {"target_rate": 1000.0, "ok_per_s": 1000.0, "status": {"201": 10000}, "errors": 0,
               "latency_ms": {"p50": 12.0, "p99": 70.0, "p99_9": 90.0, "max": 95.0}}
        cpu = cpu_between({"order": {"cpu_s": 4.0, "rss_peak_mb": 17.0, "runq_s": 1.0, "slices": 1000},
                           "order_db": {"cpu_s": 8.0, "rss_peak_mb": 50.0, "runq_s": 2.0, "slices": 500}},
                          {"order": {"cpu_s": 5.5, "rss_peak_mb": 17.0, "runq_s": 3.5, "slices": 6000},
                           "order_db": {"cpu_s": 11.0, "rss_peak_mb": 50.0, "runq_s": 2.0, "slices": 500}}, 11000)
        result, lines = summarize({"open_50": run, "cpu_open_50": cpu})
        # 2.5 s waited over 5,000 time slices; no slice run means no figure, not a division by zero.
        self.assertAlmostEqual(cpu["processes"]["order"]["wait_ms_per_slice"], 0.5)
        self.assertIsNone(cpu["processes"]["order_db"]["wait_ms_per_slice"])
        self.assertEqual(list(result["open_loop"]), ["50"])  # the CPU file is not a level of its own
        row = next(i for i, line in enumerate(lines) if "open loop at 50 %" in line)
        self.assertIn("order 0.14, order_db 0.27", lines[row + 1])
        self.assertIn("waited for a CPU each time it ran: order 0.50 ms", lines[row + 1])

    def test_snapshots_without_run_queues_give_no_wait_figure(self):
        cpu = cpu_between({"order": {"cpu_s": 1.0, "rss_peak_mb": 17.0}},
                          {"order": {"cpu_s": 2.0, "rss_peak_mb": 17.0, "runq_s": 1.0, "slices": 10}}, 1000)
        self.assertNotIn("wait_ms_per_slice", cpu["processes"]["order"])
        self.assertEqual(orders_report.cpu_wait(cpu), "")

    def test_this_process_has_run_queue_figures(self):
        snapshot = orders_report.procs([f"me={os.getpid()}"])["me"]
        self.assertGreater(snapshot["slices"], 0)
        self.assertGreaterEqual(snapshot["runq_s"], 0.0)
        self.assertEqual(list(snapshot["pids"]), [str(os.getpid())])
        self.assertEqual(orders_report.run_queue(2 ** 22 + 1), (0.0, 0))  # no such process

    def test_run_queue_sums_the_wait_and_the_slices_of_every_thread(self):
        with tempfile.TemporaryDirectory() as proc:
            # schedstat: nanoseconds on a CPU, nanoseconds waiting for one, time slices
            for task, line in {"7": "900000000 250000000 40\n", "8": "100000000 1750000000 60\n"}.items():
                os.makedirs(os.path.join(proc, "7", "task", task))
                with open(os.path.join(proc, "7", "task", task, "schedstat"), "w") as f:
                    f.write(line)
            self.assertEqual(orders_report.run_queue(7, proc), (2.0, 100))

    def test_a_process_that_exits_or_starts_between_snapshots_never_makes_a_negative_figure(self):
        def process(start, cpu_s, runq_s, slices):
            return {"start": start, "cpu_s": cpu_s, "runq_s": runq_s, "slices": slices}

        def group(pids):
            return {"cpu_s": sum(v["cpu_s"] for v in pids.values()), "rss_peak_mb": 50.0,
                    "runq_s": sum(v["runq_s"] for v in pids.values()),
                    "slices": sum(v["slices"] for v in pids.values()), "pids": pids}

        # 10 kept running; 11 exited (an autovacuum worker); 12 started during the run; 13's PID was reused.
        before = group({"10": process(100, 5.0, 1.0, 1000), "11": process(200, 9.0, 3.0, 900),
                        "13": process(300, 4.0, 1.0, 100)})
        after = group({"10": process(100, 6.0, 1.5, 2000), "12": process(400, 0.5, 0.5, 500),
                       "13": process(500, 0.25, 0.1, 100)})
        cpu = cpu_between({"order_db": before}, {"order_db": after}, 1000)["processes"]["order_db"]
        self.assertAlmostEqual(cpu["cpu_s"], 1.75)  # 1.0 + 0.5 + 0.25; the totals' difference would be -11.25
        self.assertAlmostEqual(cpu["runq_s"], 1.1)
        self.assertAlmostEqual(cpu["wait_ms_per_slice"], 1.1 * 1000 / 1600, places=3)


class Starvation(unittest.TestCase):
    METRICS_TEXT = """# HELP valerix_inventory_http_connections_open Connections to inventory open.
# TYPE valerix_inventory_http_connections_open gauge
valerix_inventory_http_connections_open 12
valerix_inventory_http_connections_max 256
valerix_inventory_http_connection_waiters 0
valerix_db_pool_waiters 3
valerix_dependency_calls_total{dependency="inventory",outcome="answered"} 900
valerix_dependency_calls_total{dependency="inventory",outcome="pool_exhausted"} 4
"""

    @staticmethod
    def probe(order_max_ms=40.0, failed=0, pool_exhausted=0, samples=40, waiting=0):
        live = {"probes": 110, "failed": failed, "p50_ms": 1.2, "p99_ms": 20.0, "max_ms": order_max_ms}
        return {"live": {"order": live, "inventory": dict(live, max_ms=25.0, failed=0)},
                "metrics": {"samples": samples, "inventory_connections_open_peak": 30, "inventory_connections_max": 256,
                            "inventory_connection_waiters_peak": waiting, "db_pool_waiters_peak": 5, "pool_exhausted": pool_exhausted, "deadline_expiries": 0,
                            "inventory_call_errors": 0}}

    def test_the_probe_reads_series_with_their_labels(self):
        values = starvation_probe.parse_metrics(self.METRICS_TEXT)
        self.assertEqual(values["valerix_inventory_http_connections_open"], 12.0)
        self.assertEqual(values[starvation_probe.POOL_EXHAUSTED], 4.0)
        self.assertNotIn("# TYPE valerix_inventory_http_connections_open", values)

    def test_the_probe_takes_peaks_of_gauges_and_increases_of_counters(self):
        first = starvation_probe.parse_metrics(self.METRICS_TEXT)
        later = dict(first, **{starvation_probe.OPEN: 40.0, starvation_probe.POOL_EXHAUSTED: 6.0,
                               starvation_probe.CONNECTION_WAITERS: 9.0})
        last = dict(first, **{starvation_probe.OPEN: 2.0, starvation_probe.POOL_EXHAUSTED: 7.0})
        figures = starvation_probe.summarize_metrics([first, later, last])
        self.assertEqual(figures["inventory_connections_open_peak"], 40)
        self.assertEqual(figures["inventory_connections_max"], 256)
        self.assertEqual(figures["inventory_connection_waiters_peak"], 9)
        self.assertEqual(figures["pool_exhausted"], 3)
        restarted = dict(first, **{starvation_probe.POOL_EXHAUSTED: 1.0})
        self.assertEqual(starvation_probe.summarize_metrics([first, restarted])["pool_exhausted"], 1)
        self.assertEqual(starvation_probe.summarize_metrics([]), {"samples": 0})

    def test_the_probe_counts_unanswered_lives_and_takes_percentiles_of_the_answered(self):
        live = starvation_probe.summarize_live([(True, 0.001)] * 98 + [(True, 0.5), (False, 10.0)])
        self.assertEqual((live["probes"], live["failed"]), (100, 1))
        self.assertEqual(live["p50_ms"], 1.0)
        self.assertEqual(live["max_ms"], 500.0)

    def test_probes_of_one_level_are_judged_together(self):
        run = {"target_rate": 1000.0, "ok_per_s": 1000.0, "status": {"201": 10000}, "errors": 0,
               "latency_ms": {"p50": 12.0, "p99": 70.0, "p99_9": 90.0, "max": 95.0}}
        gremlin = dict(run, responses=10000, latency_ms_under_1s={"count": 8000, "p50": 11.0, "p99": 60.0},
                       latency_ms_under_1s_by_status={"201": {"count": 8000, "p50": 11.0, "p99": 60.0}})
        files = {"meta": {"levels": "50"}, "open_50": run, "gremlin_50": gremlin,
                 "gremlinprobe-50-1": self.probe(), "gremlinprobe-50-2": self.probe(order_max_ms=80.0)}
        result, lines = summarize(files)
        figures = result["gremlin_starvation"]["50"]
        self.assertEqual((figures["runs"], figures["live_max_ms"], figures["live"]["order"]["probes"]), (2, 80.0, 220))
        self.assertTrue(any("starvation probes (2 run(s))" in line and "none" in line for line in lines))
        name = "gremlin: no thread or connection starvation (every /live within 1 s, no call waiting for or short of a connection)"
        self.assertEqual({t[0]: t[2] for t in result["targets"]}[name], "met")
        for bad in (self.probe(order_max_ms=3100.0), self.probe(failed=1), self.probe(pool_exhausted=2),
                    self.probe(samples=0), self.probe(waiting=3)):
            result, _ = summarize(dict(files, **{"gremlinprobe-50-2": bad}))
            self.assertEqual({t[0]: t[2] for t in result["targets"]}[name], "NOT MET", bad)
        result, _ = summarize({k: v for k, v in files.items() if not k.startswith("gremlinprobe")})
        self.assertEqual({t[0]: t[2] for t in result["targets"]}[name], "not measured")


if __name__ == "__main__":
    unittest.main()
