#include <valerix/metrics/rolling_latency.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

namespace valerix::metrics {

RollingLatency::RollingLatency(const core::Clock& clock, std::chrono::seconds horizon, std::size_t max_samples)
    : clock_(clock), horizon_(horizon), max_samples_(max_samples) {}

void RollingLatency::Prune(core::Clock::TimePoint now) const {
    while (!samples_.empty() && (now - samples_.front().first > horizon_ || samples_.size() > max_samples_)) {
        samples_.pop_front();
    }
}

void RollingLatency::Record(std::chrono::nanoseconds latency) {
    auto now = clock_.Now();
    std::lock_guard lock(mutex_);
    samples_.emplace_back(now, std::chrono::duration<double, std::milli>(latency).count());
    Prune(now);
}

RollingLatency::Summary RollingLatency::Over(std::chrono::seconds window) const {
    auto now = clock_.Now();
    std::vector<double> values;
    {
        std::lock_guard lock(mutex_);
        Prune(now);
        for (auto it = samples_.rbegin(); it != samples_.rend() && now - it->first <= window; ++it) {
            values.push_back(it->second);
        }
    }
    Summary summary;
    if (values.empty()) return summary;
    std::sort(values.begin(), values.end());
    auto rank = [&](double q) {
        auto index = static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size()))) - 1;
        return values[std::min(index, values.size() - 1)];
    };
    double sum = 0;
    for (double value : values) sum += value;
    summary.count = values.size();
    summary.average_ms = sum / static_cast<double>(values.size());
    summary.p50_ms = rank(0.50);
    summary.p95_ms = rank(0.95);
    summary.p99_ms = rank(0.99);
    summary.max_ms = values.back();
    return summary;
}

}  // namespace valerix::metrics
