#include <valerix/core/logging.hpp>

#include <cstdio>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace valerix::core {
namespace {

std::string Capture(LogLevel level, void (*emit)(Logger&)) {
    char* buffer = nullptr;
    std::size_t size = 0;
    std::FILE* out = open_memstream(&buffer, &size);
    {
        Logger logger("inventory", level, out);
        emit(logger);
    }
    std::fclose(out);
    std::string text(buffer, size);
    std::free(buffer);
    return text;
}

TEST(Logger, WritesOneJsonObjectPerLine) {
    auto text = Capture(LogLevel::kInfo, [](Logger& logger) {
        logger.Info("reservation created", {{"request_id", "abc"}, {"items", 3}});
        logger.Debug("not shown");
        logger.Error("quote \" and newline \n inside");
    });
    auto newline = text.find('\n');
    ASSERT_NE(newline, std::string::npos);
    auto first = boost::json::parse(text.substr(0, newline)).as_object();
    EXPECT_EQ(first.at("msg").as_string(), "reservation created");
    EXPECT_EQ(first.at("level").as_string(), "info");
    EXPECT_EQ(first.at("service").as_string(), "inventory");
    EXPECT_EQ(first.at("request_id").as_string(), "abc");
    EXPECT_EQ(first.at("items").as_int64(), 3);
    auto second = boost::json::parse(text.substr(newline + 1)).as_object();
    EXPECT_EQ(second.at("level").as_string(), "error");
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2);
}

TEST(Logger, ParsesLevels) {
    LogLevel level{};
    EXPECT_TRUE(ParseLogLevel("warn", level));
    EXPECT_EQ(level, LogLevel::kWarn);
    EXPECT_FALSE(ParseLogLevel("loud", level));
}

}  // namespace
}  // namespace valerix::core
