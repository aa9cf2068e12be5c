#pragma once

#include <cstdint>
#include <string>

namespace valerix::core {

inline constexpr const char* kRfc3339Seconds = "%Y-%m-%dT%H:%M:%SZ";

/// Unix seconds as UTC text with a strftime format; by default RFC 3339 to the second ("2026-11-25T17:36:02Z").
std::string FormatUtc(std::int64_t unix_seconds, const char* format = kRfc3339Seconds);

}  // namespace valerix::core
