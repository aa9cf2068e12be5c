#pragma once

#include <chrono>

#include <valerix/core/clock.hpp>
#include <valerix/core/logging.hpp>
#include <valerix/http/router.hpp>
#include <valerix/metrics/registry.hpp>
#include <valerix/metrics/rolling_latency.hpp>

#include "app/order_workflow.hpp"
#include "reconciler/reconciler.hpp"

namespace valerix::order {

struct ApiConfig {
    std::chrono::milliseconds health_timeout{1000};
    int default_page_size = 20;
    int max_page_size = 100;
    /// Above this 30 s average the service counts as slow (the UI tile turns red; the alert uses the same signal).
    double slow_average_ms = 1000;
};

/// The order HTTP contract (DESIGN.md §4): create with Idempotency-Key, get, list, ship, cancel, the resilience
/// snapshot, health. Maps workflow answers to HTTP; all handlers run on the I/O thread and never block it.
class OrderApi {
public:
    OrderApi(OrderWorkflow& workflow, OrderStore& store, InventoryClient& inventory, Reconciler& reconciler,
             const metrics::RollingLatency& recent_latency, ApiConfig config, const core::Clock& clock,
             core::Logger& logger);

    void Register(http::Router& router, metrics::Registry& registry);

private:
    using Awaitable = boost::asio::awaitable<http::Response>;
    Awaitable Create(const http::Request&, http::RequestContext&);
    Awaitable Get(const http::Request&, http::RequestContext&);
    Awaitable List(const http::Request&, http::RequestContext&);
    Awaitable Ship(const http::Request&, http::RequestContext&);
    Awaitable Cancel(const http::Request&, http::RequestContext&);
    Awaitable Resilience(const http::Request&, http::RequestContext&);
    Awaitable Health(const http::Request&, http::RequestContext&);
    Awaitable Ready(const http::Request&, http::RequestContext&);

    http::Response ToResponse(Answer answer) const;
    http::Response DatabaseProblem(const pg::Error& error, const http::RequestContext& context);
    core::Deadline Db(const http::RequestContext& context) const;
    boost::asio::awaitable<boost::json::object> DatabaseCheck(core::Deadline deadline);

    OrderWorkflow& workflow_;
    OrderStore& store_;
    InventoryClient& inventory_;
    Reconciler& reconciler_;
    const metrics::RollingLatency& recent_latency_;
    ApiConfig config_;
    const core::Clock& clock_;
    core::Logger& logger_;
};

}  // namespace valerix::order
