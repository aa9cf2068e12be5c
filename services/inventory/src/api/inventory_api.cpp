#include <valerix/http/service_setup.hpp>

#include "api/inventory_api.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include <valerix/core/json_text.hpp>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>

namespace valerix::inventory {
namespace {

using http::Problem;
using http::Response;

Response FieldProblem(const FieldError& error) { return http::ValidationProblem(error.field, error.detail); }

Response DeadlineProblem() {
    return Problem(504, "deadline_exceeded", "Deadline exceeded",
                   "the caller's deadline passed before the work could start");
}

boost::json::object ParseObject(const std::string& json) {
    boost::system::error_code ec;
    auto value = boost::json::parse(json, ec);
    if (ec || !value.is_object()) return {};
    return std::move(value.get_object());
}

}  // namespace

InventoryApi::InventoryApi(InventoryStore& store, Chaos& chaos, ApiConfig config, core::Logger& logger,
                           metrics::Registry& registry, const core::Clock& clock)
    : store_(store),
      chaos_(chaos),
      config_(std::move(config)),
      logger_(logger),
      clock_(clock),
      outcomes_(registry.AddCounter("valerix_inventory_operations_total",
                                    "Reservation operations by what they decided.", {"operation", "outcome"})) {}

void InventoryApi::Register(http::Router& router, metrics::Registry& registry) {
    router.Add("GET", "/api/v1/products", http::Bind(this, &InventoryApi::ListProducts));
    router.Add("GET", "/api/v1/products/{sku}", http::Bind(this, &InventoryApi::GetProduct));
    router.Add("PUT", "/api/v1/products/{sku}", http::Bind(this, &InventoryApi::PutProduct));
    router.Add("POST", "/api/v1/products/{sku}/restock", http::Bind(this, &InventoryApi::Restock));
    router.Add("POST", "/api/v1/reservations", http::Bind(this, &InventoryApi::Reserve));
    router.Add("POST", "/api/v1/reservations/batch", http::Bind(this, &InventoryApi::ReserveBatch));
    router.Add("GET", "/api/v1/reservations/{id}", http::Bind(this, &InventoryApi::GetReservation));
    router.Add("POST", "/api/v1/reservations/{id}/commit", http::Bind(this, &InventoryApi::Commit));
    router.Add("POST", "/api/v1/reservations/{id}/release", http::Bind(this, &InventoryApi::Release));
    router.Add("GET", "/health", http::Bind(this, &InventoryApi::Health));
    router.Add("GET", "/admin/chaos", http::Bind(this, &InventoryApi::GetChaos));
    router.Add("PUT", "/admin/chaos", http::Bind(this, &InventoryApi::PutChaos));
    http::AddLiveAndMetricsRoutes(router, registry);
}

core::Deadline InventoryApi::DbDeadline(const http::RequestContext& context) const {
    return context.deadline.Capped(clock_, config_.db_timeout);
}

void InventoryApi::Count(std::string_view operation, std::string_view outcome) {
    outcomes_.WithLabels({std::string(operation), std::string(outcome)}).Inc();
}

Response InventoryApi::DatabaseProblem(const pg::Error& error, const http::RequestContext& context) {
    logger_.Warn("database call failed", {{"request_id", context.request_id},
                                          {"trace_id", context.trace_id},
                                          {"route", context.route},
                                          {"sqlstate", error.sqlstate},
                                          {"error", error.message}});
    switch (error.kind) {
        case pg::ErrorKind::kTimeout:
            return Problem(504, "deadline_exceeded", "Deadline exceeded",
                           "the database did not answer within the request's deadline");
        case pg::ErrorKind::kConnection:
        case pg::ErrorKind::kPoolExhausted:
            return Problem(503, "database_unavailable", "Database unavailable",
                           "the inventory database is not reachable right now; retry later");
        case pg::ErrorKind::kSerialization:
        case pg::ErrorKind::kDeadlock:
            return Problem(503, "database_conflict", "Transient database conflict", "retry the request");
        default:
            return Problem(500, "internal_error", "Internal server error",
                           "the request could not be completed; request id " + context.request_id);
    }
}

InventoryApi::Awaitable InventoryApi::ListProducts(const http::Request&, http::RequestContext& context) {
    auto products = co_await store_.ListProducts(DbDeadline(context));
    if (!products) co_return DatabaseProblem(products.error(), context);
    co_return http::JsonText(200, std::move(*products));
}

InventoryApi::Awaitable InventoryApi::GetProduct(const http::Request&, http::RequestContext& context) {
    const auto& sku = context.Param("sku");
    // A SKU is printable ASCII (ValidSku): anything else names no product, and must not reach PostgreSQL
    // (invalid UTF-8 is an error there, a NUL would cut the text short).
    if (!ValidSku(sku)) {
        co_return Problem(404, "product_not_found", "Product not found", "no product with that sku");
    }
    auto product = co_await store_.GetProduct(sku, DbDeadline(context));
    if (!product) co_return DatabaseProblem(product.error(), context);
    if (!*product) co_return Problem(404, "product_not_found", "Product not found", "no product with sku " + sku);
    co_return http::JsonText(200, std::move(**product));
}

InventoryApi::Awaitable InventoryApi::PutProduct(const http::Request& request, http::RequestContext& context) {
    if (!http::BearerTokenMatches(request, config_.admin_token)) co_return http::UnauthorizedProblem();
    auto body = http::ParseJsonBody(request);
    if (!body.value) co_return body.problem;
    auto upsert = ParseProductUpsert(context.Param("sku"), *body.value);
    if (!upsert) co_return FieldProblem(upsert.error());
    auto written = co_await store_.UpsertProduct(*upsert, DbDeadline(context));
    if (!written) co_return DatabaseProblem(written.error(), context);
    if (!*written) {
        co_return Problem(409, "on_hand_below_reserved", "on_hand below reserved stock",
                          "on_hand may not drop below the quantity currently reserved", {{"sku", upsert->sku}});
    }
    logger_.Info("product upserted", {{"request_id", context.request_id}, {"sku", upsert->sku},
                                      {"created", (*written)->created}});
    co_return http::JsonText((*written)->created ? 201 : 200, std::move((*written)->body));
}

InventoryApi::Awaitable InventoryApi::Restock(const http::Request& request, http::RequestContext& context) {
    if (!http::BearerTokenMatches(request, config_.admin_token)) co_return http::UnauthorizedProblem();
    auto body = http::ParseJsonBody(request);
    if (!body.value) co_return body.problem;
    auto quantity = ParseRestock(*body.value);
    if (!quantity) co_return FieldProblem(quantity.error());
    const auto& sku = context.Param("sku");
    if (!ValidSku(sku)) {
        co_return Problem(404, "product_not_found", "Product not found", "no product with that sku");
    }
    auto restocked = co_await store_.Restock(sku, *quantity, DbDeadline(context));
    if (!restocked) co_return DatabaseProblem(restocked.error(), context);
    switch (restocked->outcome) {
        case RestockOutcome::kRestocked:
            break;
        case RestockOutcome::kUnknownSku:
            co_return Problem(404, "product_not_found", "Product not found", "no product with sku " + sku);
        case RestockOutcome::kAboveLimit:
            co_return Problem(409, "on_hand_above_limit", "on_hand would pass its limit",
                              "restocking " + std::to_string(*quantity) + " would take on_hand of " + sku +
                                  " above " + std::to_string(kMaxOnHand),
                              {{"sku", sku}, {"limit", kMaxOnHand}});
    }
    co_return http::JsonText(200, std::move(restocked->body));
}

InventoryApi::Awaitable InventoryApi::Reserve(const http::Request& request, http::RequestContext& context) {
    if (context.deadline.Expired(clock_)) co_return DeadlineProblem();
    auto body = http::ParseJsonBody(request);
    if (!body.value) co_return body.problem;
    auto parsed = ParseReservationRequest(*body.value);
    if (!parsed) co_return FieldProblem(parsed.error());
    auto work = [&]() -> boost::asio::awaitable<Step> {
        auto result = co_await store_.Reserve(*parsed, DbDeadline(context));
        if (!result) co_return Step{false, DatabaseProblem(result.error(), context)};
        Count("reserve", result->outcome);
        co_return Step{true, ReserveAnswer(std::move(*result), parsed->reservation_id)};
    };
    co_return co_await WithChaos(ChaosRoute::kReserve, context, std::move(work));
}

InventoryApi::Awaitable InventoryApi::ReserveBatch(const http::Request& request, http::RequestContext& context) {
    if (context.deadline.Expired(clock_)) co_return DeadlineProblem();
    auto body = http::ParseJsonBody(request);
    if (!body.value) co_return body.problem;
    auto parsed = ParseReservationBatch(*body.value);
    if (!parsed) co_return FieldProblem(parsed.error());
    // One call, one chaos decision: a crash after commit loses the replies of the whole batch, as it would for one.
    auto work = [&]() -> boost::asio::awaitable<Step> {
        auto results = co_await store_.ReserveBatch(*parsed, DbDeadline(context));
        if (!results) co_return Step{false, DatabaseProblem(results.error(), context)};
        // Each entry carries exactly the status and body POST /api/v1/reservations would have answered for it.
        std::string out = R"({"results":[)";
        for (std::size_t i = 0; i < results->size(); ++i) {
            Count("reserve", (*results)[i].outcome);
            const auto& id = parsed->reservations[i].reservation_id;
            auto answer = ReserveAnswer(std::move((*results)[i]), id);
            if (i) out += ',';
            out += R"({"reservation_id":")" + id + R"(","status":)" + std::to_string(answer.status) +
                   R"(,"body":)" + answer.body + "}";
        }
        out += "]}";
        co_return Step{true, http::JsonText(200, std::move(out))};
    };
    co_return co_await WithChaos(ChaosRoute::kReserve, context, std::move(work));
}

Response InventoryApi::ReserveAnswer(StockOutcome result, const std::string& reservation_id) {
    const auto& outcome = result.outcome;
    if (outcome == "created") return http::JsonText(201, std::move(result.body));
    if (outcome == "replayed") return http::JsonText(200, std::move(result.body));
    auto facts = ParseObject(result.body);
    if (outcome == "insufficient_stock") {
        auto sku = facts["sku"].is_string() ? std::string(facts["sku"].get_string()) : std::string();
        return Problem(409, "insufficient_stock", "Insufficient stock",
                       "not enough stock of " + sku + " for this reservation",
                       {{"sku", facts["sku"]}, {"requested", facts["requested"]}, {"available", facts["available"]}});
    }
    if (outcome == "unknown_sku") {
        auto sku = facts["sku"].is_string() ? std::string(facts["sku"].get_string()) : std::string();
        return Problem(422, "unknown_sku", "Unknown SKU", "no product with sku " + sku, {{"sku", facts["sku"]}});
    }
    if (outcome == "reservation_released") {
        return Problem(409, "reservation_released", "Reservation released",
                       "this reservation id was released; it can never hold stock again",
                       {{"reservation_id", reservation_id}});
    }
    if (outcome == "reservation_mismatch") {
        return Problem(422, "reservation_mismatch", "Reservation id reused with different items",
                       "a reservation with this id exists with other items",
                       {{"reservation_id", reservation_id}, {"existing", facts}});
    }
    throw std::logic_error("unexpected reserve outcome " + outcome);
}

InventoryApi::Awaitable InventoryApi::GetReservation(const http::Request&, http::RequestContext& context) {
    auto id = CanonicalUuid(context.Param("id"));
    if (!id) co_return Problem(404, "reservation_not_found", "Reservation not found", "reservation ids are UUIDs");
    auto reservation = co_await store_.GetReservation(*id, DbDeadline(context));
    if (!reservation) co_return DatabaseProblem(reservation.error(), context);
    if (!*reservation) {
        co_return Problem(404, "reservation_not_found", "Reservation not found", "no reservation with id " + *id);
    }
    co_return http::JsonText(200, std::move(**reservation));
}

InventoryApi::Awaitable InventoryApi::Commit(const http::Request&, http::RequestContext& context) {
    auto id = CanonicalUuid(context.Param("id"));
    if (!id) co_return Problem(404, "reservation_not_found", "Reservation not found", "reservation ids are UUIDs");
    if (context.deadline.Expired(clock_)) co_return DeadlineProblem();
    auto work = [&]() -> boost::asio::awaitable<Step> {
        auto result = co_await store_.Commit(*id, DbDeadline(context));
        if (!result) co_return Step{false, DatabaseProblem(result.error(), context)};
        Count("commit", result->outcome);
        if (result->outcome == "not_found") {
            co_return Step{true, Problem(404, "reservation_not_found", "Reservation not found",
                                         "no reservation with id " + *id)};
        }
        if (result->outcome == "invalid_transition") {
            co_return Step{true, Problem(409, "invalid_transition", "Invalid transition",
                                         "a released reservation cannot be committed",
                                         {{"reservation_id", *id}, {"current_status", "RELEASED"}})};
        }
        co_return Step{true, http::JsonText(200, std::move(result->body))};
    };
    co_return co_await WithChaos(ChaosRoute::kCommit, context, std::move(work));
}

InventoryApi::Awaitable InventoryApi::Release(const http::Request&, http::RequestContext& context) {
    auto id = CanonicalUuid(context.Param("id"));
    if (!id) co_return http::ValidationProblem("id", "reservation ids are UUIDs");
    if (context.deadline.Expired(clock_)) co_return DeadlineProblem();
    auto work = [&]() -> boost::asio::awaitable<Step> {
        auto result = co_await store_.Release(*id, DbDeadline(context));
        if (!result) co_return Step{false, DatabaseProblem(result.error(), context)};
        Count("release", result->outcome);
        if (result->outcome == "invalid_transition") {
            co_return Step{true, Problem(409, "invalid_transition", "Invalid transition",
                                         "a committed reservation cannot be released",
                                         {{"reservation_id", *id}, {"current_status", "COMMITTED"}})};
        }
        co_return Step{true, http::JsonText(200, std::move(result->body))};
    };
    co_return co_await WithChaos(ChaosRoute::kRelease, context, std::move(work));
}

InventoryApi::Awaitable InventoryApi::Health(const http::Request&, http::RequestContext& context) {
    auto started = clock_.Now();
    auto ping = co_await store_.Ping(core::Deadline::After(clock_, config_.health_timeout));
    double latency_ms = std::chrono::duration<double, std::milli>(clock_.Now() - started).count();
    boost::json::object database{{"status", ping ? "ok" : "fail"}, {"latency_ms", latency_ms}};
    if (!ping) database["error"] = ping.error().message;
    boost::json::object body{{"status", ping ? "ok" : "fail"}, {"checks", {{"database", database}}}};
    co_return http::Json(ping ? 200 : 503, body);
}

void InventoryApi::Stop() {
    stopping_ = true;
    for (auto* timer : delays_) timer->cancel();
}

boost::asio::awaitable<InventoryApi::Latency> InventoryApi::InjectLatency(const ChaosDecision& decision,
                                                                          ChaosRoute route,
                                                                          const http::RequestContext& context) {
    if (decision.delay.count() > 0 && !stopping_) {
        // The delay ends early at the caller's deadline (a propagated X-Valerix-Deadline-Ms): past it the answer is a
        // 504 either way, and holding the request to the end of the delay would only keep the caller's connection
        // and a shutdown waiting for a reply nobody reads.
        const auto until = context.deadline.Capped(clock_, decision.delay).When();
        chaos_.RecordDelay(decision, route, context.request_id,
                           std::chrono::duration_cast<std::chrono::milliseconds>(until - clock_.Now()));
        boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, until);
        delays_.insert(&timer);
        boost::system::error_code ignored;
        co_await timer.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ignored));
        delays_.erase(&timer);
        if (stopping_) co_return Latency::kStopped;
    }
    co_return context.deadline.Expired(clock_) ? Latency::kDeadlinePassed : Latency::kDone;
}

InventoryApi::Awaitable InventoryApi::WithChaos(ChaosRoute route, http::RequestContext& context,
                                                std::function<boost::asio::awaitable<Step>()> work) {
    auto chaos = chaos_.Decide(route);
    switch (co_await InjectLatency(chaos, route, context)) {
        case Latency::kDeadlinePassed:
            co_return DeadlineProblem();
        case Latency::kStopped:  // the delay was cut short by a shutdown: nothing done, the caller retries
            co_return Problem(503, "shutting_down", "Service unavailable",
                              "inventory-service is stopping; nothing was done: retry");
        case Latency::kDone:
            break;
    }
    if (chaos.crash && chaos.point == CrashPoint::kBeforeCommit) co_return Crash(chaos, route, context);
    auto step = co_await work();
    if (step.committed && chaos.crash) co_return Crash(chaos, route, context);
    co_return std::move(step.response);
}

Response InventoryApi::Crash(const ChaosDecision& decision, ChaosRoute route,
                            const http::RequestContext& context) {
    chaos_.RecordCrash(decision, route, context.request_id);
    switch (*decision.crash) {
        case CrashAction::kExit: {
            // The restarted process goes on where this one stopped, not from the seed again (see ChaosProgressFile).
            if (!config_.chaos_file.empty()) {
                SaveChaos(ChaosProgressFile(config_.chaos_file),
                          {{"config", ToJson(chaos_.Current())}, {"progress", chaos_.Progress()}}, context);
            }
            logger_.Error("chaos: exiting now (simulated crash)", {{"request_id", context.request_id}});
            std::_Exit(70);
        }
        case CrashAction::kDropConnection: {
            Response response;
            response.drop_connection = true;
            return response;
        }
        case CrashAction::kError500:
            break;
    }
    return Problem(500, "chaos_injected", "Injected failure",
                   "the chaos controls turned this reply into a 500 (request id " + context.request_id + ")");
}

void InventoryApi::SaveChaos(const std::string& path, const boost::json::object& saved,
                             const http::RequestContext& context) {
    // A few kilobytes at most: written in place of the old file (rename), not fsynced.
    std::string tmp = path + ".tmp";
    std::ofstream out(tmp, std::ios::trunc);
    out << core::SerializeJson(saved) << '\n';
    out.close();
    if (!out || std::rename(tmp.c_str(), path.c_str()) != 0) {
        logger_.Warn("could not save chaos state; a restart will not keep it",
                     {{"file", path}, {"request_id", context.request_id}});
    }
}

InventoryApi::Awaitable InventoryApi::GetChaos(const http::Request& request, http::RequestContext&) {
    if (!http::BearerTokenMatches(request, config_.admin_token)) co_return http::UnauthorizedProblem();
    co_return http::Json(200, ToJson(chaos_.Current()));
}

InventoryApi::Awaitable InventoryApi::PutChaos(const http::Request& request, http::RequestContext& context) {
    if (!http::BearerTokenMatches(request, config_.admin_token)) co_return http::UnauthorizedProblem();
    auto body = http::ParseJsonBody(request);
    if (!body.value) co_return body.problem;
    auto config = ParseChaosConfig(*body.value);
    if (!config) co_return FieldProblem(config.error());
    chaos_.Configure(*config);
    // The gremlin's sleeps in progress were decided under the configuration just replaced: they end now and their
    // calls go on, so turning chaos off (or down) takes effect at once rather than up to delay_ms later.
    for (auto* timer : delays_) timer->cancel();
    auto json = ToJson(*config);
    if (!config_.chaos_file.empty()) SaveChaos(config_.chaos_file, json, context);
    logger_.Warn("chaos configuration replaced", {{"request_id", context.request_id}, {"config", json}});
    co_return http::Json(200, json);
}

}  // namespace valerix::inventory
