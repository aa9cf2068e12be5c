#include "report.hpp"

#include <boost/json/serialize.hpp>
#include <cstdio>

namespace valerix::scenario {
namespace {

namespace json = boost::json;

std::string Text(const json::value& value) {
    if (value.is_string()) return std::string(value.get_string());
    if (value.is_null()) return "";
    if (value.is_double()) {
        char buffer[32];
        std::snprintf(buffer, sizeof(buffer), "%.2f", value.get_double());
        return buffer;
    }
    return json::serialize(value);
}

std::string Field(const json::object& object, const char* key) {
    auto it = object.find(key);
    return it == object.end() ? "" : Text(it->value());
}

const json::object& Object(const json::object& object, const char* key) {
    static const json::object kEmpty;
    auto it = object.find(key);
    return it != object.end() && it->value().is_object() ? it->value().get_object() : kEmpty;
}

const json::array& Array(const json::object& object, const char* key) {
    static const json::array kEmpty;
    auto it = object.find(key);
    return it != object.end() && it->value().is_array() ? it->value().get_array() : kEmpty;
}

std::string Pad(std::string text, std::size_t width) {
    if (text.size() < width) text.append(width - text.size(), ' ');
    return text;
}

std::string PadLeft(std::string text, std::size_t width) {
    if (text.size() < width) text.insert(0, width - text.size(), ' ');
    return text;
}

std::string Seconds(const json::value& value) {
    char buffer[32];
    std::snprintf(buffer, sizeof(buffer), "%7.2f s", value.is_number() ? value.to_number<double>() : 0.0);
    return buffer;
}

}  // namespace

std::string RenderText(const json::object& report, bool verbose) {
    std::string out;
    auto line = [&](const std::string& text = {}) { out += text + "\n"; };
    const auto& scenario = Object(report, "scenario");
    const auto& stack = Object(report, "stack");
    const auto& load = Object(report, "load");

    line("════ Valerix scenario " + Field(scenario, "name") +
         (Field(scenario, "short_variant") == "true" ? " (short variant)" : "") + " · seed " + Field(scenario, "seed") +
         " ════");
    if (!Field(scenario, "description").empty()) line(Field(scenario, "description"));
    line("stack: " + Field(stack, "description"));
    auto number = [&](const char* key) {
        auto it = load.find(key);
        return it != load.end() && it->value().is_number() ? it->value().to_number<double>() : 0.0;
    };
    const bool open_loop = number("rate") > 0;
    line("load: " + Field(load, "orders") + " orders placed (" + Field(load, "achieved_rate") + "/s over " +
         Field(load, "duration_s") + " s, " +
         (open_loop ? "at most " + Field(load, "concurrency") + " requests in flight, " + Field(load, "max_in_flight") +
                          " reached"
                    : Field(load, "concurrency") + " clients") +
         "), " + Field(load, "answered_in_window") + " answered within the window (" + Field(load, "answered_rate") +
         "/s), " + Field(load, "requests") + " requests, " + Field(load, "replayed_answers") + " answers replayed, " +
         Field(load, "no_final_answer") + " without a final answer");
    std::string answers;
    for (const auto& [what, n] : Object(load, "answers")) {
        answers += (answers.empty() ? "" : " · ") + std::string(what) + ": " + Text(n);
    }
    line("answers: " + answers);
    if (double rate = number("rate"); open_loop && number("answered_rate") < 0.9 * rate) {
        line("note: " + Field(load, "answered_rate") + " of the " + Text(load.at("rate")) +
             " orders/s offered were answered within the window: the rest waited (slow answers, retries, a full "
             "connection limit); their latency counts from when they were due");
    }
    line();

    line("Timeline");
    for (const auto& entry : Array(report, "timeline")) {
        const auto& event = entry.get_object();
        std::string detail = Field(event, "detail");
        line("  " + Seconds(event.at("t_s")) + "  " + Field(event, "event") + (detail.empty() ? "" : ": " + detail));
    }
    line();
    line("Processes (the runner is their supervisor)");
    for (const auto& entry : Array(report, "process_events")) {
        const auto& event = entry.get_object();
        line("  " + Seconds(event.at("t_s")) + "  " + Pad(Field(event, "service"), 10) + Field(event, "what") +
             (Field(event, "detail").empty() ? "" : ": " + Field(event, "detail")));
    }
    line();

    std::string statuses;
    for (const auto& [status, n] : Object(report, "orders_by_status")) {
        statuses += (statuses.empty() ? "" : " · ") + std::string(status) + " " + Text(n);
    }
    line("Orders by final status: " + statuses);

    const auto& injections = Object(report, "injections");
    std::string metrics;
    for (const auto& [label, n] : Object(injections, "metrics")) {
        metrics += (metrics.empty() ? "" : " · ") + std::string(label) + " " + Text(n);
    }
    std::string logged;
    for (const auto& [label, n] : Object(injections, "logged")) {
        logged += (logged.empty() ? "" : " · ") + std::string(label) + " " + Text(n);
    }
    line("Injections: /metrics valerix_chaos_injections_total (summed over " +
         Field(injections, "inventory_incarnations") +
         " inventory incarnation(s)): " + (metrics.empty() ? "none" : metrics));
    line("            inventory logs: " + (logged.empty() ? "none" : logged) + " (" +
         Field(injections, "logged_on_reconciler_calls") +
         " on reconciler calls); chaos exits seen by the runner: " + Field(injections, "inventory_chaos_exits"));
    const auto& reconciler = Object(report, "reconciler");
    line("Reconciler: backlog peaked at " + Field(reconciler, "max_backlog_seen") + ", was " +
         Field(reconciler, "backlog_when_clients_finished") + " when the clients finished; " +
         (Field(reconciler, "drained") == "true"
              ? "drained to 0 " + Field(reconciler, "drain_s") + " s after the clients finished"
              : "did NOT drain within " + Field(reconciler, "heal_timeout_s") + " s"));
    line();

    line("Client latency (ms)                 n       p50       p90       p99       max");
    for (const char* kind : {"create_attempt", "create_until_answered", "ship", "cancel"}) {
        const auto& p = Object(Object(report, "latency_ms"), kind);
        line("  " + Pad(kind, 28) + PadLeft(Field(p, "n"), 7) + PadLeft(Field(p, "p50"), 10) +
             PadLeft(Field(p, "p90"), 10) + PadLeft(Field(p, "p99"), 10) + PadLeft(Field(p, "max"), 10));
    }
    line();

    const auto& affected = Array(report, "affected_orders");
    line("Affected orders: " + std::to_string(affected.size()) + " of " + Field(load, "orders") +
         " (retried, answered 202, finished by the reconciler, or hit by an injection)");
    std::size_t shown = 0;
    for (const auto& entry : affected) {
        if (!verbose && shown == 30) {
            line("  … " + std::to_string(affected.size() - shown) + " more in the JSON report (or run with --verbose)");
            break;
        }
        ++shown;
        const auto& order = entry.get_object();
        std::string id = Field(order, "order_id");
        line("  " + Field(order, "key") + "  order " + (id.empty() ? "(none told)" : id) + " → " +
             Field(order, "final_status") +
             (Field(order, "status_reason").empty() ? "" : " (" + Field(order, "status_reason") + ")") +
             (Field(order, "reservation").empty() ? "" : ", reservation " + Field(order, "reservation")));
        line("      " + Field(order, "what_happened"));
        for (const auto& detail : Array(order, "details")) line("      · " + Text(detail));
    }
    line();

    const auto& checked = Array(report, "invariants_checked");
    const auto& violations = Array(report, "violations");
    if (!Field(report, "deliberate_corruption").empty()) {
        line("DELIBERATE CORRUPTION before the checks: " + Field(report, "deliberate_corruption"));
    }
    line("Invariants (DESIGN.md §3, outbox, idempotency, API): " + std::to_string(checked.size()) + " checked, " +
         std::to_string(violations.size()) + " violation(s)");
    for (const auto& entry : violations) {
        const auto& violation = entry.get_object();
        line("  VIOLATION " + Field(violation, "invariant") + ": " + Field(violation, "message"));
        std::size_t rows = 0;
        for (const auto& row : Array(violation, "rows")) {
            if (!verbose && rows++ == 20) {
                line("      …");
                break;
            }
            line("      " + json::serialize(row));
        }
    }
    for (const auto& entry : Array(report, "expectations")) {
        const auto& expectation = entry.get_object();
        if (Field(expectation, "met") != "true") {
            line("  EXPECTATION MISSED: " + Field(expectation, "what") + " " + Field(expectation, "actual") + " < " +
                 Field(expectation, "min") + " (the run did not exercise what the scenario claims)");
        }
    }
    for (const auto& error : Array(report, "run_errors")) line("  RUN ERROR: " + Text(error));
    line();
    line("requests: " + Field(stack, "requests_log") + "; logs: " + Field(stack, "work_dir") +
         (Field(stack, "work_dir_kept") == "true" ? "" : " (removed; --keep keeps it)"));
    line(Field(report, "result") == "pass" ? "RESULT: PASS" : "RESULT: FAIL");
    return out;
}

}  // namespace valerix::scenario
