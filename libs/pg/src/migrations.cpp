#include <valerix/pg/migrations.hpp>

#include <algorithm>
#include <set>

namespace valerix::pg {
namespace {

// Any fixed 64-bit number shared by every replica of every service; each service has its own database.
constexpr std::string_view kTryLockSql = "SELECT pg_try_advisory_lock(7358210911)";
constexpr std::string_view kLockSql = "SELECT pg_advisory_lock(7358210911)";
constexpr std::string_view kUnlockSql =
    "SELECT pg_advisory_unlock(7358210911); RESET statement_timeout; RESET client_min_messages; "
    "RESET idle_session_timeout; RESET idle_in_transaction_session_timeout";
constexpr std::string_view kCreateTableSql =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY,"
    " name text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";
constexpr std::string_view kBegin = "BEGIN";
constexpr std::string_view kCommit = "COMMIT";
constexpr std::string_view kRollback = "ROLLBACK";
constexpr Statement kAppliedVersions{"migrations_applied", "SELECT version FROM schema_migrations"};
constexpr Statement kRecord{"migrations_record", "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)"};

}  // namespace

boost::asio::awaitable<Result<int>> ApplyMigrations(Connection& connection, const std::vector<Migration>& migrations,
                                                    core::Logger& logger, std::chrono::milliseconds idle_limit) {
    auto deadline = core::Deadline::Infinite();
    // A migration may run for long (no statement timeout), but the session never idles between its statements; one
    // that does is a replica that stopped or vanished while holding the lock. The server ends such a session after
    // `idle_limit`, which frees the lock for the others, instead of keeping it until TCP notices (hours).
    const auto idle = std::to_string(std::max<long long>(1, idle_limit.count()));
    // client_min_messages: libpq prints a NOTICE (such as "relation already exists, skipping") as a bare line on
    // stderr, into a log that is otherwise JSON lines; warnings and errors still come through.
    const auto limits = "SET statement_timeout = 0; SET client_min_messages = warning; SET idle_session_timeout = " +
                        idle + "; SET idle_in_transaction_session_timeout = " + idle;
    if (auto limited = co_await connection.ExecuteScript(limits, deadline); !limited) co_return limited.error();
    auto took = co_await connection.ExecuteScript(kTryLockSql, deadline);
    if (!took) co_return took.error();
    if (took->Size() != 1 || !took->Bool(0, 0)) {
        logger.Info("another replica is applying migrations; waiting for it to finish",
                    {{"idle_limit_ms", idle_limit.count()}});
        if (auto locked = co_await connection.ExecuteScript(kLockSql, deadline); !locked) co_return locked.error();
    }
    int applied_now = 0;
    std::optional<Error> failure;
    do {
        if (auto created = co_await connection.ExecuteScript(kCreateTableSql, deadline); !created) {
            failure = created.error();
            break;
        }
        auto rows = co_await connection.Execute(kAppliedVersions, {}, deadline);
        if (!rows) {
            failure = rows.error();
            break;
        }
        std::set<long long> applied;
        for (int i = 0; i < rows->Size(); ++i) applied.insert(rows->Int(i, 0));

        std::vector<const Migration*> ordered;
        for (const auto& migration : migrations) ordered.push_back(&migration);
        std::sort(ordered.begin(), ordered.end(), [](auto* a, auto* b) { return a->version < b->version; });
        for (const auto* migration : ordered) {
            if (applied.contains(migration->version)) continue;
            logger.Info("applying migration", {{"version", migration->version}, {"name", migration->name}});
            std::optional<Error> step_failure;
            if (auto begun = co_await connection.ExecuteScript(kBegin, deadline); !begun) {
                step_failure = begun.error();
            } else if (auto ran = co_await connection.ExecuteScript(migration->sql, deadline); !ran) {
                step_failure = ran.error();
            } else if (auto recorded = co_await connection.Execute(
                           kRecord, MakeParams(std::to_string(migration->version), std::string(migration->name)), deadline);
                       !recorded) {
                step_failure = recorded.error();
            } else if (auto committed = co_await connection.ExecuteScript(kCommit, deadline); !committed) {
                step_failure = committed.error();
            }
            if (step_failure) {
                co_await connection.ExecuteScript(kRollback, deadline);
                step_failure->message = "migration " + std::to_string(migration->version) + "_" + migration->name +
                                        " failed: " + step_failure->message;
                failure = step_failure;
                break;
            }
            ++applied_now;
        }
    } while (false);
    co_await connection.ExecuteScript(kUnlockSql, deadline);
    if (failure) co_return *failure;
    co_return applied_now;
}

}  // namespace valerix::pg
