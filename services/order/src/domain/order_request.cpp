#include "domain/order_request.hpp"

#include <algorithm>
#include <set>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace valerix::order {

Validated<OrderRequest> ParseOrderRequest(const boost::json::value& body) {
    if (!body.is_object()) return FieldError{"body", "the body must be a JSON object"};
    const auto& object = body.get_object();
    OrderRequest request;
    auto customer = core::StringField(object, "customer_id", "customer_id", 1, 64);
    if (!customer) return customer.error();
    request.customer_id = std::move(*customer);

    auto items = object.find("items");
    if (items == object.end() || items->value().is_null()) return FieldError{"items", "items is required"};
    if (!items->value().is_array()) return FieldError{"items", "items must be an array"};
    const auto& array = items->value().get_array();
    if (array.empty() || array.size() > kMaxItems) {
        return FieldError{"items", "items must hold 1.." + std::to_string(kMaxItems) + " entries"};
    }
    std::set<std::string> seen;
    for (std::size_t i = 0; i < array.size(); ++i) {
        std::string prefix = "items[" + std::to_string(i) + "]";
        if (!array[i].is_object()) return FieldError{prefix, prefix + " must be an object"};
        const auto& item = array[i].get_object();
        auto sku = core::StringField(item, "sku", prefix + ".sku", 1, 64);
        if (!sku) return sku.error();
        if (!core::IsPrintableToken(*sku, 64)) {
            return FieldError{prefix + ".sku", prefix + ".sku must be printable ASCII without spaces"};
        }
        auto quantity = core::IntegerField(item, "quantity", prefix + ".quantity", 1, kMaxQuantity);
        if (!quantity) return quantity.error();
        if (!seen.insert(*sku).second) return FieldError{prefix + ".sku", "sku " + *sku + " appears more than once"};
        request.items.push_back({std::move(*sku), static_cast<int>(*quantity)});
    }
    std::sort(request.items.begin(), request.items.end(), [](const auto& a, const auto& b) { return a.sku < b.sku; });
    return request;
}

std::string ItemsJson(const OrderRequest& request) {
    boost::json::array items;
    for (const auto& item : request.items) items.push_back({{"sku", item.sku}, {"quantity", item.quantity}});
    return boost::json::serialize(items);
}

std::string Fingerprint(const OrderRequest& request) {
    // Items are sorted by SKU when parsed, so the order they were sent in does not matter.
    return request.customer_id + "\n" + ItemsJson(request);
}

std::optional<std::string> IdempotencyKeyProblem(std::string_view key) {
    if (key.empty()) return "the Idempotency-Key header is required";
    if (key.size() > 255) return "the Idempotency-Key header must be at most 255 characters";
    bool printable = std::all_of(key.begin(), key.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
    if (!printable) return "the Idempotency-Key header must be printable ASCII";
    return std::nullopt;
}

}  // namespace valerix::order
