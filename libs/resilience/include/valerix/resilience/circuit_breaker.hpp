#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <valerix/core/clock.hpp>

namespace valerix::resilience {

class OutcomeWindow;

/// The values are those of the `valerix_circuit_breaker_state` gauge (DESIGN.md §7).
enum class BreakerState { kClosed = 0, kOpen = 1, kHalfOpen = 2 };

/// "closed", "open", "half_open".
std::string_view ToString(BreakerState state);

/// Limits of a CircuitBreaker, with the meaning of Resilience4j's CircuitBreakerConfig.
struct CircuitBreakerConfig {
    enum class WindowType { kCountBased, kTimeBased };
    WindowType window_type = WindowType::kCountBased;
    /// The last N calls (count-based, 1..100000) or the last N seconds (time-based, 1..3600, one bucket per second).
    int window_size = 20;
    /// No decision before this many calls are in the window. For a count-based window, at most window_size is used.
    int minimum_calls = 10;
    /// Percent of failed calls at or above which the breaker opens; (0, 100].
    double failure_rate_threshold = 50;
    /// Percent of slow calls (failed or not) at or above which the breaker opens; (0, 100].
    double slow_call_rate_threshold = 80;
    /// A call that takes longer than this is slow.
    std::chrono::milliseconds slow_call_duration{2000};
    /// How long the breaker stays open before it lets trial calls through.
    std::chrono::milliseconds wait_in_open{5000};
    /// Trial calls in half-open; their outcomes decide between closed and open again.
    int permitted_calls_in_half_open = 3;
};

/// A circuit breaker with Resilience4j semantics. Closed: outcomes go into a sliding window; once it holds at least
/// minimum_calls and the failure or slow-call rate reaches its threshold, the breaker opens. Open: every call is
/// refused until wait_in_open has passed; then the next TryAcquirePermission moves it to half-open. Half-open:
/// exactly permitted_calls_in_half_open trial calls are let through; when all of their outcomes are in, the breaker
/// opens again (the wait restarts) if a rate reaches its threshold, else it closes. The window starts empty on every
/// transition.
///
/// Every granted permission must end in exactly one OnSuccess, OnFailure or ReleasePermission. Outcomes reported
/// while open (calls permitted before the breaker opened) are ignored, as are half-open outcomes with no trial
/// outstanding, so late replies from before a transition cannot decide a trial.
///
/// Thread-safety: every method may be called concurrently (one internal mutex). Transitions happen only in
/// TryAcquirePermission and the outcome methods, never by reading. The clock must outlive the breaker.
class CircuitBreaker {
  public:
    /// Throws std::invalid_argument naming the breaker and the field for an invalid config (a start-up error).
    CircuitBreaker(std::string name, CircuitBreakerConfig config, const core::Clock& clock);
    ~CircuitBreaker();
    CircuitBreaker(const CircuitBreaker&) = delete;
    CircuitBreaker& operator=(const CircuitBreaker&) = delete;

    /// Asks to make a call. False (counted in not_permitted) when open and the wait has not elapsed, or when all
    /// half-open trial slots are taken. When open and wait_in_open has elapsed, moves to half-open and grants a trial.
    [[nodiscard]] bool TryAcquirePermission();

    /// Reports the outcome of a permitted call. A failure counts as failed, and also as slow when it took longer than
    /// slow_call_duration; a success that took longer is a slow call.
    void OnSuccess(std::chrono::nanoseconds duration);
    void OnFailure(std::chrono::nanoseconds duration);

    /// Gives back a permission without an outcome (the call was not made, e.g. cancelled before sending); in
    /// half-open this frees the trial slot.
    void ReleasePermission();

    /// The current state. Pure: an open breaker whose wait has elapsed still reads open until the next
    /// TryAcquirePermission.
    BreakerState State() const;

    struct Snapshot {
        BreakerState state = BreakerState::kClosed;
        /// Percent of the buffered calls; -1 while fewer than the minimum (minimum_calls when closed, the trial
        /// count when half-open) are buffered.
        double failure_rate = -1;
        double slow_call_rate = -1;
        /// Outcomes in the window (closed) or trial outcomes so far (half-open); 0 when open.
        int buffered_calls = 0;
        int failed_calls = 0;
        int slow_calls = 0;
        /// Refused permissions since construction.
        std::uint64_t not_permitted = 0;
        /// Until trial calls are allowed (rounded up); zero unless open.
        std::chrono::milliseconds open_remaining{0};
        /// Trial permissions still to be granted: while half-open, or open with its wait over (the next request
        /// makes it half-open); 0 otherwise. A caller leasing work for trials leases no more than this.
        int trials_left = 0;
    };
    Snapshot GetSnapshot() const;

    struct Transition {
        BreakerState from;
        BreakerState to;
        core::Clock::TimePoint at;
        /// The outcomes that decided it: the window (closed -> open) or the trials (half-open -> open or closed);
        /// zero for open -> half-open.
        int calls = 0;
        int failed_calls = 0;
        int slow_calls = 0;
    };
    using TransitionListener = std::function<void(const Transition&)>;

    /// Adds a listener called on every state change, e.g. to count and log transitions. It runs on the thread that
    /// caused the change, with no lock held (it may call back into the breaker), and must not throw. Listeners on
    /// different threads may observe concurrent transitions out of order; RecentTransitions has the true order.
    void OnTransition(TransitionListener listener);

    /// The most recent transitions, newest last (at most kMaxRecentTransitions).
    std::vector<Transition> RecentTransitions() const;
    static constexpr std::size_t kMaxRecentTransitions = 20;

    const std::string& Name() const { return name_; }
    const CircuitBreakerConfig& Config() const { return config_; }

  private:
    struct Counts {
        int calls = 0;
        int failed = 0;
        int slow = 0;
    };
    struct Pending {
        std::vector<Transition> transitions;
        std::vector<TransitionListener> listeners;
    };

    void OnOutcome(bool failed, std::chrono::nanoseconds duration);
    std::int64_t SecondAt(core::Clock::TimePoint now) const;
    std::int64_t StartedIn(core::Clock::TimePoint now, std::chrono::nanoseconds duration) const;
    bool ReachesThreshold(const Counts& counts) const;
    // requires mutex_; `decided_by` are the outcomes behind the transition
    void TransitionTo(BreakerState to, core::Clock::TimePoint now, Pending& pending, const Counts& decided_by);
    static void Notify(const Pending& pending);

    const std::string name_;
    const CircuitBreakerConfig config_;
    const core::Clock& clock_;
    const core::Clock::TimePoint origin_;
    const int minimum_calls_;

    mutable std::mutex mutex_;
    BreakerState state_ = BreakerState::kClosed;
    std::unique_ptr<OutcomeWindow> window_;  // closed-state outcomes
    core::Clock::TimePoint opened_at_{};
    Counts trials_;               // half-open outcomes
    int trials_granted_ = 0;      // half-open permissions not given back
    int trials_outstanding_ = 0;  // half-open permissions without an outcome yet
    std::uint64_t not_permitted_ = 0;
    std::deque<Transition> recent_;
    std::vector<TransitionListener> listeners_;
};

}  // namespace valerix::resilience
