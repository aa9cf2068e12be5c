#include "report.hpp"

#include <algorithm>
#include <boost/json/array.hpp>
#include <cmath>
#include <cstdio>
#include <numeric>

namespace valerix::loadgen {
namespace {

double Seconds(std::chrono::nanoseconds duration) { return std::chrono::duration<double>(duration).count(); }

double PerSecond(std::uint64_t count, std::chrono::nanoseconds span) {
    double seconds = Seconds(span);
    return seconds > 0 ? static_cast<double>(count) / seconds : 0;
}

/// Rounds to 3 decimals so the JSON stays readable.
double Round3(double value) { return std::round(value * 1000) / 1000; }

/// Latency of the answers with this status (0: any) that took less than `under`.
LatencySummary SummaryOf(const RunResult& result, int status_or_all,
                         std::chrono::nanoseconds under = std::chrono::nanoseconds::max()) {
    std::vector<std::int64_t> latencies;
    latencies.reserve(result.samples.size());
    for (const auto& sample : result.samples) {
        if ((status_or_all == 0 || sample.status == status_or_all) && sample.latency_ns < under.count()) {
            latencies.push_back(sample.latency_ns);
        }
    }
    return Summarize(latencies);
}

boost::json::object ToJson(const LatencySummary& s) {
    return {{"count", s.count},           {"min", Round3(s.min_ms)}, {"mean", Round3(s.mean_ms)},
            {"p50", Round3(s.p50_ms)},    {"p90", Round3(s.p90_ms)}, {"p99", Round3(s.p99_ms)},
            {"p99_9", Round3(s.p999_ms)}, {"max", Round3(s.max_ms)}};
}

std::string Format(const char* format, double value) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, format, value);
    return buffer;
}

std::string LatencyLine(const LatencySummary& s) {
    return "p50 " + Format("%.2f", s.p50_ms) + "  p90 " + Format("%.2f", s.p90_ms) + "  p99 " +
           Format("%.2f", s.p99_ms) + "  p99.9 " + Format("%.2f", s.p999_ms) + "  max " + Format("%.2f", s.max_ms) +
           " ms  (n=" + std::to_string(s.count) + ")";
}

std::string MixName(const LoadOptions& options) {
    if (options.scenario == Scenario::kSeedProducts) return "catalog";
    if (!options.hot) return "uniform";
    return "hot (" + std::to_string(options.hot_skus) + " SKUs take " +
           std::to_string(static_cast<int>(std::lround(options.hot_share * 100))) + " % of the orders)";
}

}  // namespace

LatencySummary Summarize(std::vector<std::int64_t>& samples_ns) {
    LatencySummary s;
    s.count = samples_ns.size();
    if (samples_ns.empty()) return s;
    std::sort(samples_ns.begin(), samples_ns.end());
    auto ms = [](std::int64_t ns) { return static_cast<double>(ns) / 1e6; };
    auto rank = [&](double q) {
        auto index = static_cast<std::size_t>(std::ceil(q * static_cast<double>(samples_ns.size())));
        return ms(samples_ns[std::clamp<std::size_t>(index, 1, samples_ns.size()) - 1]);
    };
    s.min_ms = ms(samples_ns.front());
    s.max_ms = ms(samples_ns.back());
    s.mean_ms = std::accumulate(samples_ns.begin(), samples_ns.end(), 0.0,
                                [&](double sum, std::int64_t ns) { return sum + ms(ns); }) /
                static_cast<double>(samples_ns.size());
    s.p50_ms = rank(0.50);
    s.p90_ms = rank(0.90);
    s.p99_ms = rank(0.99);
    s.p999_ms = rank(0.999);
    return s;
}

std::string TextReport(const LoadOptions& options, const RunResult& result) {
    std::string out;
    std::string load = options.mode == LoopMode::kOpen
                           ? "open loop at " + Format("%.1f", options.rate) + "/s"
                           : "closed loop, " + std::to_string(options.concurrency) + " workers";
    out += (options.label.empty() ? "" : "[" + options.label + "] ") + std::string(ToString(options.scenario)) + " · " +
           MixName(options) + " · " + std::to_string(options.skus.size()) + " SKUs · " + load + " · " + options.url +
           "\n";
    std::uint64_t ok = 0;
    for (const auto& [status, count] : result.statuses) {
        if (status >= 200 && status < 300) ok += count;
    }
    out += "  requests   " + std::to_string(result.sent) + " sent in " + Format("%.2f", Seconds(result.window)) +
           " s (" + Format("%.1f", PerSecond(result.sent, result.window)) + "/s), " + std::to_string(result.responses) +
           " answered (" + Format("%.1f", PerSecond(result.responses, result.completion_span)) + "/s; 2xx " +
           Format("%.1f", PerSecond(ok, result.completion_span)) + "/s), " + std::to_string(result.errors) +
           " errors\n";
    out += "  status    ";
    for (const auto& [status, count] : result.statuses)
        out += " " + std::to_string(status) + ": " + std::to_string(count);
    if (result.statuses.empty()) out += " (none)";
    out += "\n";
    if (result.errors > 0) {
        out += "  errors    ";
        for (const auto& [kind, count] : result.error_kinds) out += " " + kind + ": " + std::to_string(count);
        out += "\n";
        for (const auto& message : result.error_samples) out += "             e.g. " + message + "\n";
    }
    out += "  latency    " + LatencyLine(SummaryOf(result, 0)) + "\n";
    if (result.statuses.size() > 1) {
        for (const auto& [status, count] : result.statuses) {
            out += "    " + std::to_string(status) + "      " + LatencyLine(SummaryOf(result, status)) + "\n";
        }
    }
    if (options.mode == LoopMode::kOpen && !result.start_lag_ns.empty()) {
        auto lag = result.start_lag_ns;
        auto summary = Summarize(lag);
        out += "  generator  start lag p99 " + Format("%.2f", summary.p99_ms) + " ms, max " +
               Format("%.2f", summary.max_ms) + " ms; at most " + std::to_string(result.max_in_flight) +
               " in flight on " + std::to_string(result.connections_opened_max) + " connections\n";
    }
    return out;
}

boost::json::object JsonReport(const LoadOptions& options, const RunResult& result) {
    boost::json::object statuses;
    constexpr std::chrono::seconds kPrompt{1};
    boost::json::object by_status, prompt_by_status;
    std::uint64_t ok = 0;
    for (const auto& [status, count] : result.statuses) {
        statuses[std::to_string(status)] = count;
        by_status[std::to_string(status)] = ToJson(SummaryOf(result, status));
        prompt_by_status[std::to_string(status)] = ToJson(SummaryOf(result, status, kPrompt));
        if (status >= 200 && status < 300) ok += count;
    }
    boost::json::object error_kinds;
    for (const auto& [kind, count] : result.error_kinds) error_kinds[kind] = count;
    boost::json::array error_samples;
    for (const auto& message : result.error_samples) error_samples.emplace_back(message);
    auto lag = result.start_lag_ns;
    boost::json::object out{
        {"tool", "valerix-loadgen"},
        {"label", options.label},
        {"scenario", ToString(options.scenario)},
        {"mix", options.hot ? "hot" : "uniform"},
        {"hot_skus", options.hot ? options.hot_skus : 0},
        {"hot_share", options.hot ? options.hot_share : 0.0},
        {"catalog_skus", options.skus.size()},
        {"catalog", options.catalog_source},
        {"max_items", options.max_items},
        {"url", options.url},
        {"mode", ToString(options.mode)},
        {"target_rate", options.mode == LoopMode::kOpen ? options.rate : 0.0},
        {"concurrency", options.concurrency},
        {"max_connections", options.max_connections},
        {"timeout_ms", options.timeout.count()},
        {"warmup_s", Round3(Seconds(options.warmup))},
        {"window_s", Round3(Seconds(result.window))},
        {"completion_span_s", Round3(Seconds(result.completion_span))},
        {"sent", result.sent},
        {"responses", result.responses},
        {"errors", result.errors},
        {"sent_per_s", Round3(PerSecond(result.sent, result.window))},
        {"answered_per_s", Round3(PerSecond(result.responses, result.completion_span))},
        {"ok_per_s", Round3(PerSecond(ok, result.completion_span))},
        {"status", statuses},
        {"error_kinds", error_kinds},
        {"error_samples", error_samples},
        {"latency_ms", ToJson(SummaryOf(result, 0))},
        {"latency_ms_by_status", by_status},
        // Answers within 1 s and how many took longer: under a latency gremlin, the orders it did not delay.
        // (A 202 is an order the breaker or a timeout sent to the reconciler; a 201 one inventory confirmed in time.)
        {"latency_ms_under_1s", ToJson(SummaryOf(result, 0, kPrompt))},
        {"latency_ms_under_1s_by_status", prompt_by_status},
        {"start_lag_ms", ToJson(Summarize(lag))},
        {"max_in_flight", result.max_in_flight},
        {"max_connections_open", result.connections_opened_max},
    };
    return out;
}

}  // namespace valerix::loadgen
