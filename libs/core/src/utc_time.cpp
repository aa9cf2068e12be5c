#include "valerix/core/utc_time.hpp"

#include <ctime>

namespace valerix::core {

std::string FormatUtc(std::int64_t unix_seconds, const char* format) {
    std::time_t seconds = static_cast<std::time_t>(unix_seconds);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char buffer[64];
    std::size_t n = std::strftime(buffer, sizeof buffer, format, &utc);
    return std::string(buffer, n);
}

}  // namespace valerix::core
