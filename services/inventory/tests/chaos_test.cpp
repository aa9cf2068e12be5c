#include "chaos/chaos.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

namespace valerix::inventory {
namespace {

class ChaosTest : public ::testing::Test {
protected:
    core::Validated<ChaosConfig> Parse(const char* json) { return ParseChaosConfig(boost::json::parse(json)); }
    metrics::Registry registry_;
    core::Logger logger_{"test", core::LogLevel::kError, stderr};
};

TEST_F(ChaosTest, ParsesTheDesignShapeWithDefaults) {
    auto config = Parse(R"({"latency":{"mode":"every_nth","every_nth":5,"delay_ms":3000},
                            "crash":{"mode":"probability","probability":0.05,"point":"after_commit","action":"exit"},
                            "seed":42})");
    ASSERT_TRUE(config) << config.error().detail;
    EXPECT_EQ(config->latency.mode, ChaosMode::kEveryNth);
    EXPECT_EQ(config->latency.every_nth, 5);
    EXPECT_EQ(config->latency.jitter_ms, 0);
    EXPECT_EQ(config->crash.action, CrashAction::kExit);
    EXPECT_DOUBLE_EQ(config->crash.probability, 0.05);

    auto empty = Parse("{}");
    ASSERT_TRUE(empty);
    EXPECT_EQ(empty->latency.mode, ChaosMode::kOff);
    EXPECT_EQ(empty->crash.mode, ChaosMode::kOff);
    EXPECT_EQ(empty->seed, 42u);
    auto round_trip = ParseChaosConfig(ToJson(*config));
    ASSERT_TRUE(round_trip);
    EXPECT_EQ(ToJson(*round_trip), ToJson(*config));
}

TEST_F(ChaosTest, RejectsBadConfigurationsNamingTheField) {
    EXPECT_EQ(Parse(R"({"latency":{"mode":"sometimes"}})").error().field, "latency.mode");
    EXPECT_EQ(Parse(R"({"latency":{"mode":"every_nth"}})").error().field, "latency.every_nth");
    EXPECT_EQ(Parse(R"({"crash":{"mode":"probability","probability":1.5}})").error().field, "crash.probability");
    EXPECT_EQ(Parse(R"({"crash":{"mode":"probability"}})").error().field, "crash.probability");
    EXPECT_EQ(Parse(R"({"crash":{"point":"during_commit"}})").error().field, "crash.point");
    EXPECT_EQ(Parse(R"({"latency":{"delay_ms":-1}})").error().field, "latency.delay_ms");
    EXPECT_EQ(Parse(R"({"latency":[]})").error().field, "latency");
    for (const char* routes : {"[]", R"(["reserve","ship"])", R"("reserve")", R"(["commit","commit"])", "[1]"}) {
        auto parsed = Parse((std::string(R"({"latency":{"mode":"every_nth","every_nth":1,"routes":)") + routes + "}}").c_str());
        ASSERT_FALSE(parsed) << routes;
        EXPECT_EQ(parsed.error().field, "latency.routes") << routes;
    }
}

TEST_F(ChaosTest, TheGremlinDelaysOnlyTheRoutesItNamesAndCountsOnlyThose) {
    auto config = Parse(R"({"latency":{"mode":"every_nth","every_nth":2,"delay_ms":3000,"routes":["release","reserve"]}})");
    ASSERT_TRUE(config) << config.error().detail;
    EXPECT_EQ(boost::json::serialize(ToJson(*config).at("latency").at("routes")), R"(["reserve","release"])");
    EXPECT_EQ(boost::json::serialize(ToJson(ChaosConfig{}).at("latency").at("routes")),
              R"(["reserve","commit","release"])")
        << "absent means every reservation route";
    Chaos chaos(*config, registry_, logger_);
    std::string pattern;
    for (auto route : {ChaosRoute::kReserve, ChaosRoute::kCommit, ChaosRoute::kRelease, ChaosRoute::kCommit,
                       ChaosRoute::kReserve, ChaosRoute::kRelease}) {
        pattern += chaos.Decide(route).delay.count() == 3000 ? 'D' : '.';
    }
    // commits pass untouched and do not advance the count: the 2nd and 4th calls on reserve or release are delayed
    EXPECT_EQ(pattern, "..D..D");
}

TEST_F(ChaosTest, EveryNthIsAPredictablePattern) {
    ChaosConfig config;
    config.latency = {ChaosMode::kEveryNth, 5, 0, 3000, 0};
    Chaos chaos(config, registry_, logger_);
    std::string pattern;
    for (int i = 1; i <= 15; ++i) pattern += chaos.Decide(ChaosRoute::kReserve).delay.count() == 3000 ? 'D' : '.';
    EXPECT_EQ(pattern, "....D....D....D");
    chaos.Configure(config);
    EXPECT_EQ(chaos.Decide(ChaosRoute::kReserve).delay.count(), 0) << "Configure restarts the count";
}

TEST_F(ChaosTest, DelaysAreCountedWhenTheyBeginNotWhenDecided) {
    ChaosConfig config;
    config.latency = {ChaosMode::kEveryNth, 1, 0, 3000, 0};
    Chaos chaos(config, registry_, logger_);
    auto decision = chaos.Decide(ChaosRoute::kReserve);
    ASSERT_EQ(decision.delay.count(), 3000);
    const std::string counted = R"(valerix_chaos_injections_total{kind="latency",action="delay"} 1)";
    EXPECT_EQ(registry_.Expose().find(counted), std::string::npos) << "a stopping service skips a decided delay";
    chaos.RecordDelay(decision, ChaosRoute::kReserve, "r1", std::chrono::milliseconds(3000));
    EXPECT_NE(registry_.Expose().find(counted), std::string::npos);
}

TEST_F(ChaosTest, ProbabilityReproducesForASeed) {
    ChaosConfig config;
    config.crash = {ChaosMode::kProbability, 0, 0.3, CrashPoint::kAfterCommit, CrashAction::kError500};
    config.seed = 7;
    auto run = [&] {
        metrics::Registry registry;
        Chaos chaos(config, registry, logger_);
        std::string pattern;
        for (int i = 0; i < 200; ++i) pattern += chaos.Decide(ChaosRoute::kReserve).crash ? 'X' : '.';
        return pattern;
    };
    auto first = run();
    EXPECT_EQ(first, run());
    auto hits = std::count(first.begin(), first.end(), 'X');
    EXPECT_GT(hits, 30);
    EXPECT_LT(hits, 90);
}

TEST_F(ChaosTest, AResumedProcessGoesOnWithTheSameDrawsAndCounts) {
    ChaosConfig config;
    config.latency = {ChaosMode::kEveryNth, 4, 0, 3000, 0};
    config.crash = {ChaosMode::kProbability, 0, 0.3, CrashPoint::kAfterCommit, CrashAction::kExit};
    config.seed = 5;
    auto pattern = [](Chaos& chaos, int calls) {
        std::string out;
        for (int i = 0; i < calls; ++i) {
            auto decision = chaos.Decide(ChaosRoute::kReserve);
            out += decision.crash ? (decision.delay.count() ? 'B' : 'X') : (decision.delay.count() ? 'D' : '.');
        }
        return out;
    };
    metrics::Registry registries[4];  // one per process
    Chaos whole(config, registries[0], logger_);
    const auto expected = pattern(whole, 40);
    Chaos first(config, registries[1], logger_);
    auto got = pattern(first, 13);
    Chaos second(config, registries[2], logger_);
    ASSERT_TRUE(second.Resume(first.Progress()));
    got += pattern(second, 27);
    EXPECT_EQ(got, expected);

    Chaos untouched(config, registries[3], logger_);
    const auto before = untouched.Progress();
    EXPECT_FALSE(untouched.Resume(boost::json::object{{"latency_calls", 1}, {"crash_calls", 1}, {"random", "x"}}));
    EXPECT_FALSE(untouched.Resume(boost::json::object{{"random", before.at("random")}}));
    EXPECT_EQ(untouched.Progress(), before) << "a progress that cannot be read changes nothing";
}

TEST_F(ChaosTest, CrashesAreCountedWhenCarriedOutNotWhenDecided) {
    ChaosConfig config;
    config.crash = {ChaosMode::kEveryNth, 1, 0, CrashPoint::kAfterCommit, CrashAction::kError500};
    Chaos chaos(config, registry_, logger_);
    auto decision = chaos.Decide(ChaosRoute::kReserve);
    ASSERT_TRUE(decision.crash);
    const std::string counted = R"(valerix_chaos_injections_total{kind="crash",action="error_500"} 1)";
    EXPECT_EQ(registry_.Expose().find(counted), std::string::npos) << "a decided crash may never happen (504 first)";
    chaos.RecordCrash(decision, ChaosRoute::kReserve, "r1");
    EXPECT_NE(registry_.Expose().find(counted), std::string::npos);
}

}  // namespace
}  // namespace valerix::inventory
