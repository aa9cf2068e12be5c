#include "clients/inventory_client.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace valerix::order {
namespace {

bool RetryableStatus(int status) { return status == 500 || status == 502 || status == 503 || status == 504; }

}  // namespace

InventoryClient::InventoryClient(boost::asio::io_context& io, http::Client& http, resilience::CircuitBreaker& breaker,
                                 resilience::RetryBudget& budget, InventoryCallPolicy policy, core::Random& random,
                                 const core::Clock& clock, metrics::Registry& registry, core::Logger& logger)
    : io_(io),
      http_(http),
      breaker_(breaker),
      budget_(budget),
      policy_(policy),
      random_(random),
      clock_(clock),
      logger_(logger),
      calls_(registry.AddCounter("valerix_dependency_calls_total", "Attempts to call a dependency, by outcome.",
                                 {"dependency", "outcome"})),
      retries_(registry.AddCounter("valerix_dependency_retries_total", "Retries made.", {"dependency"})
                   .WithLabels({"inventory"})),
      budget_refusals_(registry
                           .AddCounter("valerix_retry_budget_refusals_total",
                                       "Retries refused because the retry budget was spent.", {"dependency"})
                           .WithLabels({"inventory"})),
      breaker_refusals_(registry
                            .AddCounter("valerix_circuit_breaker_refusals_total",
                                        "Calls not made because the circuit breaker was open.", {"dependency"})
                            .WithLabels({"inventory"})),
      deadline_expiries_(registry
                             .AddCounter("valerix_deadline_expiries_total",
                                         "Calls abandoned because the overall deadline passed.", {"dependency"})
                             .WithLabels({"inventory"})),
      latency_(registry.AddHistogram("valerix_dependency_call_duration_seconds", "Duration of one attempt.",
                                     {"dependency"}, metrics::DefaultLatencyBuckets())) {}

bool InventoryClient::RefusesNow() {
    if (breaker_.State() != resilience::BreakerState::kOpen) return false;
    if (breaker_.TryAcquirePermission()) {
        breaker_.ReleasePermission();  // a trial call is due: let the real call take it
        return false;
    }
    breaker_refusals_.Inc();
    return true;
}

boost::asio::awaitable<InventoryReply> InventoryClient::Reserve(const std::string& order_id,
                                                                const std::string& items_json,
                                                                core::Deadline deadline, const CallContext& context) {
    std::string body = R"({"reservation_id":")" + order_id + R"(","items":)" + items_json + "}";
    std::string method = "POST", target = "/api/v1/reservations";
    co_return co_await Call(method, target, body, deadline, context);
}

boost::asio::awaitable<InventoryReply> InventoryClient::Commit(const std::string& order_id, core::Deadline deadline,
                                                               const CallContext& context) {
    std::string method = "POST", target = "/api/v1/reservations/" + order_id + "/commit", body;
    co_return co_await Call(method, target, body, deadline, context);
}

boost::asio::awaitable<InventoryReply> InventoryClient::Release(const std::string& order_id, core::Deadline deadline,
                                                                const CallContext& context) {
    std::string method = "POST", target = "/api/v1/reservations/" + order_id + "/release", body;
    co_return co_await Call(method, target, body, deadline, context);
}

boost::asio::awaitable<InventoryReply> InventoryClient::Health(core::Deadline deadline) {
    http::ClientRequest request;
    request.method = "GET";
    request.target = "/health";
    auto response = co_await http_.Send(request, deadline);
    InventoryReply reply;
    reply.attempts = 1;
    if (!response) {
        reply.error = response.error().message;
        co_return reply;
    }
    reply.kind = InventoryReply::Kind::kAnswered;
    reply.status = response->status;
    reply.body = std::move(response->body);
    co_return reply;
}

boost::asio::awaitable<InventoryReply> InventoryClient::Call(std::string method, std::string target, std::string body,
                                                             core::Deadline deadline, const CallContext& context) {
    InventoryReply reply;
    budget_.RecordRequest();
    for (int attempt = 0;; ++attempt) {
        if (deadline.Expired(clock_)) {
            deadline_expiries_.Inc();
            reply.kind = InventoryReply::Kind::kUnavailable;
            reply.error = "deadline passed before inventory answered" + (reply.error.empty() ? "" : " (" + reply.error + ")");
            co_return reply;
        }
        if (!breaker_.TryAcquirePermission()) {
            breaker_refusals_.Inc();
            reply.kind = InventoryReply::Kind::kBreakerOpen;
            reply.error = "circuit breaker open";
            co_return reply;
        }
        http::ClientRequest request;
        request.method = method;
        request.target = target;
        request.body = body;
        request.headers = {{"x-request-id", context.request_id}, {"traceparent", context.traceparent}};
        auto try_deadline = deadline.Capped(clock_, policy_.per_try_timeout);
        auto started = clock_.Now();
        auto response = co_await http_.Send(request, try_deadline);
        auto elapsed = clock_.Now() - started;
        latency_.WithLabels({"inventory"}).Observe(std::chrono::duration<double>(elapsed).count());
        ++reply.attempts;

        bool retryable = false;
        std::string outcome;
        if (!response) {
            breaker_.OnFailure(elapsed);
            retryable = true;  // connect errors and lost replies alike: every inventory write is idempotent
            reply.error = response.error().message;
            outcome = response.error().kind == http::ClientErrorKind::kTimeout ? "timeout" : "error";
        } else if (RetryableStatus(response->status)) {
            breaker_.OnFailure(elapsed);
            retryable = true;
            reply.error = "inventory answered " + std::to_string(response->status);
            reply.status = response->status;
            outcome = "server_error";
        } else {
            breaker_.OnSuccess(elapsed);
            calls_.WithLabels({"inventory", "answered"}).Inc();
            reply.kind = InventoryReply::Kind::kAnswered;
            reply.status = response->status;
            reply.body = std::move(response->body);
            co_return reply;
        }
        calls_.WithLabels({"inventory", outcome}).Inc();
        reply.kind = InventoryReply::Kind::kUnavailable;

        // Retryable; now: is a retry allowed?
        if (!retryable || attempt + 1 >= policy_.max_attempts) co_return reply;
        auto delay = resilience::FullJitterDelay(policy_.backoff, attempt, random_);
        if (deadline.Remaining(clock_) <= delay) {
            deadline_expiries_.Inc();
            co_return reply;
        }
        if (!budget_.TryAcquireRetry()) {
            budget_refusals_.Inc();
            reply.error += " (retry budget spent)";
            co_return reply;
        }
        retries_.Inc();
        logger_.Debug("retrying inventory call", {{"request_id", context.request_id}, {"target", target},
                                                  {"attempt", attempt + 1}, {"delay_ms", delay.count()},
                                                  {"error", reply.error}});
        boost::asio::steady_timer pause(io_, delay);
        boost::system::error_code ignored;
        co_await pause.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ignored));
    }
}

}  // namespace valerix::order
