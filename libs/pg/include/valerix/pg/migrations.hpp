#pragma once

#include <chrono>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include <valerix/core/logging.hpp>
#include <valerix/pg/connection.hpp>

namespace valerix::pg {

/// One versioned schema change; `sql` runs inside one transaction together with its `schema_migrations` row.
struct Migration {
    int version;
    const char* name;
    const char* sql;
};

/// Applies, in version order, every migration not yet recorded in `schema_migrations`. Safe when several replicas
/// start at once: a session-level advisory lock serializes them, and each replica re-reads what is applied after
/// taking it. Returns how many migrations this call applied.
///
/// While it holds the lock, the session is one the server ends when it idles for `idle_limit` between statements,
/// as it does only when its replica stopped or lost the network midway; the lock is then free again and the
/// migration in progress rolled back. A replica that waits for the lock says so in the log.
boost::asio::awaitable<Result<int>> ApplyMigrations(Connection& connection, const std::vector<Migration>& migrations,
                                                    core::Logger& logger,
                                                    std::chrono::milliseconds idle_limit = std::chrono::seconds(60));

}  // namespace valerix::pg
