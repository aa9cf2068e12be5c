#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <valerix/metrics/registry.hpp>
#include <vector>

namespace valerix::metrics {
namespace {

constexpr int kThreads = 8;
constexpr int kIterationsPerThread = 100000;

template <class Fn>
void RunOnThreads(Fn fn) {
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) threads.emplace_back(fn, t);
    for (auto& thread : threads) thread.join();
}

TEST(CounterTest, ExposesLabelledAndUnlabelledChildren) {
    Registry registry;
    auto& requests = registry.AddCounter("http_requests_total", "Requests served.", {"method", "code"});
    requests.WithLabels({"GET", "200"}).Inc();
    requests.WithLabels({"GET", "200"}).Inc(2);
    requests.WithLabels({"POST", "500"}).Inc(0.5);
    registry.AddCounter("restarts_total", "Process restarts.");

    EXPECT_EQ(registry.Expose(),
              "# HELP http_requests_total Requests served.\n"
              "# TYPE http_requests_total counter\n"
              "http_requests_total{method=\"GET\",code=\"200\"} 3\n"
              "http_requests_total{method=\"POST\",code=\"500\"} 0.5\n"
              "# HELP restarts_total Process restarts.\n"
              "# TYPE restarts_total counter\n"
              "restarts_total 0\n");
}

TEST(CounterTest, IgnoresNegativeAndNanIncrements) {
    Registry registry;
    auto& counter = registry.AddCounter("events_total", "Events.").WithLabels({});
    counter.Inc(5);
    counter.Inc(-2);
    counter.Inc(std::numeric_limits<double>::quiet_NaN());
    EXPECT_EQ(counter.Value(), 5);
}

TEST(GaugeTest, SetAddSubAndExposition) {
    Registry registry;
    auto& in_flight = registry.AddGauge("requests_in_flight", "Requests being served.", {"route"});
    auto& orders = in_flight.WithLabels({"/orders"});
    orders.Set(10);
    orders.Add(2.5);
    orders.Sub(4);
    EXPECT_EQ(orders.Value(), 8.5);
    in_flight.WithLabels({"/health"}).Sub(1);

    EXPECT_EQ(registry.Expose(),
              "# HELP requests_in_flight Requests being served.\n"
              "# TYPE requests_in_flight gauge\n"
              "requests_in_flight{route=\"/health\"} -1\n"
              "requests_in_flight{route=\"/orders\"} 8.5\n");
}

TEST(GaugeTest, FormatsValuesExactlyAndWithoutNoise) {
    const std::vector<std::pair<double, std::string>> cases = {
        {3, "3"},
        {-2, "-2"},
        {0, "0"},
        {0.25, "0.25"},
        {0.1, "0.1"},
        {1.0 / 3, "0.3333333333333333"},
        {123456.789, "123456.789"},
        {0.00001, "1e-05"},
        {9007199254740992.0, "9007199254740992"},
        {1e20, "1e+20"},
        {std::numeric_limits<double>::infinity(), "+Inf"},
        {-std::numeric_limits<double>::infinity(), "-Inf"},
        {std::numeric_limits<double>::quiet_NaN(), "NaN"},
    };
    for (const auto& [value, text] : cases) {
        Registry registry;
        registry.AddGauge("g", "").WithLabels({}).Set(value);
        EXPECT_EQ(registry.Expose(), "# TYPE g gauge\ng " + text + "\n") << "value " << value;
    }
}

TEST(HistogramTest, ExposesCumulativeBucketsSumAndCount) {
    Registry registry;
    auto& latency = registry.AddHistogram("rpc_seconds", "RPC latency.", {"peer"}, {0.1, 0.5, 1});
    auto& inventory = latency.WithLabels({"inventory"});
    for (const double v : {0.25, 0.5, 0.75, 2.0}) inventory.Observe(v);
    EXPECT_EQ(inventory.Count(), 4u);
    EXPECT_EQ(inventory.Sum(), 3.5);

    EXPECT_EQ(registry.Expose(),
              "# HELP rpc_seconds RPC latency.\n"
              "# TYPE rpc_seconds histogram\n"
              "rpc_seconds_bucket{peer=\"inventory\",le=\"0.1\"} 0\n"
              "rpc_seconds_bucket{peer=\"inventory\",le=\"0.5\"} 2\n"
              "rpc_seconds_bucket{peer=\"inventory\",le=\"1\"} 3\n"
              "rpc_seconds_bucket{peer=\"inventory\",le=\"+Inf\"} 4\n"
              "rpc_seconds_sum{peer=\"inventory\"} 3.5\n"
              "rpc_seconds_count{peer=\"inventory\"} 4\n");
}

TEST(HistogramTest, UnlabelledHistogramIsExposedBeforeFirstObservation) {
    Registry registry;
    registry.AddHistogram("job_seconds", "Job duration.", {}, {1, std::numeric_limits<double>::infinity()});
    EXPECT_EQ(registry.Expose(),
              "# HELP job_seconds Job duration.\n"
              "# TYPE job_seconds histogram\n"
              "job_seconds_bucket{le=\"1\"} 0\n"
              "job_seconds_bucket{le=\"+Inf\"} 0\n"
              "job_seconds_sum 0\n"
              "job_seconds_count 0\n");
}

// Parses `name_bucket{le="X"} N` lines of an unlabelled histogram into le -> N, in exposition order.
std::vector<std::pair<double, std::uint64_t>> ParseBuckets(const std::string& text, const std::string& name) {
    std::vector<std::pair<double, std::uint64_t>> buckets;
    std::istringstream lines(text);
    const std::string prefix = name + "_bucket{le=\"";
    for (std::string line; std::getline(lines, line);) {
        if (!line.starts_with(prefix)) continue;
        const auto quote = line.find('"', prefix.size());
        const std::string le = line.substr(prefix.size(), quote - prefix.size());
        const double bound = le == "+Inf" ? std::numeric_limits<double>::infinity() : std::stod(le);
        buckets.emplace_back(bound, std::stoull(line.substr(line.find("} ") + 2)));
    }
    return buckets;
}

TEST(HistogramTest, BucketsAreCumulativeAndMatchObservations) {
    Registry registry;
    auto& histogram = registry.AddHistogram("op_seconds", "Op latency.", {}, DefaultLatencyBuckets()).WithLabels({});
    std::vector<double> observed;
    for (int i = 0; i < 1000; ++i) {
        const double v = std::pow(10.0, -4.0 + 5.5 * i / 1000.0);  // 0.0001 s .. ~30 s, across every bucket
        observed.push_back(v);
        histogram.Observe(v);
    }
    observed.push_back(0.25);  // exactly on a bound: counted in that bucket
    histogram.Observe(0.25);

    const auto buckets = ParseBuckets(registry.Expose(), "op_seconds");
    ASSERT_EQ(buckets.size(), DefaultLatencyBuckets().size() + 1);
    std::uint64_t previous = 0;
    for (const auto& [bound, count] : buckets) {
        std::uint64_t expected = 0;
        for (const double v : observed) expected += v <= bound ? 1 : 0;
        EXPECT_EQ(count, expected) << "le=" << bound;
        EXPECT_GE(count, previous) << "le=" << bound;
        previous = count;
    }
    EXPECT_TRUE(std::isinf(buckets.back().first));
    EXPECT_EQ(buckets.back().second, observed.size());
    EXPECT_EQ(histogram.Count(), observed.size());
}

TEST(HistogramTest, NanLandsInInfBucket) {
    Registry registry;
    auto& histogram = registry.AddHistogram("h", "", {}, {1}).WithLabels({});
    histogram.Observe(std::numeric_limits<double>::quiet_NaN());
    EXPECT_EQ(registry.Expose(),
              "# TYPE h histogram\n"
              "h_bucket{le=\"1\"} 0\n"
              "h_bucket{le=\"+Inf\"} 1\n"
              "h_sum NaN\n"
              "h_count 1\n");
}

TEST(DefaultLatencyBucketsTest, AreTheDocumentedSeconds) {
    EXPECT_EQ(DefaultLatencyBuckets(),
              (std::vector<double>{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}));
}

TEST(ExpositionTest, EscapesLabelValuesAndHelp) {
    Registry registry;
    registry.AddCounter("escapes_total", "Backslash \\ and\nnewline; \"quotes\" stay.", {"path"})
        .WithLabels({"C:\\dir \"x\"\nnext"})
        .Inc();
    EXPECT_EQ(registry.Expose(),
              "# HELP escapes_total Backslash \\\\ and\\nnewline; \"quotes\" stay.\n"
              "# TYPE escapes_total counter\n"
              "escapes_total{path=\"C:\\\\dir \\\"x\\\"\\nnext\"} 1\n");
}

TEST(ExpositionTest, FamiliesInRegistrationOrderChildrenSorted) {
    Registry registry;
    auto& zeta = registry.AddGauge("zeta", "Z.", {"k"});
    registry.AddCounter("alpha_total", "A.", {"k"});
    zeta.WithLabels({"z"}).Set(1);
    zeta.WithLabels({"a"}).Set(2);
    zeta.WithLabels({"m"}).Set(3);

    EXPECT_EQ(registry.Expose(),
              "# HELP zeta Z.\n"
              "# TYPE zeta gauge\n"
              "zeta{k=\"a\"} 2\n"
              "zeta{k=\"m\"} 3\n"
              "zeta{k=\"z\"} 1\n"
              "# HELP alpha_total A.\n"
              "# TYPE alpha_total counter\n");
}

TEST(ExpositionTest, EmptyRegistryExposesNothing) {
    Registry registry;
    EXPECT_EQ(registry.Expose(), "");
}

TEST(CallbackGaugeTest, ReadsValueAtExpositionTime) {
    Registry registry;
    double pool_size = 4;
    registry.AddCallbackGauge("pg_pool_connections", "Open connections.", [&pool_size] { return pool_size; });
    EXPECT_EQ(registry.Expose(),
              "# HELP pg_pool_connections Open connections.\n"
              "# TYPE pg_pool_connections gauge\n"
              "pg_pool_connections 4\n");
    pool_size = 7;
    EXPECT_EQ(registry.Expose(),
              "# HELP pg_pool_connections Open connections.\n"
              "# TYPE pg_pool_connections gauge\n"
              "pg_pool_connections 7\n");
}

TEST(CallbackGaugeTest, CallbackMayUseTheRegistry) {
    Registry registry;
    bool registered = false;
    registry.AddCallbackGauge("g", "", [&] {
        // Runs without the registry lock, so registering from here must not deadlock.
        if (!registered) registry.AddGauge("late", "Added during exposition.");
        registered = true;
        return 1.0;
    });
    EXPECT_EQ(registry.Expose(), "# TYPE g gauge\ng 1\n");
    EXPECT_EQ(registry.Expose(),
              "# TYPE g gauge\ng 1\n# HELP late Added during exposition.\n# TYPE late gauge\nlate 0\n");
}

TEST(FamilyTest, WithLabelsReturnsTheSameChildEveryTime) {
    Registry registry;
    auto& family = registry.AddCounter("stable_total", "Stable.", {"id"});
    Counter& first = family.WithLabels({"0"});
    for (int i = 1; i < 1000; ++i) family.WithLabels({std::to_string(i)});
    EXPECT_EQ(&family.WithLabels({"0"}), &first);
}

TEST(FamilyTest, WrongLabelCountThrows) {
    Registry registry;
    auto& labelled = registry.AddCounter("orders_total", "Orders.", {"status", "region"});
    EXPECT_THROW(labelled.WithLabels({"ok"}), std::invalid_argument);
    EXPECT_THROW(labelled.WithLabels({"ok", "eu", "extra"}), std::invalid_argument);
    EXPECT_THROW(labelled.WithLabels({}), std::invalid_argument);
    EXPECT_THROW(registry.AddGauge("temperature", "T.").WithLabels({"x"}), std::invalid_argument);
    EXPECT_THROW(registry.AddHistogram("size_bytes", "S.", {"kind"}, {1}).WithLabels({}), std::invalid_argument);
    try {
        labelled.WithLabels({"ok"});
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("orders_total"), std::string::npos) << e.what();
    }
}

TEST(RegistryTest, RejectsInvalidMetricNames) {
    for (const std::string name : {"", "1abc", "a-b", "a b", "a.b", "caf\xc3\xa9", "a\"b"}) {
        Registry registry;
        EXPECT_THROW(registry.AddCounter(name, "h"), std::invalid_argument) << name;
        EXPECT_THROW(registry.AddGauge(name, "h"), std::invalid_argument) << name;
        EXPECT_THROW(registry.AddHistogram(name, "h", {}, {1}), std::invalid_argument) << name;
        EXPECT_THROW(registry.AddCallbackGauge(name, "h", [] { return 0.0; }), std::invalid_argument) << name;
        EXPECT_EQ(registry.Expose(), "");
    }
    Registry registry;
    EXPECT_NO_THROW(registry.AddCounter("_a:b_C9_total", "h"));
    EXPECT_NO_THROW(registry.AddGauge(":colon", "h"));
}

TEST(RegistryTest, RejectsInvalidLabelNames) {
    for (const std::string label : {"", "1a", "a:b", "a-b", "__reserved"}) {
        Registry registry;
        EXPECT_THROW(registry.AddCounter("c_total", "h", {label}), std::invalid_argument) << label;
        EXPECT_THROW(registry.AddGauge("g", "h", {label}), std::invalid_argument) << label;
        EXPECT_THROW(registry.AddHistogram("h", "h", {label}, {1}), std::invalid_argument) << label;
    }
    Registry registry;
    EXPECT_THROW(registry.AddCounter("dup_total", "h", {"a", "b", "a"}), std::invalid_argument);
    EXPECT_THROW(registry.AddHistogram("h", "h", {"le"}, {1}), std::invalid_argument);
    EXPECT_NO_THROW(registry.AddCounter("le_total", "h", {"le", "_x"}));
}

TEST(RegistryTest, RejectsDuplicateNames) {
    Registry registry;
    registry.AddCounter("x_total", "h");
    EXPECT_THROW(registry.AddCounter("x_total", "h"), std::invalid_argument);
    EXPECT_THROW(registry.AddGauge("x_total", "h"), std::invalid_argument);
    EXPECT_THROW(registry.AddCallbackGauge("x_total", "h", [] { return 1.0; }), std::invalid_argument);

    registry.AddHistogram("latency", "h", {}, {1});
    EXPECT_THROW(registry.AddGauge("latency_count", "h"), std::invalid_argument);
    EXPECT_THROW(registry.AddGauge("latency_bucket", "h"), std::invalid_argument);
    registry.AddGauge("size_sum", "h");
    EXPECT_THROW(registry.AddHistogram("size", "h", {}, {1}), std::invalid_argument);

    EXPECT_EQ(registry.Expose(),
              "# HELP x_total h\n# TYPE x_total counter\nx_total 0\n"
              "# HELP latency h\n# TYPE latency histogram\n"
              "latency_bucket{le=\"1\"} 0\nlatency_bucket{le=\"+Inf\"} 0\nlatency_sum 0\nlatency_count 0\n"
              "# HELP size_sum h\n# TYPE size_sum gauge\nsize_sum 0\n");
}

TEST(RegistryTest, RejectsInvalidBucketsWithoutTakingTheName) {
    Registry registry;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    EXPECT_THROW(registry.AddHistogram("h", "h", {}, {1, 0.5}), std::invalid_argument);
    EXPECT_THROW(registry.AddHistogram("h", "h", {}, {1, 1}), std::invalid_argument);
    EXPECT_THROW(registry.AddHistogram("h", "h", {}, {nan}), std::invalid_argument);
    EXPECT_THROW(Histogram({2, 1}), std::invalid_argument);
    EXPECT_NO_THROW(registry.AddHistogram("h", "h", {}, {}));
    EXPECT_EQ(registry.Expose(), "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 0\nh_sum 0\nh_count 0\n");
}

TEST(RegistryTest, RejectsEmptyCallback) {
    Registry registry;
    EXPECT_THROW(registry.AddCallbackGauge("g", "h", nullptr), std::invalid_argument);
}

TEST(ConcurrencyTest, CounterIncrementsFromManyThreadsAreExact) {
    Registry registry;
    auto& counter = registry.AddCounter("hits_total", "Hits.").WithLabels({});
    RunOnThreads([&counter](int) {
        for (int i = 0; i < kIterationsPerThread; ++i) counter.Inc();
    });
    EXPECT_EQ(counter.Value(), kThreads * kIterationsPerThread);
    EXPECT_EQ(registry.Expose(), "# HELP hits_total Hits.\n# TYPE hits_total counter\nhits_total 800000\n");
}

TEST(ConcurrencyTest, ChildrenCreatedConcurrentlyAreShared) {
    Registry registry;
    auto& family = registry.AddCounter("jobs_total", "Jobs.", {"queue"});
    RunOnThreads([&family](int t) {
        for (int i = 0; i < kIterationsPerThread; ++i) {
            family.WithLabels({"shared"}).Inc();
            family.WithLabels({"q" + std::to_string((t + i) % 16)}).Inc();
        }
    });
    EXPECT_EQ(family.WithLabels({"shared"}).Value(), kThreads * kIterationsPerThread);
    double spread = 0;
    for (int q = 0; q < 16; ++q) spread += family.WithLabels({"q" + std::to_string(q)}).Value();
    EXPECT_EQ(spread, kThreads * kIterationsPerThread);
}

TEST(ConcurrencyTest, GaugeAndHistogramUpdatesFromManyThreadsAreExact) {
    Registry registry;
    auto& gauge = registry.AddGauge("level", "Level.").WithLabels({});
    auto& histogram = registry.AddHistogram("size", "Size.", {}, {1}).WithLabels({});
    RunOnThreads([&](int t) {
        for (int i = 0; i < kIterationsPerThread; ++i) {
            gauge.Add(2);
            gauge.Sub(1);
            histogram.Observe(t % 2 == 0 ? 0.5 : 1.5);
        }
    });
    EXPECT_EQ(gauge.Value(), kThreads * kIterationsPerThread);
    EXPECT_EQ(histogram.Count(), static_cast<std::uint64_t>(kThreads * kIterationsPerThread));
    EXPECT_EQ(histogram.Sum(), kThreads * kIterationsPerThread);  // half 0.5, half 1.5: exact in binary
    EXPECT_NE(registry.Expose().find("size_bucket{le=\"1\"} 400000\n"), std::string::npos);
}

TEST(ConcurrencyTest, ExposeAndRegisterWhileUpdating) {
    Registry registry;
    auto& family = registry.AddCounter("busy_total", "Busy.", {"worker"});
    RunOnThreads([&](int t) {
        for (int i = 0; i < kIterationsPerThread / 100; ++i) {
            if (t == 0) {
                registry.Expose();
            } else if (t == 1 && i % 100 == 0) {
                registry.AddGauge("late_" + std::to_string(i), "Late.");
            } else {
                family.WithLabels({std::to_string(t)}).Inc();
            }
        }
    });
    const std::string text = registry.Expose();
    for (int t = 2; t < kThreads; ++t) {
        EXPECT_NE(text.find("busy_total{worker=\"" + std::to_string(t) + "\"} 1000\n"), std::string::npos) << t;
    }
    EXPECT_NE(text.find("late_900 0\n"), std::string::npos);
}

}  // namespace
}  // namespace valerix::metrics
