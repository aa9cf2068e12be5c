#pragma once

#include <optional>
#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include <valerix/core/json_fields.hpp>

namespace valerix::order {

using core::FieldError;
template <class T>
using Validated = core::Validated<T>;

struct OrderItem {
    std::string sku;
    int quantity = 0;
};

/// POST /api/v1/orders: {"customer_id": str(1..64), "items": [{"sku": str(1..64), "quantity": 1..1000}] (1..50,
/// SKUs unique)}.
struct OrderRequest {
    std::string customer_id;
    std::vector<OrderItem> items;  ///< sorted by SKU
};

inline constexpr int kMaxItems = 50;
inline constexpr int kMaxQuantity = 1000;

Validated<OrderRequest> ParseOrderRequest(const boost::json::value& body);

/// What identifies "the same request" for an idempotency key: customer and items, independent of item order and of
/// JSON formatting.
std::string Fingerprint(const OrderRequest& request);

/// The items as JSON for storage and for inventory: [{"sku","quantity"}, ...].
std::string ItemsJson(const OrderRequest& request);

/// Why an Idempotency-Key header is unacceptable, or nullopt when it is fine (1..255 printable ASCII).
std::optional<std::string> IdempotencyKeyProblem(std::string_view key);

}  // namespace valerix::order
