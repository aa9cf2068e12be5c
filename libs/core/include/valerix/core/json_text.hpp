#pragma once

#include <string>

#include <boost/json/value.hpp>

namespace valerix::core {

/// `value` as JSON text, like boost::json::serialize, except that a double is written the way people and the HTTP
/// contract write it: the shortest text that reads back as the same double, with a fraction or exponent so that it
/// reads back as a double ("0.05", "3000.0", "1e-07"), where Boost.JSON 1.81 writes "5E-2", "3E3" and "1E-7".
/// A double that is not finite (JSON has no such number) is written as null.
std::string SerializeJson(const boost::json::value& value);
/// The same for an object, without copying it into a value first.
std::string SerializeJson(const boost::json::object& object);

}  // namespace valerix::core
