#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/beast/core/error.hpp>
#include <boost/system/system_error.hpp>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>
#include <valerix/testing/child_process.hpp>
#include <valerix/testing/files.hpp>
#include <valerix/testing/free_port.hpp>
#include <valerix/testing/http_client.hpp>
#include <valerix/testing/postgres_server.hpp>

namespace valerix::testing {
namespace {

using namespace std::chrono_literals;

// A fresh folder for one test's files, removed afterwards.
class ScratchDir {
  public:
    ScratchDir() {
        std::string dir_template = "/tmp/valerix-test-XXXXXX";
        if (::mkdtemp(dir_template.data()) == nullptr) {
            throw std::runtime_error("mkdtemp failed");
        }
        path_ = dir_template;
    }
    ~ScratchDir() { std::filesystem::remove_all(path_); }
    std::string File(const std::string& name) const { return path_ + "/" + name; }

  private:
    std::string path_;
};

bool CanConnect(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    const bool connected = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    ::close(fd);
    return connected;
}

TEST(FreePortTest, ReturnsDistinctBindableUnreservedPorts) {
    const int first = FreePort();
    const int second = FreePort();
    EXPECT_NE(first, second);
    for (int port : {first, second}) {
        EXPECT_GT(port, 0);
        EXPECT_LT(port, 65536);
        for (int reserved : {3000, 3001, 3002, 3003, 5432, 5433, 8080, 9090, 9187}) {
            EXPECT_NE(port, reserved);
        }
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons(static_cast<uint16_t>(port));
        EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0) << "port " << port;
        EXPECT_EQ(::listen(fd, 1), 0);
        ::close(fd);
    }
}

TEST(ReadFileTest, ReadsWholeFileAndThrowsWhenMissing) {
    ScratchDir dir;
    {
        std::ofstream out(dir.File("data"), std::ios::binary);
        out << std::string("a\0b\nline", 8);
    }
    EXPECT_EQ(ReadFile(dir.File("data")), std::string("a\0b\nline", 8));
    EXPECT_THROW(ReadFile(dir.File("missing")), std::runtime_error);
}

TEST(ChildProcessTest, ReturnsExitCodeAndCapturesOutput) {
    ScratchDir dir;
    ChildProcess child("/bin/sh", {"-c", "echo hi; echo oops >&2; exit 3"}, {}, dir.File("sh.log"));
    EXPECT_GT(child.Pid(), 0);
    EXPECT_EQ(child.Wait(10s), 3);
    EXPECT_FALSE(child.Running());
    EXPECT_EQ(child.Wait(0ms), 3);
    EXPECT_EQ(child.Log(), "hi\noops\n");
}

TEST(ChildProcessTest, AppendsToAnExistingLog) {
    ScratchDir dir;
    ChildProcess("/bin/sh", {"-c", "echo one"}, {}, dir.File("log")).Wait(10s);
    ChildProcess("/bin/sh", {"-c", "echo two"}, {}, dir.File("log")).Wait(10s);
    EXPECT_EQ(ReadFile(dir.File("log")), "one\ntwo\n");
}

TEST(ChildProcessTest, SignalReportsOneHundredTwentyEightPlusSignal) {
    ScratchDir dir;
    ChildProcess child("sleep", {"30"}, {}, dir.File("sleep.log"));
    EXPECT_TRUE(child.Running());
    child.Signal(SIGTERM);
    EXPECT_EQ(child.Wait(10s), 128 + SIGTERM);
    child.Signal(SIGTERM);  // already reaped: must not signal a recycled PID nor throw
}

TEST(ChildProcessTest, WaitThrowsOnTimeoutAndDestructorKills) {
    ScratchDir dir;
    pid_t pid;
    {
        ChildProcess child("sleep", {"30"}, {}, dir.File("sleep.log"));
        pid = child.Pid();
        EXPECT_THROW(child.Wait(50ms), std::runtime_error);
        EXPECT_TRUE(child.Running());
    }
    EXPECT_NE(::kill(pid, 0), 0);  // killed and reaped, so no such process
}

TEST(ChildProcessTest, ExtraEnvironmentOverridesAndAdds) {
    ScratchDir dir;
    ::setenv("VALERIX_TESTING_INHERITED", "inherited", 1);
    ::setenv("VALERIX_TESTING_OVERRIDDEN", "old", 1);
    ChildProcess child("/bin/sh",
                       {"-c", "echo \"$VALERIX_TESTING_INHERITED $VALERIX_TESTING_OVERRIDDEN $VALERIX_TESTING_NEW\""},
                       {{"VALERIX_TESTING_OVERRIDDEN", "new"}, {"VALERIX_TESTING_NEW", "added"}}, dir.File("env.log"));
    EXPECT_EQ(child.Wait(10s), 0);
    EXPECT_EQ(child.Log(), "inherited new added\n");
}

TEST(ChildProcessTest, DoesNotInheritTheTestsDescriptors) {
    ScratchDir dir;
    const int fd = ::open("/dev/null", O_RDONLY);  // deliberately without O_CLOEXEC
    ASSERT_GE(fd, 3);
    ChildProcess child("/bin/sh", {"-c", "test -e /proc/self/fd/" + std::to_string(fd) + " && echo leaked || echo ok"},
                       {}, dir.File("fd.log"));
    EXPECT_EQ(child.Wait(10s), 0);
    EXPECT_EQ(child.Log(), "ok\n");
    ::close(fd);
}

TEST(ChildProcessTest, ThrowsWhenExecFails) {
    ScratchDir dir;
    try {
        ChildProcess child(dir.File("no-such-binary"), {}, {}, dir.File("log"));
        FAIL() << "expected an exception";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("No such file or directory"), std::string::npos) << e.what();
    }
}

TEST(PostgresServerTest, CreatesDatabaseQueriesRestartsAndCleansUp) {
    std::string dir;
    int port;
    {
        auto server = PostgresServer::Start();
        dir = server->Dir();
        port = server->Port();
        EXPECT_TRUE(std::filesystem::is_directory(dir + "/data"));
        EXPECT_GT(port, 0);
        EXPECT_EQ(server->ConnInfo("orders", "order_svc"),
                  "host=127.0.0.1 port=" + std::to_string(port) + " dbname=orders user=order_svc");

        server->CreateDatabase("orders", "order_svc");
        server->CreateDatabase("orders_copy", "order_svc");  // the role exists already
        EXPECT_EQ(server->Query("postgres",
                                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname IN "
                                "('orders', 'orders_copy') ORDER BY datname"),
                  (std::vector<std::vector<std::string>>{{"order_svc"}, {"order_svc"}}));
        EXPECT_EQ(server->Query("postgres", "SELECT rolcanlogin, rolsuper FROM pg_roles WHERE rolname = 'order_svc'"),
                  (std::vector<std::vector<std::string>>{{"t", "f"}}));
        EXPECT_EQ(server->Query("orders", "SELECT current_database(), 1 + 1, NULL, current_setting('fsync')"),
                  (std::vector<std::vector<std::string>>{{"orders", "2", "", "off"}}));
        EXPECT_EQ(server->Query("orders", "SHOW synchronous_commit"), (std::vector<std::vector<std::string>>{{"off"}}));
        EXPECT_EQ(server->Query("orders", "SHOW listen_addresses"),
                  (std::vector<std::vector<std::string>>{{"127.0.0.1"}}));
        EXPECT_EQ(server->Query("orders", "SHOW max_connections"), (std::vector<std::vector<std::string>>{{"200"}}));

        // The owner role can connect with ConnInfo and create tables in its database.
        PGconn* conn = PQconnectdb(server->ConnInfo("orders", "order_svc").c_str());
        ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
        PGresult* result = PQexec(conn, "CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items VALUES (1), (2)");
        EXPECT_EQ(PQresultStatus(result), PGRES_COMMAND_OK) << PQresultErrorMessage(result);
        PQclear(result);

        try {
            server->Query("orders", "SELEC 1");
            ADD_FAILURE() << "expected an exception";
        } catch (const std::runtime_error& e) {
            EXPECT_NE(std::string(e.what()).find("syntax error"), std::string::npos) << e.what();
        }

        server->Restart();
        EXPECT_EQ(server->Port(), port);
        // The old connection was terminated by the restart; data survived.
        result = PQexec(conn, "SELECT 1");
        EXPECT_NE(PQresultStatus(result), PGRES_TUPLES_OK);
        PQclear(result);
        PQfinish(conn);
        EXPECT_EQ(server->Query("orders", "SELECT count(*) FROM items"),
                  (std::vector<std::vector<std::string>>{{"2"}}));
    }
    EXPECT_FALSE(std::filesystem::exists(dir));
    EXPECT_FALSE(CanConnect(port));
}

// The postmaster must die with the test: CTest's timeout kills the test's process tree, a terminal's Ctrl-C its
// process group. A server detached from both (pg_ctl's) outlived every killed test.
TEST(PostgresServerTest, TheServerIsInTheTestsProcessTreeAndGroup) {
    auto server = PostgresServer::Start();
    for (int round = 0; round < 2; ++round) {
        const pid_t postmaster = std::stoi(ReadFile(server->Dir() + "/data/postmaster.pid"));
        std::vector<pid_t> ancestry{postmaster};
        while (ancestry.back() > 1 && ancestry.back() != ::getpid() && ancestry.size() < 64) {
            std::ifstream stat("/proc/" + std::to_string(ancestry.back()) + "/stat");
            std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
            std::istringstream fields(text.substr(text.rfind(')') + 1));
            std::string state;
            pid_t parent = 0;
            ASSERT_TRUE(fields >> state >> parent) << text;
            ancestry.push_back(parent);
        }
        EXPECT_EQ(ancestry.back(), ::getpid()) << "postmaster " << postmaster << " is not a descendant of the test";
        EXPECT_EQ(::getpgid(postmaster), ::getpgrp());
        server->Restart(round == 0 ? PostgresServer::Shutdown::kImmediate : PostgresServer::Shutdown::kFast);
    }
    EXPECT_EQ(server->Query("postgres", "SELECT 1"), (std::vector<std::vector<std::string>>{{"1"}}));
}

// Alive and not a zombie (an orphaned postmaster is reaped by whoever adopts it, perhaps late).
bool ProcessRuns(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    if (text.empty()) return false;
    std::istringstream fields(text.substr(text.rfind(')') + 1));
    std::string state;
    return fields >> state && state != "Z" && state != "X";
}

// A test killed alone (`kill -9` of its PID, not of its tree or group) must not leave its server running either.
TEST(PostgresServerTest, TheServerStopsWhenItsTestIsKilledAlone) {
    int report[2];
    ASSERT_EQ(::pipe(report), 0);
    const pid_t test = ::fork();  // stands for the test process: starts a server, reports it, waits to be killed
    ASSERT_GE(test, 0);
    if (test == 0) {
        ::close(report[0]);
        std::string line = "failed\n";
        try {
            auto server = PostgresServer::Start();
            const std::string pid_file = ReadFile(server->Dir() + "/data/postmaster.pid");
            line = server->Dir() + " " + pid_file.substr(0, pid_file.find('\n')) + "\n";
            server.release();  // never destroyed: this process is killed
        } catch (const std::exception&) {
        }
        [[maybe_unused]] auto n = ::write(report[1], line.data(), line.size());
        for (;;) ::pause();
    }
    ::close(report[1]);
    std::string line;
    char c;
    while (::read(report[0], &c, 1) == 1 && c != '\n') line.push_back(c);
    ::close(report[0]);
    std::string dir;
    pid_t postmaster = -1;
    std::istringstream(line) >> dir >> postmaster;

    ::kill(test, SIGKILL);
    ASSERT_EQ(::waitpid(test, nullptr, 0), test);
    ASSERT_GT(postmaster, 0) << "the server did not start: " << line;
    const auto until = std::chrono::steady_clock::now() + 15s;
    while (ProcessRuns(postmaster) && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(50ms);
    const bool outlived = ProcessRuns(postmaster);
    if (outlived) ::kill(postmaster, SIGKILL);  // leave nothing behind, then fail
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
    EXPECT_FALSE(outlived) << "postmaster " << postmaster << " outlived its killed test by 15 s";
}

TEST(PostgresServerTest, TwoClustersRunSideBySide) {
    auto first = PostgresServer::Start();
    auto second = PostgresServer::Start();
    EXPECT_NE(first->Port(), second->Port());
    EXPECT_NE(first->Dir(), second->Dir());
    first->Query("postgres", "CREATE TABLE only_in_first (id int)");
    EXPECT_EQ(second->Query("postgres", "SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_first'"),
              (std::vector<std::vector<std::string>>{{"0"}}));
}

TEST(PostgresServerTest, AnImmediateRestartIsACrashThatKeepsSynchronousCommits) {
    auto server = PostgresServer::Start(PostgresServer::Commits::kSynchronous);
    EXPECT_EQ(server->Query("postgres", "SHOW synchronous_commit"), (std::vector<std::vector<std::string>>{{"on"}}));
    const auto started = server->Query("postgres", "SELECT pg_postmaster_start_time()");
    server->Query("postgres", "CREATE TABLE kept (id int); INSERT INTO kept VALUES (1)");

    server->Restart(PostgresServer::Shutdown::kImmediate);

    EXPECT_NE(server->Query("postgres", "SELECT pg_postmaster_start_time()"), started);
    EXPECT_EQ(server->Query("postgres", "SELECT count(*) FROM kept"), (std::vector<std::vector<std::string>>{{"1"}}));
    const std::string log = ReadFile(server->Dir() + "/postgres.log");
    EXPECT_NE(log.find("received immediate shutdown request"), std::string::npos) << log;
    EXPECT_NE(log.find("not properly shut down; automatic recovery in progress"), std::string::npos) << log;
}

// A deliberately dumb HTTP/1.1 server on plain sockets, one connection at a time, so the client is
// tested against something that shares none of its code.
class TinyHttpServer {
  public:
    TinyHttpServer() {
        listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = 0;
        socklen_t len = sizeof(addr);
        if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(listen_fd_, 8) != 0 ||
            ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
            throw std::runtime_error("TinyHttpServer: cannot listen");
        }
        port_ = ntohs(addr.sin_port);
        thread_ = std::thread([this] { Serve(); });
    }
    ~TinyHttpServer() {
        stop_ = true;
        thread_.join();
        ::close(listen_fd_);
    }

    int Port() const { return port_; }
    int Connections() const { return connections_; }
    int Requests() const { return requests_; }
    /// The server closes the connection after its next response, without saying so.
    void CloseAfterNextResponse() { close_after_next_ = true; }
    /// The server reads requests but never answers.
    void StopAnswering() { silent_ = true; }

  private:
    bool WaitReadable(int fd) {
        while (!stop_) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 20) > 0) {
                return true;
            }
        }
        return false;
    }

    void Serve() {
        while (WaitReadable(listen_fd_)) {
            const int fd = ::accept(listen_fd_, nullptr, nullptr);
            if (fd < 0) {
                continue;
            }
            ++connections_;
            ServeConnection(fd);
            ::close(fd);
        }
    }

    void ServeConnection(int fd) {
        std::string in;
        while (true) {
            size_t header_end;
            while ((header_end = in.find("\r\n\r\n")) == std::string::npos) {
                if (!ReadMore(fd, in)) {
                    return;
                }
            }
            const std::string head = in.substr(0, header_end);
            size_t content_length = 0;
            const std::string lower_head = [&] {
                std::string s = head;
                for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                return s;
            }();
            if (const size_t at = lower_head.find("content-length:"); at != std::string::npos) {
                content_length = std::stoul(head.substr(at + 15));
            }
            while (in.size() < header_end + 4 + content_length) {
                if (!ReadMore(fd, in)) {
                    return;
                }
            }
            const std::string body = in.substr(header_end + 4, content_length);
            in.erase(0, header_end + 4 + content_length);
            ++requests_;
            if (silent_) {
                continue;
            }
            const std::string request_line = head.substr(0, head.find("\r\n"));
            if (request_line.find(" HTTP/1.1") == std::string::npos) {
                Send(fd, "HTTP/1.1 400 Bad Request\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbad");
                return;
            }
            const std::string content_type =
                lower_head.find("content-type: application/json") != std::string::npos ? "json" : "other";
            const std::string reply = request_line + "|" + content_type + "|" + body;
            Send(fd, "HTTP/1.1 200 OK\r\nX-Echo-Count: " + std::to_string(requests_) +
                         "\r\nSet-Thing: a\r\nSet-Thing: b\r\nContent-Length: " + std::to_string(reply.size()) +
                         "\r\n\r\n" + reply);
            if (close_after_next_.exchange(false)) {
                return;
            }
        }
    }

    bool ReadMore(int fd, std::string& in) {
        if (!WaitReadable(fd)) {
            return false;
        }
        char chunk[4096];
        const ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
        if (n <= 0) {
            return false;
        }
        in.append(chunk, static_cast<size_t>(n));
        return true;
    }

    static void Send(int fd, const std::string& data) { ::send(fd, data.data(), data.size(), MSG_NOSIGNAL); }

    int listen_fd_ = -1;
    int port_ = 0;
    std::thread thread_;
    std::atomic<bool> stop_ = false;
    std::atomic<bool> close_after_next_ = false;
    std::atomic<bool> silent_ = false;
    std::atomic<int> connections_ = 0;
    std::atomic<int> requests_ = 0;
};

TEST(HttpClientTest, KeepsAliveAndReconnectsWhenServerClosed) {
    TinyHttpServer server;
    HttpClient client("127.0.0.1", server.Port());

    HttpResponse first = client.Request("POST", "/orders", R"({"sku":"A"})");
    EXPECT_EQ(first.status, 200);
    EXPECT_EQ(first.body, R"(POST /orders HTTP/1.1|json|{"sku":"A"})");
    EXPECT_EQ(first.Header("X-ECHO-COUNT"), "1");
    EXPECT_EQ(first.headers.at("x-echo-count"), "1");
    EXPECT_EQ(first.Header("set-thing"), "a, b");
    EXPECT_EQ(first.Header("missing"), "");

    server.CloseAfterNextResponse();
    HttpResponse second = client.Request("PUT", "/x", "plain", {{"content-type", "text/plain"}});
    EXPECT_EQ(second.body, "PUT /x HTTP/1.1|other|plain");
    EXPECT_EQ(server.Connections(), 1);

    // The server closed the connection after `second`: the client notices and reconnects.
    std::this_thread::sleep_for(50ms);
    HttpResponse third = client.Request("GET", "/health");
    EXPECT_EQ(third.body, "GET /health HTTP/1.1|other|");
    EXPECT_EQ(server.Connections(), 2);
    EXPECT_EQ(server.Requests(), 3);
}

TEST(HttpClientTest, SendRawUsesAFreshConnection) {
    TinyHttpServer server;
    HttpClient client("127.0.0.1", server.Port());
    HttpResponse response = client.SendRaw("NONSENSE\r\n\r\n");
    EXPECT_EQ(response.status, 400);
    EXPECT_EQ(response.body, "bad");
}

TEST(HttpClientTest, ThrowsOnTimeoutAndOnRefusedConnection) {
    TinyHttpServer server;
    server.StopAnswering();
    HttpClient client("127.0.0.1", server.Port());
    try {
        client.Request("GET", "/slow", "", {}, 200ms);
        FAIL() << "expected a timeout";
    } catch (const boost::system::system_error& e) {
        EXPECT_EQ(e.code(), boost::beast::error::timeout) << e.what();
    }

    HttpClient nobody("127.0.0.1", FreePort());
    EXPECT_THROW(nobody.Request("GET", "/"), boost::system::system_error);
}

TEST(HttpClientTest, WaitUntilLive) {
    TinyHttpServer server;
    EXPECT_TRUE(WaitUntilLive("127.0.0.1", server.Port(), "/health", 5s));
    EXPECT_FALSE(WaitUntilLive("127.0.0.1", FreePort(), "/health", 200ms));
}

}  // namespace
}  // namespace valerix::testing
