#include "domain/validation.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace valerix::inventory {
namespace {

constexpr const char* kId = "0b6f2a1e-8c1d-4e3a-9f00-123456789abc";

std::string FieldOf(const std::string& json) {
    auto parsed = ParseReservationRequest(boost::json::parse(json));
    return parsed ? "" : parsed.error().field;
}

TEST(ParseReservationRequest, AcceptsAValidRequest) {
    auto parsed = ParseReservationRequest(boost::json::parse(
        R"({"reservation_id":"0B6F2A1E-8C1D-4E3A-9F00-123456789ABC","items":[{"sku":"A-1","quantity":2},{"sku":"B","quantity":1000}]})"));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->reservation_id, kId) << "UUIDs are canonicalised to lower case";
    ASSERT_EQ(parsed->items.size(), 2u);
    EXPECT_EQ(parsed->items[1].quantity, 1000);
}

TEST(ParseReservationRequest, NamesTheOffendingField) {
    EXPECT_EQ(FieldOf("[]"), "body");
    EXPECT_EQ(FieldOf(R"({"items":[{"sku":"A","quantity":1}]})"), "reservation_id");
    EXPECT_EQ(FieldOf(R"({"reservation_id":"not-a-uuid","items":[{"sku":"A","quantity":1}]})"), "reservation_id");
    EXPECT_EQ(FieldOf(R"({"reservation_id":7,"items":[{"sku":"A","quantity":1}]})"), "reservation_id");
    std::string id = std::string(R"({"reservation_id":")") + kId + "\",";
    EXPECT_EQ(FieldOf(id + R"("items":[]})"), "items");
    EXPECT_EQ(FieldOf(id + R"("items":{}})"), "items");
    EXPECT_EQ(FieldOf(id + R"("items":[1]})"), "items[0]");
    EXPECT_EQ(FieldOf(id + R"("items":[{"quantity":1}]})"), "items[0].sku");
    EXPECT_EQ(FieldOf(id + R"("items":[{"sku":"","quantity":1}]})"), "items[0].sku");
    EXPECT_EQ(FieldOf(id + R"("items":[{"sku":"has space","quantity":1}]})"), "items[0].sku");
    EXPECT_EQ(FieldOf(id + R"("items":[{"sku":"A","quantity":0}]})"), "items[0].quantity");
    EXPECT_EQ(FieldOf(id + R"("items":[{"sku":"A","quantity":-3}]})"), "items[0].quantity");
    EXPECT_EQ(FieldOf(id + R"("items":[{"sku":"A","quantity":1001}]})"), "items[0].quantity");
    EXPECT_EQ(FieldOf(id + R"("items":[{"sku":"A","quantity":1.5}]})"), "items[0].quantity");
    EXPECT_EQ(FieldOf(id + R"("items":[{"sku":"A","quantity":"2"}]})"), "items[0].quantity");
    EXPECT_EQ(FieldOf(id + R"("items":[{"sku":"A","quantity":true}]})"), "items[0].quantity");
    EXPECT_EQ(FieldOf(id + R"("items":[{"sku":"A","quantity":18446744073709551615}]})"), "items[0].quantity");
    EXPECT_EQ(FieldOf(id + R"("items":[{"sku":"A","quantity":1},{"sku":"A","quantity":2}]})"), "items[1].sku");
    std::string many = id + R"("items":[)";
    for (int i = 0; i < 51; ++i) many += (i ? "," : "") + std::string(R"({"sku":"S)") + std::to_string(i) + R"(","quantity":1})";
    EXPECT_EQ(FieldOf(many + "]}"), "items");
}

TEST(ParseProductUpsert, ValidatesEveryField) {
    auto ok = ParseProductUpsert("SKU-1", boost::json::parse(R"({"name":"Thing","price_cents":100,"on_hand":5})"));
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->on_hand, 5);
    auto field = [](std::string sku, const char* json) {
        auto parsed = ParseProductUpsert(std::move(sku), boost::json::parse(json));
        return parsed ? std::string() : parsed.error().field;
    };
    EXPECT_EQ(field(std::string(65, 'x'), R"({"name":"a","price_cents":1,"on_hand":1})"), "sku");
    EXPECT_EQ(field("S", R"({"price_cents":1,"on_hand":1})"), "name");
    EXPECT_EQ(field("S", R"({"name":"a","price_cents":-1,"on_hand":1})"), "price_cents");
    EXPECT_EQ(field("S", R"({"name":"a","price_cents":1,"on_hand":-1})"), "on_hand");
}

TEST(ParseRestock, NeedsAPositiveQuantity) {
    EXPECT_EQ(*ParseRestock(boost::json::parse(R"({"quantity":10})")), 10);
    EXPECT_FALSE(ParseRestock(boost::json::parse(R"({"quantity":0})")));
    EXPECT_FALSE(ParseRestock(boost::json::parse(R"({})")));
}

}  // namespace
}  // namespace valerix::inventory
