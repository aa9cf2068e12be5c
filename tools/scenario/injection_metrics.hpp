#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace valerix::scenario {

/// Sums inventory's `valerix_chaos_injections_total{kind,action}` over a run, from /metrics scrapes.
///
/// A restarted process starts its counters at 0, so each incarnation's last value is kept; a drop within one
/// reported incarnation is a restart the stack did not report (an external stack's supervisor restarted it), and
/// what the previous process had counted is carried. What the process had counted before the run (an external
/// stack's inventory that served earlier runs) is the baseline, subtracted from the totals. A restart between two
/// scrapes after which the new process counted past the old value is not seen: scrape often.
class InjectionMetrics {
public:
    /// The counters as they stand before the run; call once, before any injection of the run.
    void SetBaseline(const std::string& metrics_text);
    void Observe(int incarnation, const std::string& metrics_text);
    /// Injections of the run, by "kind/action" ("latency/delay", "crash/exit", ...).
    std::map<std::string, long long> Totals() const;

private:
    mutable std::mutex mutex_;
    std::map<std::string, double> baseline_;
    std::optional<int> first_incarnation_;
    std::map<int, std::map<std::string, double>> last_;
    std::map<std::string, double> carried_;
};

}  // namespace valerix::scenario
