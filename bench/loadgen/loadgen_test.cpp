#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <valerix/core/logging.hpp>
#include <valerix/http/server.hpp>
#include <valerix/metrics/registry.hpp>

#include "load_run.hpp"
#include "options.hpp"
#include "report.hpp"
#include "workload.hpp"

namespace valerix::loadgen {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

ParseOutcome Parse(std::vector<std::string> args) { return ParseOptions(args); }

bool HasErrorContaining(const ParseOutcome& outcome, std::string_view text) {
    for (const auto& error : outcome.errors) {
        if (error.find(text) != std::string::npos) return true;
    }
    return false;
}

TEST(LoadgenOptions, RateMeansOpenLoopWithScenarioDefaults) {
    auto parsed = Parse({"--rate", "250.5", "--duration=3", "--skus", "20", "--hot", "--hot-skus", "5"});
    ASSERT_TRUE(parsed.errors.empty()) << parsed.errors.front();
    const auto& o = parsed.options;
    EXPECT_EQ(o.mode, LoopMode::kOpen);
    EXPECT_DOUBLE_EQ(o.rate, 250.5);
    EXPECT_EQ(o.duration, std::chrono::nanoseconds(3s));
    EXPECT_EQ(o.port, 3001);
    EXPECT_EQ(o.max_connections, 256u);
    ASSERT_EQ(o.skus.size(), 20u);
    EXPECT_EQ(o.skus.front(), "BENCH-0001");
    EXPECT_EQ(o.skus.back(), "BENCH-0020");
    EXPECT_TRUE(o.hot);
    EXPECT_EQ(o.hot_skus, 5);
}

TEST(LoadgenOptions, ConcurrencyMeansClosedLoopAndBoundsConnections) {
    auto parsed = Parse({"--scenario", "reservations", "--concurrency", "8"});
    ASSERT_TRUE(parsed.errors.empty());
    EXPECT_EQ(parsed.options.mode, LoopMode::kClosed);
    EXPECT_EQ(parsed.options.max_connections, 8u);
    EXPECT_EQ(parsed.options.port, 3002);
    EXPECT_EQ(parsed.options.duration, std::chrono::nanoseconds(10s));
}

TEST(LoadgenOptions, ReportsEveryProblemAtOnce) {
    auto parsed = Parse({"--rate", "abc", "--concurrency", "0", "--url", "https://x:1", "--bogus", "--skus", "2",
                         "--max-items", "3", "--scenario", "pay"});
    EXPECT_TRUE(HasErrorContaining(parsed, "--rate: 'abc' is not a number"));
    EXPECT_TRUE(HasErrorContaining(parsed, "--concurrency: 0 is out of range"));
    EXPECT_TRUE(HasErrorContaining(parsed, "must start with http://"));
    EXPECT_TRUE(HasErrorContaining(parsed, "unknown flag --bogus"));
    EXPECT_TRUE(HasErrorContaining(parsed, "--max-items 3 exceeds the catalog of 2 SKUs"));
    EXPECT_TRUE(HasErrorContaining(parsed, "'pay' is not one of"));
}

TEST(LoadgenOptions, RejectsAmbiguousOrIncompleteLoad) {
    EXPECT_TRUE(HasErrorContaining(Parse({"--rate", "10", "--concurrency", "2"}), "not both"));
    EXPECT_TRUE(HasErrorContaining(Parse({}), "give --rate R"));
    EXPECT_TRUE(HasErrorContaining(Parse({"--rate"}), "--rate needs a value"));
    EXPECT_TRUE(HasErrorContaining(Parse({"--rate", "1", "--hot-skus", "3"}), "need --hot"));
    EXPECT_TRUE(HasErrorContaining(Parse({"--scenario", "seed-products"}), "needs --token"));
    EXPECT_TRUE(HasErrorContaining(Parse({"--rate", "1", "--url", "http://h:99999"}), "is not a TCP port"));
}

TEST(LoadgenOptions, SeedProductsSendsOneRequestPerSku) {
    auto parsed = Parse({"--scenario", "seed-products", "--token", "t", "--skus", "7"});
    ASSERT_TRUE(parsed.errors.empty()) << parsed.errors.front();
    EXPECT_EQ(parsed.options.requests, 7u);
    EXPECT_FALSE(parsed.options.duration.has_value());
    EXPECT_EQ(parsed.options.concurrency, 16);
}

TEST(LoadgenWorkload, UniformMixDrawsDistinctSkusFromTheWholeCatalog) {
    auto parsed = Parse({"--rate", "1", "--skus", "50", "--max-items", "3", "--max-quantity", "2"});
    ASSERT_TRUE(parsed.errors.empty());
    core::SeededRandom random(7);
    ItemMix mix(parsed.options.skus, parsed.options, random);
    std::map<std::size_t, int> item_counts;
    std::set<std::string> seen;
    for (int i = 0; i < 3000; ++i) {
        auto items = mix.Next();
        ++item_counts[items.size()];
        std::set<std::string> distinct;
        for (const auto& item : items) {
            distinct.insert(*item.sku);
            seen.insert(*item.sku);
            EXPECT_GE(item.quantity, 1);
            EXPECT_LE(item.quantity, 2);
        }
        EXPECT_EQ(distinct.size(), items.size());
    }
    EXPECT_EQ(item_counts.size(), 3u);  // 1, 2 and 3 items all occur
    EXPECT_EQ(seen.size(), 50u);
}

TEST(LoadgenWorkload, HotMixPutsTheHotShareOfOrdersOnTheHotSkus) {
    auto parsed = Parse({"--rate", "1", "--skus", "10000", "--hot", "--hot-skus", "10", "--hot-share", "0.5"});
    ASSERT_TRUE(parsed.errors.empty());
    core::SeededRandom random(11);
    ItemMix mix(parsed.options.skus, parsed.options, random);
    int hot_orders = 0;
    constexpr int kOrders = 20000;
    for (int i = 0; i < kOrders; ++i) {
        auto items = mix.Next();
        bool hot = false;
        for (const auto& item : items) hot = hot || item.sku < &parsed.options.skus[10];
        hot_orders += hot ? 1 : 0;
    }
    EXPECT_NEAR(static_cast<double>(hot_orders) / kOrders, 0.5, 0.02);
}

TEST(LoadgenWorkload, OrdersCarryAFreshIdempotencyKeyAndValidJson) {
    auto parsed = Parse({"--rate", "1", "--skus", "5", "--sku-prefix", "A\"B/"});
    ASSERT_TRUE(parsed.errors.empty());
    core::SeededRandom random(3);
    RequestFactory factory(parsed.options, random);
    std::set<std::string> keys;
    for (int i = 0; i < 100; ++i) {
        auto request = factory.Next();
        EXPECT_EQ(request.method, "POST");
        EXPECT_EQ(request.target, "/api/v1/orders");
        ASSERT_EQ(request.headers.size(), 1u);
        EXPECT_EQ(request.headers[0].first, "Idempotency-Key");
        keys.insert(request.headers[0].second);
        auto body = boost::json::parse(request.body).as_object();
        EXPECT_TRUE(body.at("customer_id").as_string().starts_with("bench-"));
        EXPECT_TRUE(body.at("items").as_array().at(0).as_object().at("sku").as_string().starts_with("A\"B/"));
    }
    EXPECT_EQ(keys.size(), 100u);
    EXPECT_EQ(PathSegment("A\"B/1 x"), "A%22B%2F1%20x");
}

TEST(LoadgenReport, PercentilesUseNearestRank) {
    std::vector<std::int64_t> samples;
    for (int i = 1000; i >= 1; --i) samples.push_back(i * 1000000LL);  // 1..1000 ms, unsorted
    auto s = Summarize(samples);
    EXPECT_EQ(s.count, 1000u);
    EXPECT_DOUBLE_EQ(s.p50_ms, 500);
    EXPECT_DOUBLE_EQ(s.p90_ms, 900);
    EXPECT_DOUBLE_EQ(s.p99_ms, 990);
    EXPECT_DOUBLE_EQ(s.p999_ms, 999);
    EXPECT_DOUBLE_EQ(s.max_ms, 1000);
    std::vector<std::int64_t> none;
    EXPECT_EQ(Summarize(none).count, 0u);
}

TEST(LoadgenReport, AnswersWithinOneSecondAreSummarizedInAllAndPerStatus) {
    auto parsed = ParseOptions({"--scenario", "orders", "--rate", "10", "--duration", "1"});
    ASSERT_TRUE(parsed.errors.empty());
    RunResult result;
    result.samples = {{5'000'000, 201}, {15'000'000, 201}, {2'500'000'000, 201}, {1'000'000, 202}};
    result.statuses = {{201, 3}, {202, 1}};
    auto report = JsonReport(parsed.options, result);
    const auto& prompt = report.at("latency_ms_under_1s").as_object();
    EXPECT_EQ(prompt.at("count").as_uint64(), 3u);
    EXPECT_DOUBLE_EQ(prompt.at("max").as_double(), 15);
    const auto& by_status = report.at("latency_ms_under_1s_by_status").as_object();
    EXPECT_EQ(by_status.at("201").at("count").as_uint64(), 2u);  // the 2.5 s one is not among them
    EXPECT_DOUBLE_EQ(by_status.at("201").at("p50").as_double(), 5);
    EXPECT_EQ(by_status.at("202").at("count").as_uint64(), 1u);
}

/// An order endpoint on a thread of its own: answers 201 after `delay_first` for the first request and at once for
/// the others, and records the Idempotency-Keys it saw.
class FakeOrderService {
  public:
    explicit FakeOrderService(std::chrono::milliseconds delay_first)
        : logger_("fake", core::LogLevel::kError, stderr), random_(1) {
        router_.Add("POST", "/api/v1/orders",
                    [this, delay_first](const http::Request& request,
                                        http::RequestContext&) -> asio::awaitable<http::Response> {
                        {
                            std::lock_guard lock(mutex_);
                            keys_.insert(std::string(request.Header("idempotency-key")));
                        }
                        if (first_.exchange(false)) {
                            asio::steady_timer timer(io_, delay_first);
                            boost::system::error_code ignored;
                            co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
                        }
                        co_return http::JsonText(201, R"({"status":"CONFIRMED"})");
                    });
        http::ServerConfig config;
        server_ = std::make_unique<http::Server>(io_, config, router_, logger_, registry_, random_, clock_);
        server_->Start();
        thread_ = std::thread([this] { io_.run(); });
    }
    ~FakeOrderService() {
        // Sessions must end before the server goes: the io_context would otherwise destroy their frames later.
        std::promise<void> drained;
        asio::post(io_, [&] { server_->Shutdown([&] { drained.set_value(); }); });
        drained.get_future().wait_for(10s);
        io_.stop();
        thread_.join();
    }
    unsigned short Port() const { return server_->Port(); }
    std::size_t DistinctKeys() {
        std::lock_guard lock(mutex_);
        return keys_.size();
    }

  private:
    asio::io_context io_;
    core::SteadyClock clock_;
    core::Logger logger_;
    core::SeededRandom random_;
    metrics::Registry registry_;
    http::Router router_;
    std::unique_ptr<http::Server> server_;
    std::thread thread_;
    std::atomic<bool> first_{true};
    std::mutex mutex_;
    std::set<std::string> keys_;
};

TEST(LoadgenRun, OpenLoopSendsOnScheduleAndCountsStatuses) {
    FakeOrderService service(0ms);
    auto port = std::to_string(service.Port());
    auto parsed = Parse({"--url", "http://127.0.0.1:" + port, "--rate", "200", "--duration", "0.5", "--skus", "10"});
    ASSERT_TRUE(parsed.errors.empty());
    core::SeededRandom random(5);
    auto result = RunLoad(parsed.options, random, nullptr);
    EXPECT_EQ(result.sent, 100u);
    EXPECT_EQ(result.responses, 100u);
    EXPECT_EQ(result.errors, 0u);
    EXPECT_EQ(result.statuses[201], 100u);
    EXPECT_EQ(service.DistinctKeys(), 100u);
    auto report = JsonReport(parsed.options, result);
    EXPECT_NEAR(report.at("sent_per_s").as_double(), 200, 10);
}

TEST(LoadgenRun, OpenLoopCountsQueueingBehindAStallFromTheScheduledTime) {
    // One connection, 100/s, the first reply takes 300 ms: the requests scheduled meanwhile wait for the connection.
    // Measured from when they were due (not from when they could be sent), half of them are late by 50 ms or more.
    FakeOrderService service(300ms);
    auto port = std::to_string(service.Port());
    auto parsed = Parse({"--url", "http://127.0.0.1:" + port, "--rate", "100", "--duration", "0.5", "--max-connections",
                         "1", "--skus", "10"});
    ASSERT_TRUE(parsed.errors.empty());
    core::SeededRandom random(5);
    auto result = RunLoad(parsed.options, random, nullptr);
    ASSERT_EQ(result.responses, 50u);
    std::vector<std::int64_t> latencies;
    for (const auto& sample : result.samples) latencies.push_back(sample.latency_ns);
    auto summary = Summarize(latencies);
    EXPECT_GE(summary.p50_ms, 50);
    EXPECT_GE(summary.max_ms, 290);
}

TEST(LoadgenRun, ClosedLoopStopsAfterTheRequestedCount) {
    FakeOrderService service(0ms);
    auto port = std::to_string(service.Port());
    auto parsed = Parse({"--url", "http://127.0.0.1:" + port, "--concurrency", "4", "--requests", "37"});
    ASSERT_TRUE(parsed.errors.empty());
    core::SeededRandom random(5);
    auto result = RunLoad(parsed.options, random, nullptr);
    EXPECT_EQ(result.sent, 37u);
    EXPECT_EQ(result.statuses[201], 37u);
}

TEST(LoadgenRun, UnreachableServerIsReportedAsErrorsNotAsLatency) {
    auto parsed = Parse({"--url", "http://127.0.0.1:1", "--concurrency", "2", "--requests", "4"});
    ASSERT_TRUE(parsed.errors.empty());
    core::SeededRandom random(5);
    auto result = RunLoad(parsed.options, random, nullptr);
    EXPECT_EQ(result.errors, 4u);
    EXPECT_EQ(result.error_kinds["connect"], 4u);
    EXPECT_TRUE(result.samples.empty());
}

}  // namespace
}  // namespace valerix::loadgen
