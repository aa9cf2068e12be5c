#include "validation.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace valerix::metrics {
namespace {

bool IsAsciiLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

bool IsValidMetricName(std::string_view name) {
    if (name.empty() || IsAsciiDigit(name.front())) return false;
    for (const char c : name) {
        if (!IsAsciiLetter(c) && !IsAsciiDigit(c) && c != '_' && c != ':') return false;
    }
    return true;
}

bool IsValidLabelName(std::string_view name) {
    if (name.empty() || IsAsciiDigit(name.front())) return false;
    for (const char c : name) {
        if (!IsAsciiLetter(c) && !IsAsciiDigit(c) && c != '_') return false;
    }
    return true;
}

std::vector<double> NormalizeBucketBounds(std::vector<double> bounds) {
    if (!bounds.empty() && std::isinf(bounds.back()) && bounds.back() > 0) bounds.pop_back();
    for (std::size_t i = 0; i < bounds.size(); ++i) {
        if (std::isnan(bounds[i])) throw std::invalid_argument("histogram bucket bound is NaN");
        if (i > 0 && !(bounds[i - 1] < bounds[i])) {
            throw std::invalid_argument("histogram bucket bounds must be strictly increasing, but bound " +
                                        std::to_string(i) + " does not exceed the one before it");
        }
    }
    return bounds;
}

}  // namespace valerix::metrics
