#include <valerix/resilience/retry_budget.hpp>

#include <stdexcept>

#include <gtest/gtest.h>

#include "manual_clock.hpp"

namespace valerix::resilience {
namespace {

using namespace std::chrono_literals;
using testing::ManualClock;

int AcquireAll(RetryBudget& budget, int limit = 100000) {
    int granted = 0;
    while (granted < limit && budget.TryAcquireRetry()) ++granted;
    return granted;
}

void Requests(RetryBudget& budget, int n) {
    for (int i = 0; i < n; ++i) budget.RecordRequest();
}

TEST(RetryBudget, MinimumPerSecondAllowsRetriesWithoutTraffic) {
    ManualClock clock;
    RetryBudget budget({.ratio = 0.2, .min_retries_per_second = 5, .window = 10s}, clock);
    EXPECT_EQ(AcquireAll(budget), 50);
    EXPECT_FALSE(budget.TryAcquireRetry());
}

TEST(RetryBudget, RatioOfRequestsAllowsThatManyAndRefusesTheNext) {
    ManualClock clock;
    RetryBudget budget({.ratio = 0.2, .min_retries_per_second = 1, .window = 10s}, clock);  // floor: 10
    Requests(budget, 100);
    for (int i = 0; i < 20; ++i) EXPECT_TRUE(budget.TryAcquireRetry()) << "retry " << i;
    EXPECT_FALSE(budget.TryAcquireRetry());
    budget.RecordRequest();
    budget.RecordRequest();
    budget.RecordRequest();
    budget.RecordRequest();
    budget.RecordRequest();  // 105 requests earn 21 retries
    EXPECT_TRUE(budget.TryAcquireRetry());
    EXPECT_FALSE(budget.TryAcquireRetry());
}

TEST(RetryBudget, AllowanceIsTheLargerOfFloorAndRatio) {
    ManualClock clock;
    RetryBudget budget({.ratio = 0.2, .min_retries_per_second = 1, .window = 10s}, clock);
    Requests(budget, 20);  // ratio earns 4, the floor is 10
    EXPECT_EQ(AcquireAll(budget), 10);
}

TEST(RetryBudget, ZeroFloorRefusesWithoutTraffic) {
    ManualClock clock;
    RetryBudget budget({.ratio = 0.5, .min_retries_per_second = 0, .window = 10s}, clock);
    EXPECT_FALSE(budget.TryAcquireRetry());
    Requests(budget, 3);
    EXPECT_EQ(AcquireAll(budget), 1);  // floor(1.5)
}

TEST(RetryBudget, RatioIsNotLostToRounding) {
    ManualClock clock;
    RetryBudget budget({.ratio = 0.29, .min_retries_per_second = 0, .window = 10s}, clock);
    Requests(budget, 100);
    EXPECT_EQ(AcquireAll(budget), 29);
}

TEST(RetryBudget, OldTrafficAgesOutAfterTheWindow) {
    ManualClock clock;
    RetryBudget budget({.ratio = 0.2, .min_retries_per_second = 0, .window = 10s}, clock);
    Requests(budget, 100);
    EXPECT_EQ(AcquireAll(budget, 10), 10);

    clock.Advance(9s);  // still inside the window: the requests count, and so do the retries made
    EXPECT_EQ(AcquireAll(budget), 10);

    clock.Advance(1s);  // the requests and first retries are gone; the later 10 retries remain
    Requests(budget, 50);
    EXPECT_FALSE(budget.TryAcquireRetry());  // 10 earned, 10 already in the window
    Requests(budget, 5);
    EXPECT_EQ(AcquireAll(budget), 1);

    clock.Advance(10s);  // everything has aged out
    EXPECT_FALSE(budget.TryAcquireRetry());
    Requests(budget, 10);
    EXPECT_EQ(AcquireAll(budget), 2);
}

TEST(RetryBudget, FloorRefillsAsRetriesAgeOut) {
    ManualClock clock;
    RetryBudget budget({.ratio = 0.2, .min_retries_per_second = 1, .window = 5s}, clock);
    EXPECT_EQ(AcquireAll(budget), 5);
    clock.Advance(4999ms);
    EXPECT_FALSE(budget.TryAcquireRetry());
    clock.Advance(1ms);
    EXPECT_EQ(AcquireAll(budget), 5);
}

TEST(RetryBudget, TotalsCountRequestsRetriesAndRefusals) {
    ManualClock clock;
    RetryBudget budget({.ratio = 0.1, .min_retries_per_second = 0, .window = 10s}, clock);
    Requests(budget, 30);
    EXPECT_EQ(AcquireAll(budget), 3);
    EXPECT_FALSE(budget.TryAcquireRetry());
    clock.Advance(1h);
    EXPECT_FALSE(budget.TryAcquireRetry());
    budget.RecordRequest();

    const auto totals = budget.Totals();
    EXPECT_EQ(totals.requests, 31u);
    EXPECT_EQ(totals.retries, 3u);
    EXPECT_EQ(totals.refused, 3u);  // the one ending AcquireAll and two more
}

TEST(RetryBudget, RejectsInvalidConfig) {
    ManualClock clock;
    EXPECT_THROW(RetryBudget({.ratio = -0.1}, clock), std::invalid_argument);
    EXPECT_THROW(RetryBudget({.ratio = 0.2, .min_retries_per_second = -1}, clock), std::invalid_argument);
    EXPECT_THROW(RetryBudget({.ratio = 0.2, .min_retries_per_second = 5, .window = 0s}, clock), std::invalid_argument);
    EXPECT_THROW(RetryBudget({.ratio = 0.2, .min_retries_per_second = 5, .window = 2h}, clock), std::invalid_argument);
}

}  // namespace
}  // namespace valerix::resilience
