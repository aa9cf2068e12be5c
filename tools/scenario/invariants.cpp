#include "invariants.hpp"

#include <unordered_map>

namespace valerix::scenario {
namespace {

namespace json = boost::json;

json::object ToJson(const ProductRow& row) {
    return {{"table", "inventory_db.products"},
            {"sku", row.sku},
            {"on_hand", row.on_hand},
            {"available", row.available},
            {"initial_on_hand", row.initial_on_hand},
            {"initial_committed", row.initial_committed}};
}

json::object ToJson(const ReservationRow& row) {
    return {{"table", "inventory_db.reservations"},
            {"id", row.id},
            {"status", row.status},
            {"tombstone", row.tombstone},
            {"items", ItemsText(row.items)}};
}

json::object ToJson(const OrderRow& row) {
    return {{"table", "order_db.orders"},
            {"id", row.id},
            {"status", row.status},
            {"items", ItemsText(row.items)},
            {"status_reason", row.status_reason}};
}

json::object ToJson(const KeyRow& row) {
    json::object out{{"table", "order_db.idempotency_keys"}, {"key", row.key}, {"order_id", row.order_id}};
    out["response_status"] = row.response_status ? json::value(*row.response_status) : json::value(nullptr);
    return out;
}

json::object ToJson(const IntentRow& row) {
    return {{"table", "order_db.inventory_intents"},
            {"order_id", row.order_id},
            {"kind", row.kind},
            {"state", row.state},
            {"attempts", row.attempts},
            {"last_error", row.last_error}};
}

json::object ToJson(const ClientClaim& claim) {
    json::array told;
    for (const auto& id : claim.told_order_ids) told.emplace_back(id);
    json::object out{{"source", "client"},
                     {"key", claim.key},
                     {"told_order_ids", told},
                     {"planned", ItemsText(claim.planned)},
                     {"promised", claim.promised},
                     {"promised_by", claim.promised_by},
                     {"api_http_status", claim.api_http_status},
                     {"api_status", claim.api_status}};
    out["replayed_order_id"] = claim.replayed_order_id ? json::value(*claim.replayed_order_id) : json::value(nullptr);
    return out;
}

class Collector {
  public:
    void Add(const std::string& invariant, std::string message, json::array rows) {
        violations_.push_back(Violation{invariant, std::move(message), std::move(rows)});
    }
    std::vector<Violation> Take() { return std::move(violations_); }

  private:
    std::vector<Violation> violations_;
};

bool Holds(const std::string& reservation_status) {
    return reservation_status == "RESERVED" || reservation_status == "COMMITTED";
}

// Statuses that may follow a promise: a confirmed order may later be shipped or cancelled by its client.
bool KeepsPromise(const std::string& promised, const std::string& status, const std::string& requested) {
    if (promised.empty()) return true;
    if (promised == "ACCEPTED") {
        if (status == "PENDING" || status == "REJECTED") return true;  // PENDING: order.settled reports it
        return KeepsPromise("CONFIRMED", status, requested);
    }
    if (promised == "CONFIRMED") {
        if (status == "SHIPPING" || status == "SHIPPED") return requested == "ship";
        if (status == "CANCELLED") return requested == "cancel";
        return status == "CONFIRMED";
    }
    return promised == status;
}

}  // namespace

std::string ItemsText(const Items& items) {
    std::string out;
    for (const auto& [sku, quantity] : items) {
        if (!out.empty()) out += ",";
        out += sku + ":" + std::to_string(quantity);
    }
    return out;
}

const std::vector<std::pair<std::string, std::string>>& InvariantCatalog() {
    static const std::vector<std::pair<std::string, std::string>> kCatalog = {
        {"stock.available_non_negative", "available >= 0 for every SKU"},
        {"stock.available_within_on_hand", "on_hand >= available for every SKU"},
        {"stock.reserved_matches", "on_hand - available = sum of quantities of RESERVED reservations, per SKU"},
        {"stock.committed_matches", "initial on_hand - on_hand = sum of quantities of COMMITTED reservations, per SKU"},
        {"stock.tombstone_holds_nothing", "a tombstone (release before reserve) has no items"},
        {"cross.held_order_has_reservation",
         "every CONFIRMED/SHIPPING/SHIPPED order has exactly one RESERVED or COMMITTED reservation"},
        {"cross.items_match", "that reservation has the same items as the order"},
        {"cross.shipped_is_committed", "a SHIPPED order's reservation is COMMITTED"},
        {"cross.confirmed_is_reserved",
         "a CONFIRMED order's reservation is RESERVED, not COMMITTED (stock shipped for an order not shipped)"},
        {"order.items_as_ordered", "every order holds exactly the SKUs and quantities its client ordered"},
        {"cross.unheld_order_holds_nothing", "a REJECTED/CANCELLED/PENDING order has no reservation holding stock"},
        {"cross.reservation_has_order", "every reservation (tombstones too) belongs to an order"},
        {"cross.tombstone_order_cancelled", "a tombstone (release before reserve) belongs to a CANCELLED order"},
        {"order.rejected_for_stock_or_sku",
         "an order is REJECTED only for insufficient stock or an unknown SKU (DESIGN.md §2), never for a lost race"},
        {"outbox.drained", "the reconciler backlog reached 0 after healing"},
        {"outbox.no_failed_intent", "no inventory intent ended 'failed' (inventory refused an accepted step)"},
        {"order.settled", "no order is left PENDING or SHIPPING once the backlog is 0 (nothing accepted is lost)"},
        {"idempotency.order_has_one_key", "every order was created by exactly one Idempotency-Key"},
        {"idempotency.key_maps_to_told_order",
         "each key the client was answered on maps to exactly one order: the one its client was told"},
        {"idempotency.replay_same_order", "replaying a key after the run names the same order"},
        {"idempotency.replay_same_answer",
         "a decided answer (201, 409, 422) is stored: replaying its key returns the same status and body"},
        {"api.status_matches_db", "GET /api/v1/orders/{id} shows the status stored in order_db"},
        {"api.promise_kept", "what the API promised (201, 409 insufficient_stock, ship/cancel 200) still holds"},
        {"api.expected_answers", "no answer a correct service never gives (e.g. idempotency_key_reused on a retry)"},
    };
    return kCatalog;
}

std::vector<Violation> CheckInvariants(const Snapshot& snapshot) {
    Collector out;

    // Per-SKU stock from the reservations.
    std::map<std::string, long long> reserved, committed;
    for (const auto& reservation : snapshot.reservations) {
        for (const auto& [sku, quantity] : reservation.items) {
            if (reservation.status == "RESERVED") reserved[sku] += quantity;
            if (reservation.status == "COMMITTED") committed[sku] += quantity;
        }
        if (reservation.tombstone && !reservation.items.empty()) {
            out.Add("stock.tombstone_holds_nothing",
                    "tombstone " + reservation.id + " has items " + ItemsText(reservation.items),
                    {ToJson(reservation)});
        }
    }
    std::map<std::string, const ProductRow*> products;
    for (const auto& product : snapshot.products) {
        products[product.sku] = &product;
        if (product.available < 0) {
            out.Add("stock.available_non_negative", product.sku + ": available is " + std::to_string(product.available),
                    {ToJson(product)});
        }
        if (product.on_hand < product.available) {
            out.Add("stock.available_within_on_hand",
                    product.sku + ": on_hand " + std::to_string(product.on_hand) + " < available " +
                        std::to_string(product.available),
                    {ToJson(product)});
        }
        long long held = reserved[product.sku];
        if (product.on_hand - product.available != held) {
            out.Add("stock.reserved_matches",
                    product.sku + ": on_hand - available = " + std::to_string(product.on_hand - product.available) +
                        " but RESERVED reservations hold " + std::to_string(held),
                    {ToJson(product)});
        }
        long long shipped = committed[product.sku] - product.initial_committed;
        if (product.initial_on_hand - product.on_hand != shipped) {
            out.Add("stock.committed_matches",
                    product.sku + ": on_hand fell by " + std::to_string(product.initial_on_hand - product.on_hand) +
                        " during the run but COMMITTED reservations grew by " + std::to_string(shipped),
                    {ToJson(product)});
        }
    }
    for (const auto& [sku, quantity] : reserved) {
        if (quantity > 0 && !products.contains(sku)) {
            out.Add("stock.reserved_matches",
                    "reservations hold " + std::to_string(quantity) + " of " + sku + ", which is not a product", {});
        }
    }

    // Orders against reservations (reservation id = order id).
    std::unordered_map<std::string, const ReservationRow*> reservation_by_id;
    for (const auto& reservation : snapshot.reservations) reservation_by_id[reservation.id] = &reservation;
    std::unordered_map<std::string, const OrderRow*> order_by_id;
    for (const auto& order : snapshot.orders) {
        order_by_id[order.id] = &order;
        auto found = reservation_by_id.find(order.id);
        const ReservationRow* reservation = found == reservation_by_id.end() ? nullptr : found->second;
        bool holds = reservation != nullptr && Holds(reservation->status);
        json::array rows{ToJson(order)};
        if (reservation != nullptr) rows.emplace_back(ToJson(*reservation));
        const auto& status = order.status;
        if (status == "CONFIRMED" || status == "SHIPPING" || status == "SHIPPED") {
            if (!holds) {
                out.Add("cross.held_order_has_reservation",
                        "order " + order.id + " is " + status + " but " +
                            (reservation ? "its reservation is " + reservation->status : "it has no reservation"),
                        rows);
            } else if (reservation->items != order.items) {
                out.Add("cross.items_match",
                        "order " + order.id + " has items " + ItemsText(order.items) + ", its reservation " +
                            ItemsText(reservation->items),
                        rows);
            }
            if (status == "SHIPPED" && holds && reservation->status != "COMMITTED") {
                out.Add("cross.shipped_is_committed",
                        "order " + order.id + " is SHIPPED but its reservation is " + reservation->status, rows);
            }
            if (status == "CONFIRMED" && holds && reservation->status != "RESERVED") {
                out.Add("cross.confirmed_is_reserved",
                        "order " + order.id + " is CONFIRMED but its reservation is " + reservation->status, rows);
            }
        } else if (holds) {
            out.Add("cross.unheld_order_holds_nothing",
                    "order " + order.id + " is " + status + " but its reservation is " + reservation->status, rows);
        }
        if (reservation != nullptr && reservation->tombstone && status != "CANCELLED") {
            out.Add("cross.tombstone_order_cancelled",
                    "order " + order.id + " is " + status +
                        " but inventory holds a tombstone for it (a release "
                        "arrived before its reserve)",
                    rows);
        }
        if (status == "REJECTED" && order.status_reason.rfind("insufficient stock", 0) != 0 &&
            order.status_reason.rfind("unknown sku", 0) != 0) {
            out.Add("order.rejected_for_stock_or_sku",
                    "order " + order.id + " is REJECTED because: " + order.status_reason, rows);
        }
        if (status == "PENDING" || status == "SHIPPING") {
            out.Add("order.settled", "order " + order.id + " is still " + status + " after healing", rows);
        }
    }
    for (const auto& reservation : snapshot.reservations) {
        if (!order_by_id.contains(reservation.id)) {
            out.Add("cross.reservation_has_order",
                    "reservation " + reservation.id + " (" + reservation.status +
                        (reservation.tombstone ? ", tombstone" : "") + ") belongs to no order",
                    {ToJson(reservation)});
        }
    }

    // The outbox.
    if (!snapshot.backlog_drained) {
        json::array rows;
        for (const auto& intent : snapshot.intents) {
            if (intent.state == "pending") rows.emplace_back(ToJson(intent));
        }
        out.Add("outbox.drained", std::to_string(rows.size()) + " intents still pending after the heal timeout",
                std::move(rows));
    }
    for (const auto& intent : snapshot.intents) {
        if (intent.state == "failed") {
            json::array rows{ToJson(intent)};
            if (auto order = order_by_id.find(intent.order_id); order != order_by_id.end()) {
                rows.emplace_back(ToJson(*order->second));
            }
            if (auto reservation = reservation_by_id.find(intent.order_id); reservation != reservation_by_id.end()) {
                rows.emplace_back(ToJson(*reservation->second));
            }
            out.Add("outbox.no_failed_intent",
                    intent.kind + " intent of order " + intent.order_id + " failed: " + intent.last_error, rows);
        }
    }

    // Idempotency keys.
    std::unordered_map<std::string, std::vector<const KeyRow*>> keys_by_order;
    std::unordered_map<std::string, const KeyRow*> key_by_name;
    for (const auto& key : snapshot.keys) {
        keys_by_order[key.order_id].push_back(&key);
        key_by_name[key.key] = &key;
    }
    for (const auto& order : snapshot.orders) {
        auto found = keys_by_order.find(order.id);
        std::size_t count = found == keys_by_order.end() ? 0 : found->second.size();
        if (count != 1) {
            json::array rows{ToJson(order)};
            if (count > 0) {
                for (const KeyRow* key : found->second) rows.emplace_back(ToJson(*key));
            }
            out.Add("idempotency.order_has_one_key",
                    "order " + order.id + " is referenced by " + std::to_string(count) + " idempotency keys", rows);
        }
    }
    for (const auto& claim : snapshot.claims) {
        auto found = key_by_name.find(claim.key);
        const KeyRow* key = found == key_by_name.end() ? nullptr : found->second;
        json::array rows{ToJson(claim)};
        if (key != nullptr) rows.emplace_back(ToJson(*key));
        if (claim.told_order_ids.size() > 1) {
            out.Add("idempotency.key_maps_to_told_order",
                    "key " + claim.key + " was answered with " + std::to_string(claim.told_order_ids.size()) +
                        " different order ids",
                    rows);
        } else if (claim.told_order_ids.size() == 1) {
            const std::string& told = *claim.told_order_ids.begin();
            if (key == nullptr) {
                out.Add("idempotency.key_maps_to_told_order",
                        "key " + claim.key + " was answered with order " + told + " but order_db has no such key",
                        rows);
            } else if (key->order_id != told) {
                out.Add("idempotency.key_maps_to_told_order",
                        "key " + claim.key + " maps to order " + key->order_id + " but its client was told " + told,
                        rows);
            } else if (!order_by_id.contains(told)) {
                out.Add("idempotency.key_maps_to_told_order",
                        "key " + claim.key + " names order " + told + ", which does not exist", rows);
            }
            if (claim.replayed_order_id && *claim.replayed_order_id != told) {
                out.Add(
                    "idempotency.replay_same_order",
                    "a replay of key " + claim.key + " named order " + *claim.replayed_order_id + " instead of " + told,
                    rows);
            }
            bool decided = claim.answer_status == 201 || claim.answer_status == 409 || claim.answer_status == 422;
            if (decided && claim.replay_status != 0 &&
                (claim.replay_status != claim.answer_status || claim.replay_body != claim.answer_body)) {
                json::array answer_rows = rows;
                answer_rows.push_back(
                    json::object{{"source", "client"},
                                 {"first_answer", std::to_string(claim.answer_status) + " " + claim.answer_body},
                                 {"replay_answer", std::to_string(claim.replay_status) + " " + claim.replay_body}});
                out.Add("idempotency.replay_same_answer",
                        "key " + claim.key + " was answered " + std::to_string(claim.answer_status) +
                            " but its replay answers " + std::to_string(claim.replay_status) +
                            (claim.replay_status == claim.answer_status ? " with another body" : ""),
                        std::move(answer_rows));
            }
            auto order = order_by_id.find(told);
            if (order != order_by_id.end()) {
                const std::string& status = order->second->status;
                rows.emplace_back(ToJson(*order->second));
                // Order items are rewritten from inventory's answer when the order is confirmed, so comparing them
                // with the reservation alone would not see a wrong SKU or quantity: compare with what was ordered.
                if (!claim.planned.empty() && order->second->items != claim.planned) {
                    out.Add("order.items_as_ordered",
                            "order " + told + " holds " + ItemsText(order->second->items) + " but its client ordered " +
                                ItemsText(claim.planned),
                            rows);
                }
                if (claim.api_http_status != 0 && (claim.api_http_status != 200 || claim.api_status != status)) {
                    out.Add("api.status_matches_db",
                            "GET of order " + told + " answered " + std::to_string(claim.api_http_status) + " " +
                                claim.api_status + " but order_db says " + status,
                            rows);
                }
                if (!KeepsPromise(claim.promised, status, claim.requested)) {
                    out.Add("api.promise_kept",
                            "order " + told + " was promised " + claim.promised + " (" + claim.promised_by +
                                ") but is " + status +
                                (claim.requested.empty() ? " with no follow-up sent"
                                                         : " after a " + claim.requested + " was sent"),
                            rows);
                }
            }
        }
        for (const auto& answer : claim.unexpected_answers) {
            out.Add("api.expected_answers", "key " + claim.key + ": " + answer, rows);
        }
    }
    return out.Take();
}

}  // namespace valerix::scenario
