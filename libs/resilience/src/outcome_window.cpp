#include "outcome_window.hpp"

namespace valerix::resilience {

OutcomeWindow::OutcomeWindow(CircuitBreakerConfig::WindowType type, int size)
    : type_(type), size_(static_cast<std::size_t>(size)) {
    if (type_ == CircuitBreakerConfig::WindowType::kCountBased) {
        ring_.reserve(size_);
    } else {
        buckets_.resize(size_);
    }
}

void OutcomeWindow::Record(std::int64_t second, bool failed, bool slow) {
    const auto flags = static_cast<std::uint8_t>((failed ? kFailed : 0) | (slow ? kSlow : 0));
    if (type_ == CircuitBreakerConfig::WindowType::kCountBased) {
        if (ring_.size() < size_) {
            ring_.push_back(flags);
        } else {
            const auto evicted = ring_[next_];
            ring_totals_.calls -= 1;
            ring_totals_.failed -= (evicted & kFailed) ? 1 : 0;
            ring_totals_.slow -= (evicted & kSlow) ? 1 : 0;
            ring_[next_] = flags;
            next_ = (next_ + 1) % size_;
        }
        ring_totals_.calls += 1;
        ring_totals_.failed += failed ? 1 : 0;
        ring_totals_.slow += slow ? 1 : 0;
        return;
    }
    auto& bucket = buckets_[static_cast<std::size_t>(second) % size_];
    if (bucket.second != second) bucket = Bucket{second, 0, 0, 0};
    bucket.calls += 1;
    bucket.failed += failed ? 1 : 0;
    bucket.slow += slow ? 1 : 0;
}

OutcomeWindow::Totals OutcomeWindow::Sum(std::int64_t second) const {
    if (type_ == CircuitBreakerConfig::WindowType::kCountBased) return ring_totals_;
    Totals totals;
    const auto oldest = second - static_cast<std::int64_t>(size_);
    for (const auto& bucket : buckets_) {
        if (bucket.second > oldest && bucket.second <= second) {
            totals.calls += bucket.calls;
            totals.failed += bucket.failed;
            totals.slow += bucket.slow;
        }
    }
    return totals;
}

void OutcomeWindow::Reset() {
    ring_.clear();
    next_ = 0;
    ring_totals_ = Totals{};
    for (auto& bucket : buckets_) bucket = Bucket{};
}

}  // namespace valerix::resilience
