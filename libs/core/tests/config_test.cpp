#include <valerix/core/config.hpp>

#include <cstdio>
#include <fstream>
#include <map>

#include <gtest/gtest.h>

namespace valerix::core {
namespace {

EnvReader ReaderOf(std::map<std::string, std::string> env) {
    return EnvReader([env](const std::string& name) -> std::optional<std::string> {
        auto it = env.find(name);
        if (it == env.end()) return std::nullopt;
        return it->second;
    });
}

TEST(EnvReader, DefaultsWhenUnset) {
    auto reader = ReaderOf({});
    EXPECT_EQ(reader.Int("PORT", 3002, 1, 65535), 3002);
    EXPECT_EQ(reader.String("HOST", "127.0.0.1"), "127.0.0.1");
    EXPECT_TRUE(reader.Bool("FLAG", true));
    EXPECT_NO_THROW(reader.Check());
}

TEST(EnvReader, ParsesValues) {
    auto reader = ReaderOf({{"PORT", "8080"}, {"RATE", "0.25"}, {"FLAG", "false"}, {"T", "1500"}});
    EXPECT_EQ(reader.Int("PORT", 1, 1, 65535), 8080);
    EXPECT_DOUBLE_EQ(reader.Double("RATE", 0, 0, 1), 0.25);
    EXPECT_FALSE(reader.Bool("FLAG", true));
    EXPECT_EQ(reader.Millis("T", 1, 0, 10000).count(), 1500);
    EXPECT_NO_THROW(reader.Check());
}

TEST(EnvReader, CollectsEveryProblem) {
    auto reader = ReaderOf({{"PORT", "80x"}, {"POOL", "0"}, {"RATE", "2"}, {"FLAG", "maybe"}});
    reader.Int("PORT", 1, 1, 65535);
    reader.Int("POOL", 8, 1, 64);
    reader.Double("RATE", 0, 0, 1);
    reader.Bool("FLAG", false);
    ASSERT_EQ(reader.Problems().size(), 4u);
    try {
        reader.Check();
        FAIL() << "Check() should throw";
    } catch (const ConfigError& error) {
        std::string text = error.what();
        EXPECT_NE(text.find("PORT='80x' is not an integer"), std::string::npos) << text;
        EXPECT_NE(text.find("POOL=0 is out of range [1, 64]"), std::string::npos) << text;
        EXPECT_NE(text.find("FLAG='maybe'"), std::string::npos) << text;
    }
}

TEST(EnvReader, SecretFromValueOrFile) {
    std::string path = ::testing::TempDir() + "/secret.txt";
    std::ofstream(path) << "s3cret\n";
    auto from_file = ReaderOf({{"TOKEN_FILE", path}});
    EXPECT_EQ(from_file.Secret("TOKEN"), "s3cret");
    auto from_value = ReaderOf({{"TOKEN", "direct"}, {"TOKEN_FILE", path}});
    EXPECT_EQ(from_value.Secret("TOKEN"), "direct");
    auto missing = ReaderOf({{"TOKEN_FILE", "/nonexistent/file"}});
    EXPECT_EQ(missing.Secret("TOKEN"), std::nullopt);
    EXPECT_THROW(missing.Check(), ConfigError);
    auto unset = ReaderOf({});
    EXPECT_EQ(unset.Secret("TOKEN"), std::nullopt);
    EXPECT_NO_THROW(unset.Check());
    std::remove(path.c_str());
}

}  // namespace
}  // namespace valerix::core
