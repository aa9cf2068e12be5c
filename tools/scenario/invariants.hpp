#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace valerix::scenario {

/// sku -> quantity.
using Items = std::map<std::string, long long>;

/// A products row of inventory_db, with what it was before the run.
struct ProductRow {
    std::string sku;
    long long on_hand = 0;
    long long available = 0;
    /// on_hand, and the quantity held by COMMITTED reservations, when the run started (after the catalog was set).
    long long initial_on_hand = 0;
    long long initial_committed = 0;
};

struct ReservationRow {
    std::string id;
    std::string status;  // RESERVED, COMMITTED, RELEASED
    bool tombstone = false;
    Items items;
};

struct OrderRow {
    std::string id;
    std::string status;
    Items items;
    std::string status_reason;
};

struct KeyRow {
    std::string key;
    std::string order_id;
    std::optional<int> response_status;
};

struct IntentRow {
    std::string order_id;
    std::string kind;   // reserve, commit, release
    std::string state;  // pending, done, cancelled, failed
    int attempts = 0;
    std::string last_error;
};

/// What one simulated client was told about its order, and what it saw at the end.
struct ClientClaim {
    std::string key;
    /// Every order id an answer to this key named (more than one is a violation).
    std::set<std::string> told_order_ids;
    /// What the client ordered (sku -> quantity): the order must hold exactly these, whatever its status.
    Items planned;
    /// The strongest promise the API made, which the final state must keep: CONFIRMED (201, or a GET that showed
    /// it), REJECTED (409 insufficient_stock, or a GET), SHIPPED (ship answered 200, or 202 SHIPPING), CANCELLED
    /// (cancel answered 200), ACCEPTED (202 PENDING: decided later, CONFIRMED or REJECTED, and moved on only by a
    /// follow-up its client sent); empty when none.
    std::string promised;
    /// Why the promise was made (e.g. "create answered 201"), for the report.
    std::string promised_by;
    /// The follow-up the client sent after its create: "ship", "cancel", or "" (none). A CONFIRMED order may end
    /// SHIPPING or SHIPPED only if it asked for a ship, CANCELLED only if it asked for a cancel (its answer may have
    /// been lost); nobody else moves it.
    std::string requested;
    /// GET /api/v1/orders/{id} after healing: HTTP status and order status ("" when not fetched).
    int api_http_status = 0;
    std::string api_status;
    /// The order id a replay of the key (same body) named after healing, when one was made.
    std::optional<std::string> replayed_order_id;
    /// The final answer the client got to its create (status 0: none), and the replay's answer after healing. A
    /// decided answer (201, 409, 422) is stored with the key: a replay must return it unchanged (DESIGN.md §4).
    int answer_status = 0;
    std::string answer_body;
    int replay_status = 0;
    std::string replay_body;
    /// Answers a correct service never gives this client (e.g. idempotency_key_reused for its own retry).
    std::vector<std::string> unexpected_answers;
};

/// Everything the checker looks at; filled from both databases and the API after healing, or by hand in tests.
struct Snapshot {
    std::vector<ProductRow> products;
    std::vector<ReservationRow> reservations;
    std::vector<OrderRow> orders;
    std::vector<KeyRow> keys;
    std::vector<IntentRow> intents;
    std::vector<ClientClaim> claims;
    /// The reconciler backlog drained within the heal timeout.
    bool backlog_drained = true;
};

/// One broken invariant with the rows that show it.
struct Violation {
    std::string invariant;
    std::string message;
    boost::json::array rows;
};

/// The invariants CheckInvariants evaluates, with a one-line statement each (for the report).
const std::vector<std::pair<std::string, std::string>>& InvariantCatalog();

/// Checks every invariant of DESIGN.md §3 (stock per SKU; orders vs reservations across services), that the outbox
/// drained and nothing is stuck, that each Idempotency-Key maps to exactly one order and to the id its client was
/// given, and that the API's answers were kept. Pure: no I/O. Returns the violations, empty when all hold.
std::vector<Violation> CheckInvariants(const Snapshot& snapshot);

/// "A:2,B:1" — items as the report shows them.
std::string ItemsText(const Items& items);

}  // namespace valerix::scenario
