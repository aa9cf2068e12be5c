#pragma once

#include <string_view>

namespace valerix::core {

/// `text` without the characters of `blanks` at either end: by default spaces, tabs and carriage returns (a line of a
/// tool's output or of an INI file); HTTP's optional whitespace is " \t".
inline std::string_view Trim(std::string_view text, std::string_view blanks = " \t\r") {
    const auto begin = text.find_first_not_of(blanks);
    if (begin == std::string_view::npos) return {};
    return text.substr(begin, text.find_last_not_of(blanks) - begin + 1);
}

}  // namespace valerix::core
