#include "clients/inventory_client.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace valerix::order {
namespace {

bool RetryableStatus(int status) { return status == 500 || status == 502 || status == 503 || status == 504; }

/// One reservation as POST /api/v1/reservations takes it, and as an entry of a batch.
std::string ReservationJson(const ReserveCall& call) {
    return R"({"reservation_id":")" + call.order_id + R"(","items":)" + call.items_json + "}";
}

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
                                     {"dependency"}, metrics::DefaultLatencyBuckets())),
      batches_(registry),
      reserves_(io.get_executor(), static_cast<std::size_t>(std::max(1, policy.reserve_batch)), 0,
                [this](std::vector<ReserveCall>& calls) { return ReserveBatch(calls); },
                [](const std::string& why) {
                    InventoryReply reply;
                    reply.error = why;
                    return reply;
                }) {
    batches_.Observe(reserves_, "reserve");
}

const core::Coalescer<ReserveCall, InventoryReply>::Stats& InventoryClient::ReserveBatchStats() const {
    return reserves_.GetStats();
}

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
    ReserveCall call{order_id, items_json, deadline, context};
    InventoryReply reply = co_await reserves_.Submit(std::move(call), deadline.When());
    if (reply.status == 0 && reply.error == core::kBatchGaveUp) deadline_expiries_.Inc();
    co_return reply;
}

boost::asio::awaitable<std::vector<InventoryReply>> InventoryClient::ReserveBatch(std::vector<ReserveCall>& calls) {
    std::vector<InventoryReply> replies;
    replies.reserve(calls.size());
    std::string method = "POST";
    bool batches_refused = false;
    while (replies.size() < calls.size()) {
        const std::size_t first = replies.size();
        // A batch only while the breaker is closed: when it is probing (half-open) each reservation is a trial call
        // of its own, so the breaker gets the number of trials it asks for and closes even when no other traffic
        // follows.
        if (calls.size() - first > 1 && !batches_refused && breaker_.State() == resilience::BreakerState::kClosed) {
            std::string body = R"({"reservations":[)";
            core::Deadline deadline = calls[first].deadline;
            CallContext context = calls[first].context;
            for (std::size_t i = first; i < calls.size(); ++i) {
                if (i > first) body += ',';
                body += ReservationJson(calls[i]);
                deadline = deadline.Later(calls[i].deadline);  // not the earliest: see Deadline::Later
                context.client_deadline = context.client_deadline.Later(calls[i].context.client_deadline);
            }
            body += "]}";
            std::string target = "/api/v1/reservations/batch";
            auto reply = co_await Call(method, target, body, deadline, context);
            if (reply.kind != InventoryReply::Kind::kAnswered) {
                replies.resize(calls.size(), reply);
                co_return replies;
            }
            if (reply.status == 200) {
                auto split = SplitBatchReply(reply, calls, first);
                if (!split.empty()) {
                    for (auto& one : split) replies.push_back(std::move(one));
                    co_return replies;
                }
                logger_.Error("inventory's batch reply could not be read; reserving one by one",
                              {{"request_id", calls[first].context.request_id}});
            } else {
                // An inventory without the batch endpoint, or a batch it refused as a whole: each on its own.
                logger_.Warn("inventory refused a reservation batch; reserving one by one",
                             {{"status", reply.status}, {"request_id", calls[first].context.request_id},
                              {"reply", reply.body.substr(0, 300)}});
            }
            batches_refused = true;
            continue;
        }
        const auto& call = calls[first];
        std::string body = ReservationJson(call);
        std::string target = "/api/v1/reservations";
        replies.push_back(co_await Call(method, target, body, call.deadline, call.context));
    }
    co_return replies;
}

std::vector<InventoryReply> InventoryClient::SplitBatchReply(const InventoryReply& reply,
                                                             const std::vector<ReserveCall>& calls,
                                                             std::size_t first) {
    boost::system::error_code ec;
    auto parsed = boost::json::parse(reply.body, ec);
    if (ec || !parsed.is_object()) return {};
    const auto* results = parsed.get_object().if_contains("results");
    if (!results || !results->is_array() || results->get_array().size() != calls.size() - first) return {};
    std::vector<InventoryReply> replies;
    replies.reserve(calls.size() - first);
    for (std::size_t i = first; i < calls.size(); ++i) {
        const auto& entry = results->get_array()[i - first];
        if (!entry.is_object()) return {};
        const auto* id = entry.get_object().if_contains("reservation_id");
        const auto* status = entry.get_object().if_contains("status");
        const auto* body = entry.get_object().if_contains("body");
        if (!id || !id->is_string() || id->get_string() != calls[i].order_id || !status || !status->is_int64() ||
            !body) {
            return {};
        }
        InventoryReply one;
        one.kind = InventoryReply::Kind::kAnswered;
        one.status = static_cast<int>(status->get_int64());
        one.body = boost::json::serialize(*body);
        one.attempts = reply.attempts;
        replies.push_back(std::move(one));
    }
    return replies;
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
        // Cut short by the client's own deadline (X-Valerix-Deadline-Ms): a timeout then says nothing about
        // inventory, and counted as a failure it would let any client open the breaker for everyone. Not when the
        // service's own deadline cut it (a late retry of a hung inventory): that one counts.
        const bool callers_limit = context.client_deadline.Remaining(clock_) < policy_.per_try_timeout;
        auto started = clock_.Now();
        auto response = co_await http_.Send(request, try_deadline);
        auto elapsed = clock_.Now() - started;
        latency_.WithLabels({"inventory"}).Observe(std::chrono::duration<double>(elapsed).count());
        ++reply.attempts;

        bool retryable = false;
        std::string outcome;
        const bool timed_out = (!response && response.error().kind == http::ClientErrorKind::kTimeout) ||
                               (response && response->status == 504);  // inventory saw the propagated deadline pass
        // No free connection of our own pool before the deadline: the call was never sent, so it says nothing about
        // inventory (the calls holding the connections are judged when they end).
        const bool not_sent = !response && response.error().kind == http::ClientErrorKind::kPoolExhausted;
        if (!response || RetryableStatus(response->status)) {
            if ((timed_out && callers_limit) || not_sent) breaker_.ReleasePermission();
            else breaker_.OnFailure(elapsed);
        }
        if (!response) {
            retryable = true;  // connect errors and lost replies alike: every inventory write is idempotent
            reply.error = response.error().message;
            outcome = timed_out ? "timeout" : not_sent ? "pool_exhausted" : "error";
        } else if (RetryableStatus(response->status)) {
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
