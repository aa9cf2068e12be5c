"""Metric names a PromQL expression reads, and metric names a /metrics page exports. Standard library only.

The PromQL side is a small lexer, not a parser: it drops strings, label matchers, ranges, grouping clauses
and numbers, then keeps every identifier that is not a keyword and not called like a function. That is
enough for the expressions of deploy/prometheus/rules and deploy/grafana/dashboards (self-tested below and
by static_lint.py); every expression is also checked by a real Prometheus in live_test.py.
"""
import re

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_COMMENT = re.compile(r"#[^\n]*")
_MATCHERS = re.compile(r"\{[^{}]*\}")
_BRACKETS = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_NUMBER = re.compile(r"(?<![A-Za-z0-9_:])(?:0x[0-9a-fA-F]+|[0-9][0-9_]*(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?"
                     r"(?:ms|s|m|h|d|w|y)?(?:[0-9]+(?:ms|s|m|h|d|w|y))*)")
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_NAME_MATCHER = re.compile(r'__name__\s*=\s*"([A-Za-z_:][A-Za-z0-9_:]*)"')
_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool",
             "offset", "inf", "nan", "atan2"}

BUILTIN_SERIES = {
    # written by Prometheus itself for every target / alert
    "up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_samples_post_metric_relabeling",
    "scrape_series_added", "ALERTS", "ALERTS_FOR_STATE",
}


def metric_names(expr):
    """The set of metric names `expr` selects (including recording-rule names)."""
    names = set()
    for m in _NAME_MATCHER.finditer(expr):
        names.add(m.group(1))
    s = _STRING.sub('""', expr)
    s = _COMMENT.sub(" ", s)
    # label matchers never nest after strings are gone; ranges/subqueries may: strip repeatedly
    prev = None
    while prev != s:
        prev = s
        s = _MATCHERS.sub(" ", s)
        s = _BRACKETS.sub(" ", s)
        s = _GROUPING.sub(" ", s)
    s = _NUMBER.sub(" ", s)
    for m in _IDENT.finditer(s):
        word = m.group(0)
        if word.lower() in _KEYWORDS:
            continue
        rest = s[m.end():].lstrip()
        if rest.startswith("("):
            continue  # a function or an aggregation
        names.add(word)
    return names


_TYPE_LINE = re.compile(r"^#\s*TYPE\s+([A-Za-z_:][A-Za-z0-9_:]*)\s+(\w+)")
_SAMPLE_LINE = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{|\s)")


def exported_names(text):
    """Series names a Prometheus text exposition (version 0.0.4) exports, including the _bucket/_sum/_count
    series of histograms and summaries declared by # TYPE even when they have no child yet."""
    names = set()
    for line in text.splitlines():
        m = _TYPE_LINE.match(line)
        if m:
            name, kind = m.groups()
            names.add(name)
            if kind == "histogram":
                names.update({name + "_bucket", name + "_sum", name + "_count"})
            elif kind == "summary":
                names.update({name + "_sum", name + "_count"})
            continue
        if line.startswith("#") or not line.strip():
            continue
        m = _SAMPLE_LINE.match(line)
        if m:
            names.add(m.group(1))
    return names


def self_test():
    """Raises AssertionError when the lexer misreads one of these shapes."""
    cases = {
        'sum by (job) (rate(http_server_request_duration_seconds_sum{route=~"/api/.*"}[30s]))':
            {"http_server_request_duration_seconds_sum"},
        "histogram_quantile(0.95, sum by (job, le) (rate(x_bucket{a=\"b\"}[1m])))": {"x_bucket"},
        "count(up == 0) or vector(0)": {"up"},
        'count(ALERTS{alertstate="firing"}) or vector(0)': {"ALERTS"},
        "time() - max by (stanza) (valerix_backup_last_success_timestamp_seconds) > 5 * 3600":
            {"valerix_backup_last_success_timestamp_seconds"},
        "job:valerix_api_requests:rate1m{job=\"order\"}": {"job:valerix_api_requests:rate1m"},
        "a / on (job) group_left (x) b offset 5m": {"a", "b"},
        "sum(rate(a[1h30m])) without (instance) unless ignoring (x) c": {"a", "c"},
        "max_over_time(deriv(g[5m])[10m:30s]) > 0 and bool_thing": {"g", "bool_thing"},
        '{__name__="raw_name", job="x"}': {"raw_name"},
        "60 * sum(rate(v_total[1m])) / 100 # comment with fake_name": {"v_total"},
        'label_replace(up, "dst", "$1", "src", "(.*)")': {"up"},
        "bottomk(20, low_stock)": {"low_stock"},
        "1e3 * nan_metric + 0x1F": {"nan_metric"},
    }
    for expr, want in cases.items():
        got = metric_names(expr)
        assert got == want, f"metric_names({expr!r}) = {sorted(got)}, want {sorted(want)}"
    page = ("# HELP h Help.\n# TYPE h histogram\n# TYPE c counter\nc_total{a=\"1\"} 3\n"
            "# TYPE g gauge\ng 1\nuntyped_thing 2\n")
    got = exported_names(page)
    want = {"h", "h_bucket", "h_sum", "h_count", "c", "c_total", "g", "untyped_thing"}
    assert got == want, f"exported_names: {sorted(got)}, want {sorted(want)}"


if __name__ == "__main__":
    self_test()
    print("promql_names: self-test passed")
