#pragma once

#include <string>

#include <boost/json/object.hpp>
#include <boost/system/result.hpp>

namespace valerix::core {

/// A request field that is well-formed JSON but not acceptable: answered with 422 naming `field`.
struct FieldError {
    std::string field;
    std::string detail;
};

template <class T>
using Validated = boost::system::result<T, FieldError>;

[[noreturn]] void throw_exception_from_error(const FieldError& error, const boost::source_location& location);

/// An integer member in [min, max]. Numbers with a fraction, booleans, strings and out-of-range values are refused
/// with a message naming `field`.
Validated<long long> IntegerField(const boost::json::object& object, const char* key, const std::string& field,
                                  long long min, long long max);

/// A string member of min..max characters (Unicode code points of its UTF-8 text).
Validated<std::string> StringField(const boost::json::object& object, const char* key, const std::string& field,
                                   std::size_t min, std::size_t max);

/// 1..max_length printable ASCII characters without spaces (SKUs).
bool IsPrintableToken(std::string_view text, std::size_t max_length);

}  // namespace valerix::core
