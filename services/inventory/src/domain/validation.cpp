#include "domain/validation.hpp"

#include <set>

#include <valerix/core/random.hpp>

#include <boost/json/object.hpp>

namespace valerix::inventory {
using core::IntegerField;
using core::StringField;

bool ValidSku(std::string_view sku) { return core::IsPrintableToken(sku, 64); }

Validated<ReservationRequest> ParseReservationRequest(const boost::json::value& body) {
    if (!body.is_object()) return FieldError{"body", "the body must be a JSON object"};
    const auto& object = body.get_object();
    ReservationRequest request;

    auto id = StringField(object, "reservation_id", "reservation_id", 1, 64);
    if (!id) return id.error();
    auto uuid = core::CanonicalUuid(*id);
    if (!uuid) return FieldError{"reservation_id", "reservation_id must be a UUID"};
    request.reservation_id = *uuid;

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
        auto sku = StringField(item, "sku", prefix + ".sku", 1, 64);
        if (!sku) return sku.error();
        if (!ValidSku(*sku)) return FieldError{prefix + ".sku", prefix + ".sku must be printable ASCII without spaces"};
        auto quantity = IntegerField(item, "quantity", prefix + ".quantity", 1, kMaxQuantity);
        if (!quantity) return quantity.error();
        if (!seen.insert(*sku).second) return FieldError{prefix + ".sku", "sku " + *sku + " appears more than once"};
        request.items.push_back({std::move(*sku), static_cast<int>(*quantity)});
    }
    return request;
}

Validated<ReservationBatch> ParseReservationBatch(const boost::json::value& body) {
    if (!body.is_object()) return FieldError{"body", "the body must be a JSON object"};
    const auto& object = body.get_object();
    auto entries = object.find("reservations");
    if (entries == object.end() || entries->value().is_null()) {
        return FieldError{"reservations", "reservations is required"};
    }
    if (!entries->value().is_array()) return FieldError{"reservations", "reservations must be an array"};
    const auto& array = entries->value().get_array();
    if (array.empty() || array.size() > kMaxBatch) {
        return FieldError{"reservations", "reservations must hold 1.." + std::to_string(kMaxBatch) + " entries"};
    }
    ReservationBatch batch;
    batch.reservations.reserve(array.size());
    for (std::size_t i = 0; i < array.size(); ++i) {
        auto request = ParseReservationRequest(array[i]);
        if (!request) {
            std::string prefix = "reservations[" + std::to_string(i) + "]";
            auto error = request.error();
            error.field = error.field == "body" ? prefix : prefix + "." + error.field;
            error.detail = prefix + ": " + error.detail;
            return error;
        }
        batch.reservations.push_back(std::move(*request));
    }
    return batch;
}

Validated<ProductUpsert> ParseProductUpsert(std::string sku, const boost::json::value& body) {
    if (!ValidSku(sku)) return FieldError{"sku", "sku must be 1..64 printable ASCII characters without spaces"};
    if (!body.is_object()) return FieldError{"body", "the body must be a JSON object"};
    const auto& object = body.get_object();
    auto name = StringField(object, "name", "name", 1, 200);
    if (!name) return name.error();
    auto price = IntegerField(object, "price_cents", "price_cents", 0, kMaxPriceCents);
    if (!price) return price.error();
    auto on_hand = IntegerField(object, "on_hand", "on_hand", 0, kMaxOnHand);
    if (!on_hand) return on_hand.error();
    return ProductUpsert{std::move(sku), std::move(*name), *price, static_cast<int>(*on_hand)};
}

Validated<int> ParseRestock(const boost::json::value& body) {
    if (!body.is_object()) return FieldError{"body", "the body must be a JSON object"};
    auto quantity = IntegerField(body.get_object(), "quantity", "quantity", 1, kMaxRestock);
    if (!quantity) return quantity.error();
    return static_cast<int>(*quantity);
}

}  // namespace valerix::inventory
