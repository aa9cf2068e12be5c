#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

namespace valerix::testing {

class ChildProcess;

/// A real, throwaway PostgreSQL 15 cluster for one test or test suite.
///
/// Lives in a fresh folder /tmp/valerix-pg-XXXXXX (data in `Dir()/data`, server log in
/// `Dir()/postgres.log`, Unix socket in `Dir()`), listens on 127.0.0.1 only, on an ephemeral port,
/// trusts every local connection, and trades durability for speed (fsync, synchronous_commit and
/// full_page_writes are off; `Commits::kSynchronous` keeps synchronous_commit on). When the test runs
/// as root, the cluster runs as the `postgres` user (initdb refuses root); otherwise as the current
/// user. The binaries come from /usr/lib/postgresql/15/bin, or from $VALERIX_PG_BINDIR when set.
///
/// The server is a descendant of the test process and in its process group (started without pg_ctl, which
/// detaches it): a test killed with its process tree, as CTest does on a timeout, or interrupted at a terminal,
/// takes its server with it. Only a kill of the test process alone leaves the server (and its folder) behind.
///
/// Not thread-safe as an object, but `Query` and `ConnInfo` may be called from several threads at once.
class PostgresServer {
  public:
    /// Whether a commit waits for its WAL write (`synchronous_commit`). `kAsynchronous` is faster;
    /// `kSynchronous` commits as a production server does, so that an immediate `Restart` (a crash) loses
    /// only what such a server would lose. fsync stays off either way: the operating system outlives
    /// these crashes, so written WAL is kept.
    enum class Commits { kAsynchronous, kSynchronous };

    /// Creates, configures and starts a cluster; blocks until it accepts connections (about 1 s).
    /// Throws std::runtime_error with the initdb or server log when any step fails; nothing is left
    /// behind then.
    static std::unique_ptr<PostgresServer> Start(Commits commits = Commits::kAsynchronous);

    /// Stops the server (immediate mode) and removes `Dir()` recursively. Never throws.
    ~PostgresServer();

    PostgresServer(const PostgresServer&) = delete;
    PostgresServer& operator=(const PostgresServer&) = delete;

    /// The TCP port on 127.0.0.1; unchanged by `Restart`.
    int Port() const { return port_; }

    /// The cluster's own temporary folder.
    std::string Dir() const { return dir_; }

    /// Creates `owner_role` (LOGIN, not superuser) unless it exists, then database `db` owned by it.
    /// Throws std::runtime_error with the server's message on failure (e.g. when `db` exists).
    void CreateDatabase(const std::string& db, const std::string& owner_role);

    /// A libpq connection string: "host=127.0.0.1 port=N dbname=DB user=USER" (values quoted when needed).
    std::string ConnInfo(const std::string& db, const std::string& user) const;

    /// Runs `sql` (one or more statements) in `db` as the superuser `postgres` on a new blocking
    /// connection and returns the rows of the last statement as text, NULL as "".
    /// Throws std::runtime_error with the server's message on a connection or SQL error.
    std::vector<std::vector<std::string>> Query(const std::string& db, const std::string& sql);

    /// How `Restart` stops the server: `kFast` disconnects the clients, writes the WAL out and checkpoints;
    /// `kImmediate` is a crash (every process exits at once; WAL still only in shared memory — commits made
    /// with `synchronous_commit = off` since the last WAL write — is lost) and the start runs crash recovery.
    enum class Shutdown { kFast, kImmediate };

    /// Stops the server and starts it again on the same port; for tests of reconnection and crash recovery.
    /// Throws std::runtime_error with the server log on failure.
    void Restart(Shutdown shutdown = Shutdown::kFast);

  private:
    explicit PostgresServer(std::string dir);

    void Initialize(Commits commits);
    void StartServer();
    bool WaitUntilReady();
    /// The PID in postmaster.pid if it is our postmaster (and, with `ready_only`, accepting connections), else -1.
    pid_t PostmasterPid(bool ready_only) const;
    bool StopServer(Shutdown mode) noexcept;
    int RunTool(const std::string& tool, std::vector<std::string> args, const std::string& log_name) const;
    std::string DataDir() const;
    std::string ServerLogPath() const;

    std::string dir_;
    int port_ = 0;
    bool as_postgres_user_ = false;
    bool running_ = false;
    std::unique_ptr<ChildProcess> postmaster_;  // the postmaster, or runuser with the postmaster as its child
};

}  // namespace valerix::testing
