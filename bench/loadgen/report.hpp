#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "load_run.hpp"
#include "options.hpp"

namespace valerix::loadgen {

/// Latency percentiles in milliseconds (nearest rank: the smallest sample with at least q of all at or below it).
struct LatencySummary {
    std::uint64_t count = 0;
    double min_ms = 0, mean_ms = 0, p50_ms = 0, p90_ms = 0, p99_ms = 0, p999_ms = 0, max_ms = 0;
};

/// Summarizes nanosecond samples (sorted in place).
LatencySummary Summarize(std::vector<std::int64_t>& samples_ns);

/// The human-readable report: rate, statuses, errors, latency percentiles.
std::string TextReport(const LoadOptions& options, const RunResult& result);

/// The full result as JSON (see bench/loadgen/README.md for the fields).
boost::json::object JsonReport(const LoadOptions& options, const RunResult& result);

}  // namespace valerix::loadgen
