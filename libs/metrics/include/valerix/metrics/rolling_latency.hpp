#pragma once

#include <chrono>
#include <deque>
#include <mutex>

#include <valerix/core/clock.hpp>

namespace valerix::metrics {

/// Latencies of the last `horizon` (default 60 s), for "recent latency" views: the rolling average over any window
/// up to the horizon, and percentiles. Keeps at most `max_samples` (oldest dropped first). Thread-safe.
class RollingLatency {
public:
    explicit RollingLatency(const core::Clock& clock, std::chrono::seconds horizon = std::chrono::seconds(60),
                            std::size_t max_samples = 50000);

    void Record(std::chrono::nanoseconds latency);

    struct Summary {
        std::size_t count = 0;
        double average_ms = 0;
        double p50_ms = 0;
        double p95_ms = 0;
        double p99_ms = 0;
        double max_ms = 0;
    };
    /// Over the samples of the last `window` (at most the horizon); all zero when there are none.
    Summary Over(std::chrono::seconds window) const;

private:
    void Prune(core::Clock::TimePoint now) const;

    const core::Clock& clock_;
    std::chrono::seconds horizon_;
    std::size_t max_samples_;
    mutable std::mutex mutex_;
    mutable std::deque<std::pair<core::Clock::TimePoint, double>> samples_;  // (when, ms)
};

}  // namespace valerix::metrics
