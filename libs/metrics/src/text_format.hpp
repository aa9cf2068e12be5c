#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

// Pieces of the Prometheus text exposition format 0.0.4 shared by the metric types and the registry.
namespace valerix::metrics::text_format {

/// Appends v as a sample value: integers exactly representable in a double without exponent or decimals ("3"),
/// others in the shortest form that reads back to the same double ("0.25", "1e-05"), and "+Inf", "-Inf", "NaN".
void AppendValue(std::string& out, double v);
void AppendValue(std::string& out, std::uint64_t v);

/// Appends HELP text with backslash and newline escaped.
void AppendEscapedHelp(std::string& out, std::string_view help);

/// Appends `n1="v1",n2="v2"` (no braces), escaping backslash, double quote and newline in the values.
/// values must have as many elements as names.
void AppendLabelPairs(std::string& out, const std::vector<std::string>& names, const std::vector<std::string>& values);

/// Appends one sample line: `name` + `suffix`, then `{labels}` unless labels is empty, then the value and a newline.
void AppendSampleLine(std::string& out, std::string_view name, std::string_view suffix, std::string_view labels,
                      double value);
void AppendSampleLine(std::string& out, std::string_view name, std::string_view suffix, std::string_view labels,
                      std::uint64_t value);

/// Appends the `# HELP` line (omitted when help is empty) and the `# TYPE` line of a family.
void AppendHeader(std::string& out, std::string_view name, std::string_view help, std::string_view type);

}  // namespace valerix::metrics::text_format
