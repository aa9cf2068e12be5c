#include <valerix/metrics/rolling_latency.hpp>

#include <gtest/gtest.h>

namespace valerix::metrics {
namespace {

using namespace std::chrono_literals;

class ManualClock final : public core::Clock {
public:
    TimePoint Now() const override { return now_; }
    void Advance(std::chrono::nanoseconds d) { now_ += d; }

private:
    TimePoint now_{std::chrono::seconds(100)};
};

TEST(RollingLatency, AveragesOnlyTheWindow) {
    ManualClock clock;
    RollingLatency latency(clock);
    latency.Record(3000ms);  // old: leaves the 30 s window
    clock.Advance(40s);
    for (int i = 1; i <= 100; ++i) latency.Record(std::chrono::milliseconds(i));
    auto recent = latency.Over(30s);
    EXPECT_EQ(recent.count, 100u);
    EXPECT_DOUBLE_EQ(recent.average_ms, 50.5);
    EXPECT_DOUBLE_EQ(recent.p50_ms, 50);
    EXPECT_DOUBLE_EQ(recent.p99_ms, 99);
    EXPECT_DOUBLE_EQ(recent.max_ms, 100);
    EXPECT_EQ(latency.Over(60s).count, 101u);
    clock.Advance(61s);
    EXPECT_EQ(latency.Over(60s).count, 0u) << "samples past the horizon are dropped";
    EXPECT_EQ(latency.Over(30s).average_ms, 0);
}

TEST(RollingLatency, BoundsMemory) {
    ManualClock clock;
    RollingLatency latency(clock, 60s, 10);
    for (int i = 0; i < 100; ++i) latency.Record(1ms);
    EXPECT_EQ(latency.Over(60s).count, 10u);
}

}  // namespace
}  // namespace valerix::metrics
