#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <valerix/testing/child_process.hpp>
#include <valerix/testing/postgres_server.hpp>
#include <vector>

#include "scenario.hpp"

namespace valerix::scenario {

using Env = std::vector<std::pair<std::string, std::string>>;
using Rows = std::vector<std::vector<std::string>>;
using SteadyTime = std::chrono::steady_clock::time_point;

/// Something that happened to a process of the stack, for the report.
struct ProcessEvent {
    double t_s = 0;  // seconds since the run's clock started
    std::string service;
    std::string what;  // "killed", "exited", "started", "live", "restart failed", ...
    std::string detail;
};

/// Where the binaries are and where logs go.
struct StackConfig {
    std::string inventory_binary;
    std::string order_binary;
    std::string work_dir;  // service logs go here
    std::string admin_token;
    int restart_delay_ms = 300;
    Env inventory_env;
    Env order_env;
};

/// One service binary on a fixed free loopback port, started and stopped by PID. Thread-safe.
class ManagedService {
  public:
    ManagedService(std::string name, std::string binary, std::string log_dir, Env env, int port);
    ~ManagedService();

    const std::string& Name() const { return name_; }
    int Port() const { return port_; }

    /// Starts the binary (with `extra` added to its environment) unless it runs, and waits up to `timeout` until
    /// GET /live answers 200. A process that exits while starting (e.g. its database is restarting) is started
    /// again. Returns false (leaving nothing running) when it never became live.
    bool Start(const Env& extra, std::chrono::milliseconds timeout, std::string& detail);
    /// SIGKILL and reap. Returns the PID killed, or -1 when it was not running.
    pid_t Kill();
    /// SIGTERM, then SIGKILL after `grace`.
    void Stop(std::chrono::milliseconds grace);
    /// Reaps the process if it exited; returns its status (exit code, or 128 + signal) once per exit.
    std::optional<int> TakeExit();
    bool Running();
    pid_t Pid();
    int Starts() const { return starts_; }
    /// Every log file this service wrote (one per start).
    std::vector<std::string> LogPaths();

  private:
    std::string name_, binary_, log_dir_;
    Env env_;
    int port_;
    std::mutex mutex_;
    std::unique_ptr<testing::ChildProcess> process_;
    std::atomic<int> starts_{0};
    std::vector<std::string> logs_;
};

/// Where a service answers.
struct Endpoint {
    std::string host = "127.0.0.1";
    int port = 0;
    std::string Text() const { return host + ":" + std::to_string(port); }
};

/// The system a scenario runs against: its endpoints, both databases, and (when the runner owns the processes) the
/// means to inject process faults. Thread-safe.
class Stack {
  public:
    virtual ~Stack() = default;

    virtual void Start() = 0;
    virtual void Stop() = 0;
    virtual Endpoint Inventory() const = 0;
    virtual Endpoint Order() const = 0;
    /// Runs `sql` in "order_db" or "inventory_db" and returns the rows as text (NULL as ""). Throws
    /// std::runtime_error (e.g. while PostgreSQL restarts).
    virtual Rows Query(const std::string& db, const std::string& sql) = 0;
    /// One line for the report, e.g. "ephemeral — PostgreSQL 127.0.0.1:5xxxx, inventory …, order …".
    virtual std::string Describe() const = 0;
    /// True when the runner started the processes and may kill and restart them (and corrupt the databases).
    virtual bool OwnsProcesses() const = 0;

    /// The chaos configuration a restarted inventory starts with (VALERIX_CHAOS).
    virtual void SetStartupChaos(const std::string& chaos_json) {}
    /// kill -9 the service and keep it down until ReviveService.
    virtual void KillService(Service service);
    virtual void ReviveService(Service service);
    /// Stop and start the PostgreSQL server on the same port: fast, or `immediate` (a crash: what only shared
    /// memory held is lost, crash recovery runs at start). Returns once it accepts connections again.
    virtual void RestartPostgres(bool immediate);
    /// Waits until both services answer /live (starting any the runner holds down), bounded by `timeout`.
    virtual bool EnsureUp(std::chrono::milliseconds timeout);

    virtual std::vector<ProcessEvent> Events() { return {}; }
    /// Exits the runner saw and restarted as supervisor.
    virtual int UnplannedExits(Service service) { return 0; }
    /// Inventory exits with the crash simulator's status.
    virtual int ChaosExits() { return 0; }
    /// Exits neither the runner nor the crash simulator caused (a crash, an abort, a service that gave up when its
    /// database went away), and planned kills that found nothing to kill, described: each is a run error, however
    /// well the data survived it.
    virtual std::vector<std::string> UnexpectedExits() { return {}; }
    /// A number that changes whenever inventory restarts (its counters restart at 0), when known.
    virtual int InventoryIncarnation() { return 1; }
    virtual std::vector<std::string> InventoryLogs() { return {}; }
    /// Copies what is worth keeping (the PostgreSQL log) into `dir` before the stack is removed.
    virtual void PreserveLogs(const std::string& dir) {}
};

/// A throwaway stack owned by the runner: one PostgreSQL server with order_db and inventory_db, inventory-service and
/// order-service on free 127.0.0.1 ports. It plays the supervisor's role: a service that exits without being told to
/// (the crash simulator's `exit`) is started again after `restart_delay_ms`. Every process it starts, it stops by
/// PID; nothing of a developer's running stack is touched.
class EphemeralStack final : public Stack {
  public:
    EphemeralStack(StackConfig config, SteadyTime epoch);
    ~EphemeralStack() override;

    /// Starts PostgreSQL, creates the databases and roles, starts both services and the supervisor. Throws
    /// std::runtime_error with the failing step's log.
    void Start() override;
    /// Stops the supervisor and the services (SIGTERM, then SIGKILL), then PostgreSQL.
    void Stop() override;

    Endpoint Inventory() const override;
    Endpoint Order() const override;
    /// Queries as the superuser.
    Rows Query(const std::string& db, const std::string& sql) override;
    std::string Describe() const override;
    bool OwnsProcesses() const override { return true; }

    /// The runner keeps it equal to the last configuration it PUT, as the local supervisor's environment would.
    void SetStartupChaos(const std::string& chaos_json) override;
    /// The supervisor leaves a killed service alone until ReviveService.
    void KillService(Service service) override;
    void ReviveService(Service service) override;
    void RestartPostgres(bool immediate) override;
    bool EnsureUp(std::chrono::milliseconds timeout) override;

    std::vector<ProcessEvent> Events() override;
    int UnplannedExits(Service service) override;
    int ChaosExits() override;
    std::vector<std::string> UnexpectedExits() override;
    int InventoryIncarnation() override;
    std::vector<std::string> InventoryLogs() override;
    void PreserveLogs(const std::string& dir) override;

  private:
    ManagedService& Get(Service service);
    void Record(const std::string& service, std::string what, std::string detail = {});
    /// An exit the runner did not cause: counted, and kept as unexpected unless it is the crash simulator's.
    void CountExit(Service service, const std::string& name, int status);
    void Supervise();
    void StartOrRecord(Service service);
    Env InventoryExtraEnv();

    StackConfig config_;
    SteadyTime epoch_;
    std::unique_ptr<testing::PostgresServer> postgres_;
    std::unique_ptr<ManagedService> inventory_;
    std::unique_ptr<ManagedService> order_;
    std::mutex mutex_;  // guards the members below
    std::vector<ProcessEvent> events_;
    std::string startup_chaos_ = "{}";
    bool held_down_[2] = {false, false};
    int unplanned_exits_[2] = {0, 0};
    int chaos_exits_ = 0;
    std::vector<std::string> unexpected_exits_;
    std::atomic<bool> stopping_{false};
    std::mutex control_[2];  // one per service: a restart by the supervisor and a kill by the timeline never interleave
    std::thread supervisor_;
};

/// A stack someone else runs (e.g. the local one of `./valerix up`): the runner talks to it; chaos is set and reset
/// through the admin API. Process faults go through the stack's own supervisor when a `ctl` command is given (the
/// supervisor, not the runner, restarts crashed services), else they are refused.
class ExternalStack final : public Stack {
  public:
    ExternalStack(Endpoint order, Endpoint inventory, std::string order_db, std::string inventory_db,
                  std::string ctl = {}, std::string log_dir = {});

    ~ExternalStack() override;
    void KillService(Service service) override;
    void ReviveService(Service service) override;
    void RestartPostgres(bool immediate) override;
    bool EnsureUp(std::chrono::milliseconds timeout) override;
    std::vector<ProcessEvent> Events() override;
    /// With `ctl`: restarts the supervisor made that the timeline did not ask for, seen as a new pid in
    /// `ctl status` (polled every ~1.5 s, so two restarts within one poll count once).
    int UnplannedExits(Service service) override;
    /// Unplanned inventory restarts: supervisorctl does not show exit statuses, so under the crash simulator these
    /// are taken as its exits.
    int ChaosExits() override { return UnplannedExits(Service::kInventory); }

    void Start() override;
    void Stop() override;
    Endpoint Inventory() const override { return inventory_; }
    Endpoint Order() const override { return order_; }
    Rows Query(const std::string& db, const std::string& sql) override;
    std::string Describe() const override;
    bool OwnsProcesses() const override { return false; }

  private:
    /// Runs `ctl ARGS`; throws std::runtime_error with its output when it fails and `must_succeed`.
    void Ctl(const std::string& args, bool must_succeed);
    /// Ctl in two steps, for a call that runs while the runner does something else: start it, then wait for it.
    testing::ChildProcess StartCtl(const std::string& args);
    void FinishCtl(testing::ChildProcess& child, const std::string& args, bool must_succeed);
    /// Where every ctl call's command line and output go.
    std::string CtlLog() const;

    Endpoint order_, inventory_;
    std::string order_db_, inventory_db_;
    std::string ctl_, log_dir_;
    std::mutex mutex_;
    std::vector<ProcessEvent> events_;
    SteadyTime epoch_ = std::chrono::steady_clock::now();
    void Watch();
    std::thread watcher_;
    std::atomic<bool> stopping_{false};
    std::string last_pid_[2];
    bool planned_[2] = {false, false};  // a timeline kill/revive is in progress: its pid change is expected
    int unplanned_[2] = {0, 0};
};

/// Runs `sql` on a new blocking libpq connection and returns the rows of the last statement as text, NULL as "".
/// Throws std::runtime_error with the server's message.
Rows QueryConnInfo(const std::string& conninfo, const std::string& sql);

/// The chaos exit status of inventory-service (std::_Exit(70) in the crash simulator).
inline constexpr int kChaosExitStatus = 70;

}  // namespace valerix::scenario
