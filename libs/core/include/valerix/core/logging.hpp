#pragma once

#include <cstdio>
#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <cstdint>

#include <boost/json/value.hpp>

namespace valerix::core {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

/// Parses "debug|info|warn|error"; nullopt-like false on anything else.
bool ParseLogLevel(std::string_view text, LogLevel& out);

/// One key/value of a log line. Implicit from the common value types so call sites read {{"key", value}, ...}.
struct LogField {
    LogField(std::string_view k, const char* v) : key(k), value(boost::json::string_view(v)) {}
    LogField(std::string_view k, std::string_view v) : key(k), value(boost::json::string_view(v.data(), v.size())) {}
    LogField(std::string_view k, const std::string& v) : key(k), value(boost::json::string_view(v)) {}
    LogField(std::string_view k, bool v) : key(k), value(v) {}
    template <class T>
        requires(std::is_integral_v<T> && !std::is_same_v<T, bool>)
    LogField(std::string_view k, T v) : key(k), value(static_cast<std::int64_t>(v)) {}
    LogField(std::string_view k, double v) : key(k), value(v) {}
    LogField(std::string_view k, boost::json::value v) : key(k), value(std::move(v)) {}

    std::string_view key;
    boost::json::value value;
};

/// Structured logs as JSON lines: {"ts","level","service","msg", ...fields}. One line is written with one call, so
/// lines from several threads never interleave. Thread-safe. Secrets must never be passed as fields.
class Logger {
public:
    Logger(std::string service, LogLevel level, std::FILE* out = stdout);

    bool Enabled(LogLevel level) const { return level >= level_; }
    void Log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields = {});
    void Debug(std::string_view message, std::initializer_list<LogField> fields = {}) {
        Log(LogLevel::kDebug, message, fields);
    }
    void Info(std::string_view message, std::initializer_list<LogField> fields = {}) {
        Log(LogLevel::kInfo, message, fields);
    }
    void Warn(std::string_view message, std::initializer_list<LogField> fields = {}) {
        Log(LogLevel::kWarn, message, fields);
    }
    void Error(std::string_view message, std::initializer_list<LogField> fields = {}) {
        Log(LogLevel::kError, message, fields);
    }

private:
    std::string service_;
    LogLevel level_;
    std::FILE* out_;
    std::mutex mutex_;
};

}  // namespace valerix::core
