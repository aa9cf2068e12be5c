#include <valerix/pg/startup.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace valerix::pg {

PoolConfig PoolConfigFromEnv(core::EnvReader& env, const std::string& default_conninfo) {
    PoolConfig config;
    config.conninfo = env.String("VALERIX_DB_URL", default_conninfo);
    config.max_size = static_cast<std::size_t>(env.Int("VALERIX_DB_POOL_SIZE", 16, 1, 500));
    config.connect_timeout = env.Millis("VALERIX_DB_CONNECT_TIMEOUT_MS", 5000, 100, 600000);
    config.statement_timeout = env.Millis("VALERIX_DB_STATEMENT_TIMEOUT_MS", 5000, 10, 600000);
    return config;
}

boost::asio::awaitable<void> PrepareSchema(boost::asio::io_context& io, const PoolConfig& config,
                                           const std::vector<Migration>& migrations, core::Logger& logger,
                                           const core::Clock& clock, int attempts) {
    for (int attempt = 1;; ++attempt) {
        auto connection = co_await Connection::Connect(io.get_executor(), config.conninfo,
                                                       core::Deadline::After(clock, config.connect_timeout), clock);
        if (connection) {
            auto applied = co_await ApplyMigrations(**connection, migrations, logger);
            if (!applied) throw std::runtime_error(applied.error().message);
            logger.Info("database schema is current", {{"applied_now", *applied}});
            co_return;
        }
        if (attempt >= attempts) {
            throw std::runtime_error("cannot connect to the database: " + connection.error().message);
        }
        logger.Warn("database not reachable yet; retrying",
                    {{"attempt", attempt}, {"error", connection.error().message}});
        boost::asio::steady_timer pause(io, std::chrono::milliseconds(500));
        co_await pause.async_wait(boost::asio::use_awaitable);
    }
}

void PrepareSchemaBeforeServing(boost::asio::io_context& io, const PoolConfig& config,
                                const std::vector<Migration>& migrations, core::Logger& logger,
                                const core::Clock& clock) {
    auto prepared = boost::asio::co_spawn(io, PrepareSchema(io, config, migrations, logger, clock),
                                          boost::asio::use_future);
    io.run();
    prepared.get();
    io.restart();
}

void RegisterPoolMetrics(metrics::Registry& registry, const Pool& pool) {
    registry.AddCallbackGauge("valerix_db_pool_open_connections", "Database connections open.",
                              [&pool] { return static_cast<double>(pool.Open()); });
    registry.AddCallbackGauge("valerix_db_pool_idle_connections", "Database connections idle in the pool.",
                              [&pool] { return static_cast<double>(pool.Idle()); });
    registry.AddCallbackGauge("valerix_db_pool_waiters", "Requests waiting for a database connection.",
                              [&pool] { return static_cast<double>(pool.Waiting()); });
    registry.AddCallbackGauge("valerix_db_pool_max_connections", "Configured pool size.",
                              [&pool] { return static_cast<double>(pool.MaxSize()); });
}

}  // namespace valerix::pg
