#include "text_format.hpp"

#include <charconv>
#include <cmath>
#include <system_error>

namespace valerix::metrics::text_format {
namespace {

// Up to 2^53 every integer is a double, so integer form is exact; beyond it digits would claim precision a double
// lacks, so those values take the shortest form ("1e+20").
constexpr double kMaxExactInteger = 9007199254740992.0;

template <class T, class... Format>
void AppendChars(std::string& out, T v, Format... format) {
    char buf[64];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v, format...);
    // 64 bytes hold any shortest double or 64-bit integer, so to_chars cannot run out of room.
    out.append(buf, ec == std::errc{} ? end : buf);
}

void AppendSampleName(std::string& out, std::string_view name, std::string_view suffix, std::string_view labels) {
    out += name;
    out += suffix;
    if (!labels.empty()) {
        out += '{';
        out += labels;
        out += '}';
    }
    out += ' ';
}

}  // namespace

void AppendValue(std::string& out, double v) {
    if (std::isnan(v)) {
        out += "NaN";
    } else if (std::isinf(v)) {
        out += v > 0 ? "+Inf" : "-Inf";
    } else if (std::trunc(v) == v && std::fabs(v) <= kMaxExactInteger) {
        AppendChars(out, static_cast<std::int64_t>(v));
    } else {
        // Shortest round-trip in %g style: as precise as %.17g without its noise ("0.1", not "0.10000000000000001").
        AppendChars(out, v, std::chars_format::general);
    }
}

void AppendValue(std::string& out, std::uint64_t v) { AppendChars(out, v); }

void AppendEscapedHelp(std::string& out, std::string_view help) {
    for (const char c : help) {
        switch (c) {
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            default:
                out += c;
        }
    }
}

void AppendLabelPairs(std::string& out, const std::vector<std::string>& names, const std::vector<std::string>& values) {
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i > 0) out += ',';
        out += names[i];
        out += "=\"";
        for (const char c : values[i]) {
            switch (c) {
                case '\\':
                    out += "\\\\";
                    break;
                case '"':
                    out += "\\\"";
                    break;
                case '\n':
                    out += "\\n";
                    break;
                default:
                    out += c;
            }
        }
        out += '"';
    }
}

void AppendSampleLine(std::string& out, std::string_view name, std::string_view suffix, std::string_view labels,
                      double value) {
    AppendSampleName(out, name, suffix, labels);
    AppendValue(out, value);
    out += '\n';
}

void AppendSampleLine(std::string& out, std::string_view name, std::string_view suffix, std::string_view labels,
                      std::uint64_t value) {
    AppendSampleName(out, name, suffix, labels);
    AppendValue(out, value);
    out += '\n';
}

void AppendHeader(std::string& out, std::string_view name, std::string_view help, std::string_view type) {
    if (!help.empty()) {
        out += "# HELP ";
        out += name;
        out += ' ';
        AppendEscapedHelp(out, help);
        out += '\n';
    }
    out += "# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
}

}  // namespace valerix::metrics::text_format
