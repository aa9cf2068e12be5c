#include <valerix/core/config.hpp>

#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace valerix::core {

EnvReader::EnvReader()
    : EnvReader([](const std::string& name) -> std::optional<std::string> {
          const char* value = std::getenv(name.c_str());
          if (value == nullptr) return std::nullopt;
          return std::string(value);
      }) {}

EnvReader::EnvReader(Lookup lookup) : lookup_(std::move(lookup)) {}

std::string EnvReader::String(const std::string& name, const std::string& fallback) {
    auto value = lookup_(name);
    return value && !value->empty() ? *value : fallback;
}

long long EnvReader::Int(const std::string& name, long long fallback, long long min, long long max) {
    auto value = lookup_(name);
    if (!value || value->empty()) return fallback;
    long long parsed = 0;
    auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), parsed);
    if (ec != std::errc() || end != value->data() + value->size()) {
        problems_.push_back(name + "='" + *value + "' is not an integer");
        return fallback;
    }
    if (parsed < min || parsed > max) {
        problems_.push_back(name + "=" + *value + " is out of range [" + std::to_string(min) + ", " +
                            std::to_string(max) + "]");
        return fallback;
    }
    return parsed;
}

double EnvReader::Double(const std::string& name, double fallback, double min, double max) {
    auto value = lookup_(name);
    if (!value || value->empty()) return fallback;
    char* end = nullptr;
    double parsed = std::strtod(value->c_str(), &end);
    if (end != value->c_str() + value->size()) {
        problems_.push_back(name + "='" + *value + "' is not a number");
        return fallback;
    }
    if (!(parsed >= min && parsed <= max)) {
        std::ostringstream range;
        range << "[" << min << ", " << max << "]";
        problems_.push_back(name + "=" + *value + " is out of range " + range.str());
        return fallback;
    }
    return parsed;
}

std::chrono::milliseconds EnvReader::Millis(const std::string& name, long long fallback_ms, long long min_ms,
                                            long long max_ms) {
    return std::chrono::milliseconds(Int(name, fallback_ms, min_ms, max_ms));
}

bool EnvReader::Bool(const std::string& name, bool fallback) {
    auto value = lookup_(name);
    if (!value || value->empty()) return fallback;
    if (*value == "1" || *value == "true" || *value == "yes" || *value == "on") return true;
    if (*value == "0" || *value == "false" || *value == "no" || *value == "off") return false;
    problems_.push_back(name + "='" + *value + "' is not a boolean (true/false)");
    return fallback;
}

std::optional<std::string> EnvReader::Secret(const std::string& name) {
    if (auto value = lookup_(name); value && !value->empty()) return value;
    auto file = lookup_(name + "_FILE");
    if (!file || file->empty()) return std::nullopt;
    std::ifstream in(*file);
    if (!in) {
        problems_.push_back(name + "_FILE: cannot read '" + *file + "'");
        return std::nullopt;
    }
    std::stringstream content;
    content << in.rdbuf();
    std::string secret = content.str();
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
    if (secret.empty()) {
        problems_.push_back(name + "_FILE: '" + *file + "' is empty");
        return std::nullopt;
    }
    return secret;
}

void EnvReader::Check() const {
    if (problems_.empty()) return;
    std::string message = "invalid configuration:";
    for (const auto& problem : problems_) message += "\n  - " + problem;
    throw ConfigError(message);
}

}  // namespace valerix::core
