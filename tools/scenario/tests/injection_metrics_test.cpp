#include <gtest/gtest.h>

#include <map>
#include <string>

#include "injection_metrics.hpp"

namespace valerix::scenario {
namespace {

std::string Exposition(std::map<std::string, int> samples) {
    std::string text = "# HELP valerix_chaos_injections_total Chaos injections.\n"
                       "# TYPE valerix_chaos_injections_total counter\n";
    for (const auto& [kind_action, value] : samples) {
        auto slash = kind_action.find('/');
        text += "valerix_chaos_injections_total{kind=\"" + kind_action.substr(0, slash) + "\",action=\"" +
                kind_action.substr(slash + 1) + "\"} " + std::to_string(value) + "\n";
    }
    return text + "valerix_other_total 7\n";
}

using Totals = std::map<std::string, long long>;

TEST(InjectionMetricsTest, CountsOnlyWhatTheRunInjectedOnAProcessThatServedEarlierRuns) {
    InjectionMetrics metrics;
    metrics.SetBaseline(Exposition({{"latency/delay", 399}, {"crash/error_500", 764}}));
    metrics.Observe(1, Exposition({{"latency/delay", 399}, {"crash/error_500", 764}}));
    metrics.Observe(1, Exposition({{"latency/delay", 410}, {"crash/error_500", 764}, {"crash/exit", 2}}));
    EXPECT_EQ(metrics.Totals(), (Totals{{"latency/delay", 11}, {"crash/exit", 2}}));
}

TEST(InjectionMetricsTest, AnUnreportedRestartCarriesWhatTheOldProcessCounted) {
    InjectionMetrics metrics;
    metrics.SetBaseline(Exposition({{"latency/delay", 100}}));
    metrics.Observe(1, Exposition({{"latency/delay", 120}}));
    metrics.Observe(1, Exposition({{"latency/delay", 5}}));  // the supervisor restarted it: 20 + 5
    metrics.Observe(1, Exposition({{"latency/delay", 9}}));
    EXPECT_EQ(metrics.Totals(), (Totals{{"latency/delay", 29}}));
}

TEST(InjectionMetricsTest, ARestartBeforeTheFirstScrapeIsSeenAgainstTheBaseline) {
    InjectionMetrics metrics;
    metrics.SetBaseline(Exposition({{"latency/delay", 100}}));
    metrics.Observe(1, Exposition({{"latency/delay", 3}}));
    EXPECT_EQ(metrics.Totals(), (Totals{{"latency/delay", 3}}));
}

TEST(InjectionMetricsTest, ReportedIncarnationsStartAtZeroAndAreSummed) {
    InjectionMetrics metrics;
    metrics.SetBaseline(Exposition({}));
    metrics.Observe(1, Exposition({{"crash/exit", 1}}));
    metrics.Observe(2, Exposition({{"crash/exit", 1}, {"latency/delay", 4}}));
    metrics.Observe(3, Exposition({{"latency/delay", 2}}));
    EXPECT_EQ(metrics.Totals(), (Totals{{"crash/exit", 2}, {"latency/delay", 6}}));
}

TEST(InjectionMetricsTest, NothingObservedIsNothingCounted) {
    InjectionMetrics metrics;
    metrics.SetBaseline(Exposition({{"latency/delay", 50}}));
    EXPECT_TRUE(metrics.Totals().empty());
}

}  // namespace
}  // namespace valerix::scenario
