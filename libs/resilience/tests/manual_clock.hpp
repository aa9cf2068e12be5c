#pragma once

#include <atomic>
#include <chrono>

#include <valerix/core/clock.hpp>

namespace valerix::resilience::testing {

/// A clock that moves only when told to. Thread-safe, as core::Clock requires.
class ManualClock final : public core::Clock {
  public:
    TimePoint Now() const override { return TimePoint(std::chrono::nanoseconds(now_ns_.load())); }
    void Advance(std::chrono::nanoseconds d) { now_ns_ += d.count(); }

  private:
    // Far from the epoch, so nothing depends on the clock starting at zero.
    std::atomic<std::chrono::nanoseconds::rep> now_ns_{std::chrono::nanoseconds(std::chrono::hours(1000)).count()};
};

}  // namespace valerix::resilience::testing
