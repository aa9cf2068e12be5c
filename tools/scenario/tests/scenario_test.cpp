// Scenario files: defaults, the short variant, and errors that name the field.
#include "scenario.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <filesystem>

#include "load.hpp"
#include "report.hpp"

namespace valerix::scenario {
namespace {

const char* kMinimal = R"({"catalog":[{"sku":"A","on_hand":5},{"sku":"B"}]})";

Scenario Parse(const std::string& text, bool short_variant = false) {
    return ParseScenario(boost::json::parse(text), short_variant);
}

std::string ErrorOf(const std::string& text) {
    try {
        Parse(text);
    } catch (const ScenarioError& error) {
        return error.what();
    }
    return "";
}

TEST(ScenarioTest, MinimalScenarioTakesDefaults) {
    auto scenario = Parse(kMinimal);
    ASSERT_EQ(scenario.catalog.size(), 2u);
    EXPECT_EQ(scenario.catalog[0].on_hand, 5);
    EXPECT_EQ(scenario.catalog[1].on_hand, 100);
    EXPECT_EQ(scenario.load.concurrency, 4);
    EXPECT_TRUE(scenario.timeline.empty());
}

TEST(ScenarioTest, ShortVariantMergesLoadAndReplacesTimeline) {
    auto text = R"({"catalog":[{"sku":"A"}],"load":{"rate":50,"duration_s":60,"concurrency":8},
        "timeline":[{"at_s":30,"kill":"inventory","restart_after_s":5}],
        "expect":{"min_orders":1000,"min_affected_orders":50},
        "short":{"load":{"duration_s":8},"timeline":[{"at_s":3,"kill":"inventory","restart_after_s":1}],
                 "expect":{"min_orders":30}}})";
    auto full = Parse(text);
    auto short_variant = Parse(text, true);
    EXPECT_EQ(full.load.duration_s, 60);
    EXPECT_EQ(short_variant.load.duration_s, 8);
    EXPECT_EQ(short_variant.load.rate, 50) << "members not in short keep their value";
    EXPECT_EQ(short_variant.load.concurrency, 8);
    ASSERT_EQ(short_variant.timeline.size(), 1u);
    EXPECT_EQ(short_variant.timeline[0].at_s, 3);
    EXPECT_EQ(short_variant.timeline[0].kind, EventKind::kKill);
    EXPECT_EQ(short_variant.timeline[0].service, Service::kInventory);
    EXPECT_EQ(short_variant.expect.min_orders, 30);
    EXPECT_EQ(short_variant.expect.min_affected_orders, 0) << "expect is replaced, not merged";
    EXPECT_EQ(full.expect.min_affected_orders, 50);
}

TEST(ScenarioTest, TimelineIsSortedAndParsed) {
    auto scenario = Parse(R"({"catalog":[{"sku":"A"}],"timeline":[
        {"at_s":5,"restart":"postgres"},
        {"at_s":1,"chaos":{"latency":{"mode":"every_nth","every_nth":5,"delay_ms":3000}}},
        {"at_s":6,"restart":"postgres","shutdown":"immediate"},
        {"at_s":2,"kill":"order","restart_after_s":0.5,"note":"power cut"}]})");
    ASSERT_EQ(scenario.timeline.size(), 4u);
    EXPECT_EQ(scenario.timeline[0].kind, EventKind::kChaos);
    EXPECT_TRUE(scenario.timeline[0].chaos.contains("latency"));
    EXPECT_EQ(scenario.timeline[1].service, Service::kOrder);
    EXPECT_EQ(scenario.timeline[1].restart_after_s, 0.5);
    EXPECT_EQ(scenario.timeline[1].note, "power cut");
    EXPECT_EQ(scenario.timeline[2].kind, EventKind::kRestartPostgres);
    EXPECT_FALSE(scenario.timeline[2].immediate) << "a restart is fast unless it says otherwise";
    EXPECT_EQ(scenario.timeline[3].kind, EventKind::kRestartPostgres);
    EXPECT_TRUE(scenario.timeline[3].immediate);
}

TEST(ScenarioTest, ErrorsNameTheField) {
    EXPECT_NE(ErrorOf(R"({})").find("catalog is required"), std::string::npos);
    EXPECT_NE(ErrorOf(R"({"catalog":[{"sku":"A"}],"load":{"rate":-1}})").find("load.rate"), std::string::npos);
    EXPECT_NE(ErrorOf(R"({"catalog":[{"sku":"A"}],"lod":{}})").find("lod is not a known setting"), std::string::npos);
    EXPECT_NE(
        ErrorOf(R"({"catalog":[{"sku":"A"}],"timeline":[{"at_s":1,"kill":"postgres"}]})").find("timeline[0].kill"),
        std::string::npos);
    EXPECT_NE(ErrorOf(R"({"catalog":[{"sku":"A"}],"timeline":[{"at_s":1}]})").find("exactly one"), std::string::npos);
    EXPECT_NE(ErrorOf(R"({"catalog":[{"sku":"A"}],"timeline":[{"at_s":1,"restart":"postgres","shutdown":"smart"}]})")
                  .find("timeline[0].shutdown must be"),
              std::string::npos);
    EXPECT_NE(ErrorOf(R"({"catalog":[{"sku":"A"}],"timeline":[{"at_s":1,"kill":"order","shutdown":"immediate"}]})")
                  .find("only applies to restart"),
              std::string::npos);
    EXPECT_NE(ErrorOf(R"({"catalog":[{"sku":"A"},{"sku":"A"}]})").find("repeats"), std::string::npos);
    EXPECT_NE(ErrorOf(R"({"catalog":[{"sku":"A"}],"inventory_env":{"VALERIX_CHAOS":"{}"}})").find("set by the runner"),
              std::string::npos);
    EXPECT_NE(ErrorOf(R"({"catalog":[{"sku":"A"}],"short":{"load":{"ship_share":2}}})").find("load.ship_share"),
              std::string::npos)
        << "the short variant is validated with the full one";
}

TEST(ScenarioTest, PlansAreDeterministicPerSeedAndIndex) {
    auto scenario = Parse(R"({"catalog":[{"sku":"A"},{"sku":"B"},{"sku":"C"}],
        "load":{"items_weights":[1,1,1],"ship_share":0.5,"cancel_share":0.25}})");
    for (int i = 0; i < 50; ++i) {
        auto first = PlanOrder(scenario, 7, i, "tag");
        auto again = PlanOrder(scenario, 7, i, "tag");
        EXPECT_EQ(first.body, again.body);
        EXPECT_EQ(first.followup, again.followup);
        EXPECT_GE(first.items.size(), 1u);
        EXPECT_LE(first.items.size(), 3u);
        for (const auto& [sku, quantity] : first.items) {
            EXPECT_GE(quantity, 1);
            EXPECT_LE(quantity, 3);
        }
    }
    int differ = 0;
    for (int i = 0; i < 50; ++i) differ += PlanOrder(scenario, 7, i, "t").body != PlanOrder(scenario, 8, i, "t").body;
    EXPECT_GT(differ, 25) << "another seed gives other orders";
    EXPECT_NE(PlanOrder(scenario, 7, 1, "aa").key, PlanOrder(scenario, 7, 1, "bb").key);
}

TEST(ScenarioTest, ShippedScenarioFilesParse) {
    const std::filesystem::path dir = std::filesystem::path(VALERIX_SCENARIO_DIR);
    int count = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (entry.path().extension() != ".json") continue;
        ++count;
        EXPECT_NO_THROW(LoadScenario(entry.path().string(), false)) << entry.path();
        EXPECT_NO_THROW(LoadScenario(entry.path().string(), true)) << entry.path();
    }
    EXPECT_GE(count, 5);
}

TEST(ScenarioTest, Percentiles) {
    std::vector<double> values;
    for (int i = 1; i <= 100; ++i) values.push_back(i);
    auto p = ComputePercentiles(values);
    EXPECT_EQ(p.n, 100u);
    EXPECT_EQ(p.p50, 50);
    EXPECT_EQ(p.p90, 90);
    EXPECT_EQ(p.p99, 99);
    EXPECT_EQ(p.max, 100);
    EXPECT_EQ(ComputePercentiles({}).n, 0u);
}

}  // namespace
}  // namespace valerix::scenario
