#include "domain/order_request.hpp"
#include "storage/order_store.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace valerix::order {
namespace {

std::string FieldOf(const char* json) {
    auto parsed = ParseOrderRequest(boost::json::parse(json));
    return parsed ? "" : parsed.error().field;
}

TEST(ParseOrderRequest, AcceptsAndSortsItems) {
    auto parsed = ParseOrderRequest(boost::json::parse(
        R"({"customer_id":"c-1","items":[{"sku":"B","quantity":2},{"sku":"A","quantity":1}]})"));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->items[0].sku, "A");
    EXPECT_EQ(ItemsJson(*parsed), R"([{"sku":"A","quantity":1},{"sku":"B","quantity":2}])");
}

TEST(ParseOrderRequest, NamesTheOffendingField) {
    EXPECT_EQ(FieldOf(R"({"items":[{"sku":"A","quantity":1}]})"), "customer_id");
    EXPECT_EQ(FieldOf(R"({"customer_id":"","items":[{"sku":"A","quantity":1}]})"), "customer_id");
    EXPECT_EQ(FieldOf(R"({"customer_id":"c","items":[]})"), "items");
    EXPECT_EQ(FieldOf(R"({"customer_id":"c","items":[{"sku":"A","quantity":0}]})"), "items[0].quantity");
    EXPECT_EQ(FieldOf(R"({"customer_id":"c","items":[{"sku":"A","quantity":1001}]})"), "items[0].quantity");
    EXPECT_EQ(FieldOf(R"({"customer_id":"c","items":[{"sku":"A","quantity":1},{"sku":"A","quantity":1}]})"),
              "items[1].sku");
}

// DESIGN.md §4's str(1..64), like the table's CHECK (length(customer_id) ...), counts characters, not bytes.
TEST(ParseOrderRequest, CountsCharactersNotBytes) {
    auto body = [](const std::string& customer) {
        return R"({"customer_id":")" + customer + R"(","items":[{"sku":"A","quantity":1}]})";
    };
    std::string e_acute = "\xC3\xA9", treble_clef = "\xF0\x9D\x84\x9E";  // 2 and 4 bytes of UTF-8
    std::string sixty_four, sixty_five;
    for (int i = 0; i < 64; ++i) sixty_four += i % 2 ? e_acute : treble_clef;
    sixty_five = sixty_four + "x";
    ASSERT_EQ(FieldOf(body(sixty_four).c_str()), "");  // the next line reads the parsed value
    EXPECT_EQ(ParseOrderRequest(boost::json::parse(body(sixty_four)))->customer_id, sixty_four);
    auto refused = ParseOrderRequest(boost::json::parse(body(sixty_five)));
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().field, "customer_id");
    EXPECT_EQ(refused.error().detail, "customer_id must be 1..64 characters long");
}

TEST(ParseOrderRequest, ANumberThatIsNoIntegerIsToldTheRange) {
    for (const char* quantity : {"1e62", "18446744073709551616", "1.5", "\"2\""}) {
        auto refused = ParseOrderRequest(boost::json::parse(std::string(R"({"customer_id":"c","items":[{"sku":"A",)") +
                                                            R"("quantity":)" + quantity + "}]}"));
        ASSERT_FALSE(refused) << quantity;
        EXPECT_EQ(refused.error().detail, "items[0].quantity must be an integer from 1 to 1000") << quantity;
    }
}

TEST(Fingerprint, IgnoresItemOrderButNotContent) {
    auto a = ParseOrderRequest(boost::json::parse(
        R"({"customer_id":"c","items":[{"sku":"A","quantity":1},{"sku":"B","quantity":2}]})"));
    auto b = ParseOrderRequest(boost::json::parse(
        R"({"items":[{"sku":"B","quantity":2},{"sku":"A","quantity":1}],"customer_id":"c"})"));
    auto c = ParseOrderRequest(boost::json::parse(
        R"({"customer_id":"c","items":[{"sku":"A","quantity":1},{"sku":"B","quantity":3}]})"));
    EXPECT_EQ(Fingerprint(*a), Fingerprint(*b));
    EXPECT_NE(Fingerprint(*a), Fingerprint(*c));
}

TEST(IdempotencyKey, AcceptsPrintableAsciiUpTo255) {
    EXPECT_FALSE(IdempotencyKeyProblem("abc-123 xyz"));
    EXPECT_TRUE(IdempotencyKeyProblem(""));
    EXPECT_TRUE(IdempotencyKeyProblem(std::string(256, 'k')));
    EXPECT_FALSE(IdempotencyKeyProblem(std::string(255, 'k')));
    EXPECT_TRUE(IdempotencyKeyProblem("tab\there"));
}

TEST(Cursor, RoundTripsAndRejectsForgeries) {
    auto cursor = EncodeCursor("2026-11-25 15:02:32.155631+00", "6c0f2031-d173-4096-a265-bda5b8d04302");
    auto decoded = DecodeCursor(cursor);
    ASSERT_TRUE(decoded);
    EXPECT_EQ(decoded->first, "2026-11-25 15:02:32.155631+00");
    EXPECT_EQ(decoded->second, "6c0f2031-d173-4096-a265-bda5b8d04302");
    EXPECT_FALSE(DecodeCursor("zz"));
    EXPECT_FALSE(DecodeCursor("abc"));
    EXPECT_FALSE(DecodeCursor(EncodeCursor("x'; DROP TABLE orders", "6c0f2031-d173-4096-a265-bda5b8d04302")));
}

}  // namespace
}  // namespace valerix::order
