#!/usr/bin/env python3
"""Generate the Grafana dashboards of Valerix (deploy/grafana/dashboards/*.json).

The dashboards are code: edit this file, then run

    python3 deploy/grafana/generate_dashboards.py          # rewrite dashboards/*.json
    python3 deploy/grafana/generate_dashboards.py --check  # exit 1 when a committed file is stale

tests/observability checks that the committed JSON is what this script generates, that every metric a
query uses is exported by the real services (or listed in deploy/prometheus/planned-metrics.txt), and
evaluates every query against a real Prometheus scraping the real services. Queries therefore use no
Grafana variables ($__rate_interval, $job, ...): fixed windows, so the test can run them as they are.
Standard library only.
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "dashboards")

# The datasource provisioned by provisioning/datasources/prometheus.yml.
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}

API = 'route=~"/api/.*"'  # what "API request" means everywhere (same as the recording rules)

GREEN, YELLOW, ORANGE, RED, BLUE = "green", "yellow", "orange", "red", "blue"


# ----------------------------------------------------------------------------------------------- builders

def q(expr, legend=None, instant=False):
    """One query of a panel. legend: Grafana legend format ("{{job}}"); None = the series labels."""
    return {"expr": " ".join(expr.split()), "legend": legend, "instant": instant}


def thresholds(*steps):
    """steps: (value or None for the base, color)."""
    return {"mode": "absolute", "steps": [{"value": v, "color": c} for v, c in steps]}


def value_mappings(mapping):
    """mapping: {value: (text, color)}; the key "nan" maps NaN."""
    out = []
    values = {}
    for k, (text, color) in mapping.items():
        if k == "nan":
            out.append({"type": "special", "options": {"match": "nan", "result": {"text": text, "color": color}}})
        else:
            values[str(k)] = {"text": text, "color": color, "index": len(values)}
    if values:
        out.insert(0, {"type": "value", "options": values})
    return out


class Panel:
    def __init__(self, kind, title, queries, *, w=12, h=8, unit="short", description="", decimals=None,
                 steps=None, mappings=None, min_=None, max_=None, stack=False, bars=False, threshold_line=False,
                 color_mode=None, text_mode=None, legend_table=False):
        self.kind, self.title, self.queries, self.w, self.h = kind, title, queries, w, h
        self.unit, self.description, self.decimals = unit, description, decimals
        self.steps, self.mappings, self.min, self.max = steps, mappings, min_, max_
        self.stack, self.bars, self.threshold_line = stack, bars, threshold_line
        self.color_mode, self.text_mode, self.legend_table = color_mode, text_mode, legend_table

    def to_json(self, panel_id, x, y):
        defaults = {"unit": self.unit, "color": {"mode": "thresholds" if self.kind in ("stat", "bargauge")
                                                 else "palette-classic"}}
        if self.decimals is not None:
            defaults["decimals"] = self.decimals
        if self.min is not None:
            defaults["min"] = self.min
        if self.max is not None:
            defaults["max"] = self.max
        defaults["thresholds"] = self.steps or thresholds((None, GREEN))
        defaults["mappings"] = self.mappings or []
        options = {}
        if self.kind == "timeseries":
            defaults["custom"] = {
                "drawStyle": "bars" if self.bars else "line",
                "lineWidth": 1,
                "fillOpacity": 60 if self.bars else 10,
                "showPoints": "never",
                "spanNulls": False,
                "stacking": {"mode": "normal" if self.stack else "none", "group": "A"},
                "thresholdsStyle": {"mode": "line+area" if self.threshold_line else "off"},
            }
            if self.threshold_line:
                defaults["color"] = {"mode": "palette-classic"}
            options = {"legend": {"displayMode": "table" if self.legend_table else "list", "placement": "bottom",
                                  "showLegend": True, "calcs": ["lastNotNull", "max"] if self.legend_table else []},
                       "tooltip": {"mode": "multi", "sort": "desc"}}
        elif self.kind == "stat":
            options = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                       "colorMode": self.color_mode or "background", "graphMode": "area",
                       "justifyMode": "auto", "orientation": "auto", "textMode": self.text_mode or "auto"}
        elif self.kind == "state-timeline":
            defaults["custom"] = {"fillOpacity": 80, "lineWidth": 0}
            defaults["color"] = {"mode": "thresholds"}
            options = {"showValue": "never", "mergeValues": True, "rowHeight": 0.9, "alignValue": "left",
                       "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                       "tooltip": {"mode": "single", "sort": "none"}}
        elif self.kind == "bargauge":
            options = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                       "orientation": "horizontal", "displayMode": "gradient", "showUnfilled": True}
        targets = []
        for i, query in enumerate(self.queries):
            t = {"datasource": DATASOURCE, "refId": chr(ord("A") + i), "expr": query["expr"],
                 "range": not query["instant"], "instant": query["instant"], "editorMode": "code"}
            if query["legend"] is not None:
                t["legendFormat"] = query["legend"]
            targets.append(t)
        return {
            "id": panel_id,
            "type": self.kind,
            "title": self.title,
            "description": self.description,
            "datasource": DATASOURCE,
            "gridPos": {"x": x, "y": y, "w": self.w, "h": self.h},
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": options,
            "targets": targets,
        }


class Row:
    def __init__(self, title):
        self.title = title


def timeseries(title, queries, **kw):
    return Panel("timeseries", title, queries, **kw)


def stat(title, queries, **kw):
    kw.setdefault("w", 4)
    kw.setdefault("h", 5)
    return Panel("stat", title, queries, **kw)


def dashboard(uid, title, description, items, time_from="now-1h"):
    panels, x, y, row_h, next_id = [], 0, 0, 0, 1
    for item in items:
        if isinstance(item, Row):
            if x:
                y, x = y + row_h, 0
            panels.append({"id": next_id, "type": "row", "title": item.title, "collapsed": False,
                           "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}, "panels": []})
            next_id, y, row_h = next_id + 1, y + 1, 0
            continue
        if x + item.w > 24:
            y, x, row_h = y + row_h, 0, 0
        panels.append(item.to_json(next_id, x, y))
        next_id += 1
        x += item.w
        row_h = max(row_h, item.h)
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["valerix"],
        "timezone": "browser",
        "editable": False,
        "graphTooltip": 1,
        "refresh": "10s",
        "schemaVersion": 37,
        "version": 1,
        "time": {"from": time_from, "to": "now"},
        "timepicker": {},
        "templating": {"list": []},
        "annotations": {"list": [{"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                                  "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
                                  "name": "Annotations & Alerts", "type": "dashboard"}]},
        "links": [{"type": "dashboards", "tags": ["valerix"], "asDropdown": True, "title": "Valerix",
                   "includeVars": False, "keepTime": True}],
        "panels": panels,
    }


UP_DOWN = value_mappings({0: ("down", RED), 1: ("up", GREEN)})
LATENCY_TILE = dict(unit="s", decimals=3, steps=thresholds((None, GREEN), (1, RED)),
                    mappings=value_mappings({"nan": ("idle", GREEN)}))


# ----------------------------------------------------------------------------------------------- dashboards

def system_health():
    return dashboard("valerix-health", "Valerix / System health",
                     "Targets, RED (rate, errors, duration) per service, databases.", [
        Row("Now"),
        stat("Order API latency (avg, 30 s)",
             [q('job:valerix_api_request_duration_seconds:mean30s{job="order"}', "order")],
             description="Average order-service API response time over a rolling 30 s window; red above 1 s. "
                         "The OrderServiceSlow alert and the web UI's health tile use the same signal. "
                         "'idle' = no API request in the window.", **LATENCY_TILE),
        stat("Inventory API latency (avg, 30 s)",
             [q('job:valerix_api_request_duration_seconds:mean30s{job="inventory"}', "inventory")],
             description="Average inventory-service API response time over a rolling 30 s window.", **LATENCY_TILE),
        stat("Targets down", [q("count(up == 0) or vector(0)", "down")],
             steps=thresholds((None, GREEN), (1, RED)), decimals=0,
             description="Scrape targets (services, database exporters) that do not answer; see TargetDown."),
        stat("Alerts firing", [q('count(ALERTS{alertstate="firing"}) or vector(0)', "firing")],
             steps=thresholds((None, GREEN), (1, RED)), decimals=0,
             description="Prometheus alerts firing now (http://127.0.0.1:9090/alerts locally)."),
        stat("Databases", [q("pg_up", "{{job}}")], w=8, mappings=UP_DOWN,
             steps=thresholds((None, RED), (1, GREEN)),
             description="Whether each database exporter can reach its PostgreSQL (pg_up)."),
        Row("Targets"),
        Panel("state-timeline", "Scrape targets", [q("up", "{{job}} {{instance}}")], w=24, h=7,
              mappings=UP_DOWN, steps=thresholds((None, RED), (1, GREEN)),
              description="1 = the last scrape of the target succeeded."),
        Row("API: rate, errors, duration"),
        timeseries("API requests / s", [q("job:valerix_api_requests:rate1m", "{{job}}")], w=8, unit="reqps",
                   description="Requests to /api/... per second (1 m rate)."),
        timeseries("API 5xx ratio", [q("job:valerix_api_errors:ratio_rate1m", "{{job}}")], w=8,
                   unit="percentunit", min_=0, steps=thresholds((None, GREEN), (0.05, RED)), threshold_line=True,
                   description="Share of API requests answered with 5xx or dropped without an answer (1 m); "
                               "HighErrorRatio fires above 5 %."),
        timeseries("API latency", [q("job:valerix_api_request_duration_seconds:mean30s", "{{job}} avg 30 s"),
                                   q("job:valerix_api_request_duration_seconds:p95_1m", "{{job}} p95 1 m")],
                   w=8, unit="s", min_=0, steps=thresholds((None, GREEN), (1, RED)), threshold_line=True,
                   description="Average over 30 s (the alert's signal) and 95th percentile over 1 m."),
        timeseries("Requests / s by route and status",
                   [q('sum by (job, method, route, status) '
                      '(rate(http_server_request_duration_seconds_count{route!="/metrics"}[1m]))',
                      "{{job}} {{method}} {{route}} {{status}}")],
                   unit="reqps", legend_table=True, h=9,
                   description="Every route template except /metrics (the scrapes)."),
        timeseries("p95 latency by route",
                   [q(f'histogram_quantile(0.95, sum by (job, method, route, le) '
                      f'(rate(http_server_request_duration_seconds_bucket{{{API}}}[1m])))',
                      "{{job}} {{method}} {{route}}")],
                   unit="s", legend_table=True, h=9),
        timeseries("In-flight requests and open connections",
                   [q("sum by (job) (http_server_requests_in_flight)", "{{job}} in flight"),
                    q("sum by (job) (http_server_open_connections)", "{{job}} connections")]),
        timeseries("Service database pools",
                   [q("sum by (job) (valerix_db_pool_open_connections - valerix_db_pool_idle_connections)",
                      "{{job}} busy"),
                    q("sum by (job) (valerix_db_pool_max_connections)", "{{job}} max"),
                    q("sum by (job) (valerix_db_pool_waiters)", "{{job}} waiting")],
                   description="Connections of each service's pool in use, the pool size, and requests "
                               "waiting for a connection."),
        Row("PostgreSQL"),
        timeseries("PostgreSQL connections",
                   [q("sum by (job) (pg_stat_activity_count)", "{{job}} connections"),
                    q("max by (job) (pg_settings_max_connections)", "{{job}} max_connections")], w=8),
        timeseries("Transactions / s",
                   [q('sum by (job, datname) (rate(pg_stat_database_xact_commit{datname=~"order_db|inventory_db"}[1m]))',
                      "{{datname}} commits"),
                    q('sum by (job, datname) (rate(pg_stat_database_xact_rollback{datname=~"order_db|inventory_db"}[1m]))',
                      "{{datname}} rollbacks")], w=8, unit="ops"),
        timeseries("Database size",
                   [q('pg_database_size_bytes{datname=~"order_db|inventory_db"}', "{{datname}}")], w=8,
                   unit="bytes"),
    ], time_from="now-30m")


def resilience():
    return dashboard("valerix-resilience", "Valerix / Resilience",
                     "order-service → inventory-service: circuit breaker, retries, retry budget, deadlines, "
                     "reconciler, and the chaos that was injected.", [
        Row("Circuit breaker"),
        Panel("state-timeline", "Circuit breaker state", [q("valerix_circuit_breaker_state", "{{job}} → {{dependency}}")],
              w=16, h=6, mappings=value_mappings({0: ("closed", GREEN), 1: ("open", RED), 2: ("half-open", ORANGE)}),
              steps=thresholds((None, GREEN), (1, RED), (2, ORANGE)),
              description="0 closed, 1 open (calls refused), 2 half-open (probing). CircuitBreakerOpen fires when "
                          "not closed and open within the last minute (half-open with no calls to try is quiet)."),
        timeseries("Breaker transitions / min",
                   [q("sum by (dependency, from, to) (increase(valerix_circuit_breaker_transitions_total[1m]))",
                      "{{dependency}} {{from}} → {{to}}")], w=8, h=6, bars=True),
        Row("Calls to dependencies"),
        timeseries("Dependency calls / s by outcome",
                   [q("sum by (dependency, outcome) (rate(valerix_dependency_calls_total[1m]))",
                      "{{dependency}} {{outcome}}")], w=8, unit="ops", stack=True),
        timeseries("Retries, refusals, deadline expiries / s",
                   [q("sum by (dependency) (rate(valerix_dependency_retries_total[1m]))", "{{dependency}} retries"),
                    q("sum by (dependency) (rate(valerix_retry_budget_refusals_total[1m]))",
                      "{{dependency}} retry budget refusals"),
                    q("sum by (dependency) (rate(valerix_circuit_breaker_refusals_total[1m]))",
                      "{{dependency}} breaker refusals"),
                    q("sum by (dependency) (rate(valerix_deadline_expiries_total[1m]))",
                      "{{dependency}} deadline expiries")], w=8, unit="ops"),
        timeseries("Dependency call latency (per attempt)",
                   [q("histogram_quantile(0.5, sum by (dependency, le) "
                      "(rate(valerix_dependency_call_duration_seconds_bucket[1m])))", "{{dependency}} p50"),
                    q("histogram_quantile(0.95, sum by (dependency, le) "
                      "(rate(valerix_dependency_call_duration_seconds_bucket[1m])))", "{{dependency}} p95"),
                    q("histogram_quantile(0.99, sum by (dependency, le) "
                      "(rate(valerix_dependency_call_duration_seconds_bucket[1m])))", "{{dependency}} p99")],
                   w=8, unit="s"),
        timeseries("order-service's connections to inventory",
                   [q("sum(valerix_inventory_http_connections_open - valerix_inventory_http_connections_idle)",
                      "in use"),
                    q("sum(valerix_inventory_http_connections_idle)", "idle"),
                    q("sum(valerix_inventory_http_connections_max)", "max"),
                    q("sum(valerix_inventory_http_connection_waiters)", "calls waiting for one")],
                   w=8,
                   description="Connections in use (or being opened), idle keep-alive ones, the limit "
                               "(VALERIX_INVENTORY_MAX_CONNECTIONS), and calls waiting for a connection because all "
                               "are in use. A call that finds none free before its deadline is counted as outcome "
                               "pool_exhausted in the calls by outcome."),
        Row("Reconciler"),
        stat("Reconciler backlog", [q("sum(valerix_reconciler_backlog)", "intents")], decimals=0,
             steps=thresholds((None, GREEN), (1, YELLOW), (50, RED)),
             description="Inventory intents (reserve, commit, release) not finished yet."),
        stat("Oldest unfinished intent", [q("max(valerix_reconciler_oldest_intent_age_seconds)", "age")], unit="s",
             steps=thresholds((None, GREEN), (60, ORANGE), (300, RED)),
             description="ReconcilerIntentStale fires above 5 minutes."),
        timeseries("Reconciler backlog", [q("sum by (job) (valerix_reconciler_backlog)", "{{job}}")], w=8, h=5),
        timeseries("Reconciler attempts / s by kind",
                   [q("sum by (kind) (rate(valerix_reconciler_attempts_total[1m]))", "{{kind}}")], w=8, h=5,
                   unit="ops"),
        timeseries("Oldest unfinished intent age",
                   [q("max by (job) (valerix_reconciler_oldest_intent_age_seconds)", "{{job}}")], w=12, unit="s",
                   steps=thresholds((None, GREEN), (300, RED)), threshold_line=True),
        timeseries("Idempotent replays / s", [q("sum by (job) (rate(valerix_idempotent_replays_total[1m]))",
                                                "{{job}}")], w=12, unit="ops",
                   description="Requests answered from a stored response (client retries with the same "
                               "Idempotency-Key)."),
        Row("Chaos"),
        timeseries("Chaos injections / min",
                   [q("sum by (kind, action) (increase(valerix_chaos_injections_total[1m]))", "{{kind}} {{action}}")],
                   w=24, h=6, bars=True,
                   description="Faults injected by inventory-service's chaos controls (PUT /admin/chaos)."),
    ])


def business():
    return dashboard("valerix-business", "Valerix / Business KPIs",
                     "Orders, revenue, rejections, reservations and stock.", [
        Row("Now"),
        stat("Orders / min", [q('60 * sum(rate(valerix_orders_total{status="PENDING"}[1m]))', "created")],
             w=6, decimals=1, color_mode="value", description="Orders created (every order starts PENDING)."),
        stat("Revenue / min", [q("60 * sum(rate(valerix_order_value_cents_total[1m])) / 100", "revenue")],
             w=6, decimals=2, color_mode="value",
             description="Value of orders confirmed, in price units (cents / 100), per minute."),
        stat("Revenue, last 24 h", [q("sum(increase(valerix_order_value_cents_total[24h])) / 100", "revenue")],
             w=6, decimals=2, color_mode="value"),
        stat("Rejection rate (5 min)", [q("valerix_orders:rejection_ratio_rate5m", "rejected")], w=6,
             unit="percentunit", decimals=1, steps=thresholds((None, GREEN), (0.1, ORANGE), (0.25, RED)),
             mappings=value_mappings({"nan": ("no orders", BLUE)}),
             description="REJECTED / (CONFIRMED + REJECTED) over 5 minutes (mostly: out of stock)."),
        Row("Orders"),
        timeseries("Orders / min by status", [q("status:valerix_orders:rate1m_per_minute", "{{status}}")]),
        timeseries("Revenue / min", [q("60 * sum(rate(valerix_order_value_cents_total[1m])) / 100", "revenue")],
                   decimals=2),
        timeseries("Rejection rate", [q("valerix_orders:rejection_ratio_rate5m", "rejected / decided (5 min)")],
                   unit="percentunit", min_=0, max_=1),
        timeseries("Reservation outcomes / min",
                   [q("60 * sum by (operation, outcome) (rate(valerix_inventory_operations_total[1m]))",
                      "{{operation}} {{outcome}}")], stack=True,
                   description="What inventory-service decided for reserve, commit and release calls."),
        Row("Stock"),
        stat("Low-stock SKUs", [q("sum(valerix_inventory_low_stock_skus)", "SKUs")], w=4, h=8, decimals=0,
             steps=thresholds((None, GREEN), (1, ORANGE)),
             description="SKUs at or below inventory-service's low-stock threshold now "
                         "(valerix_inventory_low_stock_skus)."),
        Panel("bargauge", "Lowest stock (available units)",
              [q("bottomk(20, valerix_inventory_low_stock_available_units)", "{{sku}}", instant=True)], w=20, h=8,
              decimals=0, steps=thresholds((None, RED), (1, ORANGE), (5, GREEN)),
              description="Available units of the 20 lowest SKUs among those that ran low "
                          "(valerix_inventory_low_stock_available_units{sku})."),
    ], time_from="now-3h")


def backups():
    five_h, twenty_six_h = 5 * 3600, 26 * 3600
    passed_failed = value_mappings({0: ("failed", RED), 1: ("passed", GREEN)})
    return dashboard("valerix-backups", "Valerix / Backups",
                     "Backup freshness (BackupStale at 5 h, ExternalSyncStale at 26 h), runs, durations, sizes, the "
                     "daily external sync and its quota, restore drills.", [
        Row("Freshness"),
        stat("Newest backup age by stanza",
             [q("time() - max by (stanza) (valerix_backup_last_success_timestamp_seconds)", "{{stanza}}")],
             w=8, unit="s", steps=thresholds((None, GREEN), (five_h, RED)),
             description="Age of the newest successful backup (any type) per stanza; red from 5 h (BackupStale). "
                         "A stanza that never succeeded shows the age of the epoch."),
        stat("External sync age",
             [q("time() - max(valerix_external_sync_last_success_timestamp_seconds)", "external sync")],
             w=4, unit="s", steps=thresholds((None, GREEN), (twenty_six_h, RED)),
             description="Age of the last successful copy to external storage; red from 26 h (ExternalSyncStale)."),
        stat("External sync calls left today",
             [q("min(valerix_external_sync_quota_remaining)", "calls left")],
             w=4, decimals=0, steps=thresholds((None, BLUE)),
             description="External sync calls still allowed in the current UTC day (one a day; a failed call is "
                         "not repeated the same day)."),
        stat("External sync failures (24 h)",
             [q('sum(increase(valerix_external_sync_runs_total{outcome="failure"}[1d]))', "failures")],
             w=4, decimals=0, steps=thresholds((None, GREEN), (1, RED)),
             description="Failed external sync calls in the last 24 h (ExternalSyncFailed)."),
        stat("pgBackRest check by stanza", [q("valerix_backup_stanza_check_ok", "{{stanza}}")],
             w=4, steps=thresholds((None, RED), (1, GREEN)), mappings=passed_failed,
             description="Result of the last `pgbackrest check` (archiving and repository reachable) per stanza."),
        timeseries("Backup age by stanza and type",
                   [q("time() - (valerix_backup_last_success_timestamp_seconds > 0)", "{{stanza}} {{type}}")],
                   w=24, unit="s", steps=thresholds((None, GREEN), (five_h, RED)), threshold_line=True,
                   description="Age of the newest successful backup of each stanza and type (types never made are "
                               "not drawn; the stat above shows a stanza with no backup at all)."),
        Row("Runs"),
        timeseries("Backup runs / h by outcome",
                   [q("sum by (stanza, type, outcome) (increase(valerix_backup_runs_total[1h]))",
                      "{{stanza}} {{type}} {{outcome}}")], w=6, bars=True),
        timeseries("Last backup duration", [q("valerix_backup_last_duration_seconds > 0", "{{stanza}} {{type}}")],
                   w=6, unit="s", description="Duration of the last successful backup of each stanza and type "
                                              "made since backup-service started (0 = none: not drawn)."),
        timeseries("Last backup size", [q("valerix_backup_last_size_bytes > 0", "{{stanza}} {{type}}")], w=6,
                   unit="bytes", description="What the last successful backup added to the repository "
                                             "(compressed, encrypted); types not run since start not drawn."),
        timeseries("Backup jobs waiting", [q("valerix_backup_jobs_queued", "queued")], w=6, decimals=0, min_=0,
                   description="Jobs (backups, syncs, drills) waiting for backup-service's single worker."),
        Row("External sync"),
        timeseries("External sync calls / day by outcome",
                   [q("sum by (outcome) (increase(valerix_external_sync_runs_total[1d]))", "{{outcome}}")],
                   w=8, bars=True, decimals=0),
        timeseries("External sync calls left today", [q("valerix_external_sync_quota_remaining", "calls left")],
                   w=8, decimals=0, min_=0),
        timeseries("Last external sync bundle size", [q("valerix_external_sync_last_bundle_bytes", "bundle")],
                   w=8, unit="bytes", description="New repository files (already encrypted) sent by the last "
                                                  "successful sync, in one bundle."),
        Row("Restore drills"),
        stat("Latest restore drill by stanza", [q("valerix_restore_drill_last_success", "{{stanza}}")],
             w=8, steps=thresholds((None, RED), (1, GREEN)), mappings=passed_failed,
             description="Whether the latest restore drill of each stanza restored the newest backup into a "
                         "scratch cluster and passed every check (RestoreDrillFailed)."),
        stat("Restore drill age by stanza",
             [q("time() - valerix_restore_drill_last_run_timestamp_seconds", "{{stanza}}")],
             w=8, unit="s", steps=thresholds((None, GREEN), (2 * 24 * 3600, ORANGE)),
             description="Time since the latest restore drill of each stanza (scheduled daily)."),
        stat("Recovery time by stanza", [q("valerix_restore_drill_recovery_seconds", "{{stanza}}")],
             w=8, unit="s", steps=thresholds((None, BLUE)),
             description="Recovery time of the latest drill: restore until the copy accepts connections."),
        timeseries("Restore drill recovery time", [q("valerix_restore_drill_recovery_seconds", "{{stanza}}")],
                   w=24, unit="s"),
        Row("What is backed up"),
        timeseries("Database size", [q('pg_database_size_bytes{datname=~"order_db|inventory_db"}', "{{datname}}")],
                   w=24, unit="bytes"),
    ], time_from="now-2d")


DASHBOARDS = [system_health, resilience, business, backups]


def render_all():
    """{file name: JSON text}."""
    out = {}
    for make in DASHBOARDS:
        d = make()
        out[d["uid"] + ".json"] = json.dumps(d, indent=2, ensure_ascii=False) + "\n"
    return out


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="do not write; exit 1 when a file differs")
    ap.add_argument("--out-dir", default=OUT_DIR)
    args = ap.parse_args(argv)
    files = render_all()
    stale = []
    for name, text in files.items():
        path = os.path.join(args.out_dir, name)
        current = open(path).read() if os.path.exists(path) else None
        if current != text:
            stale.append(name)
            if not args.check:
                os.makedirs(args.out_dir, exist_ok=True)
                with open(path + ".tmp", "w") as f:
                    f.write(text)
                os.replace(path + ".tmp", path)
    extra = sorted(set(n for n in os.listdir(args.out_dir) if n.endswith(".json")) - set(files)) \
        if os.path.isdir(args.out_dir) else []
    if args.check:
        if stale or extra:
            for name in stale:
                print(f"stale: {os.path.join(args.out_dir, name)} differs from generate_dashboards.py's output")
            for name in extra:
                print(f"unexpected: {os.path.join(args.out_dir, name)} is not generated by generate_dashboards.py")
            print("run: python3 deploy/grafana/generate_dashboards.py")
            return 1
        print(f"{len(files)} dashboards up to date")
        return 0
    for name in extra:
        print(f"warning: {name} in {args.out_dir} is not generated by this script", file=sys.stderr)
    print(f"wrote {len(stale)} of {len(files)} dashboards into {args.out_dir}" if stale else
          f"{len(files)} dashboards already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
