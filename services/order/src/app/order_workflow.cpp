#include "app/order_workflow.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <valerix/http/message.hpp>

namespace valerix::order {
namespace {

boost::json::object ParseObject(const std::string& text) {
    boost::system::error_code ec;
    auto value = boost::json::parse(text, ec);
    if (ec || !value.is_object()) return {};
    return std::move(value.get_object());
}

std::string StringOf(const boost::json::object& object, const char* key) {
    auto it = object.find(key);
    return it != object.end() && it->value().is_string() ? std::string(it->value().get_string()) : std::string();
}

Answer ProblemAnswer(const http::Response& response) { return Answer{response.status, response.body, true}; }

/// The reserve was decided by someone else first (the reconciler, or a cancel): answer what a replay of the key
/// returns — 201 or the stored 409/422 problem — and 202 with the order as it is when nothing final is stored.
Answer DecidedElsewhere(Transition& finished, const std::string& order_id) {
    int status = finished.response_status;
    if (status == 201 || status == 409 || status == 422) {
        return Answer{status, std::move(finished.body), status != 201, false, order_id};
    }
    return Answer{202, std::move(finished.body), false, false, order_id};
}

}  // namespace

OrderWorkflow::OrderWorkflow(OrderStore& store, InventoryClient& inventory, WorkflowConfig config,
                             core::Random& random, const core::Clock& clock, metrics::Registry& registry,
                             core::Logger& logger)
    : store_(store),
      inventory_(inventory),
      config_(config),
      random_(random),
      clock_(clock),
      logger_(logger),
      orders_(registry.AddCounter("valerix_orders_total", "Orders reaching each status.", {"status"})),
      order_value_(registry.AddCounter("valerix_order_value_cents_total", "Value of confirmed orders, in cents.")
                       .WithLabels({})),
      replays_(registry.AddCounter("valerix_idempotent_replays_total", "Requests answered from a stored response.")
                   .WithLabels({})) {}

core::Deadline OrderWorkflow::Db() const { return core::Deadline::After(clock_, config_.db_timeout); }

int OrderWorkflow::RetryDelayMs(int attempts) {
    auto delay = resilience::FullJitterDelay(config_.reconcile_backoff, std::max(0, attempts - 1), random_);
    return static_cast<int>(std::max<long long>(50, delay.count()));
}

void OrderWorkflow::CountStatus(std::string_view status) { orders_.WithLabels({std::string(status)}).Inc(); }

boost::asio::awaitable<pg::Result<Answer>> OrderWorkflow::Create(const std::string& key, const OrderRequest& request,
                                                                 core::Deadline caller_deadline,
                                                                 const CallContext& context) {
    // Time-ordered: orders, their intents and keys, and inventory's reservations are all keyed by this id.
    std::string order_id = core::TimeOrderedUuid(
        random_, std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch()).count());
    std::string items = ItemsJson(request);
    std::string fingerprint = Fingerprint(request);
    const int lease_ms = static_cast<int>(config_.lease.count());
    // With the breaker open the call would be refused anyway: record the order already deferred, one commit.
    const bool refused = inventory_.RefusesNow();
    pg::Result<CreateOutcome> created = pg::Error{pg::ErrorKind::kOther, "", "not attempted"};
    if (refused) {
        created = co_await store_.CreateDeferred(key, fingerprint, order_id, request.customer_id, items, lease_ms,
                                                 RetryDelayMs(1), "circuit breaker open", Db());
    } else {
        created = co_await store_.Create(key, fingerprint, order_id, request.customer_id, items, lease_ms, Db());
    }
    if (!created) co_return created.error();
    if (created->outcome == "key_reused") {
        co_return ProblemAnswer(http::Problem(422, "idempotency_key_reused", "Idempotency-Key reused",
                                              "this Idempotency-Key was used with a different request body",
                                              {{"order_id", created->order_id}}));
    }
    if (created->outcome == "in_flight") {
        co_return ProblemAnswer(http::Problem(409, "idempotency_key_in_flight", "Request still in progress",
                                              "the first request with this Idempotency-Key is still being processed; "
                                              "retry shortly",
                                              {{"order_id", created->order_id}}));
    }
    if (created->outcome == "replay") {
        replays_.Inc();
        Answer answer{created->response_status, std::move(created->body), created->response_status >= 400, true,
                      created->order_id};
        co_return answer;
    }
    CountStatus("PENDING");
    if (created->outcome == "deferred") {
        Answer answer{202, std::move(created->body), false, false, order_id};
        co_return answer;
    }
    auto call_deadline = caller_deadline.Capped(clock_, config_.call_deadline);
    auto reply = co_await inventory_.Reserve(order_id, items, call_deadline, context);
    co_return co_await ApplyReserveReply(order_id, reply, 1);
}

boost::asio::awaitable<pg::Result<Answer>> OrderWorkflow::ApplyReserveReply(const std::string& order_id,
                                                                            const InventoryReply& reply,
                                                                            int attempts) {
    if (reply.kind != InventoryReply::Kind::kAnswered) {
        auto order = co_await store_.DeferIntent(order_id, "reserve", reply.error, RetryDelayMs(attempts), Db());
        if (!order) co_return order.error();
        Answer answer{202, std::move(*order), false, false, order_id};
        co_return answer;
    }
    auto body = ParseObject(reply.body);
    std::string empty;
    pg::Result<Transition> finished = pg::Error{};
    if (reply.status == 200 || reply.status == 201) {
        std::string items = body.contains("items") ? boost::json::serialize(body.at("items")) : "[]";
        long long total = body.contains("total_cents") && body.at("total_cents").is_int64()
                              ? body.at("total_cents").get_int64()
                              : 0;
        finished = co_await store_.FinishReserve(order_id, true, items, total, empty, 201, empty, Db());
        if (!finished) co_return finished.error();
        if (finished->outcome == "applied") {
            CountStatus("CONFIRMED");
            order_value_.Inc(static_cast<double>(total));
        }
        if (finished->outcome != "applied") co_return DecidedElsewhere(*finished, order_id);
        Answer answer{201, std::move(finished->body), false, false, order_id};
        co_return answer;
    }
    // A definite refusal: the order is REJECTED and the problem is what a replay of the key returns.
    std::string code = StringOf(body, "code");
    http::Response problem;
    std::string reason;
    if (code == "insufficient_stock") {
        reason = "insufficient stock of " + StringOf(body, "sku");
        problem = http::Problem(409, "insufficient_stock", "Insufficient stock", reason,
                                {{"order_id", order_id}, {"sku", body["sku"]}, {"requested", body["requested"]},
                                 {"available", body["available"]}});
    } else if (code == "unknown_sku") {
        reason = "unknown sku " + StringOf(body, "sku");
        problem = http::Problem(422, "unknown_sku", "Unknown SKU", reason, {{"order_id", order_id}, {"sku", body["sku"]}});
    } else {
        reason = "inventory refused the reservation (" + std::to_string(reply.status) + " " + code + ")";
        problem = http::Problem(422, code.empty() ? "inventory_refused" : code, "Reservation refused", reason,
                                {{"order_id", order_id}});
    }
    std::string no_items = "[]";
    finished = co_await store_.FinishReserve(order_id, false, no_items, 0, reason, problem.status, problem.body, Db());
    if (!finished) co_return finished.error();
    if (finished->outcome != "applied") co_return DecidedElsewhere(*finished, order_id);
    CountStatus("REJECTED");
    logger_.Info("order rejected", {{"order_id", order_id}, {"reason", reason}});
    co_return ProblemAnswer(problem);
}

boost::asio::awaitable<pg::Result<Answer>> OrderWorkflow::Ship(const std::string& order_id,
                                                               core::Deadline caller_deadline,
                                                               const CallContext& context) {
    auto started = co_await store_.StartShip(order_id, static_cast<int>(config_.lease.count()), Db());
    if (!started) co_return started.error();
    const auto& outcome = started->outcome;
    if (outcome == "not_found") {
        co_return ProblemAnswer(http::Problem(404, "order_not_found", "Order not found", "no order with id " + order_id));
    }
    if (outcome == "invalid_transition") {
        auto status = StringOf(ParseObject(started->body), "status");
        co_return ProblemAnswer(http::Problem(409, "invalid_transition", "Invalid transition",
                                              "an order in status " + status + " cannot be shipped",
                                              {{"order_id", order_id}, {"current_status", status}}));
    }
    if (outcome == "shipped") {
        Answer answer{200, std::move(started->body), false, false, order_id};
        co_return answer;
    }
    auto call_deadline = caller_deadline.Capped(clock_, config_.call_deadline);
    auto reply = co_await inventory_.Commit(order_id, call_deadline, context);
    co_return co_await ApplyCommitReply(order_id, reply, 1);
}

boost::asio::awaitable<pg::Result<Answer>> OrderWorkflow::ApplyCommitReply(const std::string& order_id,
                                                                           const InventoryReply& reply,
                                                                           int attempts) {
    if (reply.kind == InventoryReply::Kind::kAnswered && reply.status == 200) {
        auto shipped = co_await store_.FinishShip(order_id, Db());
        if (!shipped) co_return shipped.error();
        CountStatus("SHIPPED");
        Answer answer{200, std::move(*shipped), false, false, order_id};
        co_return answer;
    }
    if (reply.kind == InventoryReply::Kind::kAnswered) {
        auto code = StringOf(ParseObject(reply.body), "code");
        std::string error = std::to_string(reply.status) + " " + code;
        auto failed = co_await store_.FailIntent(order_id, "commit", error, Db());
        if (!failed) co_return failed.error();
        logger_.Error("inventory refused a commit; the order needs attention", {{"order_id", order_id}, {"error", error}});
        co_return ProblemAnswer(http::Problem(502, "inventory_refused", "Inventory refused the shipment",
                                              "inventory answered " + error + " to the commit of this order",
                                              {{"order_id", order_id}}));
    }
    auto order = co_await store_.DeferIntent(order_id, "commit", reply.error, RetryDelayMs(attempts), Db());
    if (!order) co_return order.error();
    Answer answer{202, std::move(*order), false, false, order_id};
    co_return answer;
}

boost::asio::awaitable<pg::Result<Answer>> OrderWorkflow::Cancel(const std::string& order_id,
                                                                 core::Deadline caller_deadline,
                                                                 const CallContext& context) {
    auto cancelled = co_await store_.Cancel(order_id, static_cast<int>(config_.lease.count()), Db());
    if (!cancelled) co_return cancelled.error();
    const auto& outcome = cancelled->outcome;
    if (outcome == "not_found") {
        co_return ProblemAnswer(http::Problem(404, "order_not_found", "Order not found", "no order with id " + order_id));
    }
    if (outcome == "invalid_transition") {
        auto status = StringOf(ParseObject(cancelled->body), "status");
        co_return ProblemAnswer(http::Problem(409, "invalid_transition", "Invalid transition",
                                              "an order in status " + status + " cannot be cancelled",
                                              {{"order_id", order_id}, {"current_status", status}}));
    }
    if (outcome == "cancelled") {
        CountStatus("CANCELLED");
        auto call_deadline = caller_deadline.Capped(clock_, config_.call_deadline);
        auto reply = co_await inventory_.Release(order_id, call_deadline, context);
        auto applied = co_await ApplyReleaseReply(order_id, reply, 1);
        if (!applied) co_return applied.error();
    }
    Answer answer{200, std::move(cancelled->body), false, false, order_id};
    co_return answer;
}

boost::asio::awaitable<pg::Result<void>> OrderWorkflow::ApplyReleaseReply(const std::string& order_id,
                                                                          const InventoryReply& reply,
                                                                          int attempts) {
    if (reply.kind == InventoryReply::Kind::kAnswered && reply.status == 200) {
        co_return co_await store_.FinishRelease(order_id, Db());
    }
    if (reply.kind == InventoryReply::Kind::kAnswered) {
        auto code = StringOf(ParseObject(reply.body), "code");
        std::string error = std::to_string(reply.status) + " " + code;
        logger_.Error("inventory refused a release; the order needs attention", {{"order_id", order_id}, {"error", error}});
        co_return co_await store_.FailIntent(order_id, "release", error, Db());
    }
    auto deferred = co_await store_.DeferIntent(order_id, "release", reply.error, RetryDelayMs(attempts), Db());
    if (!deferred) co_return deferred.error();
    co_return pg::Result<void>();
}

boost::asio::awaitable<pg::Result<void>> OrderWorkflow::Drive(const ClaimedIntent& intent, const CallContext& context) {
    auto deadline = core::Deadline::After(clock_, config_.call_deadline);
    if (intent.kind == "reserve") {
        auto reply = co_await inventory_.Reserve(intent.order_id, intent.items_json, deadline, context);
        auto applied = co_await ApplyReserveReply(intent.order_id, reply, intent.attempts);
        if (!applied) co_return applied.error();
    } else if (intent.kind == "commit") {
        auto reply = co_await inventory_.Commit(intent.order_id, deadline, context);
        auto applied = co_await ApplyCommitReply(intent.order_id, reply, intent.attempts);
        if (!applied) co_return applied.error();
    } else if (intent.kind == "release") {
        auto reply = co_await inventory_.Release(intent.order_id, deadline, context);
        co_return co_await ApplyReleaseReply(intent.order_id, reply, intent.attempts);
    }
    co_return pg::Result<void>();
}

}  // namespace valerix::order
