#pragma once

#include <algorithm>
#include <chrono>

#include <valerix/core/clock.hpp>

namespace valerix::core {

/// A point on the steady clock by which an operation must be finished. A value type: copy it down the call chain
/// and ask it how much budget is left; never compute timeouts from wall-clock time.
class Deadline {
public:
    using Duration = std::chrono::nanoseconds;

    /// A deadline that never expires.
    static Deadline Infinite() { return Deadline(Clock::TimePoint::max()); }
    static Deadline At(Clock::TimePoint when) { return Deadline(when); }
    static Deadline After(const Clock& clock, Duration budget) { return Deadline(clock.Now() + budget); }

    bool IsInfinite() const { return when_ == Clock::TimePoint::max(); }
    Clock::TimePoint When() const { return when_; }

    /// Time left, never negative; Duration::max() for an infinite deadline.
    Duration Remaining(const Clock& clock) const {
        if (IsInfinite()) return Duration::max();
        return std::max(Duration::zero(), Duration(when_ - clock.Now()));
    }
    bool Expired(const Clock& clock) const { return !IsInfinite() && clock.Now() >= when_; }

    /// The earlier of this deadline and `now + limit`: a per-try timeout that never outlives the whole budget.
    Deadline Capped(const Clock& clock, Duration limit) const {
        auto capped = clock.Now() + limit;
        return capped < when_ ? Deadline(capped) : *this;
    }

    /// The earlier of the two.
    Deadline Earlier(Deadline other) const { return other.when_ < when_ ? other : *this; }

    /// The later of the two: the time limit of work done for several callers at once (a batch). Not the earliest:
    /// one caller with a few milliseconds left would time the work out for all of them. A caller whose deadline
    /// passes meanwhile is answered when the work ends, after it stopped waiting; the others in time.
    Deadline Later(Deadline other) const { return when_ < other.when_ ? other : *this; }

    friend bool operator==(const Deadline&, const Deadline&) = default;

private:
    explicit Deadline(Clock::TimePoint when) : when_(when) {}
    Clock::TimePoint when_;
};

/// Remaining milliseconds, rounded down, clamped to [0, max_ms]: what goes into a propagated deadline header or a
/// statement_timeout.
inline long long RemainingMillis(const Deadline& deadline, const Clock& clock, long long max_ms) {
    if (deadline.IsInfinite()) return max_ms;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline.Remaining(clock)).count();
    return std::min<long long>(ms, max_ms);
}

}  // namespace valerix::core
