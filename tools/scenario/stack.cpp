#include "stack.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <valerix/testing/files.hpp>
#include <valerix/testing/free_port.hpp>
#include <valerix/testing/http_client.hpp>

namespace valerix::scenario {
namespace {

using namespace std::chrono_literals;

Env Merge(Env base, const Env& extra) {
    for (const auto& [key, value] : extra) {
        auto it = std::find_if(base.begin(), base.end(), [&](const auto& entry) { return entry.first == key; });
        if (it != base.end())
            it->second = value;
        else
            base.emplace_back(key, value);
    }
    return base;
}

bool Live(int port) {
    try {
        testing::HttpClient client("127.0.0.1", port);
        return client.Request("GET", "/live", "", {}, 500ms).status == 200;
    } catch (const std::exception&) {
        return false;
    }
}

std::string ExitText(int status) {
    if (status == kChaosExitStatus) return "status 70 (the crash simulator's exit)";
    if (status > 128) return "signal " + std::to_string(status - 128);
    return "status " + std::to_string(status);
}

int Index(Service service) { return service == Service::kInventory ? 0 : 1; }

}  // namespace

ManagedService::ManagedService(std::string name, std::string binary, std::string log_dir, Env env, int port)
    : name_(std::move(name)),
      binary_(std::move(binary)),
      log_dir_(std::move(log_dir)),
      env_(std::move(env)),
      port_(port) {}

ManagedService::~ManagedService() { Stop(2s); }

bool ManagedService::Start(const Env& extra, std::chrono::milliseconds timeout, std::string& detail) {
    std::lock_guard lock(mutex_);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    if (process_ && process_->Running()) return true;
    while (std::chrono::steady_clock::now() < deadline) {
        std::string log = log_dir_ + "/" + name_ + "-" + std::to_string(++starts_) + ".log";
        logs_.push_back(log);
        try {
            process_ =
                std::make_unique<testing::ChildProcess>(binary_, std::vector<std::string>{}, Merge(env_, extra), log);
        } catch (const std::exception& error) {
            // E.g. the binary is being rebuilt ("Text file busy"): a failed attempt, not the end of the run.
            detail += "start " + std::to_string(starts_) + " failed: " + error.what() + "; ";
            std::this_thread::sleep_for(300ms);
            continue;
        }
        while (std::chrono::steady_clock::now() < deadline) {
            if (Live(port_)) return true;
            if (!process_->Running()) break;
            std::this_thread::sleep_for(50ms);
        }
        if (process_->Running()) break;  // timed out while running
        detail +=
            "start " + std::to_string(starts_) + " exited with status " + std::to_string(process_->Wait(0ms)) + "; ";
        process_.reset();
        std::this_thread::sleep_for(300ms);
    }
    detail += "not live after " + std::to_string(timeout.count()) + " ms";
    process_.reset();  // kills and reaps
    return false;
}

pid_t ManagedService::Kill() {
    std::lock_guard lock(mutex_);
    if (!process_ || !process_->Running()) return -1;
    pid_t pid = process_->Pid();
    process_->Signal(SIGKILL);
    process_->Wait(10s);
    process_.reset();
    return pid;
}

void ManagedService::Stop(std::chrono::milliseconds grace) {
    std::lock_guard lock(mutex_);
    if (!process_) return;
    if (process_->Running()) {
        process_->Signal(SIGTERM);
        try {
            process_->Wait(grace);
        } catch (const std::runtime_error&) {
            // Still running after the grace period: the destructor sends SIGKILL.
        }
    }
    process_.reset();
}

std::optional<int> ManagedService::TakeExit() {
    std::lock_guard lock(mutex_);
    if (!process_ || process_->Running()) return std::nullopt;
    int status = process_->Wait(0ms);
    process_.reset();
    return status;
}

bool ManagedService::Running() {
    std::lock_guard lock(mutex_);
    return process_ && process_->Running();
}

pid_t ManagedService::Pid() {
    std::lock_guard lock(mutex_);
    return process_ ? process_->Pid() : -1;
}

std::vector<std::string> ManagedService::LogPaths() {
    std::lock_guard lock(mutex_);
    return logs_;
}

EphemeralStack::EphemeralStack(StackConfig config, SteadyTime epoch) : config_(std::move(config)), epoch_(epoch) {}

EphemeralStack::~EphemeralStack() { Stop(); }

void EphemeralStack::Start() {
    // Commits as the real stack does, so that a crash in the timeline loses only what it would lose there: a commit
    // that did not wait for its WAL flush (ADR 0003 on why none may).
    postgres_ = testing::PostgresServer::Start(testing::PostgresServer::Commits::kSynchronous);
    postgres_->CreateDatabase("inventory_db", "inventory_svc");
    postgres_->CreateDatabase("order_db", "order_svc");
    Record("postgres", "started", "127.0.0.1:" + std::to_string(postgres_->Port()) + ", data in " + postgres_->Dir());

    Env common = {{"VALERIX_HTTP_HOST", "127.0.0.1"},
                  {"VALERIX_ADMIN_TOKEN", config_.admin_token},
                  {"VALERIX_LOG_LEVEL", "info"}};
    int inventory_port = testing::FreePort();
    int order_port = testing::FreePort();
    Env inventory_env = Merge(common, {{"VALERIX_HTTP_PORT", std::to_string(inventory_port)},
                                       {"VALERIX_DB_URL", postgres_->ConnInfo("inventory_db", "inventory_svc")}});
    Env order_env = Merge(common, {{"VALERIX_HTTP_PORT", std::to_string(order_port)},
                                   {"VALERIX_DB_URL", postgres_->ConnInfo("order_db", "order_svc")},
                                   {"VALERIX_INVENTORY_URL", "http://127.0.0.1:" + std::to_string(inventory_port)}});
    inventory_ = std::make_unique<ManagedService>("inventory", config_.inventory_binary, config_.work_dir,
                                                  Merge(inventory_env, config_.inventory_env), inventory_port);
    order_ = std::make_unique<ManagedService>("order", config_.order_binary, config_.work_dir,
                                              Merge(order_env, config_.order_env), order_port);
    for (Service service : {Service::kInventory, Service::kOrder}) {
        std::string detail;
        auto& managed = Get(service);
        Env extra = service == Service::kInventory ? InventoryExtraEnv() : Env{};
        if (!managed.Start(extra, 60s, detail)) {
            auto logs = managed.LogPaths();
            std::string log = logs.empty() ? "" : testing::ReadFile(logs.back());
            throw std::runtime_error(managed.Name() + " did not start: " + detail + "\n" + log);
        }
        Record(managed.Name(), "started",
               "pid " + std::to_string(managed.Pid()) + ", 127.0.0.1:" + std::to_string(managed.Port()));
    }
    supervisor_ = std::thread([this] { Supervise(); });
}

void EphemeralStack::Stop() {
    stopping_ = true;
    if (supervisor_.joinable()) supervisor_.join();
    if (order_) order_->Stop(5s);
    if (inventory_) inventory_->Stop(5s);
    postgres_.reset();
}

Endpoint EphemeralStack::Inventory() const { return Endpoint{"127.0.0.1", inventory_->Port()}; }
Endpoint EphemeralStack::Order() const { return Endpoint{"127.0.0.1", order_->Port()}; }

std::string EphemeralStack::Describe() const {
    return "ephemeral — PostgreSQL 127.0.0.1:" + std::to_string(postgres_ ? postgres_->Port() : 0) + ", inventory " +
           Inventory().Text() + ", order " + Order().Text();
}

Rows EphemeralStack::Query(const std::string& db, const std::string& sql) { return postgres_->Query(db, sql); }

void EphemeralStack::SetStartupChaos(const std::string& chaos_json) {
    std::lock_guard lock(mutex_);
    startup_chaos_ = chaos_json;
}

Env EphemeralStack::InventoryExtraEnv() {
    std::lock_guard lock(mutex_);
    return {{"VALERIX_CHAOS", startup_chaos_}};
}

ManagedService& EphemeralStack::Get(Service service) { return service == Service::kInventory ? *inventory_ : *order_; }

void EphemeralStack::Record(const std::string& service, std::string what, std::string detail) {
    double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_).count();
    std::lock_guard lock(mutex_);
    events_.push_back(ProcessEvent{t, service, std::move(what), std::move(detail)});
}

void EphemeralStack::KillService(Service service) {
    std::lock_guard control(control_[Index(service)]);
    {
        std::lock_guard lock(mutex_);
        held_down_[Index(service)] = true;
    }
    auto& managed = Get(service);
    if (auto status = managed.TakeExit()) {
        Record(managed.Name(), "exited", ExitText(*status) + " (before the planned kill)");
        CountExit(service, managed.Name(), *status);  // takes mutex_ itself
        return;
    }
    pid_t pid = managed.Kill();
    Record(managed.Name(), "killed", pid > 0 ? "kill -9 pid " + std::to_string(pid) : "was not running");
    if (pid <= 0) {  // the fault the scenario is about did not happen: not a pass
        std::lock_guard lock(mutex_);
        unexpected_exits_.push_back("the planned kill of " + managed.Name() + " found it not running");
    }
}

void EphemeralStack::ReviveService(Service service) {
    std::lock_guard control(control_[Index(service)]);
    StartOrRecord(service);
    std::lock_guard lock(mutex_);
    held_down_[Index(service)] = false;
}

void EphemeralStack::StartOrRecord(Service service) {
    auto& managed = Get(service);
    Env extra = service == Service::kInventory ? InventoryExtraEnv() : Env{};
    std::string detail;
    auto started = std::chrono::steady_clock::now();
    if (managed.Start(extra, 60s, detail)) {
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
        Record(managed.Name(), "restarted",
               "pid " + std::to_string(managed.Pid()) + ", live after " + std::to_string(ms.count()) + " ms" +
                   (detail.empty() ? "" : " (" + detail + ")"));
    } else {
        Record(managed.Name(), "restart failed", detail);
    }
}

void EphemeralStack::RestartPostgres(bool immediate) {
    auto started = std::chrono::steady_clock::now();
    Record("postgres", "restarting",
           immediate ? "pg_ctl stop -m immediate (a crash), then start on the same port (crash recovery)"
                     : "pg_ctl stop -m fast, then start on the same port");
    postgres_->Restart(immediate ? testing::PostgresServer::Shutdown::kImmediate
                                 : testing::PostgresServer::Shutdown::kFast);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    Record("postgres", "restarted", "accepting connections after " + std::to_string(ms.count()) + " ms");
}

bool EphemeralStack::EnsureUp(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (Service service : {Service::kInventory, Service::kOrder}) {
        bool held;
        {
            std::lock_guard lock(mutex_);
            held = held_down_[Index(service)];
        }
        if (held) ReviveService(service);
    }
    while (std::chrono::steady_clock::now() < deadline) {
        if (Live(inventory_->Port()) && Live(order_->Port())) return true;
        std::this_thread::sleep_for(100ms);
    }
    return false;
}

void EphemeralStack::Supervise() {
    while (!stopping_) {
        for (Service service : {Service::kInventory, Service::kOrder}) {
            std::lock_guard control(control_[Index(service)]);
            {
                std::lock_guard lock(mutex_);
                if (held_down_[Index(service)]) continue;
            }
            auto& managed = Get(service);
            auto status = managed.TakeExit();
            if (!status) {
                if (managed.Running()) continue;
                // Down after a failed restart: try again.
            } else {
                Record(managed.Name(), "exited", ExitText(*status));
                CountExit(service, managed.Name(), *status);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(config_.restart_delay_ms));
            if (stopping_) return;
            StartOrRecord(service);
        }
        std::this_thread::sleep_for(20ms);
    }
}

std::vector<ProcessEvent> EphemeralStack::Events() {
    std::lock_guard lock(mutex_);
    return events_;
}

int EphemeralStack::UnplannedExits(Service service) {
    std::lock_guard lock(mutex_);
    return unplanned_exits_[Index(service)];
}

int EphemeralStack::ChaosExits() {
    std::lock_guard lock(mutex_);
    return chaos_exits_;
}

std::vector<std::string> EphemeralStack::UnexpectedExits() {
    std::lock_guard lock(mutex_);
    return unexpected_exits_;
}

void EphemeralStack::CountExit(Service service, const std::string& name, int status) {
    std::lock_guard lock(mutex_);
    ++unplanned_exits_[Index(service)];
    if (status == kChaosExitStatus && service == Service::kInventory) {
        ++chaos_exits_;
    } else {
        unexpected_exits_.push_back(name + " exited on its own: " + ExitText(status));
    }
}

int EphemeralStack::InventoryIncarnation() { return inventory_->Starts(); }
std::vector<std::string> EphemeralStack::InventoryLogs() { return inventory_->LogPaths(); }

void EphemeralStack::PreserveLogs(const std::string& dir) {
    if (!postgres_) return;
    std::error_code ec;
    std::filesystem::copy_file(postgres_->Dir() + "/postgres.log", dir + "/postgres.log",
                               std::filesystem::copy_options::overwrite_existing, ec);
}

void Stack::KillService(Service service) {
    throw std::logic_error("this stack does not let the runner kill " + std::string(ToString(service)));
}
void Stack::ReviveService(Service service) {
    throw std::logic_error("this stack does not let the runner start " + std::string(ToString(service)));
}
void Stack::RestartPostgres(bool) { throw std::logic_error("this stack does not let the runner restart PostgreSQL"); }

bool Stack::EnsureUp(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto live = [](const Endpoint& endpoint) {
        try {
            testing::HttpClient client(endpoint.host, endpoint.port);
            return client.Request("GET", "/live", "", {}, 1s).status == 200;
        } catch (const std::exception&) {
            return false;
        }
    };
    while (std::chrono::steady_clock::now() < deadline) {
        if (live(Inventory()) && live(Order())) return true;
        std::this_thread::sleep_for(100ms);
    }
    return false;
}

ExternalStack::ExternalStack(Endpoint order, Endpoint inventory, std::string order_db, std::string inventory_db,
                             std::string ctl, std::string log_dir)
    : order_(std::move(order)),
      inventory_(std::move(inventory)),
      order_db_(std::move(order_db)),
      inventory_db_(std::move(inventory_db)),
      ctl_(std::move(ctl)),
      log_dir_(log_dir.empty() ? "/tmp" : std::move(log_dir)) {}

void ExternalStack::Ctl(const std::string& args, bool must_succeed) {
    testing::ChildProcess child = StartCtl(args);
    FinishCtl(child, args, must_succeed);
}

testing::ChildProcess ExternalStack::StartCtl(const std::string& args) {
    if (ctl_.empty()) throw std::logic_error("no --ctl command: the runner cannot control this stack's processes");
    {
        std::ofstream(CtlLog(), std::ios::app) << "$ " << ctl_ << " " << args << "\n";
    }
    return testing::ChildProcess("/bin/sh", {"-c", ctl_ + " " + args}, {}, CtlLog());
}

std::string ExternalStack::CtlLog() const { return log_dir_ + "/ctl.log"; }

void ExternalStack::FinishCtl(testing::ChildProcess& child, const std::string& args, bool must_succeed) {
    int status = child.Wait(120s);
    {
        std::lock_guard lock(mutex_);
        events_.push_back({std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_).count(), "ctl",
                           args, "exit " + std::to_string(status)});
    }
    if (status != 0 && must_succeed) {
        throw std::runtime_error("`" + ctl_ + " " + args + "` exited with " + std::to_string(status) + "; see " +
                                 CtlLog());
    }
}

ExternalStack::~ExternalStack() { Stop(); }

void ExternalStack::Stop() {
    stopping_ = true;
    if (watcher_.joinable()) watcher_.join();
}

void ExternalStack::Watch() {
    std::string out = log_dir_ + "/ctl-status.txt";
    while (!stopping_) {
        std::error_code ec;
        std::filesystem::remove(out, ec);
        try {
            testing::ChildProcess child("/bin/sh", {"-c", ctl_ + " status inventory order"}, {}, out);
            child.Wait(30s);
        } catch (const std::exception&) {
        }
        std::string text;
        try {
            text = testing::ReadFile(out);
        } catch (const std::exception&) {
        }
        for (Service service : {Service::kInventory, Service::kOrder}) {
            std::string name(ToString(service));
            auto at = text.find(name + " ");
            if (at == std::string::npos) continue;
            auto line = text.substr(at, text.find('\n', at) - at);
            auto pid_at = line.find(" pid ");
            if (line.find("RUNNING") == std::string::npos || pid_at == std::string::npos) continue;
            std::string pid = line.substr(pid_at + 5, line.find(',', pid_at) - pid_at - 5);
            std::lock_guard lock(mutex_);
            int i = service == Service::kInventory ? 0 : 1;
            if (!last_pid_[i].empty() && pid != last_pid_[i]) {
                if (planned_[i]) {
                    planned_[i] = false;
                } else {
                    ++unplanned_[i];
                    events_.push_back({std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_).count(),
                                       name, "restarted by the supervisor", "pid " + last_pid_[i] + " -> " + pid});
                }
            }
            last_pid_[i] = pid;
        }
        for (int i = 0; i < 15 && !stopping_; ++i) std::this_thread::sleep_for(100ms);
    }
}

int ExternalStack::UnplannedExits(Service service) {
    std::lock_guard lock(mutex_);
    return unplanned_[service == Service::kInventory ? 0 : 1];
}

void ExternalStack::KillService(Service service) {
    {
        std::lock_guard lock(mutex_);
        planned_[service == Service::kInventory ? 0 : 1] = true;
    }
    std::string name(ToString(service));
    Ctl("signal KILL " + name, true);
    // The supervisor restarts a crashed program at once; hold it down until the timeline's restart time. A stop
    // sends SIGTERM, which supervisord loses when it reaches the restarted copy between fork and exec (the child
    // still runs supervisord's own handler): the stop then waits its whole `stopwaitsecs` (15 s) before SIGKILL.
    // So when the stop has not ended within a second, the copy — STOPPING by then, and signallable — is killed too.
    testing::ChildProcess stop = StartCtl("stop " + name);
    const auto patience = std::chrono::steady_clock::now() + 1s;
    while (stop.Running() && std::chrono::steady_clock::now() < patience) std::this_thread::sleep_for(20ms);
    if (stop.Running()) Ctl("signal KILL " + name, false);
    FinishCtl(stop, "stop " + name, false);
}

void ExternalStack::ReviveService(Service service) {
    {
        std::lock_guard lock(mutex_);
        planned_[service == Service::kInventory ? 0 : 1] = true;  // the next pid seen is this start's
    }
    Ctl("start " + std::string(ToString(service)), false);
}

void ExternalStack::RestartPostgres(bool immediate) {
    // Each database answers again once a postmaster started after this call accepts connections. A start time that
    // cannot be read now (the database busy, say) stays empty: then any answer after the restart will do.
    const std::string kStarted = "SELECT pg_postmaster_start_time()";
    auto started = [&](const char* db) {
        try {
            return Query(db, kStarted);
        } catch (const std::exception&) {
            return Rows{};
        }
    };
    const Rows order_before = started("order_db");
    const Rows inventory_before = started("inventory_db");
    // SIGQUIT is PostgreSQL's immediate shutdown; the supervisor starts the exited server again (autorestart).
    Ctl(immediate ? "signal QUIT order-db inventory-db" : "restart order-db inventory-db", true);
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < deadline) {
        const Rows order_now = started("order_db");
        const Rows inventory_now = started("inventory_db");
        if (!order_now.empty() && order_now != order_before && !inventory_now.empty() &&
            inventory_now != inventory_before) {
            return;
        }
        std::this_thread::sleep_for(200ms);
    }
    throw std::runtime_error("PostgreSQL does not accept connections 60 s after the restart");
}

bool ExternalStack::EnsureUp(std::chrono::milliseconds timeout) {
    if (!ctl_.empty()) Ctl("start inventory order", false);  // whatever the timeline left stopped
    return Stack::EnsureUp(timeout);
}

std::vector<ProcessEvent> ExternalStack::Events() {
    std::lock_guard lock(mutex_);
    return events_;
}

void ExternalStack::Start() {
    if (!EnsureUp(10s)) {
        throw std::runtime_error("order-service at " + order_.Text() + " or inventory-service at " + inventory_.Text() +
                                 " does not answer GET /live");
    }
    Query("order_db", "SELECT 1 FROM idempotency_keys LIMIT 1");
    Query("inventory_db", "SELECT 1 FROM reservations LIMIT 1");
    if (!ctl_.empty() && !watcher_.joinable()) watcher_ = std::thread([this] { Watch(); });
}

Rows ExternalStack::Query(const std::string& db, const std::string& sql) {
    return QueryConnInfo(db == "order_db" ? order_db_ : inventory_db_, sql);
}

std::string ExternalStack::Describe() const {
    return "external — inventory " + inventory_.Text() + ", order " + order_.Text() +
           (ctl_.empty() ? " (not owned by the runner: no process faults)"
                         : " (process faults through `" + ctl_ + "`)");
}

Rows QueryConnInfo(const std::string& conninfo, const std::string& sql) {
    struct ConnCloser {
        void operator()(PGconn* conn) const { PQfinish(conn); }
    };
    struct ResultClearer {
        void operator()(PGresult* result) const { PQclear(result); }
    };
    std::unique_ptr<PGconn, ConnCloser> conn(PQconnectdb((conninfo + " connect_timeout=10").c_str()));
    if (!conn || PQstatus(conn.get()) != CONNECTION_OK) {
        throw std::runtime_error("cannot connect (" + conninfo.substr(0, conninfo.find("password")) +
                                 "): " + (conn ? PQerrorMessage(conn.get()) : "out of memory"));
    }
    std::unique_ptr<PGresult, ResultClearer> result(PQexec(conn.get(), sql.c_str()));
    ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
        throw std::runtime_error(
            "query failed: " + std::string(result ? PQresultErrorMessage(result.get()) : PQerrorMessage(conn.get())) +
            "SQL: " + sql);
    }
    Rows rows;
    for (int row = 0; row < PQntuples(result.get()); ++row) {
        auto& values = rows.emplace_back();
        for (int column = 0; column < PQnfields(result.get()); ++column) {
            values.emplace_back(PQgetvalue(result.get(), row, column), PQgetlength(result.get(), row, column));
        }
    }
    return rows;
}

}  // namespace valerix::scenario
