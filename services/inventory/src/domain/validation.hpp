#pragma once

#include <optional>
#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include <valerix/core/json_fields.hpp>
#include <valerix/core/random.hpp>

namespace valerix::inventory {

using core::FieldError;
template <class T>
using Validated = core::Validated<T>;

struct ReservationItem {
    std::string sku;
    int quantity = 0;
};

/// POST /api/v1/reservations: {"reservation_id": uuid, "items": [{"sku", "quantity"}]}.
struct ReservationRequest {
    std::string reservation_id;  ///< canonical lower-case UUID
    std::vector<ReservationItem> items;
};

/// POST /api/v1/reservations/batch: {"reservations": [<a reservation request>, ...]}, 1..kMaxBatch of them.
struct ReservationBatch {
    std::vector<ReservationRequest> reservations;
};

/// PUT /api/v1/products/{sku}: {"name", "price_cents", "on_hand"}.
struct ProductUpsert {
    std::string sku;
    std::string name;
    long long price_cents = 0;
    int on_hand = 0;
};

inline constexpr int kMaxItems = 50;
inline constexpr int kMaxBatch = 256;
inline constexpr int kMaxQuantity = 1000;
inline constexpr int kMaxRestock = 1'000'000;
inline constexpr int kMaxOnHand = 1'000'000'000;
inline constexpr long long kMaxPriceCents = 1'000'000'000'000;

/// A SKU is 1..64 printable ASCII characters without spaces.
bool ValidSku(std::string_view sku);

using core::CanonicalUuid;

Validated<ReservationRequest> ParseReservationRequest(const boost::json::value& body);
/// Each entry is validated as ParseReservationRequest does; errors name the entry ("reservations[3].items[0].sku").
Validated<ReservationBatch> ParseReservationBatch(const boost::json::value& body);
Validated<ProductUpsert> ParseProductUpsert(std::string sku, const boost::json::value& body);
/// POST /api/v1/products/{sku}/restock: {"quantity": 1..1000000}.
Validated<int> ParseRestock(const boost::json::value& body);

}  // namespace valerix::inventory
