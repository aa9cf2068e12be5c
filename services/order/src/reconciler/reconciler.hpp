#pragma once

#include <chrono>
#include <functional>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <valerix/core/logging.hpp>
#include <valerix/core/random.hpp>
#include <valerix/metrics/registry.hpp>

#include "app/order_workflow.hpp"

namespace valerix::order {

struct ReconcilerConfig {
    std::chrono::milliseconds interval{250};       ///< pause between rounds when there was nothing due
    int batch = 256;                               ///< intents driven concurrently at most (a sliding window)
    std::chrono::seconds key_retention{24 * 3600}; ///< idempotency keys are kept at least this long
    std::chrono::seconds purge_interval{60};
};

/// Drives every unfinished inventory intent (reserve, commit, release) to a terminal state: leases due intents with
/// FOR UPDATE SKIP LOCKED (safe with several replicas), attempts them through the same workflow as the request
/// handlers, and backs off per intent. Intents are driven in a sliding window of `batch`: as soon as half the window
/// is free it leases more, so one slow inventory call (a 3 s gremlin) does not hold back the others. While the breaker is open it does not call inventory at all. Also purges
/// expired idempotency keys and publishes the backlog.
class Reconciler {
public:
    Reconciler(boost::asio::io_context& io, OrderStore& store, OrderWorkflow& workflow, InventoryClient& inventory,
               ReconcilerConfig config, core::Random& random, const core::Clock& clock, metrics::Registry& registry,
               core::Logger& logger);

    void Start();
    /// Stops leasing and waits for the intents in flight (none is left half-driven); `on_stopped` runs on the I/O
    /// thread once the loop has exited, or at once if it is not running.
    void Stop(std::function<void()> on_stopped);

    Backlog LastBacklog() const { return backlog_; }

private:
    boost::asio::awaitable<void> Run();
    /// Publishes the backlog, purges old keys, and leases up to `limit` due intents, each driven by its own
    /// coroutine; returns how many were leased.
    boost::asio::awaitable<int> Round(int limit);
    boost::asio::awaitable<void> DriveOne(ClaimedIntent intent);

    boost::asio::io_context& io_;
    OrderStore& store_;
    OrderWorkflow& workflow_;
    InventoryClient& inventory_;
    ReconcilerConfig config_;
    core::Random& random_;
    const core::Clock& clock_;
    core::Logger& logger_;
    boost::asio::steady_timer wake_;
    bool stopping_ = false;
    bool running_ = false;
    int in_flight_ = 0;
    std::function<void()> on_stopped_;
    core::Clock::TimePoint last_purge_{};
    core::Clock::TimePoint last_backlog_{};
    Backlog backlog_;
    metrics::Gauge& backlog_gauge_;
    metrics::Gauge& oldest_gauge_;
    metrics::Family<metrics::Counter>& attempts_;
};

}  // namespace valerix::order
