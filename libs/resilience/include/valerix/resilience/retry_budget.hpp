#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <vector>

#include <valerix/core/clock.hpp>

namespace valerix::resilience {

/// Limits of a RetryBudget. Retries are allowed while the retries in the last `window` stay within
/// max(min_retries_per_second * window seconds, ratio * first attempts in the window).
struct RetryBudgetConfig {
    /// Retries per first attempt; 0.2 lets retries add at most 20 % load to a struggling dependency.
    double ratio = 0.2;
    /// A floor so that a caller with little traffic can still retry at all.
    int min_retries_per_second = 5;
    /// The sliding window, kept as one-second buckets: 1 s to 1 h.
    std::chrono::seconds window{10};
};

/// A retry budget in the manner of Finagle's RetryBudget and Envoy's retry_budget: it answers "is a retry allowed?"
/// (not "is this error retryable?") and so stops retry storms when a dependency fails for everyone at once. Traffic
/// ages out with the injected clock.
///
/// Thread-safety: every method may be called concurrently (one internal mutex); the clock must outlive the budget.
class RetryBudget {
  public:
    /// Lifetime counters, for metrics.
    struct Stats {
        std::uint64_t requests = 0;  ///< first attempts recorded
        std::uint64_t retries = 0;   ///< retries allowed
        std::uint64_t refused = 0;   ///< retries refused by the budget
    };

    /// Throws std::invalid_argument for an invalid config (a start-up error): negative or non-finite ratio, negative
    /// minimum, window outside 1 s .. 1 h.
    RetryBudget(RetryBudgetConfig config, const core::Clock& clock);
    RetryBudget(const RetryBudget&) = delete;
    RetryBudget& operator=(const RetryBudget&) = delete;

    /// Records a first attempt (never a retry); each one earns `ratio` retries for the length of the window.
    void RecordRequest();

    /// True when a retry fits the budget, and then counts it as made; false (counted as refused) otherwise.
    [[nodiscard]] bool TryAcquireRetry();

    Stats Totals() const;
    const RetryBudgetConfig& Config() const { return config_; }

  private:
    struct Bucket {
        std::int64_t second = -1;
        std::uint64_t requests = 0;
        std::uint64_t retries = 0;
    };

    std::int64_t CurrentSecond() const;
    Bucket& BucketAt(std::int64_t second);  // requires mutex_

    const RetryBudgetConfig config_;
    const core::Clock& clock_;
    const core::Clock::TimePoint origin_;
    const std::uint64_t min_retries_in_window_;

    mutable std::mutex mutex_;
    std::vector<Bucket> buckets_;  // ring indexed by second % size
    Stats totals_;
};

}  // namespace valerix::resilience
