#include "domain/validation.hpp"

#include <set>

#include <boost/json/object.hpp>

namespace valerix::inventory {
namespace {

/// An integer in [min, max]; JSON numbers with a fraction, booleans and strings are not integers.
Validated<long long> IntegerField(const boost::json::object& object, const char* key, const std::string& field,
                                  long long min, long long max) {
    auto it = object.find(key);
    if (it == object.end() || it->value().is_null()) return FieldError{field, field + " is required"};
    const auto& value = it->value();
    long long number = 0;
    if (value.is_int64()) {
        number = value.get_int64();
    } else if (value.is_uint64()) {
        return FieldError{field, field + " must be at most " + std::to_string(max)};
    } else {
        return FieldError{field, field + " must be an integer"};
    }
    if (number < min || number > max) {
        return FieldError{field, field + " must be between " + std::to_string(min) + " and " + std::to_string(max)};
    }
    return number;
}

Validated<std::string> StringField(const boost::json::object& object, const char* key, const std::string& field,
                                   std::size_t min, std::size_t max) {
    auto it = object.find(key);
    if (it == object.end() || it->value().is_null()) return FieldError{field, field + " is required"};
    if (!it->value().is_string()) return FieldError{field, field + " must be a string"};
    std::string text(it->value().get_string());
    if (text.size() < min || text.size() > max) {
        return FieldError{field, field + " must be " + std::to_string(min) + ".." + std::to_string(max) + " bytes long"};
    }
    return Validated<std::string>(boost::system::in_place_value, std::move(text));
}

}  // namespace

void throw_exception_from_error(const FieldError& error, const boost::source_location&) {
    throw std::invalid_argument(error.field + ": " + error.detail);
}

bool ValidSku(std::string_view sku) {
    if (sku.empty() || sku.size() > 64) return false;
    return std::all_of(sku.begin(), sku.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

std::optional<std::string> CanonicalUuid(std::string_view text) {
    if (text.size() != 36) return std::nullopt;
    std::string out(text);
    for (std::size_t i = 0; i < out.size(); ++i) {
        char& c = out[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') return std::nullopt;
            continue;
        }
        if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
}

Validated<ReservationRequest> ParseReservationRequest(const boost::json::value& body) {
    if (!body.is_object()) return FieldError{"body", "the body must be a JSON object"};
    const auto& object = body.get_object();
    ReservationRequest request;

    auto id = StringField(object, "reservation_id", "reservation_id", 1, 64);
    if (!id) return id.error();
    auto uuid = CanonicalUuid(*id);
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
