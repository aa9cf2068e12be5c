#pragma once

#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include <valerix/pg/pool.hpp>

#include "domain/validation.hpp"

namespace valerix::inventory {

/// What a reservation function decided, with the JSON it produced (the reservation, or the facts of a refusal).
struct StockOutcome {
    std::string outcome;  ///< e.g. "created", "replayed", "insufficient_stock", "not_found"
    std::string body;     ///< JSON text; empty when the function returned none
};

/// A product row as JSON text, and whether the upsert created it.
struct ProductWrite {
    bool created = false;
    std::string body;
};

enum class RestockOutcome { kRestocked, kUnknownSku, kAboveLimit };
/// What a restock came to, with the product as JSON text (as it is now; empty for an unknown SKU).
struct Restocked {
    RestockOutcome outcome = RestockOutcome::kRestocked;
    std::string body;
};

/// All of inventory_db behind one-round-trip prepared statements. Stock changes happen inside database functions
/// that lock product rows in SKU order (no deadlocks) and are idempotent by reservation id.
class InventoryStore {
public:
    explicit InventoryStore(pg::Pool& pool) : pool_(pool) {}

    /// {"products":[...]} ordered by SKU.
    boost::asio::awaitable<pg::Result<std::string>> ListProducts(core::Deadline deadline);
    /// The product as JSON text, or nullopt when unknown.
    boost::asio::awaitable<pg::Result<std::optional<std::string>>> GetProduct(const std::string& sku,
                                                                             core::Deadline deadline);
    /// Creates or updates; nullopt when on_hand would drop below what is reserved.
    boost::asio::awaitable<pg::Result<std::optional<ProductWrite>>> UpsertProduct(const ProductUpsert& product,
                                                                                 core::Deadline deadline);
    /// Adds to on_hand and available, unless the SKU is unknown or on_hand would pass kMaxOnHand.
    boost::asio::awaitable<pg::Result<Restocked>> Restock(const std::string& sku, int quantity,
                                                          core::Deadline deadline);

    boost::asio::awaitable<pg::Result<StockOutcome>> Reserve(const ReservationRequest& request,
                                                             core::Deadline deadline);
    /// Every reservation of the batch in one transaction (one commit); one outcome per reservation, in order.
    boost::asio::awaitable<pg::Result<std::vector<StockOutcome>>> ReserveBatch(const ReservationBatch& batch,
                                                                               core::Deadline deadline);
    boost::asio::awaitable<pg::Result<std::optional<std::string>>> GetReservation(const std::string& id,
                                                                                 core::Deadline deadline);
    boost::asio::awaitable<pg::Result<StockOutcome>> Commit(const std::string& id, core::Deadline deadline);
    boost::asio::awaitable<pg::Result<StockOutcome>> Release(const std::string& id, core::Deadline deadline);

    /// A trivial query: is the database answering?
    boost::asio::awaitable<pg::Result<void>> Ping(core::Deadline deadline);

private:
    boost::asio::awaitable<pg::Result<StockOutcome>> Call(const pg::Statement& statement, pg::Params params,
                                                          core::Deadline deadline);
    pg::Pool& pool_;
};

}  // namespace valerix::inventory
