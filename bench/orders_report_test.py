#!/usr/bin/env python3
"""Unit tests of bench/orders_report.py's parts that compute figures (run by CTest as bench.orders_report)."""
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import orders_report  # noqa: E402


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
        self.assertEqual(result["latency_ms"]["p50"], 501.0)
        self.assertEqual(result["latency_ms"]["p99"], 991.0)
        self.assertEqual(result["latency_ms"]["max"], 1000.0)
        self.assertEqual(result["target_rate"], 500.0)
        self.assertIn("p99 991.00 ms", result["summary"])

    def test_no_log_lines_is_an_error_not_a_zero(self):
        with tempfile.TemporaryDirectory() as directory:
            open(os.path.join(directory, "pgbench_log.1"), "w").close()
            with self.assertRaises(ValueError):
                orders_report.pgbench_log(500.0, 1, directory)


if __name__ == "__main__":
    unittest.main()
