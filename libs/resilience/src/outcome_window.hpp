#pragma once

#include <cstdint>
#include <vector>

#include <valerix/resilience/circuit_breaker.hpp>

namespace valerix::resilience {

/// The closed-state sliding window of a CircuitBreaker: the last N outcomes, or the outcomes of the last N seconds in
/// one bucket per second. Not thread-safe; the breaker's mutex guards it.
class OutcomeWindow {
  public:
    struct Totals {
        int calls = 0;
        int failed = 0;
        int slow = 0;
    };

    OutcomeWindow(CircuitBreakerConfig::WindowType type, int size);

    /// `second` is a monotonic second index; ignored by a count-based window.
    void Record(std::int64_t second, bool failed, bool slow);
    Totals Sum(std::int64_t second) const;
    void Reset();

  private:
    struct Bucket {
        std::int64_t second = -1;
        int calls = 0;
        int failed = 0;
        int slow = 0;
    };
    static constexpr std::uint8_t kFailed = 1;
    static constexpr std::uint8_t kSlow = 2;

    CircuitBreakerConfig::WindowType type_;
    std::size_t size_;
    // Count-based: a ring of outcome flags with running totals.
    std::vector<std::uint8_t> ring_;
    std::size_t next_ = 0;
    Totals ring_totals_;
    // Time-based: a ring of per-second buckets indexed by second % size.
    std::vector<Bucket> buckets_;
};

}  // namespace valerix::resilience
