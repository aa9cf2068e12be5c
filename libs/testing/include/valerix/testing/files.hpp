#pragma once

#include <string>

namespace valerix::testing {

/// Returns the whole content of the file at `path`.
/// Throws std::runtime_error naming the path when it cannot be opened or read.
std::string ReadFile(const std::string& path);

}  // namespace valerix::testing
