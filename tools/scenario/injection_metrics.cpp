#include "injection_metrics.hpp"

#include <cstdlib>
#include <sstream>

namespace valerix::scenario {
namespace {

std::string Label(const std::string& labels, const std::string& name) {
    auto at = labels.find(name + "=\"");
    if (at == std::string::npos) return "";
    at += name.size() + 2;
    return labels.substr(at, labels.find('"', at) - at);
}

/// Calls f("kind/action", value) for each sample of the injection counter in a Prometheus text exposition.
template <class F>
void ForEachInjectionSample(const std::string& metrics_text, F&& f) {
    static const std::string kPrefix = "valerix_chaos_injections_total{";
    std::istringstream lines(metrics_text);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.rfind(kPrefix, 0) != 0) continue;
        auto close = line.find('}');
        if (close == std::string::npos) continue;
        std::string labels = line.substr(kPrefix.size(), close - kPrefix.size());
        f(Label(labels, "kind") + "/" + Label(labels, "action"), std::atof(line.c_str() + close + 1));
    }
}

}  // namespace

void InjectionMetrics::SetBaseline(const std::string& metrics_text) {
    std::lock_guard lock(mutex_);
    ForEachInjectionSample(metrics_text, [this](const std::string& label, double value) { baseline_[label] = value; });
}

void InjectionMetrics::Observe(int incarnation, const std::string& metrics_text) {
    std::lock_guard lock(mutex_);
    if (!first_incarnation_) first_incarnation_ = incarnation;
    // The process of the baseline counts on from it, so that a drop below it is seen as the restart it is.
    const bool baseline_process = incarnation == *first_incarnation_;
    ForEachInjectionSample(metrics_text, [&](const std::string& label, double value) {
        auto base = baseline_.find(label);
        auto last = last_[incarnation]
                        .try_emplace(label, baseline_process && base != baseline_.end() ? base->second : 0.0)
                        .first;
        if (value < last->second) carried_[label] += last->second;
        last->second = value;
    });
}

std::map<std::string, long long> InjectionMetrics::Totals() const {
    std::lock_guard lock(mutex_);
    std::map<std::string, double> sums;
    for (const auto& [incarnation, values] : last_) {
        for (const auto& [label, value] : values) sums[label] += value;
    }
    for (const auto& [label, value] : carried_) sums[label] += value;
    std::map<std::string, long long> totals;
    for (const auto& [label, value] : sums) {
        auto base = baseline_.find(label);
        double run = value - (base == baseline_.end() ? 0.0 : base->second);
        if (run > 0) totals[label] = static_cast<long long>(run);
    }
    return totals;
}

}  // namespace valerix::scenario
