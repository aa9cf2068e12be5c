#include "valerix/testing/postgres_server.hpp"

#include <libpq-fe.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "valerix/testing/child_process.hpp"
#include "valerix/testing/files.hpp"
#include "valerix/testing/free_port.hpp"

namespace valerix::testing {
namespace {

constexpr auto kToolTimeout = std::chrono::seconds(120);
constexpr auto kStartTimeout = std::chrono::seconds(60);
constexpr auto kStopTimeout = std::chrono::seconds(30);
constexpr int kStartAttempts = 3;

using Env = std::vector<std::pair<std::string, std::string>>;

/// The parent PID of `pid` from /proc, or -1 when it is gone.
pid_t ParentOf(pid_t pid) {
    std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    // "PID (COMMAND) STATE PPID ...": the command may hold spaces and parentheses, the last ')' ends it.
    const auto close = stat.rfind(')');
    if (close == std::string::npos) {
        return -1;
    }
    std::istringstream rest(stat.substr(close + 1));
    std::string state;
    pid_t parent = -1;
    return rest >> state >> parent ? parent : -1;
}

std::string BinDir() {
    const char* env = std::getenv("VALERIX_PG_BINDIR");
    return env != nullptr && *env != '\0' ? env : "/usr/lib/postgresql/15/bin";
}

std::string ReadIfExists(const std::string& path) {
    std::error_code ec;
    return std::filesystem::exists(path, ec) ? ReadFile(path) : std::string();
}

std::string QuoteIdentifier(const std::string& name) {
    std::string quoted = "\"";
    for (char c : name) {
        quoted += c;
        if (c == '"') {
            quoted += '"';
        }
    }
    return quoted + "\"";
}

std::string QuoteLiteral(const std::string& value) {
    std::string quoted = "'";
    for (char c : value) {
        quoted += c;
        if (c == '\'') {
            quoted += '\'';
        }
    }
    return quoted + "'";
}

// A conninfo value: bare when it can be, else single-quoted with \ and ' escaped.
std::string ConnInfoValue(const std::string& value) {
    if (!value.empty() && value.find_first_of(" \t\n'\\=") == std::string::npos) {
        return value;
    }
    std::string quoted = "'";
    for (char c : value) {
        if (c == '\'' || c == '\\') {
            quoted += '\\';
        }
        quoted += c;
    }
    return quoted + "'";
}

struct PgConnDeleter {
    void operator()(PGconn* conn) const { PQfinish(conn); }
};
struct PgResultDeleter {
    void operator()(PGresult* result) const { PQclear(result); }
};

}  // namespace

PostgresServer::PostgresServer(std::string dir) : dir_(std::move(dir)), as_postgres_user_(::geteuid() == 0) {}

std::unique_ptr<PostgresServer> PostgresServer::Start(Commits commits) {
    std::string dir_template = "/tmp/valerix-pg-XXXXXX";
    if (::mkdtemp(dir_template.data()) == nullptr) {
        throw std::system_error(errno, std::generic_category(), "PostgresServer: mkdtemp");
    }
    // Owned from here on, so the destructor removes the folder if any later step throws.
    std::unique_ptr<PostgresServer> server(new PostgresServer(dir_template));
    server->Initialize(commits);
    server->StartServer();
    return server;
}

PostgresServer::~PostgresServer() {
    if (running_) {
        StopServer(Shutdown::kImmediate);
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
}

void PostgresServer::Initialize(Commits commits) {
    if (as_postgres_user_) {
        passwd user{};
        passwd* found = nullptr;
        std::vector<char> buffer(16384);
        if (::getpwnam_r("postgres", &user, buffer.data(), buffer.size(), &found) != 0 || found == nullptr) {
            throw std::runtime_error("PostgresServer: running as root but there is no 'postgres' user");
        }
        if (::chown(dir_.c_str(), user.pw_uid, user.pw_gid) != 0) {
            throw std::system_error(errno, std::generic_category(), "PostgresServer: chown " + dir_);
        }
    }
    const int status = RunTool("initdb",
                               {"-D", DataDir(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8",
                                "--no-sync", "--no-instructions"},
                               "initdb.log");
    if (status != 0) {
        throw std::runtime_error("PostgresServer: initdb failed with status " + std::to_string(status) + ":\n" +
                                 ReadIfExists(dir_ + "/initdb.log"));
    }
    std::ofstream conf(DataDir() + "/postgresql.conf", std::ios::app);
    conf << "\n# valerix::testing::PostgresServer: a throwaway test cluster\n"
         << "listen_addresses = '127.0.0.1'\n"
         << "unix_socket_directories = " << QuoteLiteral(dir_) << "\n"
         << "fsync = off\n"
         << "synchronous_commit = " << (commits == Commits::kSynchronous ? "on" : "off") << "\n"
         << "full_page_writes = off\n"
         << "max_connections = 200\n";
    if (!conf) {
        throw std::runtime_error("PostgresServer: cannot write " + DataDir() + "/postgresql.conf");
    }
}

void PostgresServer::StartServer() {
    const bool pick_port = port_ == 0;
    for (int attempt = 1;; ++attempt) {
        if (pick_port) {
            port_ = FreePort();
            // The last setting in the file wins, so a retry just appends a new port.
            std::ofstream conf(DataDir() + "/postgresql.conf", std::ios::app);
            conf << "port = " << port_ << "\n";
            if (!conf) {
                throw std::runtime_error("PostgresServer: cannot write " + DataDir() + "/postgresql.conf");
            }
        }
        // The postmaster is our child (runuser's when we are root), not pg_ctl's daemon: it stays in this process's
        // tree and process group, so a test killed with its tree (CTest's timeout) or by Ctrl-C takes its server
        // with it instead of leaving it running. A test killed alone takes it too: the kernel then sends the
        // postmaster SIGQUIT (immediate shutdown), or runuser SIGTERM, which it passes on (and SIGKILL 2 s later).
        std::string program = BinDir() + "/postgres";
        std::vector<std::string> args{"-D", DataDir()};
        int on_our_death = SIGQUIT;
        if (as_postgres_user_) {
            args.insert(args.begin(), {"-u", "postgres", "--", program});
            program = "/usr/sbin/runuser";
            on_our_death = SIGTERM;
        }
        const std::string log_before = ReadIfExists(ServerLogPath());
        postmaster_ =
            std::make_unique<ChildProcess>(program, std::move(args), Env{}, ServerLogPath(), dir_, on_our_death);
        running_ = true;
        if (WaitUntilReady()) {
            return;
        }
        const std::string log = ReadIfExists(ServerLogPath()).substr(log_before.size());
        StopServer(Shutdown::kImmediate);
        // FreePort() cannot reserve the port: another process may have bound it in between.
        const bool port_taken = log.find("could not bind") != std::string::npos;
        if (!pick_port || !port_taken || attempt == kStartAttempts) {
            throw std::runtime_error("PostgresServer: the server did not start within " +
                                     std::to_string(kStartTimeout.count()) + " s:\n" + log);
        }
    }
}

pid_t PostgresServer::PostmasterPid(bool ready_only) const {
    // postmaster.pid: PID, data folder, start time, port, socket folder, listen address, shared memory key, status.
    std::ifstream file(DataDir() + "/postmaster.pid");
    std::vector<std::string> lines;
    for (std::string line; std::getline(file, line);) {
        lines.push_back(line);
    }
    if (lines.empty() || (ready_only && (lines.size() < 8 || lines[7].find("ready") != 0))) {
        return -1;
    }
    pid_t pid = -1;
    try {
        pid = std::stoi(lines[0]);
    } catch (const std::exception&) {
        return -1;
    }
    // A file left by an earlier, killed server may name any process: only ours counts.
    const pid_t ours = postmaster_->Pid();
    return pid == ours || (as_postgres_user_ && ParentOf(pid) == ours) ? pid : -1;
}

bool PostgresServer::WaitUntilReady() {
    const auto until = std::chrono::steady_clock::now() + kStartTimeout;
    while (std::chrono::steady_clock::now() < until && postmaster_->Running()) {
        if (PostmasterPid(true) > 0) {
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
}

bool PostgresServer::StopServer(Shutdown mode) noexcept {
    running_ = false;
    if (!postmaster_) {
        return true;
    }
    bool stopped = false;
    try {
        // Right after the start the postmaster may not have written its PID yet.
        pid_t pid = PostmasterPid(false);
        for (int i = 0; i < 100 && pid <= 0 && postmaster_->Running(); ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            pid = PostmasterPid(false);
        }
        if (pid > 0 && postmaster_->Running()) {
            // SIGINT is PostgreSQL's fast shutdown, SIGQUIT its immediate one.
            ::kill(pid, mode == Shutdown::kImmediate ? SIGQUIT : SIGINT);
            try {
                postmaster_->Wait(kStopTimeout);
            } catch (const std::runtime_error&) {
                ::kill(pid, SIGKILL);
                postmaster_->Wait(kStopTimeout);
            }
        }
        stopped = !postmaster_->Running();
    } catch (const std::exception&) {
        stopped = false;
    }
    postmaster_.reset();  // SIGKILL to what is left of our child, and reaped
    return stopped;
}

void PostgresServer::Restart(Shutdown shutdown) {
    if (running_ && !StopServer(shutdown)) {
        throw std::runtime_error("PostgresServer: the server did not stop:\n" + ReadIfExists(ServerLogPath()));
    }
    StartServer();
}

int PostgresServer::RunTool(const std::string& tool, std::vector<std::string> args, const std::string& log_name) const {
    std::string program = BinDir() + "/" + tool;
    if (as_postgres_user_) {
        args.insert(args.begin(), {"-u", "postgres", "--", program});
        program = "/usr/sbin/runuser";
    }
    // The cluster folder as working directory: the postgres user may not be able to enter the test's.
    ChildProcess process(program, std::move(args), {}, dir_ + "/" + log_name, dir_);
    return process.Wait(kToolTimeout);
}

std::string PostgresServer::DataDir() const { return dir_ + "/data"; }

std::string PostgresServer::ServerLogPath() const { return dir_ + "/postgres.log"; }

void PostgresServer::CreateDatabase(const std::string& db, const std::string& owner_role) {
    Query("postgres", "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = " + QuoteLiteral(owner_role) +
                          ") THEN CREATE ROLE " + QuoteIdentifier(owner_role) + " LOGIN NOSUPERUSER; END IF; END $$");
    Query("postgres", "CREATE DATABASE " + QuoteIdentifier(db) + " OWNER " + QuoteIdentifier(owner_role));
}

std::string PostgresServer::ConnInfo(const std::string& db, const std::string& user) const {
    return "host=127.0.0.1 port=" + std::to_string(port_) + " dbname=" + ConnInfoValue(db) +
           " user=" + ConnInfoValue(user);
}

std::vector<std::vector<std::string>> PostgresServer::Query(const std::string& db, const std::string& sql) {
    std::unique_ptr<PGconn, PgConnDeleter> conn(
        PQconnectdb((ConnInfo(db, "postgres") + " connect_timeout=10").c_str()));
    if (conn == nullptr || PQstatus(conn.get()) != CONNECTION_OK) {
        throw std::runtime_error("PostgresServer: cannot connect to " + db + ": " +
                                 (conn ? PQerrorMessage(conn.get()) : "out of memory"));
    }
    std::unique_ptr<PGresult, PgResultDeleter> result(PQexec(conn.get(), sql.c_str()));
    const ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK && status != PGRES_EMPTY_QUERY) {
        throw std::runtime_error("PostgresServer: query failed: " +
                                 std::string(result ? PQresultErrorMessage(result.get()) : PQerrorMessage(conn.get())) +
                                 "SQL: " + sql);
    }
    std::vector<std::vector<std::string>> rows;
    const int row_count = PQntuples(result.get());
    const int column_count = PQnfields(result.get());
    rows.reserve(row_count);
    for (int row = 0; row < row_count; ++row) {
        std::vector<std::string>& values = rows.emplace_back();
        values.reserve(column_count);
        for (int column = 0; column < column_count; ++column) {
            values.emplace_back(PQgetvalue(result.get(), row, column), PQgetlength(result.get(), row, column));
        }
    }
    return rows;
}

}  // namespace valerix::testing
