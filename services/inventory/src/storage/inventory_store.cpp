#include "storage/inventory_store.hpp"

namespace valerix::inventory {
namespace {

constexpr pg::Statement kListProducts{
    "inventory_list_products",
    "SELECT json_build_object('products', COALESCE(json_agg(json_build_object('sku', sku, 'name', name, "
    "'price_cents', price_cents, 'available', available, 'on_hand', on_hand) ORDER BY sku), '[]'::json)) "
    "FROM products"};

constexpr pg::Statement kGetProduct{
    "inventory_get_product",
    "SELECT json_build_object('sku', sku, 'name', name, 'price_cents', price_cents, 'available', available, "
    "'on_hand', on_hand) FROM products WHERE sku = $1"};

// on_hand may not drop below what is reserved (on_hand - available); available moves by the same delta (reserved
// stock subtracted first: the sum of two large stocks would overflow integer).
constexpr pg::Statement kUpsertProduct{
    "inventory_upsert_product",
    "INSERT INTO products AS p (sku, name, price_cents, on_hand, available) VALUES ($1, $2, $3, $4, $4) "
    "ON CONFLICT (sku) DO UPDATE SET name = EXCLUDED.name, price_cents = EXCLUDED.price_cents, "
    "on_hand = EXCLUDED.on_hand, available = p.available - p.on_hand + EXCLUDED.on_hand, updated_at = now() "
    "WHERE EXCLUDED.on_hand >= p.on_hand - p.available "
    "RETURNING (xmax = 0), json_build_object('sku', sku, 'name', name, 'price_cents', price_cents, "
    "'available', available, 'on_hand', on_hand)"};

// No row when the SKU is unknown or on_hand would pass $3 (the limit a PUT has; written so nothing overflows).
constexpr pg::Statement kRestock{
    "inventory_restock",
    "UPDATE products SET on_hand = on_hand + $2, available = available + $2, updated_at = now() "
    "WHERE sku = $1 AND on_hand <= $3::int - $2::int "
    "RETURNING json_build_object('sku', sku, 'name', name, 'price_cents', price_cents, 'available', available, "
    "'on_hand', on_hand)"};

constexpr pg::Statement kReserve{"inventory_reserve",
                                 "SELECT outcome, body FROM reserve_stock($1::uuid, $2::text[], $3::int[])"};
constexpr pg::Statement kReserveBatch{
    "inventory_reserve_batch",
    "SELECT reservation_id, outcome, body FROM reserve_stock_batch($1::uuid[], $2::int[], $3::text[], $4::int[])"};
constexpr pg::Statement kGetReservation{"inventory_get_reservation", "SELECT reservation_json($1::uuid)"};
constexpr pg::Statement kCommit{"inventory_commit", "SELECT outcome, body FROM commit_reservation($1::uuid)"};
constexpr pg::Statement kRelease{"inventory_release", "SELECT outcome, body FROM release_reservation($1::uuid)"};
constexpr pg::Statement kPing{"inventory_ping", "SELECT 1"};

std::string TextArray(const std::vector<ReservationItem>& items) {
    pg::ArrayLiteral skus;
    for (const auto& item : items) skus.Add(item.sku);
    return skus.Text();
}

std::string IntArray(const std::vector<ReservationItem>& items) {
    pg::ArrayLiteral quantities;
    for (const auto& item : items) quantities.Add(std::to_string(item.quantity));
    return quantities.Text();
}

std::optional<std::string> FirstText(const pg::Rows& rows) {
    if (rows.Empty() || rows.IsNull(0, 0)) return std::nullopt;
    return std::string(rows.Text(0, 0));
}

}  // namespace

boost::asio::awaitable<pg::Result<std::string>> InventoryStore::ListProducts(core::Deadline deadline) {
    auto rows = co_await pool_.Execute(kListProducts, {}, deadline);
    if (!rows) co_return rows.error();
    co_return std::string(rows->Text(0, 0));
}

boost::asio::awaitable<pg::Result<std::optional<std::string>>> InventoryStore::GetProduct(const std::string& sku,
                                                                                         core::Deadline deadline) {
    auto rows = co_await pool_.Execute(kGetProduct, pg::MakeParams(sku), deadline);
    if (!rows) co_return rows.error();
    co_return FirstText(*rows);
}

boost::asio::awaitable<pg::Result<std::optional<ProductWrite>>> InventoryStore::UpsertProduct(
    const ProductUpsert& product, core::Deadline deadline) {
    auto rows = co_await pool_.Execute(
        kUpsertProduct,
        pg::MakeParams(product.sku, product.name, std::to_string(product.price_cents), std::to_string(product.on_hand)),
        deadline);
    if (!rows) co_return rows.error();
    if (rows->Empty()) co_return std::optional<ProductWrite>();
    co_return ProductWrite{rows->Bool(0, 0), std::string(rows->Text(0, 1))};
}

boost::asio::awaitable<pg::Result<Restocked>> InventoryStore::Restock(const std::string& sku, int quantity,
                                                                      core::Deadline deadline) {
    auto rows = co_await pool_.Execute(
        kRestock, pg::MakeParams(sku, std::to_string(quantity), std::to_string(kMaxOnHand)), deadline);
    if (!rows) co_return rows.error();
    if (auto body = FirstText(*rows)) co_return Restocked{RestockOutcome::kRestocked, std::move(*body)};
    // Refused: tell an unknown SKU from a full one (an admin call, not the order path).
    auto product = co_await GetProduct(sku, deadline);
    if (!product) co_return product.error();
    if (!*product) co_return Restocked{RestockOutcome::kUnknownSku, ""};
    co_return Restocked{RestockOutcome::kAboveLimit, std::move(**product)};
}

boost::asio::awaitable<pg::Result<StockOutcome>> InventoryStore::Call(const pg::Statement& statement,
                                                                      pg::Params params, core::Deadline deadline) {
    auto rows = co_await pool_.Execute(statement, params, deadline);
    if (!rows) co_return rows.error();
    if (rows->Empty()) co_return pg::Error{pg::ErrorKind::kOther, "", "reservation function returned no row"};
    StockOutcome outcome{std::string(rows->Text(0, 0)), rows->IsNull(0, 1) ? "" : std::string(rows->Text(0, 1))};
    co_return outcome;
}

boost::asio::awaitable<pg::Result<StockOutcome>> InventoryStore::Reserve(const ReservationRequest& request,
                                                                         core::Deadline deadline) {
    co_return co_await Call(kReserve, pg::MakeParams(request.reservation_id, TextArray(request.items), IntArray(request.items)),
                            deadline);
}

boost::asio::awaitable<pg::Result<std::vector<StockOutcome>>> InventoryStore::ReserveBatch(
    const ReservationBatch& batch, core::Deadline deadline) {
    pg::ArrayLiteral ids, counts, skus, quantities;
    for (const auto& reservation : batch.reservations) {
        ids.Add(reservation.reservation_id);
        counts.Add(std::to_string(reservation.items.size()));
        for (const auto& item : reservation.items) {
            skus.Add(item.sku);
            quantities.Add(std::to_string(item.quantity));
        }
    }
    auto rows = co_await pool_.Execute(kReserveBatch, pg::MakeParams(ids.Text(), counts.Text(), skus.Text(),
                                                                     quantities.Text()),
                                       deadline);
    if (!rows) co_return rows.error();
    if (rows->Size() != static_cast<int>(batch.reservations.size())) {
        co_return pg::Error{pg::ErrorKind::kOther, "", "reserve_stock_batch returned a row count that does not match"};
    }
    std::vector<StockOutcome> outcomes;
    outcomes.reserve(batch.reservations.size());
    for (int i = 0; i < rows->Size(); ++i) {
        outcomes.push_back({std::string(rows->Text(i, 1)), rows->IsNull(i, 2) ? "" : std::string(rows->Text(i, 2))});
    }
    co_return outcomes;
}

boost::asio::awaitable<pg::Result<std::optional<std::string>>> InventoryStore::GetReservation(
    const std::string& id, core::Deadline deadline) {
    auto rows = co_await pool_.Execute(kGetReservation, pg::MakeParams(id), deadline);
    if (!rows) co_return rows.error();
    co_return FirstText(*rows);
}

boost::asio::awaitable<pg::Result<StockOutcome>> InventoryStore::Commit(const std::string& id,
                                                                        core::Deadline deadline) {
    co_return co_await Call(kCommit, pg::MakeParams(id), deadline);
}

boost::asio::awaitable<pg::Result<StockOutcome>> InventoryStore::Release(const std::string& id,
                                                                         core::Deadline deadline) {
    co_return co_await Call(kRelease, pg::MakeParams(id), deadline);
}

boost::asio::awaitable<pg::Result<void>> InventoryStore::Ping(core::Deadline deadline) {
    auto rows = co_await pool_.Execute(kPing, {}, deadline);
    if (!rows) co_return rows.error();
    co_return pg::Result<void>();
}

}  // namespace valerix::inventory
