// Composition root of order-service: reads configuration, builds the object graph, serves until SIGTERM.
#include <csignal>
#include <cstdio>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/url/parse.hpp>

#include <valerix/core/after_all.hpp>
#include <valerix/core/config.hpp>
#include <valerix/core/logging.hpp>
#include <valerix/core/random.hpp>
#include <valerix/http/client.hpp>
#include <valerix/http/server.hpp>
#include <valerix/http/service_setup.hpp>
#include <valerix/metrics/registry.hpp>
#include <valerix/metrics/rolling_latency.hpp>
#include <valerix/pg/startup.hpp>

#include "api/order_api.hpp"
#include "app/order_workflow.hpp"
#include "clients/inventory_client.hpp"
#include "reconciler/reconciler.hpp"
#include "storage/order_store.hpp"

namespace valerix::order {
const std::vector<pg::Migration>& Migrations();
}

namespace {

using namespace valerix;
namespace asio = boost::asio;
using std::chrono::milliseconds;

struct Settings {
    http::ServerConfig server;
    pg::PoolConfig pool;
    http::ClientConfig inventory;
    order::InventoryCallPolicy call_policy;
    resilience::RetryBudgetConfig budget;
    resilience::CircuitBreakerConfig breaker;
    order::WorkflowConfig workflow;
    order::ReconcilerConfig reconciler;
    order::StoreBatching batching;
    core::LogLevel log_level = core::LogLevel::kInfo;
};

Settings LoadSettings() {
    core::EnvReader env;
    Settings s;
    s.server = http::ServerConfigFromEnv(env, 3001);
    s.pool = pg::PoolConfigFromEnv(env, "host=127.0.0.1 port=5432 dbname=order_db user=order_svc");

    auto inventory_url = env.String("VALERIX_INVENTORY_URL", "http://127.0.0.1:3002");
    auto url = boost::urls::parse_uri(inventory_url);
    if (!url || url->scheme() != "http" || !url->has_port() || url->host().empty()) {
        env.AddProblem("VALERIX_INVENTORY_URL='" + inventory_url + "' must look like http://HOST:PORT");
    } else {
        s.inventory.host = std::string(url->host());
        s.inventory.port = url->port_number();
    }
    s.inventory.max_connections =
        static_cast<std::size_t>(env.Int("VALERIX_INVENTORY_MAX_CONNECTIONS", 1024, 1, 10000));
    s.inventory.connect_timeout = env.Millis("VALERIX_INVENTORY_CONNECT_TIMEOUT_MS", 1000, 10, 60000);

    s.workflow.call_deadline = env.Millis("VALERIX_INVENTORY_DEADLINE_MS", 5000, 10, 600000);
    s.workflow.db_timeout = env.Millis("VALERIX_REQUEST_TIMEOUT_MS", 5000, 10, 600000);
    s.workflow.lease = env.Millis("VALERIX_INTENT_LEASE_MS", 10000, 100, 3600000);
    s.workflow.reconcile_backoff.base = env.Millis("VALERIX_RECONCILE_BACKOFF_BASE_MS", 200, 1, 600000);
    s.workflow.reconcile_backoff.cap = env.Millis("VALERIX_RECONCILE_BACKOFF_CAP_MS", 30000, 1, 3600000);
    s.call_policy.per_try_timeout = env.Millis("VALERIX_INVENTORY_TRY_TIMEOUT_MS", 2000, 10, 600000);
    s.call_policy.max_attempts = static_cast<int>(env.Int("VALERIX_INVENTORY_MAX_ATTEMPTS", 4, 1, 20));
    s.call_policy.backoff.base = env.Millis("VALERIX_RETRY_BACKOFF_BASE_MS", 50, 1, 60000);
    s.call_policy.backoff.cap = env.Millis("VALERIX_RETRY_BACKOFF_CAP_MS", 1000, 1, 600000);
    s.budget.ratio = env.Double("VALERIX_RETRY_BUDGET_RATIO", 0.2, 0, 10);
    s.budget.min_retries_per_second = static_cast<int>(env.Int("VALERIX_RETRY_BUDGET_MIN_PER_SECOND", 5, 0, 100000));
    // A time-based window by default: outcomes are recorded when calls end, and a timed-out call ends a per-try
    // timeout after it began, so a count-based window of a few dozen calls filled up with old timeouts whenever
    // sending paused for a fraction of a second (2026-12-05: a 20 % slow dependency opened a 20-call window within
    // seconds at ~300 calls/s). Ten seconds of outcomes hold thousands of calls at load and still every call at low
    // rates.
    const auto window_type = env.String("VALERIX_BREAKER_WINDOW_TYPE", "time");
    if (window_type == "count") {
        s.breaker.window_type = resilience::CircuitBreakerConfig::WindowType::kCountBased;
        s.breaker.window_size = static_cast<int>(env.Int("VALERIX_BREAKER_WINDOW", 20, 1, 100000));
    } else {
        if (window_type != "time") env.AddProblem("VALERIX_BREAKER_WINDOW_TYPE must be time or count");
        s.breaker.window_type = resilience::CircuitBreakerConfig::WindowType::kTimeBased;
        s.breaker.window_size = static_cast<int>(env.Int("VALERIX_BREAKER_WINDOW", 10, 1, 3600));
    }
    s.breaker.minimum_calls = static_cast<int>(env.Int("VALERIX_BREAKER_MIN_CALLS", 10, 1, 100000));
    s.breaker.failure_rate_threshold = env.Double("VALERIX_BREAKER_FAILURE_RATE", 50, 1, 100);
    s.breaker.slow_call_rate_threshold = env.Double("VALERIX_BREAKER_SLOW_CALL_RATE", 80, 1, 100);
    s.breaker.slow_call_duration = env.Millis("VALERIX_BREAKER_SLOW_CALL_MS", 2000, 1, 600000);
    s.breaker.wait_in_open = env.Millis("VALERIX_BREAKER_OPEN_MS", 5000, 1, 3600000);
    s.breaker.permitted_calls_in_half_open = static_cast<int>(env.Int("VALERIX_BREAKER_HALF_OPEN_CALLS", 3, 1, 1000));
    // Group commit: the most writes (creates, reserve outcomes; reserves sent to inventory) one batch takes; 1 = off.
    s.batching.max_batch = static_cast<int>(env.Int("VALERIX_BATCH_MAX", 64, 1, 256));
    s.batching.max_in_flight = static_cast<int>(env.Int("VALERIX_BATCH_IN_FLIGHT", 4, 1, 1000));
    s.batching.overlap_at = static_cast<int>(env.Int("VALERIX_BATCH_OVERLAP", s.batching.max_batch, 1, 256));
    s.call_policy.reserve_batch = s.batching.max_batch;
    s.reconciler.interval = env.Millis("VALERIX_RECONCILER_INTERVAL_MS", 250, 1, 600000);
    s.reconciler.batch = static_cast<int>(env.Int("VALERIX_RECONCILER_BATCH", 256, 1, 10000));
    s.reconciler.key_retention = std::chrono::seconds(env.Int("VALERIX_IDEMPOTENCY_RETENTION_S", 86400, 86400, 315360000));
    if (s.workflow.lease <= s.workflow.call_deadline) {
        env.AddProblem("VALERIX_INTENT_LEASE_MS must exceed VALERIX_INVENTORY_DEADLINE_MS, or the reconciler would "
                       "take over intents their requests are still working on");
    }
    if (s.breaker.minimum_calls > s.breaker.window_size && s.breaker.window_type ==
        resilience::CircuitBreakerConfig::WindowType::kCountBased) {
        env.AddProblem("VALERIX_BREAKER_MIN_CALLS must not exceed VALERIX_BREAKER_WINDOW");
    }
    s.log_level = http::LogLevelFromEnv(env);
    env.Check();
    return s;
}

}  // namespace

int main() {
    Settings settings;
    try {
        settings = LoadSettings();
    } catch (const core::ConfigError& error) {
        std::fprintf(stderr, "valerix-order: %s\n", error.what());
        return 2;
    }
    core::Logger logger("order", settings.log_level);
    http::RaiseOpenFileLimit(logger);
    try {
        asio::io_context io(1);
        core::SteadyClock clock;
        core::SeededRandom random(core::EntropySeed());
        metrics::Registry registry;

        pg::PrepareSchemaBeforeServing(io, settings.pool, order::Migrations(), logger, clock);

        pg::Pool pool(io, settings.pool, logger, clock);
        pg::RegisterPoolMetrics(registry, pool);
        http::Client inventory_http(io, settings.inventory, clock);
        // Callbacks run on the I/O thread (the /metrics handler), the only one the client may be used from.
        registry.AddCallbackGauge("valerix_inventory_http_connections_open",
                                  "Connections to inventory open: in use, being opened, or idle.",
                                  [&inventory_http] { return static_cast<double>(inventory_http.Open()); });
        registry.AddCallbackGauge("valerix_inventory_http_connections_idle", "Idle keep-alive connections to inventory.",
                                  [&inventory_http] { return static_cast<double>(inventory_http.Idle()); });
        registry.AddCallbackGauge("valerix_inventory_http_connection_waiters",
                                  "Calls to inventory waiting now for a connection (all of them in use).",
                                  [&inventory_http] { return static_cast<double>(inventory_http.Waiting()); });
        registry.AddCallbackGauge("valerix_inventory_http_connections_max",
                                  "Connections to inventory at most (VALERIX_INVENTORY_MAX_CONNECTIONS).",
                                  [max = settings.inventory.max_connections] { return static_cast<double>(max); });

        resilience::CircuitBreaker breaker("inventory", settings.breaker, clock);
        auto& breaker_state = registry
                                  .AddGauge("valerix_circuit_breaker_state",
                                            "Circuit breaker state: 0 closed, 1 open, 2 half-open.", {"dependency"})
                                  .WithLabels({"inventory"});
        auto& breaker_transitions = registry.AddCounter("valerix_circuit_breaker_transitions_total",
                                                        "Circuit breaker state changes.",
                                                        {"dependency", "from", "to"});
        // Every transition's series exists from the start, at 0: Prometheus' increase() never counts a series' first
        // sample, so a series born at 1 by the first opening would hide that opening (CircuitBreakerFlapping, "more
        // than 3 in 10 min", would then need 5 after each start).
        for (auto [from, to] : {std::pair{resilience::BreakerState::kClosed, resilience::BreakerState::kOpen},
                                {resilience::BreakerState::kOpen, resilience::BreakerState::kHalfOpen},
                                {resilience::BreakerState::kHalfOpen, resilience::BreakerState::kClosed},
                                {resilience::BreakerState::kHalfOpen, resilience::BreakerState::kOpen}}) {
            breaker_transitions.WithLabels(
                {"inventory", std::string(resilience::ToString(from)), std::string(resilience::ToString(to))});
        }
        // The breaker leaves open lazily, with the first call after its wait. Until a call comes it is open with its
        // wait over: the next call is a trial, as in half-open, and the gauge says so. Otherwise a breaker opened by
        // an outage that no call followed would read "open" (calls refused) for good, and so alert for good.
        asio::steady_timer open_wait(io);
        breaker.OnTransition([&](const resilience::CircuitBreaker::Transition& transition) {
            breaker_state.Set(static_cast<double>(transition.to));
            if (transition.to == resilience::BreakerState::kOpen) {
                open_wait.expires_after(settings.breaker.wait_in_open);
                open_wait.async_wait([&](boost::system::error_code ec) {
                    if (!ec && breaker.GetSnapshot().state == resilience::BreakerState::kOpen) {
                        breaker_state.Set(static_cast<double>(resilience::BreakerState::kHalfOpen));
                    }
                });
            }
            breaker_transitions
                .WithLabels({"inventory", std::string(resilience::ToString(transition.from)),
                             std::string(resilience::ToString(transition.to))})
                .Inc();
            logger.Warn("circuit breaker changed state",
                        {{"dependency", "inventory"},
                         {"from", resilience::ToString(transition.from)},
                         {"to", resilience::ToString(transition.to)},
                         {"calls", transition.calls},
                         {"failed_calls", transition.failed_calls},
                         {"slow_calls", transition.slow_calls}});
        });
        resilience::RetryBudget budget(settings.budget, clock);
        order::InventoryClient inventory(io, inventory_http, breaker, budget, settings.call_policy, random, clock,
                                         registry, logger);
        order::OrderStore store(pool, settings.batching);
        order::OrderWorkflow workflow(store, inventory, settings.workflow, random, clock, registry, logger);
        store.ObserveBatches(inventory.Batches());
        order::Reconciler reconciler(io, store, workflow, inventory, settings.reconciler, random, clock, registry,
                                     logger);
        // The latency people see: the order routes, not health checks, scrapes or the gateway's once-a-second
        // poll of /api/v1/resilience (the alert OrderServiceSlow uses the same routes).
        metrics::RollingLatency recent_latency(clock);
        settings.server.on_request = [&recent_latency](const std::string& route, int, std::chrono::nanoseconds elapsed) {
            if (route.starts_with("/api/v1/orders")) recent_latency.Record(elapsed);
        };
        order::OrderApi api(workflow, store, inventory, reconciler, recent_latency, order::ApiConfig{}, clock, logger);
        http::Router router;
        api.Register(router, registry);
        http::Server server(io, settings.server, router, logger, registry, random, clock);
        server.Start();
        reconciler.Start();

        asio::signal_set signals(io, SIGTERM, SIGINT);
        signals.async_wait([&](boost::system::error_code ec, int signal) {
            if (ec) return;
            logger.Info("signal received: stopping", {{"signal", signal}});
            // Stop when both the reconciler has finished its round and every connection has drained, so no
            // coroutine still holds a pooled connection when the objects below io are destroyed.
            auto finish = core::AfterAll(2, [&] {
                inventory_http.Close();
                pool.Close();
                io.stop();
            });
            reconciler.Stop(finish);
            server.Shutdown(finish);
        });
        std::signal(SIGPIPE, SIG_IGN);
        io.run();
        logger.Info("stopped");
        return 0;
    } catch (const std::exception& error) {
        logger.Error("fatal error", {{"error", error.what()}});
        return 1;
    }
}
