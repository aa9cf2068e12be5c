#include <stdexcept>
#include <type_traits>
#include <utility>
#include <valerix/metrics/registry.hpp>
#include <variant>

#include "text_format.hpp"
#include "validation.hpp"

namespace valerix::metrics {
namespace {

struct CallbackGauge {
    std::string name;
    std::string help;
    std::function<double()> fn;
};

template <class Metric>
constexpr std::string_view kTypeName = "";
template <>
constexpr std::string_view kTypeName<Counter> = "counter";
template <>
constexpr std::string_view kTypeName<Gauge> = "gauge";
template <>
constexpr std::string_view kTypeName<Histogram> = "histogram";

void ValidateMetricName(const std::string& name) {
    if (!IsValidMetricName(name)) {
        throw std::invalid_argument("invalid metric name '" + name + "': must match [a-zA-Z_:][a-zA-Z0-9_:]*");
    }
}

void ValidateLabelNames(const std::string& metric, const std::vector<std::string>& label_names) {
    for (std::size_t i = 0; i < label_names.size(); ++i) {
        const std::string& label = label_names[i];
        if (!IsValidLabelName(label)) {
            throw std::invalid_argument("metric '" + metric + "': invalid label name '" + label +
                                        "': must match [a-zA-Z_][a-zA-Z0-9_]*");
        }
        if (label.starts_with("__")) {
            throw std::invalid_argument("metric '" + metric + "': label name '" + label +
                                        "' is reserved (names starting with __ belong to Prometheus)");
        }
        for (std::size_t j = 0; j < i; ++j) {
            if (label_names[j] == label) {
                throw std::invalid_argument("metric '" + metric + "': label name '" + label + "' is repeated");
            }
        }
    }
}

std::string JoinNames(const std::vector<std::string>& names) {
    std::string joined;
    for (const auto& name : names) {
        if (!joined.empty()) joined += ", ";
        joined += name;
    }
    return joined;
}

}  // namespace

template <class Metric>
Family<Metric>::Family(std::string name, std::string help, std::vector<std::string> label_names,
                       ChildFactory make_child)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      make_child_(std::move(make_child)) {}

template <class Metric>
Metric& Family<Metric>::WithLabels(const LabelValues& values) {
    if (values.size() != label_names_.size()) {
        throw std::invalid_argument("metric '" + name_ + "' takes " + std::to_string(label_names_.size()) +
                                    " label values (" + JoinNames(label_names_) + "), got " +
                                    std::to_string(values.size()));
    }
    {
        std::shared_lock lock(mutex_);
        if (const auto it = children_.find(values); it != children_.end()) return *it->second;
    }
    std::unique_lock lock(mutex_);
    if (const auto it = children_.find(values); it != children_.end()) return *it->second;  // another thread won
    return *children_.emplace(values, make_child_()).first->second;
}

template <class Metric>
void Family<Metric>::AppendTo(std::string& out) const {
    text_format::AppendHeader(out, name_, help_, kTypeName<Metric>);
    std::string labels;
    std::shared_lock lock(mutex_);
    for (const auto& [values, child] : children_) {
        labels.clear();
        text_format::AppendLabelPairs(labels, label_names_, values);
        child->AppendSamples(out, name_, labels);
    }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

struct Registry::Entry {
    std::variant<std::unique_ptr<Family<Counter>>, std::unique_ptr<Family<Gauge>>, std::unique_ptr<Family<Histogram>>,
                 CallbackGauge>
        metric;
};

Registry::Registry() = default;

Registry::~Registry() = default;

template <class Metric>
Family<Metric>& Registry::AddFamily(std::string name, std::string help, std::vector<std::string> label_names,
                                    std::vector<std::string> sample_names,
                                    typename Family<Metric>::ChildFactory make_child) {
    ValidateMetricName(name);
    ValidateLabelNames(name, label_names);
    const bool unlabelled = label_names.empty();
    std::unique_ptr<Family<Metric>> family(
        new Family<Metric>(std::move(name), std::move(help), std::move(label_names), std::move(make_child)));
    if (unlabelled) family->WithLabels({});
    auto& result = *family;
    Insert(std::make_unique<Entry>(Entry{std::move(family)}), sample_names);
    return result;
}

Family<Counter>& Registry::AddCounter(std::string name, std::string help, std::vector<std::string> label_names) {
    std::vector<std::string> sample_names{name};
    return AddFamily<Counter>(std::move(name), std::move(help), std::move(label_names), std::move(sample_names),
                              [] { return std::make_unique<Counter>(); });
}

Family<Gauge>& Registry::AddGauge(std::string name, std::string help, std::vector<std::string> label_names) {
    std::vector<std::string> sample_names{name};
    return AddFamily<Gauge>(std::move(name), std::move(help), std::move(label_names), std::move(sample_names),
                            [] { return std::make_unique<Gauge>(); });
}

Family<Histogram>& Registry::AddHistogram(std::string name, std::string help, std::vector<std::string> label_names,
                                          std::vector<double> buckets) {
    for (const auto& label : label_names) {
        if (label == "le") {
            throw std::invalid_argument("histogram '" + name + "': label name 'le' is reserved for bucket bounds");
        }
    }
    std::vector<std::string> sample_names{name, name + "_bucket", name + "_sum", name + "_count"};
    return AddFamily<Histogram>(
        std::move(name), std::move(help), std::move(label_names), std::move(sample_names),
        [bounds = NormalizeBucketBounds(std::move(buckets))] { return std::make_unique<Histogram>(bounds); });
}

void Registry::AddCallbackGauge(std::string name, std::string help, std::function<double()> fn) {
    ValidateMetricName(name);
    if (!fn) throw std::invalid_argument("callback gauge '" + name + "': callback is empty");
    std::vector<std::string> sample_names{name};
    Insert(std::make_unique<Entry>(Entry{CallbackGauge{std::move(name), std::move(help), std::move(fn)}}),
           sample_names);
}

void Registry::Insert(std::unique_ptr<Entry> entry, const std::vector<std::string>& sample_names) {
    std::lock_guard lock(mutex_);
    for (const auto& name : sample_names) {
        if (taken_names_.contains(name)) {
            throw std::invalid_argument("metric '" + sample_names.front() + "': name '" + name +
                                        "' is already registered");
        }
    }
    entries_.reserve(entries_.size() + 1);
    taken_names_.insert(sample_names.begin(), sample_names.end());
    entries_.push_back(std::move(entry));
}

std::string Registry::Expose() const {
    // Entries are never removed and never move, so a snapshot of pointers lets callbacks run without the lock.
    std::vector<const Entry*> entries;
    {
        std::lock_guard lock(mutex_);
        entries.reserve(entries_.size());
        for (const auto& entry : entries_) entries.push_back(entry.get());
    }
    std::string out;
    for (const Entry* entry : entries) {
        std::visit(
            [&out](const auto& metric) {
                if constexpr (std::is_same_v<std::decay_t<decltype(metric)>, CallbackGauge>) {
                    text_format::AppendHeader(out, metric.name, metric.help, "gauge");
                    text_format::AppendSampleLine(out, metric.name, "", "", metric.fn());
                } else {
                    metric->AppendTo(out);
                }
            },
            entry->metric);
    }
    return out;
}

std::vector<double> DefaultLatencyBuckets() {
    return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

}  // namespace valerix::metrics
