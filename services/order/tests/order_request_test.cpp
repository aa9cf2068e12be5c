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
