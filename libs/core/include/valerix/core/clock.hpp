#pragma once

#include <chrono>

namespace valerix::core {

/// Source of monotonic time. Injected wherever time decides behaviour, so logic can be tested with a fake clock.
/// Implementations must be thread-safe.
class Clock {
public:
    using TimePoint = std::chrono::steady_clock::time_point;
    virtual ~Clock() = default;
    virtual TimePoint Now() const = 0;
};

/// The real steady clock.
class SteadyClock final : public Clock {
public:
    TimePoint Now() const override { return std::chrono::steady_clock::now(); }
};

}  // namespace valerix::core
