#include <valerix/http/service_setup.hpp>

#include "api/order_api.hpp"

#include <algorithm>
#include <charconv>
#include <set>

#include <boost/json/parse.hpp>

namespace valerix::order {
namespace {

using http::Problem;
using http::Response;

const std::set<std::string_view> kStatuses = {"PENDING", "CONFIRMED", "REJECTED", "SHIPPING", "SHIPPED", "CANCELLED"};

CallContext ContextOf(const http::RequestContext& context) {
    return {context.request_id, context.traceparent, context.deadline};
}

}  // namespace

OrderApi::OrderApi(OrderWorkflow& workflow, OrderStore& store, InventoryClient& inventory, Reconciler& reconciler,
                   const metrics::RollingLatency& recent_latency, ApiConfig config, const core::Clock& clock,
                   core::Logger& logger)
    : workflow_(workflow),
      store_(store),
      inventory_(inventory),
      reconciler_(reconciler),
      recent_latency_(recent_latency),
      config_(config),
      clock_(clock),
      logger_(logger) {}

void OrderApi::Register(http::Router& router, metrics::Registry& registry) {
    router.Add("POST", "/api/v1/orders", http::Bind(this, &OrderApi::Create));
    router.Add("GET", "/api/v1/orders", http::Bind(this, &OrderApi::List));
    router.Add("GET", "/api/v1/orders/{id}", http::Bind(this, &OrderApi::Get));
    router.Add("POST", "/api/v1/orders/{id}/ship", http::Bind(this, &OrderApi::Ship));
    router.Add("POST", "/api/v1/orders/{id}/cancel", http::Bind(this, &OrderApi::Cancel));
    router.Add("GET", "/api/v1/resilience", http::Bind(this, &OrderApi::Resilience));
    router.Add("GET", "/health", http::Bind(this, &OrderApi::Health));
    router.Add("GET", "/ready", http::Bind(this, &OrderApi::Ready));
    http::AddLiveAndMetricsRoutes(router, registry);
}

core::Deadline OrderApi::Db(const http::RequestContext& context) const {
    return context.deadline.Capped(clock_, workflow_.Config().db_timeout);
}

Response OrderApi::ToResponse(Answer answer) const {
    Response response = http::JsonText(answer.status, std::move(answer.body));
    if (answer.problem) response.content_type = "application/problem+json";
    if (answer.replayed) response.headers.emplace_back("Idempotent-Replayed", "true");
    if (!answer.order_id.empty() && (answer.status == 201 || answer.status == 202)) {
        response.headers.emplace_back("Location", "/api/v1/orders/" + answer.order_id);
    }
    return response;
}

Response OrderApi::DatabaseProblem(const pg::Error& error, const http::RequestContext& context) {
    logger_.Warn("database call failed", {{"request_id", context.request_id},
                                          {"trace_id", context.trace_id},
                                          {"route", context.route},
                                          {"sqlstate", error.sqlstate},
                                          {"error", error.message}});
    if (error.kind == pg::ErrorKind::kTimeout) {
        return Problem(504, "deadline_exceeded", "Deadline exceeded", "the order database did not answer in time");
    }
    if (error.Transient()) {
        return Problem(503, "database_unavailable", "Database unavailable",
                       "the order database is not reachable right now; retry with the same Idempotency-Key");
    }
    return Problem(500, "internal_error", "Internal server error",
                   "the request could not be completed; request id " + context.request_id);
}

OrderApi::Awaitable OrderApi::Create(const http::Request& request, http::RequestContext& context) {
    auto key = request.Header("idempotency-key");
    const auto keys = std::count_if(request.headers.begin(), request.headers.end(),
                                    [](const auto& header) { return header.first == "idempotency-key"; });
    if (keys > 1) {
        // Which one names the order? Taking either would tie a retry to a different order than its first attempt.
        co_return Problem(400, "idempotency_key_missing", "Idempotency-Key required",
                          "send exactly one Idempotency-Key header, not " + std::to_string(keys));
    }
    if (key.empty()) {
        co_return Problem(400, "idempotency_key_missing", "Idempotency-Key required",
                          "send a unique Idempotency-Key header (1..255 printable ASCII) with every new order");
    }
    if (auto problem = IdempotencyKeyProblem(key)) {
        // DESIGN.md §4: a key that is not 1..255 printable ASCII is answered as a missing one.
        co_return Problem(400, "idempotency_key_missing", "Idempotency-Key required", *problem);
    }
    auto body = http::ParseJsonBody(request);
    if (!body.value) co_return body.problem;
    auto parsed = ParseOrderRequest(*body.value);
    if (!parsed) co_return http::ValidationProblem(parsed.error().field, parsed.error().detail);
    std::string key_text(key);
    auto answer = co_await workflow_.Create(key_text, *parsed, context.deadline, ContextOf(context));
    if (!answer) co_return DatabaseProblem(answer.error(), context);
    co_return ToResponse(std::move(*answer));
}

OrderApi::Awaitable OrderApi::Get(const http::Request&, http::RequestContext& context) {
    auto id = core::CanonicalUuid(context.Param("id"));
    if (!id) co_return Problem(404, "order_not_found", "Order not found", "order ids are UUIDs");
    auto order = co_await store_.Get(*id, Db(context));
    if (!order) co_return DatabaseProblem(order.error(), context);
    if (!*order) co_return Problem(404, "order_not_found", "Order not found", "no order with id " + *id);
    co_return http::JsonText(200, std::move(**order));
}

OrderApi::Awaitable OrderApi::List(const http::Request& request, http::RequestContext& context) {
    auto status = request.QueryParam("status");
    if (status && !status->empty() && !kStatuses.contains(*status)) {
        co_return http::ValidationProblem("status", "status must be one of PENDING, CONFIRMED, REJECTED, SHIPPING, "
                                                    "SHIPPED, CANCELLED");
    }
    if (status && status->empty()) status.reset();
    int limit = config_.default_page_size;
    if (auto text = request.QueryParam("limit")) {
        auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), limit);
        if (ec != std::errc() || end != text->data() + text->size() || limit < 1 || limit > config_.max_page_size) {
            co_return http::ValidationProblem("limit", "limit must be an integer from 1 to " +
                                                           std::to_string(config_.max_page_size));
        }
    }
    auto cursor = request.QueryParam("cursor");
    if (cursor && !cursor->empty() && !DecodeCursor(*cursor)) {
        co_return http::ValidationProblem("cursor", "cursor is not one this service issued");
    }
    if (cursor && cursor->empty()) cursor.reset();
    auto page = co_await store_.List(status, limit, cursor, Db(context));
    if (!page && page.error().kind == pg::ErrorKind::kInvalidInput && cursor) {
        // Well-formed to DecodeCursor, but its time is not one (e.g. month 13): a forged cursor, not a server fault.
        co_return http::ValidationProblem("cursor", "cursor is not one this service issued");
    }
    if (!page) co_return DatabaseProblem(page.error(), context);
    std::string body = R"({"orders":[)";
    for (std::size_t i = 0; i < page->orders.size(); ++i) {
        if (i) body += ',';
        body += page->orders[i];
    }
    body += R"(],"next_cursor":)";
    body += page->next_cursor ? "\"" + *page->next_cursor + "\"" : "null";
    body += "}";
    co_return http::JsonText(200, std::move(body));
}

OrderApi::Awaitable OrderApi::Ship(const http::Request&, http::RequestContext& context) {
    auto id = core::CanonicalUuid(context.Param("id"));
    if (!id) co_return Problem(404, "order_not_found", "Order not found", "order ids are UUIDs");
    auto answer = co_await workflow_.Ship(*id, context.deadline, ContextOf(context));
    if (!answer) co_return DatabaseProblem(answer.error(), context);
    co_return ToResponse(std::move(*answer));
}

OrderApi::Awaitable OrderApi::Cancel(const http::Request&, http::RequestContext& context) {
    auto id = core::CanonicalUuid(context.Param("id"));
    if (!id) co_return Problem(404, "order_not_found", "Order not found", "order ids are UUIDs");
    auto answer = co_await workflow_.Cancel(*id, context.deadline, ContextOf(context));
    if (!answer) co_return DatabaseProblem(answer.error(), context);
    co_return ToResponse(std::move(*answer));
}

OrderApi::Awaitable OrderApi::Resilience(const http::Request&, http::RequestContext&) {
    auto& breaker = inventory_.Breaker();
    auto snapshot = breaker.GetSnapshot();
    boost::json::array transitions;
    auto now = clock_.Now();
    for (const auto& transition : breaker.RecentTransitions()) {
        transitions.push_back({{"from", resilience::ToString(transition.from)},
                               {"to", resilience::ToString(transition.to)},
                               {"seconds_ago", std::chrono::duration<double>(now - transition.at).count()}});
    }
    auto budget = inventory_.Budget().Totals();
    auto backlog = reconciler_.LastBacklog();
    boost::json::object body{
        {"dependencies",
         boost::json::array{boost::json::object{
             {"name", "inventory"},
             {"breaker",
              {{"state", resilience::ToString(snapshot.state)},
               {"failure_rate", snapshot.failure_rate},
               {"slow_call_rate", snapshot.slow_call_rate},
               {"buffered_calls", snapshot.buffered_calls},
               {"failed_calls", snapshot.failed_calls},
               {"slow_calls", snapshot.slow_calls},
               {"not_permitted", snapshot.not_permitted},
               {"open_remaining_ms", snapshot.open_remaining.count()},
               {"transitions", transitions}}},
             {"retry_budget",
              {{"requests", budget.requests}, {"retries", budget.retries}, {"refused", budget.refused}}}}}},
        {"reconciler", {{"backlog", backlog.pending}, {"oldest_age_seconds", backlog.oldest_age_seconds}}}};
    auto recent = recent_latency_.Over(std::chrono::seconds(30));
    body["latency_30s"] = {{"requests", recent.count},
                           {"average_ms", recent.average_ms},
                           {"p50_ms", recent.p50_ms},
                           {"p95_ms", recent.p95_ms},
                           {"p99_ms", recent.p99_ms},
                           {"max_ms", recent.max_ms},
                           {"healthy", recent.average_ms <= config_.slow_average_ms}};
    co_return http::Json(200, body);
}

boost::asio::awaitable<boost::json::object> OrderApi::DatabaseCheck(core::Deadline deadline) {
    auto started = clock_.Now();
    auto ping = co_await store_.Ping(deadline);
    double db_ms = std::chrono::duration<double, std::milli>(clock_.Now() - started).count();
    boost::json::object database{{"status", ping ? "ok" : "fail"}, {"latency_ms", db_ms}};
    if (!ping) database["error"] = ping.error().message;
    co_return database;
}

OrderApi::Awaitable OrderApi::Health(const http::Request&, http::RequestContext&) {
    auto deadline = core::Deadline::After(clock_, config_.health_timeout);
    auto database = co_await DatabaseCheck(deadline);
    auto started = clock_.Now();
    auto inventory = co_await inventory_.Health(deadline);
    double inventory_ms = std::chrono::duration<double, std::milli>(clock_.Now() - started).count();
    bool inventory_ok = inventory.kind == InventoryReply::Kind::kAnswered && inventory.status == 200;

    boost::json::object downstream{{"status", inventory_ok ? "ok" : "fail"}, {"latency_ms", inventory_ms}};
    if (!inventory_ok) {
        downstream["error"] = inventory.kind == InventoryReply::Kind::kAnswered
                                  ? "inventory answered " + std::to_string(inventory.status)
                                  : inventory.error;
    }
    bool ok = database.at("status") == "ok" && inventory_ok;
    boost::json::object body{{"status", ok ? "ok" : "fail"},
                             {"checks", {{"database", database}, {"inventory", downstream}}}};
    co_return http::Json(ok ? 200 : 503, body);
}

// Whether this process can take orders: its own database only. Inventory being down is what the service is built
// to survive (orders answer 202 and the reconciler finishes them), so it must not take the service out of a load
// balancer; /health still reports it.
OrderApi::Awaitable OrderApi::Ready(const http::Request&, http::RequestContext&) {
    auto database = co_await DatabaseCheck(core::Deadline::After(clock_, config_.health_timeout));
    bool ok = database.at("status") == "ok";
    boost::json::object body{{"status", ok ? "ok" : "fail"}, {"checks", {{"database", database}}}};
    co_return http::Json(ok ? 200 : 503, body);
}

}  // namespace valerix::order
