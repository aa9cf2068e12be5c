#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace valerix::core {

/// Thrown by EnvReader::Check with every configuration problem found, one per line.
class ConfigError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Reads typed, range-checked settings from environment variables. Problems are collected rather than thrown one at
/// a time, so a misconfigured service reports everything wrong at once; call Check() before serving.
/// Not thread-safe; use it from the composition root only.
class EnvReader {
public:
    using Lookup = std::function<std::optional<std::string>(const std::string&)>;

    /// Reads the process environment.
    EnvReader();
    /// Reads from `lookup` (tests).
    explicit EnvReader(Lookup lookup);

    std::string String(const std::string& name, const std::string& fallback);
    long long Int(const std::string& name, long long fallback, long long min, long long max);
    double Double(const std::string& name, double fallback, double min, double max);
    std::chrono::milliseconds Millis(const std::string& name, long long fallback_ms, long long min_ms, long long max_ms);
    bool Bool(const std::string& name, bool fallback);
    /// A secret from `NAME` or, when unset, from the file named by `NAME_FILE` (trailing newline stripped). Returns
    /// nullopt when neither is set; a missing or empty file is a problem.
    std::optional<std::string> Secret(const std::string& name);

    /// Records a problem found by the caller's own validation.
    void AddProblem(std::string problem) { problems_.push_back(std::move(problem)); }
    const std::vector<std::string>& Problems() const { return problems_; }
    /// Throws ConfigError listing all problems, if any.
    void Check() const;

private:
    Lookup lookup_;
    std::vector<std::string> problems_;
};

}  // namespace valerix::core
