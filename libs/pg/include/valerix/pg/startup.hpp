#pragma once

#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <valerix/core/clock.hpp>
#include <valerix/core/config.hpp>
#include <valerix/core/logging.hpp>
#include <valerix/metrics/registry.hpp>
#include <valerix/pg/migrations.hpp>
#include <valerix/pg/pool.hpp>

namespace valerix::pg {

/// VALERIX_DB_URL (default `default_conninfo`), VALERIX_DB_POOL_SIZE, VALERIX_DB_CONNECT_TIMEOUT_MS,
/// VALERIX_DB_STATEMENT_TIMEOUT_MS. Problems go to `env`.
PoolConfig PoolConfigFromEnv(core::EnvReader& env, const std::string& default_conninfo);

/// Connects (retrying every 500 ms while the database is still starting, up to `attempts` times) and applies the
/// service's migrations. Throws std::runtime_error when the database stays unreachable or a migration fails.
boost::asio::awaitable<void> PrepareSchema(boost::asio::io_context& io, const PoolConfig& config,
                                           const std::vector<Migration>& migrations, core::Logger& logger,
                                           const core::Clock& clock, int attempts = 60);

/// Runs PrepareSchema to completion on `io` before anything else is started on it (the services serve nothing
/// until their schema is current), then leaves `io` ready to run again. Throws like PrepareSchema.
void PrepareSchemaBeforeServing(boost::asio::io_context& io, const PoolConfig& config,
                                const std::vector<Migration>& migrations, core::Logger& logger,
                                const core::Clock& clock);

/// Publishes the pool's size, idle connections and waiters as gauges (read on the I/O thread at scrape time).
void RegisterPoolMetrics(metrics::Registry& registry, const Pool& pool);

}  // namespace valerix::pg
