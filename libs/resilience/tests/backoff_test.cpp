#include <valerix/resilience/backoff.hpp>

#include <algorithm>
#include <climits>
#include <cstdint>

#include <gtest/gtest.h>

namespace valerix::resilience {
namespace {

using namespace std::chrono_literals;

struct Range {
    std::chrono::milliseconds min = std::chrono::milliseconds::max();
    std::chrono::milliseconds max = std::chrono::milliseconds::min();
    double mean_ms = 0;
};

Range Sample(const BackoffPolicy& policy, int attempt, int samples, std::uint64_t seed = 7) {
    core::SeededRandom random(seed);
    Range range;
    double sum = 0;
    for (int i = 0; i < samples; ++i) {
        auto delay = FullJitterDelay(policy, attempt, random);
        range.min = std::min(range.min, delay);
        range.max = std::max(range.max, delay);
        sum += static_cast<double>(delay.count());
    }
    range.mean_ms = sum / samples;
    return range;
}

TEST(FullJitterDelay, StaysWithinTheDoublingBound) {
    const BackoffPolicy policy{50ms, 2000ms};
    for (int attempt = 0; attempt <= 12; ++attempt) {
        const auto bound = std::min<std::chrono::milliseconds>(2000ms, 50ms * (1LL << attempt));
        auto range = Sample(policy, attempt, 2000);
        EXPECT_GE(range.min, 0ms) << "attempt " << attempt;
        EXPECT_LE(range.max, bound) << "attempt " << attempt;
    }
}

TEST(FullJitterDelay, CoversTheWholeRange) {
    // attempt 3: [0, 400 ms]
    auto range = Sample({50ms, 2000ms}, 3, 20000);
    EXPECT_LE(range.min, 2ms);
    EXPECT_GE(range.max, 398ms);
    EXPECT_LE(range.max, 400ms);
    EXPECT_NEAR(range.mean_ms, 200, 5);
}

TEST(FullJitterDelay, FirstRetryUsesBase) {
    auto range = Sample({50ms, 2000ms}, 0, 5000);
    EXPECT_LE(range.max, 50ms);
    EXPECT_GE(range.max, 49ms);
}

TEST(FullJitterDelay, CapsTheBound) {
    // 50 ms * 2^6 = 3200 ms > cap.
    auto range = Sample({50ms, 2000ms}, 6, 20000);
    EXPECT_LE(range.max, 2000ms);
    EXPECT_GE(range.max, 1990ms);
    EXPECT_NEAR(range.mean_ms, 1000, 25);
}

TEST(FullJitterDelay, LargeAttemptsDoNotOverflow) {
    for (int attempt : {30, 31, 32, 62, 63, 64, 65, 1000, INT_MAX}) {
        auto range = Sample({50ms, 2000ms}, attempt, 5000);
        EXPECT_GE(range.min, 0ms) << "attempt " << attempt;
        EXPECT_LE(range.max, 2000ms) << "attempt " << attempt;
        EXPECT_GE(range.max, 1950ms) << "attempt " << attempt;
    }
    // A base whose doubling overflows the representation at once still yields the cap as bound.
    const auto huge = std::chrono::milliseconds::max();
    for (int attempt : {1, 2, 40, 64}) {
        auto range = Sample({huge / 2, huge}, attempt, 200);
        EXPECT_GE(range.min, 0ms) << "attempt " << attempt;
        EXPECT_GE(range.max, huge / 2) << "attempt " << attempt;
    }
}

TEST(FullJitterDelay, DegenerateInputs) {
    core::SeededRandom random(1);
    EXPECT_EQ(FullJitterDelay({0ms, 2000ms}, 5, random), 0ms);
    EXPECT_EQ(FullJitterDelay({50ms, 0ms}, 5, random), 0ms);
    EXPECT_EQ(FullJitterDelay({-5ms, 2000ms}, 5, random), 0ms);
    auto negative = Sample({50ms, 2000ms}, -3, 2000);
    EXPECT_LE(negative.max, 50ms);
    EXPECT_GE(negative.max, 45ms);
}

TEST(FullJitterDelay, DeterministicForASeed) {
    core::SeededRandom a(42);
    core::SeededRandom b(42);
    for (int attempt = 0; attempt < 10; ++attempt) {
        EXPECT_EQ(FullJitterDelay({}, attempt, a), FullJitterDelay({}, attempt, b));
    }
}

}  // namespace
}  // namespace valerix::resilience
