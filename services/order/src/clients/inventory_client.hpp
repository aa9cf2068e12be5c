#pragma once

#include <chrono>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <valerix/core/clock.hpp>
#include <valerix/core/coalescer.hpp>
#include <valerix/core/deadline.hpp>
#include <valerix/core/logging.hpp>
#include <valerix/core/random.hpp>
#include <valerix/http/client.hpp>
#include <valerix/metrics/batch_metrics.hpp>
#include <valerix/metrics/registry.hpp>
#include <valerix/resilience/backoff.hpp>
#include <valerix/resilience/circuit_breaker.hpp>
#include <valerix/resilience/retry_budget.hpp>

namespace valerix::order {

struct InventoryCallPolicy {
    std::chrono::milliseconds per_try_timeout{2000};  ///< one attempt never waits longer (capped by the deadline)
    int max_attempts = 4;
    resilience::BackoffPolicy backoff{std::chrono::milliseconds(50), std::chrono::milliseconds(1000)};
    /// Reserves made at the same moment go to inventory as one batch call (one transaction there) of at most this
    /// many; 1 turns batching off.
    int reserve_batch = 64;
};

/// What a call to inventory came to.
struct InventoryReply {
    enum class Kind {
        kAnswered,     ///< inventory gave a definite answer (2xx or a 4xx that will not change on retry)
        kUnavailable,  ///< connect errors, timeouts, 5xx after the retries that were allowed: outcome unknown
        kBreakerOpen,  ///< not attempted: the circuit breaker is open
    };
    Kind kind = Kind::kUnavailable;
    int status = 0;
    std::string body;
    std::string error;  ///< why it is unavailable
    int attempts = 0;
};

/// Per-call identity propagated to inventory.
struct CallContext {
    std::string request_id;
    std::string traceparent;
    /// The deadline the client sent (X-Valerix-Deadline-Ms); infinite when it sent none (the reconciler's calls).
    core::Deadline client_deadline = core::Deadline::Infinite();
};

/// One reservation waiting to be sent.
struct ReserveCall {
    std::string order_id;
    std::string items_json;
    core::Deadline deadline;
    CallContext context;
};

/// Calls to inventory-service with a deadline, per-try timeouts, retries with full-jitter backoff for outcomes that
/// are safe to retry (every inventory write is idempotent by reservation id), a retry budget and a circuit breaker.
/// "Is it retryable?" (the outcome) is decided apart from "is a retry allowed?" (attempts, budget, deadline,
/// breaker); every refusal is counted. Single-threaded: use from the io_context's thread.
class InventoryClient {
public:
    InventoryClient(boost::asio::io_context& io, http::Client& http, resilience::CircuitBreaker& breaker,
                    resilience::RetryBudget& budget, InventoryCallPolicy policy, core::Random& random,
                    const core::Clock& clock, metrics::Registry& registry, core::Logger& logger);

    /// Reserves made in the same turn of the event loop are sent together: one alone as POST /api/v1/reservations,
    /// several as one POST /api/v1/reservations/batch (one transaction in inventory) while the breaker is closed,
    /// one by one while it probes. Each caller gets the reply its reservation would have had alone; a batch that
    /// fails, fails for each of its reservations.
    boost::asio::awaitable<InventoryReply> Reserve(const std::string& order_id, const std::string& items_json,
                                                   core::Deadline deadline, const CallContext& context);
    boost::asio::awaitable<InventoryReply> Commit(const std::string& order_id, core::Deadline deadline,
                                                  const CallContext& context);
    boost::asio::awaitable<InventoryReply> Release(const std::string& order_id, core::Deadline deadline,
                                                   const CallContext& context);
    /// GET /health once, outside the breaker and the retries (for our own deep health check).
    boost::asio::awaitable<InventoryReply> Health(core::Deadline deadline);

    /// True when the breaker would refuse a call right now (open, and no trial call is due); counted as a refusal.
    /// Lets a caller skip work that only makes sense before a call.
    bool RefusesNow();

    resilience::CircuitBreaker& Breaker() { return breaker_; }
    resilience::RetryBudget& Budget() { return budget_; }

    const core::Coalescer<ReserveCall, InventoryReply>::Stats& ReserveBatchStats() const;
    /// Group-commit batch metrics (valerix_batch_*{operation}); the store's batches are counted here too.
    metrics::BatchMetrics& Batches() { return batches_; }

private:
    boost::asio::awaitable<std::vector<InventoryReply>> ReserveBatch(std::vector<ReserveCall>& calls);
    /// One reply per call from calls[first] on, out of a 200 batch reply; empty when the reply does not match.
    static std::vector<InventoryReply> SplitBatchReply(const InventoryReply& reply,
                                                       const std::vector<ReserveCall>& calls, std::size_t first);
    boost::asio::awaitable<InventoryReply> Call(std::string method, std::string target, std::string body,
                                                core::Deadline deadline, const CallContext& context);

    boost::asio::io_context& io_;
    http::Client& http_;
    resilience::CircuitBreaker& breaker_;
    resilience::RetryBudget& budget_;
    InventoryCallPolicy policy_;
    core::Random& random_;
    const core::Clock& clock_;
    core::Logger& logger_;
    metrics::Family<metrics::Counter>& calls_;
    metrics::Counter& retries_;
    metrics::Counter& budget_refusals_;
    metrics::Counter& breaker_refusals_;
    metrics::Counter& deadline_expiries_;
    metrics::Family<metrics::Histogram>& latency_;
    metrics::BatchMetrics batches_;
    core::Coalescer<ReserveCall, InventoryReply> reserves_;
};

}  // namespace valerix::order
