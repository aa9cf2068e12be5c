#include "valerix/testing/postgres_server.hpp"

#include <libpq-fe.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "valerix/testing/child_process.hpp"
#include "valerix/testing/files.hpp"
#include "valerix/testing/free_port.hpp"

namespace valerix::testing {
namespace {

constexpr auto kToolTimeout = std::chrono::seconds(120);
constexpr int kStartAttempts = 3;

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
        StopServer("immediate");
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
        const int status =
            RunTool("pg_ctl", {"-D", DataDir(), "-l", ServerLogPath(), "-w", "-t", "60", "start"}, "pg_ctl.log");
        if (status == 0) {
            running_ = true;
            return;
        }
        const std::string log = ReadIfExists(ServerLogPath());
        // FreePort() cannot reserve the port: another process may have bound it in between.
        const bool port_taken = log.find("could not bind") != std::string::npos;
        if (!pick_port || !port_taken || attempt == kStartAttempts) {
            // pg_ctl gives up on -t but leaves a starting postmaster behind: stop it.
            StopServer("immediate");
            throw std::runtime_error("PostgresServer: pg_ctl start failed with status " + std::to_string(status) +
                                     ":\n" + ReadIfExists(dir_ + "/pg_ctl.log") + "\nserver log:\n" + log);
        }
    }
}

bool PostgresServer::StopServer(const char* mode) noexcept {
    running_ = false;
    try {
        if (RunTool("pg_ctl", {"-D", DataDir(), "-m", mode, "-w", "-t", "30", "stop"}, "pg_ctl.log") == 0) {
            return true;
        }
    } catch (const std::exception&) {
        // Fall through to signalling the postmaster ourselves.
    }
    // pg_ctl failed (e.g. the server is starting and not yet stoppable): SIGQUIT is an immediate shutdown
    // of the postmaster we started; its PID is the first line of postmaster.pid.
    std::ifstream pid_file(DataDir() + "/postmaster.pid");
    pid_t pid = 0;
    if (!(pid_file >> pid) || pid <= 0) {
        return false;
    }
    // A stale file may name a recycled PID: signal it only if it is this cluster's postmaster.
    std::ifstream cmdline_file("/proc/" + std::to_string(pid) + "/cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(cmdline_file)), std::istreambuf_iterator<char>());
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find(" -D " + DataDir()) == std::string::npos) {
        return false;
    }
    ::kill(pid, SIGQUIT);
    for (int i = 0; i < 500 && ::kill(pid, 0) == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return ::kill(pid, 0) != 0;
}

void PostgresServer::Restart(Shutdown shutdown) {
    if (running_ && !StopServer(shutdown == Shutdown::kImmediate ? "immediate" : "fast")) {
        throw std::runtime_error("PostgresServer: pg_ctl stop failed:\n" + ReadIfExists(dir_ + "/pg_ctl.log"));
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
