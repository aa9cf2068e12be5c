#include "hiccup.hpp"

#include <gtest/gtest.h>

#include <future>

namespace valerix::hiccup {
namespace {

using namespace std::chrono_literals;

TEST(HiccupLateness, NearestRankPercentilesOfUnsortedSamples) {
    std::vector<double> late;
    for (int i = 1000; i >= 1; --i) late.push_back(i);  // 1..1000 us, in reverse
    auto l = SummarizeLateness(late);
    EXPECT_EQ(l.samples, 1000u);
    EXPECT_EQ(l.p50_us, 500);
    EXPECT_EQ(l.p99_us, 990);
    EXPECT_EQ(l.p999_us, 999);
    EXPECT_EQ(l.max_us, 1000);
}

TEST(HiccupLateness, FewSamplesAndNone) {
    auto one = SummarizeLateness({42});
    EXPECT_EQ(one.p50_us, 42);
    EXPECT_EQ(one.p999_us, 42);
    auto none = SummarizeLateness({});
    EXPECT_EQ(none.samples, 0u);
    EXPECT_EQ(none.max_us, 0);
}

TEST(HiccupStalls, CountsGapsByLengthAndSumsWhatWasLost) {
    auto s = SummarizeStalls({60, 900, 1500, 6000, 12000, 1000});
    EXPECT_EQ(s.gaps, 6u);
    EXPECT_DOUBLE_EQ(s.lost_ms, 21.46);
    EXPECT_EQ(s.over_1ms, 3u);  // 1,000 us is not over 1 ms
    EXPECT_EQ(s.over_5ms, 2u);
    EXPECT_EQ(s.over_10ms, 1u);
    EXPECT_DOUBLE_EQ(s.max_ms, 12);
}

TEST(HiccupProbes, WakeProbeSleepsThePeriodAndSpinProbeReturnsOnlyLongGaps) {
    auto late = WakeProbe(-1, 100ms, 5ms);
    EXPECT_GE(late.size(), 5u);   // at most 100 / 5 wake-ups, fewer on a busy machine
    EXPECT_LE(late.size(), 21u);
    for (double l : late) EXPECT_GE(l, 0);
    for (const auto& gap : SpinProbe(-1, 20ms, 200us)) EXPECT_GT(gap.us, 200);
}

TEST(HiccupStalls, GapsSplitByWhetherTheThreadWasSwitchedOut) {
    const std::vector<Gap> gaps{{100, false}, {7000, true}, {300, false}, {60, true}};
    EXPECT_EQ(GapsWhere(gaps, false), (std::vector<double>{100, 300}));
    EXPECT_EQ(GapsWhere(gaps, true), (std::vector<double>{7000, 60}));
}

TEST(HiccupProbes, ASpinningThreadSharingItsCpuSeesTheOtherAsSwitches) {
    // Two spinning threads pinned to one CPU take turns: the gaps each sees are the other's time slices, and the
    // kernel switched it out for every one of them.
    auto a = std::async(std::launch::async, [] { return SpinProbe(0, 300ms); });
    auto b = std::async(std::launch::async, [] { return SpinProbe(0, 300ms); });
    auto gaps = a.get();
    b.get();
    auto switched = SummarizeStalls(GapsWhere(gaps, true));
    EXPECT_GE(switched.lost_ms, 50) << "the other thread ran for about half of 300 ms";
    EXPECT_GE(switched.gaps, 2u);
}

}  // namespace
}  // namespace valerix::hiccup
