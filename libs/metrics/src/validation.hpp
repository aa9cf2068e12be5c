#pragma once

#include <string_view>
#include <vector>

// Checks applied at registration, so mistakes surface at start-up rather than in a scrape.
namespace valerix::metrics {

/// Whether name matches the Prometheus metric name syntax [a-zA-Z_:][a-zA-Z0-9_:]*.
bool IsValidMetricName(std::string_view name);

/// Whether name matches the Prometheus label name syntax [a-zA-Z_][a-zA-Z0-9_]*.
bool IsValidLabelName(std::string_view name);

/// Returns bounds without a trailing +Inf (the +Inf bucket is always implied). Throws std::invalid_argument if bounds
/// contain NaN or are not strictly increasing.
std::vector<double> NormalizeBucketBounds(std::vector<double> bounds);

}  // namespace valerix::metrics
