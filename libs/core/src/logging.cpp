#include <valerix/core/logging.hpp>

#include <cstdio>

#include <valerix/core/utc_time.hpp>

#include <chrono>

#include <boost/json/object.hpp>
#include <valerix/core/json_text.hpp>

namespace valerix::core {
namespace {

constexpr std::string_view kLevelNames[] = {"debug", "info", "warn", "error"};

std::string Timestamp() {
    auto now = std::chrono::system_clock::now();
    auto seconds = std::chrono::system_clock::to_time_t(now);
    auto micros = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() % 1000000;
    char fraction[16];
    std::snprintf(fraction, sizeof fraction, ".%06lldZ", static_cast<long long>(micros));
    return FormatUtc(seconds, "%Y-%m-%dT%H:%M:%S") + fraction;
}

}  // namespace

bool ParseLogLevel(std::string_view text, LogLevel& out) {
    for (int i = 0; i < 4; ++i) {
        if (text == kLevelNames[i]) {
            out = static_cast<LogLevel>(i);
            return true;
        }
    }
    return false;
}

Logger::Logger(std::string service, LogLevel level, std::FILE* out)
    : service_(std::move(service)), level_(level), out_(out) {}

void Logger::Log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields) {
    if (!Enabled(level)) return;
    boost::json::object line;
    line["ts"] = Timestamp();
    line["level"] = kLevelNames[static_cast<int>(level)];
    line["service"] = service_;
    line["msg"] = message;
    for (const auto& field : fields) line[field.key] = field.value;
    std::string text = SerializeJson(line);
    text.push_back('\n');
    std::lock_guard lock(mutex_);
    std::fwrite(text.data(), 1, text.size(), out_);
    std::fflush(out_);
}

}  // namespace valerix::core
