#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <map>
#include <string>
#include <valerix/core/random.hpp>
#include <vector>

#include "options.hpp"

namespace valerix::loadgen {

/// One answered request.
struct Sample {
    std::int64_t latency_ns = 0;  ///< open loop: from its scheduled start; closed loop: from when it was sent
    int status = 0;
    std::int64_t start_ns = 0;  ///< that start, from the end of the warm-up
};

/// What a run measured. Only requests that started inside the measured window (after the warm-up) count.
struct RunResult {
    /// From the end of the warm-up until starting stopped (duration elapsed or --requests sent).
    std::chrono::nanoseconds window{0};
    /// From the end of the warm-up until the last measured request finished.
    std::chrono::nanoseconds completion_span{0};
    std::uint64_t sent = 0;
    std::uint64_t responses = 0;  ///< any HTTP status
    std::uint64_t errors = 0;     ///< no HTTP answer (connect, timeout, connection lost, protocol, pool exhausted)
    std::map<int, std::uint64_t> statuses;
    std::map<std::string, std::uint64_t> error_kinds;
    std::vector<std::string> error_samples;  ///< the first few error messages
    std::vector<Sample> samples;
    /// Open loop: how late each request actually started after its scheduled time (the generator's own lag).
    std::vector<std::int64_t> start_lag_ns;
    std::size_t max_in_flight = 0;
    std::size_t connections_opened_max = 0;
};

/// Runs one load on an io_context of its own, driven by the calling thread, with one valerix::http::Client pool.
/// `progress` (may be null) gets a line a second. Throws std::invalid_argument when the client cannot be set up.
RunResult RunLoad(const LoadOptions& options, core::Random& random, std::ostream* progress);

}  // namespace valerix::loadgen
