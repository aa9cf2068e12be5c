#pragma once

#include <boost/asio/steady_timer.hpp>

#include <set>

#include <chrono>
#include <functional>
#include <string>

#include <valerix/core/clock.hpp>
#include <valerix/core/logging.hpp>
#include <valerix/http/router.hpp>
#include <valerix/metrics/registry.hpp>

#include "chaos/chaos.hpp"
#include "storage/inventory_store.hpp"

namespace valerix::inventory {

struct ApiConfig {
    std::string admin_token;                         ///< empty: admin endpoints always answer 401
    std::chrono::milliseconds db_timeout{5000};      ///< budget of one database call when the caller sent none
    std::chrono::milliseconds health_timeout{1000};
    /// When set, PUT /admin/chaos also writes the configuration here (replaced atomically), and start-up reads it:
    /// chaos survives the restarts it causes (the crash simulator's exit) under a supervisor.
    std::string chaos_file;
};

/// The inventory HTTP contract (DESIGN.md §4): products, reservations, health. Maps store outcomes to statuses and
/// problem+json; every handler runs on the I/O thread and never blocks it.
class InventoryApi {
public:
    InventoryApi(InventoryStore& store, Chaos& chaos, ApiConfig config, core::Logger& logger,
                 metrics::Registry& registry, const core::Clock& clock);

    /// Adds every inventory route to `router`.
    void Register(http::Router& router, metrics::Registry& registry);

    /// Shutdown: every call the latency gremlin holds ends now with 503 (no work done), and no new one is delayed.
    /// Without it a SIGTERM's drain waited for delays of up to 20 minutes of calls with no propagated deadline.
    void Stop();

private:
    using Awaitable = boost::asio::awaitable<http::Response>;
    Awaitable ListProducts(const http::Request&, http::RequestContext&);
    Awaitable GetProduct(const http::Request&, http::RequestContext&);
    Awaitable PutProduct(const http::Request&, http::RequestContext&);
    Awaitable Restock(const http::Request&, http::RequestContext&);
    Awaitable Reserve(const http::Request&, http::RequestContext&);
    /// Many reservations in one transaction (the order-service's group commit); see DESIGN.md §4 and ADR 0005.
    Awaitable ReserveBatch(const http::Request&, http::RequestContext&);
    Awaitable GetReservation(const http::Request&, http::RequestContext&);
    Awaitable Commit(const http::Request&, http::RequestContext&);
    Awaitable Release(const http::Request&, http::RequestContext&);
    Awaitable Health(const http::Request&, http::RequestContext&);
    Awaitable GetChaos(const http::Request&, http::RequestContext&);
    Awaitable PutChaos(const http::Request&, http::RequestContext&);

    /// What a reservation call's database step came to: the reply, and whether the work reached the database (a
    /// crash "after commit" only happens then).
    struct Step {
        bool committed = false;
        http::Response response;
    };
    /// Runs one reservation call under the chaos controls of `route`: one decision per call, the injected delay
    /// first, then a crash before the work or after it, as decided. Every reservation endpoint goes through here.
    Awaitable WithChaos(ChaosRoute route, http::RequestContext& context,
                        std::function<boost::asio::awaitable<Step>()> work);

    /// Applies the latency part of a chaos decision (a timer: no thread and no connection is held) and tells whether
    /// the call goes on: its deadline may have passed meanwhile, or Stop() cut the delay short.
    enum class Latency { kDone, kDeadlinePassed, kStopped };
    boost::asio::awaitable<Latency> InjectLatency(const ChaosDecision& decision, ChaosRoute route,
                                                  const http::RequestContext& context);
    /// Writes `saved` to `path` (VALERIX_CHAOS_FILE, or a crash's progress beside it) in place of the old file.
    void SaveChaos(const std::string& path, const boost::json::object& saved, const http::RequestContext& context);
    /// The reply a crash decision calls for; for CrashAction::kExit the process ends here.
    http::Response Crash(const ChaosDecision& decision, ChaosRoute route, const http::RequestContext& context);

    /// What POST /api/v1/reservations answers for a decided reservation.
    static http::Response ReserveAnswer(StockOutcome result, const std::string& reservation_id);

    /// The deadline for database work: the caller's propagated one, capped by db_timeout.
    core::Deadline DbDeadline(const http::RequestContext& context) const;
    /// The problem for a database failure; logged with the request id.
    http::Response DatabaseProblem(const pg::Error& error, const http::RequestContext& context);
    void Count(std::string_view operation, std::string_view outcome);

    InventoryStore& store_;
    Chaos& chaos_;
    ApiConfig config_;
    core::Logger& logger_;
    const core::Clock& clock_;
    metrics::Family<metrics::Counter>& outcomes_;
    std::set<boost::asio::steady_timer*> delays_;  ///< the gremlin's sleeps in progress (single-threaded executor)
    bool stopping_ = false;
};

}  // namespace valerix::inventory
