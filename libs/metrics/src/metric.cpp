#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <valerix/metrics/registry.hpp>

#include "text_format.hpp"
#include "validation.hpp"

namespace valerix::metrics {

void Counter::Inc(double v) {
    if (!(v > 0.0)) return;  // also rejects NaN, which would poison the counter for good
    value_.fetch_add(v, std::memory_order_relaxed);
}

double Counter::Value() const { return value_.load(std::memory_order_relaxed); }

void Counter::AppendSamples(std::string& out, std::string_view name, std::string_view labels) const {
    text_format::AppendSampleLine(out, name, "", labels, Value());
}

void Gauge::Set(double v) { value_.store(v, std::memory_order_relaxed); }

void Gauge::Add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }

void Gauge::Sub(double v) { value_.fetch_sub(v, std::memory_order_relaxed); }

double Gauge::Value() const { return value_.load(std::memory_order_relaxed); }

void Gauge::AppendSamples(std::string& out, std::string_view name, std::string_view labels) const {
    text_format::AppendSampleLine(out, name, "", labels, Value());
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(NormalizeBucketBounds(std::move(bounds))), counts_(bounds_.size() + 1) {}

void Histogram::Observe(double v) {
    // NaN compares false with every bound, so it falls through to the +Inf bucket as in the Go client.
    const auto bucket = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
    const auto index = std::isnan(v) ? bounds_.size() : static_cast<std::size_t>(bucket);
    counts_[index].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(v, std::memory_order_relaxed);
}

std::uint64_t Histogram::Count() const {
    std::uint64_t count = 0;
    for (const auto& bucket : counts_) count += bucket.load(std::memory_order_relaxed);
    return count;
}

double Histogram::Sum() const { return sum_.load(std::memory_order_relaxed); }

void Histogram::AppendSamples(std::string& out, std::string_view name, std::string_view labels) const {
    std::string bucket_labels(labels);
    if (!bucket_labels.empty()) bucket_labels += ',';
    bucket_labels += "le=\"";
    const auto prefix_size = bucket_labels.size();

    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
        cumulative += counts_[i].load(std::memory_order_relaxed);
        bucket_labels.resize(prefix_size);
        if (i < bounds_.size()) {
            text_format::AppendValue(bucket_labels, bounds_[i]);
        } else {
            bucket_labels += "+Inf";
        }
        bucket_labels += '"';
        text_format::AppendSampleLine(out, name, "_bucket", bucket_labels, cumulative);
    }
    text_format::AppendSampleLine(out, name, "_sum", labels, Sum());
    text_format::AppendSampleLine(out, name, "_count", labels, cumulative);
}

}  // namespace valerix::metrics
