#include <valerix/core/json_text.hpp>

#include <limits>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

namespace valerix::core {
namespace {

namespace json = boost::json;

TEST(SerializeJson, WritesDoublesAsTheContractDoes) {
    // The chaos configuration of DESIGN.md §5, as GET /admin/chaos answers it.
    json::value chaos = {{"latency", {{"mode", "every_nth"}, {"every_nth", 5}, {"probability", 0.0}}},
                         {"crash", {{"probability", 0.05}}},
                         {"seed", 42}};
    EXPECT_EQ(SerializeJson(chaos),
              R"({"latency":{"mode":"every_nth","every_nth":5,"probability":0.0},"crash":{"probability":0.05},)"
              R"("seed":42})");
    EXPECT_EQ(SerializeJson(json::value(3000.0)), "3000.0");
    EXPECT_EQ(SerializeJson(json::value(-14.1)), "-14.1");
    EXPECT_EQ(SerializeJson(json::value(1e-7)), "1e-07");
    EXPECT_EQ(SerializeJson(json::value(1e300)), "1e+300");
    EXPECT_EQ(SerializeJson(json::value(123456789.123456789)), "123456789.12345679");  // 17 digits: all a double has
}

TEST(SerializeJson, ReadsBackAsTheSameValue) {
    json::value value = json::parse(R"({"a":14.1,"b":[1,2.5,-3,-3.0],"c":"x\"y\n","d":null,"e":true,)"
                                    R"("f":{"g":0.001,"h":0.1},"j":18446744073709551615})");
    std::string text = SerializeJson(value);
    EXPECT_EQ(json::parse(text), value) << text;  // kinds too: -3.0 stays a double, 1 an integer
    EXPECT_EQ(text, R"({"a":14.1,"b":[1,2.5,-3,-3.0],"c":"x\"y\n","d":null,"e":true,)"
                    R"("f":{"g":0.001,"h":0.1},"j":18446744073709551615})");
}

TEST(SerializeJson, WritesNullForNumbersJsonCannotHold) {
    json::array values = {std::numeric_limits<double>::infinity(), std::numeric_limits<double>::quiet_NaN(), 1};
    EXPECT_EQ(SerializeJson(values), "[null,null,1]");
}

TEST(SerializeJson, AnObjectIsWrittenAsTheSameValueWouldBe) {
    json::object object{{"a", 0.5}, {"b", json::array{1, 2.0}}, {"c", "x"}};
    EXPECT_EQ(SerializeJson(object), R"({"a":0.5,"b":[1,2.0],"c":"x"})");
    EXPECT_EQ(SerializeJson(object), SerializeJson(json::value(object)));
    json::object plain{{"id", 1}};
    EXPECT_EQ(SerializeJson(plain), json::serialize(plain));
}

TEST(SerializeJson, LeavesValuesWithoutDoublesToBoost) {
    json::value value = {{"id", "0190"}, {"items", json::array{json::object{{"sku", "A"}, {"quantity", 2}}}}};
    EXPECT_EQ(SerializeJson(value), json::serialize(value));
}

}  // namespace
}  // namespace valerix::core
