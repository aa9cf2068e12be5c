#pragma once

#include <boost/json/object.hpp>
#include <string>

namespace valerix::scenario {

/// The human-readable report of a run, rendered from the same JSON object that is written with --report, so the
/// two never disagree. Lists at most 30 affected orders and 20 rows per violation unless `verbose`.
std::string RenderText(const boost::json::object& report, bool verbose);

/// Serializes like boost::json::serialize but writes doubles the way people read them ("14.1", not "1.41E1").
std::string ToJsonText(const boost::json::value& value);

}  // namespace valerix::scenario
