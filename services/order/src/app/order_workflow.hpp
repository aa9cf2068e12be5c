#pragma once

#include <chrono>
#include <string>

#include <boost/asio/awaitable.hpp>

#include <valerix/core/clock.hpp>
#include <valerix/core/logging.hpp>
#include <valerix/core/random.hpp>
#include <valerix/metrics/registry.hpp>
#include <valerix/resilience/backoff.hpp>

#include "clients/inventory_client.hpp"
#include "domain/order_request.hpp"
#include "storage/order_store.hpp"

namespace valerix::order {

struct WorkflowConfig {
    std::chrono::milliseconds call_deadline{5000};  ///< overall budget of the inventory call inside one request
    std::chrono::milliseconds db_timeout{5000};     ///< budget of each database call
    std::chrono::milliseconds lease{10000};         ///< how long a request handler owns a fresh intent
    resilience::BackoffPolicy reconcile_backoff{std::chrono::milliseconds(200), std::chrono::milliseconds(30000)};
};

/// The HTTP-independent answer of a workflow step: status, JSON body, and whether the body is a problem.
struct Answer {
    int status = 200;
    std::string body;
    bool problem = false;
    bool replayed = false;
    std::string order_id;  ///< for the Location header
};

/// The order state machine and its calls to inventory, shared by the request handlers and the reconciler: every
/// intent is durable in order_db before it is attempted, and whoever completes it records the outcome through the
/// same guarded SQL functions, so a request racing the reconciler cannot apply an outcome twice.
class OrderWorkflow {
public:
    OrderWorkflow(OrderStore& store, InventoryClient& inventory, WorkflowConfig config, core::Random& random,
                  const core::Clock& clock, metrics::Registry& registry, core::Logger& logger);

    /// POST /api/v1/orders with a validated body and key. Database failures come back as errors.
    boost::asio::awaitable<pg::Result<Answer>> Create(const std::string& key, const OrderRequest& request,
                                                      core::Deadline caller_deadline, const CallContext& context);
    boost::asio::awaitable<pg::Result<Answer>> Ship(const std::string& order_id, core::Deadline caller_deadline,
                                                    const CallContext& context);
    boost::asio::awaitable<pg::Result<Answer>> Cancel(const std::string& order_id, core::Deadline caller_deadline,
                                                      const CallContext& context);

    /// One attempt at a claimed intent (the reconciler).
    boost::asio::awaitable<pg::Result<void>> Drive(const ClaimedIntent& intent, const CallContext& context);

    const WorkflowConfig& Config() const { return config_; }

private:
    core::Deadline Db() const;
    int RetryDelayMs(int attempts);
    /// Records what inventory's reply to a reserve means for the order.
    boost::asio::awaitable<pg::Result<Answer>> ApplyReserveReply(const std::string& order_id,
                                                                 const InventoryReply& reply, int attempts);
    boost::asio::awaitable<pg::Result<Answer>> ApplyCommitReply(const std::string& order_id,
                                                                const InventoryReply& reply, int attempts);
    boost::asio::awaitable<pg::Result<void>> ApplyReleaseReply(const std::string& order_id,
                                                               const InventoryReply& reply, int attempts);
    void CountStatus(std::string_view status);

    OrderStore& store_;
    InventoryClient& inventory_;
    WorkflowConfig config_;
    core::Random& random_;
    const core::Clock& clock_;
    core::Logger& logger_;
    metrics::Family<metrics::Counter>& orders_;
    metrics::Counter& order_value_;
    metrics::Counter& replays_;
};

}  // namespace valerix::order
