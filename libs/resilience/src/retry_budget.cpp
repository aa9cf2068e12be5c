#include <valerix/resilience/retry_budget.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace valerix::resilience {
namespace {

constexpr std::chrono::seconds kMaxWindow{3600};

const RetryBudgetConfig& Validated(const RetryBudgetConfig& config) {
    if (!std::isfinite(config.ratio) || config.ratio < 0) {
        throw std::invalid_argument("retry budget: ratio must be a finite number >= 0, got " +
                                    std::to_string(config.ratio));
    }
    if (config.min_retries_per_second < 0) {
        throw std::invalid_argument("retry budget: min_retries_per_second must be >= 0, got " +
                                    std::to_string(config.min_retries_per_second));
    }
    if (config.window < std::chrono::seconds(1) || config.window > kMaxWindow) {
        throw std::invalid_argument("retry budget: window must be 1..3600 s, got " +
                                    std::to_string(config.window.count()) + " s");
    }
    return config;
}

}  // namespace

RetryBudget::RetryBudget(RetryBudgetConfig config, const core::Clock& clock)
    : config_(Validated(config)),
      clock_(clock),
      origin_(clock.Now()),
      min_retries_in_window_(static_cast<std::uint64_t>(config.min_retries_per_second) *
                             static_cast<std::uint64_t>(config.window.count())),
      buckets_(static_cast<std::size_t>(config.window.count())) {}

std::int64_t RetryBudget::CurrentSecond() const {
    return std::max<std::int64_t>(0, std::chrono::floor<std::chrono::seconds>(clock_.Now() - origin_).count());
}

RetryBudget::Bucket& RetryBudget::BucketAt(std::int64_t second) {
    auto& bucket = buckets_[static_cast<std::size_t>(second % static_cast<std::int64_t>(buckets_.size()))];
    if (bucket.second != second) bucket = Bucket{second, 0, 0};
    return bucket;
}

void RetryBudget::RecordRequest() {
    std::lock_guard lock(mutex_);
    // Read under the lock so that buckets only ever move forward in time.
    const auto now = CurrentSecond();
    ++BucketAt(now).requests;
    ++totals_.requests;
}

bool RetryBudget::TryAcquireRetry() {
    std::lock_guard lock(mutex_);
    const auto now = CurrentSecond();
    const auto oldest = now - static_cast<std::int64_t>(buckets_.size());
    std::uint64_t requests = 0;
    std::uint64_t retries = 0;
    for (const auto& bucket : buckets_) {
        if (bucket.second > oldest && bucket.second <= now) {
            requests += bucket.requests;
            retries += bucket.retries;
        }
    }
    // The epsilon keeps 0.29 * 100 (28.999999999999996 in binary floating point) from losing a retry.
    const auto earned = static_cast<std::uint64_t>(std::floor(config_.ratio * static_cast<double>(requests) + 1e-9));
    if (retries >= std::max(min_retries_in_window_, earned)) {
        ++totals_.refused;
        return false;
    }
    ++BucketAt(now).retries;
    ++totals_.retries;
    return true;
}

RetryBudget::Stats RetryBudget::Totals() const {
    std::lock_guard lock(mutex_);
    return totals_;
}

}  // namespace valerix::resilience
