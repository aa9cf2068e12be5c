// What one request pays for its metrics: the server observes one histogram child looked up by (route, method,
// status), services bump a labelled counter or two. Run single- and multi-threaded (contention on one child).
#include <benchmark/benchmark.h>

#include <valerix/metrics/registry.hpp>

namespace {

using valerix::metrics::Registry;

void CounterInc(benchmark::State& state) {
    static Registry registry;
    static auto& counter = registry.AddCounter("bench_counter_total", "c").WithLabels({});
    for (auto _ : state) counter.Inc();
}
BENCHMARK(CounterInc)->Threads(1)->Threads(2);

void HistogramObserve(benchmark::State& state) {
    static Registry registry;
    static auto& histogram =
        registry.AddHistogram("bench_seconds", "h", {}, valerix::metrics::DefaultLatencyBuckets()).WithLabels({});
    double value = 0.0001;
    for (auto _ : state) {
        histogram.Observe(value);
        value = value > 5 ? 0.0001 : value * 1.7;
    }
}
BENCHMARK(HistogramObserve)->Threads(1)->Threads(2);

/// The server's per-request path: find the child for this route/method/status, then observe.
void LabelledHistogramPerRequest(benchmark::State& state) {
    static Registry registry;
    static auto& family = registry.AddHistogram("bench_request_seconds", "h", {"route", "method", "status"},
                                                valerix::metrics::DefaultLatencyBuckets());
    const std::string route = "/api/v1/orders", method = "POST", status = "201";
    for (auto _ : state) family.WithLabels({route, method, status}).Observe(0.004);
}
BENCHMARK(LabelledHistogramPerRequest)->Threads(1)->Threads(2);

void LabelledCounterPerRequest(benchmark::State& state) {
    static Registry registry;
    static auto& family = registry.AddCounter("bench_outcomes_total", "c", {"operation", "outcome"});
    const std::string operation = "reserve", outcome = "created";
    for (auto _ : state) family.WithLabels({operation, outcome}).Inc();
}
BENCHMARK(LabelledCounterPerRequest)->Threads(1);

/// A scrape with a realistic number of series (what /metrics costs the I/O thread).
void Expose(benchmark::State& state) {
    Registry registry;
    auto& family = registry.AddHistogram("bench_expose_seconds", "h", {"route", "method", "status"},
                                         valerix::metrics::DefaultLatencyBuckets());
    for (int route = 0; route < 10; ++route) {
        for (int status : {200, 201, 404, 409, 422, 500}) {
            family.WithLabels({"/r" + std::to_string(route), "GET", std::to_string(status)}).Observe(0.01);
        }
    }
    for (auto _ : state) benchmark::DoNotOptimize(registry.Expose());
}
BENCHMARK(Expose);

}  // namespace

BENCHMARK_MAIN();
