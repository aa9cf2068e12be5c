#!/usr/bin/env python3
"""Unit tests of bench/callgrind_report.py (run by CTest as bench.callgrind_report)."""
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import callgrind_report  # noqa: E402

# The shape callgrind writes with --compress-strings=no --compress-pos=no: main calls handle (whose cost line after
# calls= is inclusive), handle calls malloc, and a coroutine resume enters the connect coroutine, which calls HMAC.
SAMPLE = """# callgrind format
version: 1
positions: line
events: Ir
summary: 1960

ob=/app
fl=main.cpp
fn=main
10 100
cfn=handle(int)
calls=4 20
11 900

fn=handle(int)
20 600
cob=/libc
cfi=malloc.c
cfn=malloc
calls=4 1
21 300

ob=/libc
fl=malloc.c
fn=malloc
1 300

ob=/app
fl=pump.cpp
fn=pump
5 10
cfn=valerix::pg::Connection::Connect(valerix::pg::Connection::Connect(...)::_Frame*)
calls=1 1
6 950

fn=valerix::pg::Connection::Connect(valerix::pg::Connection::Connect(...)::_Frame*)
1 50
cfn=HMAC_Init_ex
calls=1000 1
2 900
cfn=valerix::pg::Connection::Connect(valerix::pg::Connection::Connect(...)::_Frame*)
calls=1 1
3 0

fn=HMAC_Init_ex
1 900
"""


class Parse(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.TemporaryDirectory()
        self.addCleanup(self.directory.cleanup)

    def write(self, name, text):
        path = os.path.join(self.directory.name, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_own_costs_leave_out_the_lines_after_calls(self):
        total, own, connect = callgrind_report.parse(self.write("a.callgrind", SAMPLE))
        self.assertEqual(own["main"], 100)
        self.assertEqual(own["handle(int)"], 600)
        self.assertEqual(own["malloc"], 300)
        self.assertEqual(own["HMAC_Init_ex"], 900)
        self.assertEqual(total, 100 + 600 + 300 + 10 + 50 + 900)
        # Entered once from outside (pump); the coroutine's call to itself is not counted twice.
        self.assertEqual(connect, 950)

    def test_per_order_figure_leaves_out_connecting_and_names_it(self):
        run = self.write("run.json", json.dumps({"status": {"201": 4, "503": 1}, "completion_span_s": 2.0}))
        idle = self.write("idle.callgrind", "events: Ir\nfn=timer\n1 500\n")
        figures = callgrind_report.run_figures("order", 16, self.write("a.callgrind", SAMPLE), run, idle, 5.0)
        self.assertEqual(figures["instructions"], 1960)
        self.assertEqual(figures["connect_instructions"], 950)
        self.assertEqual(figures["instructions_per_order"], round((1960 - 950) / 4))
        self.assertEqual(figures["idle_instructions_per_s"], 100)
        line = callgrind_report.run_line(figures)
        self.assertIn("others {'503': 1}", line)
        self.assertIn("not counted: 950 opening PostgreSQL connections", line)

    def test_a_run_without_a_201_is_an_error_not_a_division(self):
        run = self.write("run.json", json.dumps({"status": {"503": 5}, "completion_span_s": 1.0}))
        idle = self.write("idle.callgrind", "events: Ir\n")
        with self.assertRaises(ValueError):
            callgrind_report.run_figures("order", 1, self.write("a.callgrind", SAMPLE), run, idle, 5.0)

    def test_top_is_by_own_instructions_per_order(self):
        run = self.write("run.json", json.dumps({"status": {"201": 10}, "completion_span_s": 1.0}))
        idle = self.write("idle.callgrind", "events: Ir\n")
        figures = callgrind_report.run_figures("order", 16, self.write("a.callgrind", SAMPLE), run, idle, 5.0, 2)
        rows = figures["top_functions"]
        self.assertEqual([row["function"] for row in rows], ["HMAC_Init_ex", "handle(int)"])
        self.assertAlmostEqual(rows[0]["per_order"], 90.0)
        lines = callgrind_report.top_lines(figures)
        self.assertIn("HMAC_Init_ex", lines[0])
        self.assertIn("PostgreSQL logins", lines[-1])


if __name__ == "__main__":
    unittest.main()
