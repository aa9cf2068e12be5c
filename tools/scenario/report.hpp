#pragma once

#include <boost/json/object.hpp>
#include <string>

namespace valerix::scenario {

/// The human-readable report of a run, rendered from the same JSON object that is written with --report, so the
/// two never disagree. Lists at most 30 affected orders and 20 rows per violation unless `verbose`.
std::string RenderText(const boost::json::object& report, bool verbose);

}  // namespace valerix::scenario
