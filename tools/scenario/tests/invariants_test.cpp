// The checker on hand-made rows: a healthy snapshot passes, and each broken invariant is reported by name.
#include "invariants.hpp"

#include <gtest/gtest.h>

namespace valerix::scenario {
namespace {

// A client that was told `order_id`, promised `promised`, and saw the order `api_status` at the end.
ClientClaim Claim(std::string key, std::string order_id, std::string promised, std::string api_status) {
    ClientClaim claim;
    claim.key = std::move(key);
    if (!order_id.empty()) {
        claim.told_order_ids.insert(order_id);
        claim.replayed_order_id = order_id;
        claim.api_http_status = 200;
    }
    claim.promised = std::move(promised);
    claim.promised_by = "the test";
    claim.api_status = std::move(api_status);
    return claim;
}

// Two SKUs, started with 10 each. Orders: o1 CONFIRMED (A:2), o2 SHIPPED (A:1,B:3), o3 CANCELLED (released B:1),
// o4 REJECTED (no reservation), o5 CANCELLED before its reserve (tombstone).
Snapshot Healthy() {
    Snapshot s;
    s.products = {{"A", 9, 7, 10, 0}, {"B", 7, 7, 10, 0}};
    s.reservations = {{"o1", "RESERVED", false, {{"A", 2}}},
                      {"o2", "COMMITTED", false, {{"A", 1}, {"B", 3}}},
                      {"o3", "RELEASED", false, {{"B", 1}}},
                      {"o5", "RELEASED", true, {}}};
    s.orders = {{"o1", "CONFIRMED", {{"A", 2}}, ""},
                {"o2", "SHIPPED", {{"A", 1}, {"B", 3}}, ""},
                {"o3", "CANCELLED", {{"B", 1}}, ""},
                {"o4", "REJECTED", {{"B", 50}}, "insufficient stock of B"},
                {"o5", "CANCELLED", {{"A", 1}}, ""}};
    s.keys = {{"k1", "o1", 201}, {"k2", "o2", 201}, {"k3", "o3", 202}, {"k4", "o4", 409}, {"k5", "o5", 202}};
    s.intents = {{"o1", "reserve", "done", 0, ""}, {"o2", "reserve", "done", 1, "deadline passed"},
                 {"o2", "commit", "done", 0, ""},  {"o3", "reserve", "done", 0, ""},
                 {"o3", "release", "done", 0, ""}, {"o5", "reserve", "cancelled", 0, ""},
                 {"o5", "release", "done", 0, ""}};
    s.claims = {
        Claim("k1", "o1", "CONFIRMED", "CONFIRMED"), Claim("k2", "o2", "SHIPPED", "SHIPPED"),
        Claim("k3", "o3", "CANCELLED", "CANCELLED"), Claim("k4", "o4", "REJECTED", "REJECTED"),
        Claim("k5", "o5", "CANCELLED", "CANCELLED"), Claim("k6", "", "", "")};  // never answered, never created: fine
    return s;
}

std::vector<std::string> Names(const std::vector<Violation>& violations) {
    std::vector<std::string> names;
    for (const auto& violation : violations) names.push_back(violation.invariant);
    return names;
}

bool Has(const std::vector<Violation>& violations, const std::string& invariant) {
    for (const auto& violation : violations) {
        if (violation.invariant == invariant) return true;
    }
    return false;
}

TEST(InvariantsTest, HealthySnapshotHasNoViolation) {
    auto violations = CheckInvariants(Healthy());
    EXPECT_TRUE(violations.empty()) << ::testing::PrintToString(Names(violations));
}

TEST(InvariantsTest, EveryCheckedInvariantIsNamedInTheCatalog) {
    std::set<std::string> catalog;
    for (const auto& [name, statement] : InvariantCatalog()) {
        EXPECT_FALSE(statement.empty());
        EXPECT_TRUE(catalog.insert(name).second) << name;
    }
    EXPECT_GE(catalog.size(), 24u);
}

TEST(InvariantsTest, NegativeAvailableAndAvailableAboveOnHand) {
    auto s = Healthy();
    s.products[0].available = -1;
    s.products[1].available = 8;  // on_hand 7
    auto violations = CheckInvariants(s);
    EXPECT_TRUE(Has(violations, "stock.available_non_negative"));
    EXPECT_TRUE(Has(violations, "stock.available_within_on_hand"));
}

TEST(InvariantsTest, StockTakenTwiceBreaksReservedMatches) {
    auto s = Healthy();
    s.products[0].available -= 2;  // a retry deducted again
    auto violations = CheckInvariants(s);
    ASSERT_TRUE(Has(violations, "stock.reserved_matches"));
    EXPECT_EQ(violations[0].rows.size(), 1u) << "the product row is shown";
}

TEST(InvariantsTest, CommitAppliedTwiceBreaksCommittedMatches) {
    auto s = Healthy();
    s.products[1].on_hand -= 3;
    s.products[1].available -= 3;
    auto violations = CheckInvariants(s);
    EXPECT_TRUE(Has(violations, "stock.committed_matches"));
}

TEST(InvariantsTest, CommittedBaselineIsSubtracted) {
    auto s = Healthy();
    // Against a stack that already had shipments: 5 of A were committed before the run and on_hand was 15.
    s.products[0].initial_on_hand = 15 - 5 + 5;
    s.products[0].initial_committed = 5;
    s.products[0].on_hand = 9 + 5 - 5;
    s.reservations.push_back({"old", "COMMITTED", false, {{"A", 5}}});
    s.orders.push_back({"old", "SHIPPED", {{"A", 5}}, ""});
    s.keys.push_back({"kold", "old", 201});
    s.products[0].initial_on_hand = 10;  // on_hand 9 now: 1 shipped during the run (o2)
    auto violations = CheckInvariants(s);
    EXPECT_TRUE(violations.empty()) << ::testing::PrintToString(Names(violations));
}

TEST(InvariantsTest, TombstoneWithItems) {
    auto s = Healthy();
    s.reservations[3].items = {{"A", 1}};
    EXPECT_TRUE(Has(CheckInvariants(s), "stock.tombstone_holds_nothing"));
}

TEST(InvariantsTest, ConfirmedOrderWithoutReservation) {
    auto s = Healthy();
    s.orders.push_back({"o6", "CONFIRMED", {{"A", 1}}, ""});
    s.keys.push_back({"k7", "o6", 201});
    EXPECT_TRUE(Has(CheckInvariants(s), "cross.held_order_has_reservation"));
}

TEST(InvariantsTest, ConfirmedOrderWhoseReservationWasReleased) {
    auto s = Healthy();
    s.reservations[0].status = "RELEASED";
    s.products[0].available = 9;
    auto violations = CheckInvariants(s);
    EXPECT_TRUE(Has(violations, "cross.held_order_has_reservation"));
}

TEST(InvariantsTest, ItemsDiffer) {
    auto s = Healthy();
    s.orders[0].items = {{"A", 3}};
    EXPECT_TRUE(Has(CheckInvariants(s), "cross.items_match"));
}

TEST(InvariantsTest, ShippedButOnlyReserved) {
    auto s = Healthy();
    s.reservations[1].status = "RESERVED";
    s.products[0] = {"A", 10, 7, 10, 0};
    s.products[1] = {"B", 10, 7, 10, 0};
    auto violations = CheckInvariants(s);
    EXPECT_TRUE(Has(violations, "cross.shipped_is_committed"));
    EXPECT_EQ(violations.size(), 1u) << ::testing::PrintToString(Names(violations));
}

TEST(InvariantsTest, CancelledOrderStillHoldingStock) {
    auto s = Healthy();
    s.reservations[2].status = "RESERVED";
    s.products[1].available = 6;
    auto violations = CheckInvariants(s);
    EXPECT_TRUE(Has(violations, "cross.unheld_order_holds_nothing"));
    EXPECT_EQ(violations.size(), 1u) << ::testing::PrintToString(Names(violations));
}

TEST(InvariantsTest, TombstoneOfAnOrderThatWasNotCancelled) {
    auto s = Healthy();
    s.orders[4].status = "REJECTED";
    s.orders[4].status_reason = "insufficient stock of A";
    s.claims[4].promised = "";
    s.claims[4].api_status = "REJECTED";
    auto violations = CheckInvariants(s);
    EXPECT_TRUE(Has(violations, "cross.tombstone_order_cancelled"));
    EXPECT_EQ(violations.size(), 1u) << ::testing::PrintToString(Names(violations));
}

TEST(InvariantsTest, RejectedForAnotherReasonThanStockOrSku) {
    auto s = Healthy();
    s.orders[3].status_reason = "inventory refused the reservation (409 reservation_released)";
    auto violations = CheckInvariants(s);
    EXPECT_TRUE(Has(violations, "order.rejected_for_stock_or_sku"));
    EXPECT_EQ(violations.size(), 1u) << ::testing::PrintToString(Names(violations));
}

TEST(InvariantsTest, ReservationOfNoOrderTombstonesIncluded) {
    auto s = Healthy();
    s.reservations.push_back({"stray", "RELEASED", true, {}});
    EXPECT_TRUE(Has(CheckInvariants(s), "cross.reservation_has_order"));
}

TEST(InvariantsTest, BacklogNotDrainedAndStuckOrders) {
    auto s = Healthy();
    s.orders.push_back({"o7", "PENDING", {{"A", 1}}, ""});
    s.keys.push_back({"k7", "o7", 202});
    s.intents.push_back({"o7", "reserve", "pending", 12, "connection refused"});
    s.backlog_drained = false;
    auto violations = CheckInvariants(s);
    EXPECT_TRUE(Has(violations, "outbox.drained"));
    EXPECT_TRUE(Has(violations, "order.settled"));
}

TEST(InvariantsTest, FailedIntent) {
    auto s = Healthy();
    s.intents[2].state = "failed";
    s.intents[2].last_error = "404 reservation_not_found";
    EXPECT_TRUE(Has(CheckInvariants(s), "outbox.no_failed_intent"));
}

TEST(InvariantsTest, OrderWithoutKeyAndOrderWithTwoKeys) {
    auto s = Healthy();
    s.keys.push_back({"k1-again", "o1", 201});
    s.keys.erase(s.keys.begin() + 3);  // o4 loses its key
    s.claims.erase(s.claims.begin() + 3);
    auto violations = CheckInvariants(s);
    int count = 0;
    for (const auto& violation : violations) count += violation.invariant == "idempotency.order_has_one_key";
    EXPECT_EQ(count, 2) << ::testing::PrintToString(Names(violations));
}

TEST(InvariantsTest, KeyMapsToAnotherOrderThanTheClientWasTold) {
    auto s = Healthy();
    s.keys[0].order_id = "o4";
    auto violations = CheckInvariants(s);
    EXPECT_TRUE(Has(violations, "idempotency.key_maps_to_told_order"));
}

TEST(InvariantsTest, ClientToldTwoOrderIdsForOneKey) {
    auto s = Healthy();
    s.claims[0].told_order_ids.insert("o9");
    EXPECT_TRUE(Has(CheckInvariants(s), "idempotency.key_maps_to_told_order"));
}

TEST(InvariantsTest, AnsweredKeyMissingFromTheDatabase) {
    auto s = Healthy();
    auto claim = Claim("k8", "o8", "CONFIRMED", "");
    claim.api_http_status = 0;
    claim.replayed_order_id.reset();
    s.claims.push_back(claim);
    EXPECT_TRUE(Has(CheckInvariants(s), "idempotency.key_maps_to_told_order"));
}

TEST(InvariantsTest, ReplayNamesAnotherOrder) {
    auto s = Healthy();
    s.claims[1].replayed_order_id = "o3";
    EXPECT_TRUE(Has(CheckInvariants(s), "idempotency.replay_same_order"));
}

TEST(InvariantsTest, ReplayMustReturnTheStoredAnswer) {
    auto s = Healthy();
    s.claims[0].answer_status = 201;
    s.claims[0].answer_body = R"({"id":"o1","status":"CONFIRMED"})";
    s.claims[0].replay_status = 201;
    s.claims[0].replay_body = s.claims[0].answer_body;
    EXPECT_TRUE(CheckInvariants(s).empty());
    s.claims[0].replay_body = R"({"id":"o1","status":"SHIPPED"})";
    EXPECT_TRUE(Has(CheckInvariants(s), "idempotency.replay_same_answer"));
    s.claims[0].replay_status = 200;
    EXPECT_TRUE(Has(CheckInvariants(s), "idempotency.replay_same_answer"));

    auto pending = Healthy();  // a 202 is not decided: its replay shows the order as it is now
    pending.claims[2].answer_status = 202;
    pending.claims[2].answer_body = R"({"id":"o3","status":"PENDING"})";
    pending.claims[2].replay_status = 201;
    pending.claims[2].replay_body = R"({"id":"o3","status":"CONFIRMED"})";
    EXPECT_TRUE(CheckInvariants(pending).empty());
}

TEST(InvariantsTest, ApiDisagreesWithTheDatabase) {
    auto s = Healthy();
    s.claims[0].api_status = "PENDING";
    EXPECT_TRUE(Has(CheckInvariants(s), "api.status_matches_db"));
}

TEST(InvariantsTest, BrokenPromises) {
    auto s = Healthy();
    s.claims[3].promised = "CONFIRMED";  // told 201 but the order is REJECTED
    auto violations = CheckInvariants(s);
    EXPECT_TRUE(Has(violations, "api.promise_kept"));

    auto shipped = Healthy();
    shipped.claims[0].promised = "SHIPPED";  // told SHIPPED but still CONFIRMED
    EXPECT_TRUE(Has(CheckInvariants(shipped), "api.promise_kept"));
}

TEST(InvariantsTest, ConfirmedThenCancelledKeepsThePromiseOnlyWhenTheClientCancelled) {
    auto s = Healthy();
    s.claims[2].promised = "CONFIRMED";  // o3 is CANCELLED
    s.claims[2].requested = "cancel";    // its answer may have been lost: the promise was the 201
    EXPECT_TRUE(CheckInvariants(s).empty());
    for (const char* requested : {"", "ship"}) {
        s.claims[2].requested = requested;  // nobody asked for a cancel: a confirmed order was lost
        EXPECT_TRUE(Has(CheckInvariants(s), "api.promise_kept")) << "requested '" << requested << "'";
    }
}

TEST(InvariantsTest, ConfirmedThenShippedKeepsThePromiseOnlyWhenTheClientShipped) {
    auto s = Healthy();
    s.claims[1].promised = "CONFIRMED";  // o2 is SHIPPED; the ship's own answer was lost
    s.claims[1].requested = "ship";
    EXPECT_TRUE(CheckInvariants(s).empty());
    s.claims[1].requested = "";
    EXPECT_TRUE(Has(CheckInvariants(s), "api.promise_kept"));
}

TEST(InvariantsTest, UnexpectedAnswers) {
    auto s = Healthy();
    s.claims[0].unexpected_answers.push_back("create attempt 2 answered 422 idempotency_key_reused");
    EXPECT_TRUE(Has(CheckInvariants(s), "api.expected_answers"));
}

TEST(InvariantsTest, AnOrderHoldsWhatItsClientOrderedNotOnlyWhatItsReservationHolds) {
    // Order items are rewritten from inventory's answer on confirmation: a wrong quantity in both the reservation
    // and the order passes every other check.
    auto s = Healthy();
    s.claims[0].planned = {{"A", 2}};
    EXPECT_FALSE(Has(CheckInvariants(s), "order.items_as_ordered"));
    s.orders[0].items = {{"A", 3}};
    s.reservations[0].items = {{"A", 3}};
    s.products[0].available = 6;  // the stock checks balance too
    auto violations = CheckInvariants(s);
    EXPECT_TRUE(Has(violations, "order.items_as_ordered")) << ::testing::PrintToString(Names(violations));
    EXPECT_FALSE(Has(violations, "cross.items_match"));
    EXPECT_FALSE(Has(violations, "stock.reserved_matches"));
}

TEST(InvariantsTest, AConfirmedOrderWhoseStockWasShippedIsAViolation) {
    // o1 CONFIRMED, but inventory committed its reservation (a commit whose SHIPPING write was lost): the stock
    // checks still balance, since on_hand fell by what was committed.
    auto s = Healthy();
    s.reservations[0].status = "COMMITTED";
    s.products[0].on_hand = 7;
    s.products[0].available = 7;
    auto violations = CheckInvariants(s);
    EXPECT_TRUE(Has(violations, "cross.confirmed_is_reserved")) << ::testing::PrintToString(Names(violations));
    EXPECT_FALSE(Has(violations, "stock.committed_matches"));
    EXPECT_FALSE(Has(violations, "stock.reserved_matches"));
}

TEST(InvariantsTest, AnAcceptedOrderIsDecidedAndMovedOnlyByItsClient) {
    auto s = Healthy();
    s.claims[0].promised = "ACCEPTED";  // 202 PENDING; o1 ended CONFIRMED
    EXPECT_FALSE(Has(CheckInvariants(s), "api.promise_kept"));
    s.claims[3].promised = "ACCEPTED";  // o4 ended REJECTED: a decision too
    EXPECT_FALSE(Has(CheckInvariants(s), "api.promise_kept"));
    s.claims[2].promised = "ACCEPTED";  // o3 ended CANCELLED although its client sent no cancel
    EXPECT_TRUE(Has(CheckInvariants(s), "api.promise_kept"));
    s.claims[2].requested = "cancel";
    EXPECT_FALSE(Has(CheckInvariants(s), "api.promise_kept"));
}

}  // namespace
}  // namespace valerix::scenario
