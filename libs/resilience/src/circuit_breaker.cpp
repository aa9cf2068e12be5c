#include <valerix/resilience/circuit_breaker.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

#include "outcome_window.hpp"

namespace valerix::resilience {
namespace {

constexpr int kMaxCountWindow = 100000;
constexpr int kMaxTimeWindowSeconds = 3600;

void Require(bool ok, const std::string& name, const std::string& what) {
    if (!ok) throw std::invalid_argument("circuit breaker '" + name + "': " + what);
}

const CircuitBreakerConfig& Validated(const std::string& name, const CircuitBreakerConfig& config) {
    const bool count_based = config.window_type == CircuitBreakerConfig::WindowType::kCountBased;
    Require(config.window_size >= 1 && config.window_size <= (count_based ? kMaxCountWindow : kMaxTimeWindowSeconds),
            name, count_based ? "window_size must be 1..100000 calls" : "window_size must be 1..3600 seconds");
    Require(config.minimum_calls >= 1, name, "minimum_calls must be >= 1");
    Require(std::isfinite(config.failure_rate_threshold) && config.failure_rate_threshold > 0 &&
                config.failure_rate_threshold <= 100,
            name, "failure_rate_threshold must be in (0, 100] percent");
    Require(std::isfinite(config.slow_call_rate_threshold) && config.slow_call_rate_threshold > 0 &&
                config.slow_call_rate_threshold <= 100,
            name, "slow_call_rate_threshold must be in (0, 100] percent");
    Require(config.slow_call_duration.count() >= 0, name, "slow_call_duration must be >= 0");
    Require(config.wait_in_open.count() >= 0, name, "wait_in_open must be >= 0");
    Require(config.permitted_calls_in_half_open >= 1, name, "permitted_calls_in_half_open must be >= 1");
    return config;
}

double Percent(int part, int whole) { return 100.0 * static_cast<double>(part) / static_cast<double>(whole); }

}  // namespace

std::string_view ToString(BreakerState state) {
    switch (state) {
        case BreakerState::kClosed:
            return "closed";
        case BreakerState::kOpen:
            return "open";
        case BreakerState::kHalfOpen:
            return "half_open";
    }
    return "unknown";
}

CircuitBreaker::CircuitBreaker(std::string name, CircuitBreakerConfig config, const core::Clock& clock)
    : name_(std::move(name)),
      config_(Validated(name_, config)),
      clock_(clock),
      origin_(clock.Now()),
      // As in Resilience4j, a count-based window never holds more than window_size calls.
      minimum_calls_(config_.window_type == CircuitBreakerConfig::WindowType::kCountBased
                         ? std::min(config_.minimum_calls, config_.window_size)
                         : config_.minimum_calls),
      window_(std::make_unique<OutcomeWindow>(config_.window_type, config_.window_size)) {}

CircuitBreaker::~CircuitBreaker() = default;

std::int64_t CircuitBreaker::SecondAt(core::Clock::TimePoint now) const {
    return std::max<std::int64_t>(0, std::chrono::floor<std::chrono::seconds>(now - origin_).count());
}

std::int64_t CircuitBreaker::StartedIn(core::Clock::TimePoint now, std::chrono::nanoseconds duration) const {
    // A time-based window files each outcome under the second its call started, so a call that timed out after
    // 2 s counts with the calls sent alongside it, not with those sent 2 s later; the successes and failures of one
    // moment then leave the window together. A call older than the window counts in its oldest second.
    const auto ended = SecondAt(now);
    if (config_.window_type != CircuitBreakerConfig::WindowType::kTimeBased) return ended;
    return std::max(SecondAt(now - std::chrono::duration_cast<core::Clock::TimePoint::duration>(duration)),
                    ended - config_.window_size + 1);
}

bool CircuitBreaker::ReachesThreshold(const Counts& counts) const {
    return counts.calls > 0 && (Percent(counts.failed, counts.calls) >= config_.failure_rate_threshold ||
                                Percent(counts.slow, counts.calls) >= config_.slow_call_rate_threshold);
}

void CircuitBreaker::TransitionTo(BreakerState to, core::Clock::TimePoint now, Pending& pending,
                                  const Counts& decided_by) {
    const Transition transition{state_, to, now, decided_by.calls, decided_by.failed, decided_by.slow};
    state_ = to;
    window_->Reset();
    trials_ = Counts{};
    trials_granted_ = 0;
    trials_outstanding_ = 0;
    if (to == BreakerState::kOpen) opened_at_ = now;
    recent_.push_back(transition);
    if (recent_.size() > kMaxRecentTransitions) recent_.pop_front();
    pending.transitions.push_back(transition);
    if (pending.listeners.empty()) pending.listeners = listeners_;
}

void CircuitBreaker::Notify(const Pending& pending) {
    for (const auto& transition : pending.transitions) {
        for (const auto& listener : pending.listeners) listener(transition);
    }
}

bool CircuitBreaker::TryAcquirePermission() {
    Pending pending;
    bool permitted = false;
    {
        std::lock_guard lock(mutex_);
        const auto now = clock_.Now();
        if (state_ == BreakerState::kOpen && now - opened_at_ >= config_.wait_in_open) {
            TransitionTo(BreakerState::kHalfOpen, now, pending, Counts{});
        }
        switch (state_) {
            case BreakerState::kClosed:
                permitted = true;
                break;
            case BreakerState::kOpen:
                break;
            case BreakerState::kHalfOpen:
                if (trials_granted_ < config_.permitted_calls_in_half_open) {
                    ++trials_granted_;
                    ++trials_outstanding_;
                    permitted = true;
                }
                break;
        }
        if (!permitted) ++not_permitted_;
    }
    Notify(pending);
    return permitted;
}

void CircuitBreaker::OnSuccess(std::chrono::nanoseconds duration) { OnOutcome(false, duration); }

void CircuitBreaker::OnFailure(std::chrono::nanoseconds duration) { OnOutcome(true, duration); }

void CircuitBreaker::OnOutcome(bool failed, std::chrono::nanoseconds duration) {
    const bool slow = duration > config_.slow_call_duration;
    Pending pending;
    {
        std::lock_guard lock(mutex_);
        const auto now = clock_.Now();
        switch (state_) {
            case BreakerState::kClosed: {
                const auto second = SecondAt(now);
                window_->Record(StartedIn(now, duration), failed, slow);
                const auto sum = window_->Sum(second);
                const Counts counts{sum.calls, sum.failed, sum.slow};
                // Only a call that went badly can open the breaker: a call that went well is no evidence against the
                // dependency, whatever the window reads (a count window still files timeouts as they expire, seconds
                // after the calls sent with them).
                if ((failed || slow) && counts.calls >= minimum_calls_ && ReachesThreshold(counts)) {
                    TransitionTo(BreakerState::kOpen, now, pending, counts);
                }
                break;
            }
            case BreakerState::kOpen:
                // A call permitted before the breaker opened; the window it belonged to is gone.
                break;
            case BreakerState::kHalfOpen:
                if (trials_outstanding_ == 0) break;  // a late reply from before the trials began
                --trials_outstanding_;
                trials_.calls += 1;
                trials_.failed += failed ? 1 : 0;
                trials_.slow += slow ? 1 : 0;
                if (trials_.calls >= config_.permitted_calls_in_half_open) {
                    TransitionTo(ReachesThreshold(trials_) ? BreakerState::kOpen : BreakerState::kClosed, now, pending,
                                 trials_);
                }
                break;
        }
    }
    Notify(pending);
}

void CircuitBreaker::ReleasePermission() {
    std::lock_guard lock(mutex_);
    if (state_ == BreakerState::kHalfOpen && trials_outstanding_ > 0) {
        --trials_outstanding_;
        --trials_granted_;
    }
}

BreakerState CircuitBreaker::State() const {
    std::lock_guard lock(mutex_);
    return state_;
}

CircuitBreaker::Snapshot CircuitBreaker::GetSnapshot() const {
    std::lock_guard lock(mutex_);
    const auto now = clock_.Now();
    Snapshot snapshot;
    snapshot.state = state_;
    snapshot.not_permitted = not_permitted_;
    Counts counts;
    int minimum = minimum_calls_;
    if (state_ == BreakerState::kHalfOpen) {
        counts = trials_;
        minimum = config_.permitted_calls_in_half_open;
    } else {
        const auto sum = window_->Sum(SecondAt(now));
        counts = Counts{sum.calls, sum.failed, sum.slow};
    }
    snapshot.buffered_calls = counts.calls;
    snapshot.failed_calls = counts.failed;
    snapshot.slow_calls = counts.slow;
    if (counts.calls > 0 && counts.calls >= minimum) {
        snapshot.failure_rate = Percent(counts.failed, counts.calls);
        snapshot.slow_call_rate = Percent(counts.slow, counts.calls);
    }
    if (state_ == BreakerState::kOpen) {
        const auto remaining = opened_at_ + config_.wait_in_open - now;
        snapshot.open_remaining =
            std::max(std::chrono::milliseconds::zero(), std::chrono::ceil<std::chrono::milliseconds>(remaining));
        if (snapshot.open_remaining == std::chrono::milliseconds::zero()) {
            snapshot.trials_left = config_.permitted_calls_in_half_open;
        }
    } else if (state_ == BreakerState::kHalfOpen) {
        snapshot.trials_left = std::max(0, config_.permitted_calls_in_half_open - trials_granted_);
    }
    return snapshot;
}

void CircuitBreaker::OnTransition(TransitionListener listener) {
    std::lock_guard lock(mutex_);
    listeners_.push_back(std::move(listener));
}

std::vector<CircuitBreaker::Transition> CircuitBreaker::RecentTransitions() const {
    std::lock_guard lock(mutex_);
    return {recent_.begin(), recent_.end()};
}

}  // namespace valerix::resilience
