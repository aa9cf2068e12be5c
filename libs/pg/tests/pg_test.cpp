#include <cerrno>
#include <csignal>
#include <cstring>
#include <future>
#include <optional>
#include <thread>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <valerix/pg/migrations.hpp>
#include <valerix/pg/pool.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <valerix/testing/postgres_server.hpp>

namespace valerix::pg {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

class PgTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        server_ = testing::PostgresServer::Start().release();
        server_->CreateDatabase("app", "app_owner");
    }
    static void TearDownTestSuite() { delete server_; }

    template <class T>
    T Run(asio::awaitable<T> task) {
        auto future = asio::co_spawn(io_, std::move(task), asio::use_future);
        io_.restart();
        io_.run();
        return future.get();
    }

    PoolConfig Config(std::size_t max_size = 4) {
        PoolConfig config;
        config.conninfo = server_->ConnInfo("app", "app_owner");
        config.max_size = max_size;
        return config;
    }

    core::Deadline In(std::chrono::milliseconds ms) { return core::Deadline::After(clock_, ms); }

    static testing::PostgresServer* server_;
    asio::io_context io_;
    core::SteadyClock clock_;
    core::Logger logger_{"test", core::LogLevel::kWarn, stderr};
};
testing::PostgresServer* PgTest::server_ = nullptr;

constexpr Statement kEcho{"echo", "SELECT $1::text AS a, $2::int + 1 AS b, $3::text IS NULL AS c"};
constexpr Statement kSleep{"sleep", "SELECT pg_sleep($1::float8)"};

TEST_F(PgTest, ExecutesPreparedStatementsWithParameters) {
    Pool pool(io_, Config(), logger_, clock_);
    auto rows = Run(pool.Execute(kEcho, MakeParams("héllo", "41", std::nullopt), In(5s)));
    ASSERT_TRUE(rows) << rows.error().message;
    ASSERT_EQ(rows->Size(), 1);
    EXPECT_EQ(rows->Text(0, 0), "héllo");
    EXPECT_EQ(rows->Int(0, 1), 42);
    EXPECT_TRUE(rows->Bool(0, 2));
    auto again = Run(pool.Execute(kEcho, MakeParams("x", "1", "y"), In(5s)));
    ASSERT_TRUE(again);
    EXPECT_FALSE(again->Bool(0, 2));
    EXPECT_EQ(pool.Open(), 1u) << "the connection is reused";
}

TEST_F(PgTest, ArrayLiteralElementsArriveAsWritten) {
    constexpr Statement kElements{"elements",
                                  "SELECT e, e IS NULL FROM unnest($1::text[]) WITH ORDINALITY AS t(e, n) ORDER BY n"};
    const std::vector<std::string> written = {"plain", "", "with \"quotes\"", "back\\slash", "\"", "\\\\\"",
                                              "{braces}, commas", "NULL", "héllo"};
    ArrayLiteral array;
    for (const auto& element : written) array.Add(element);
    array.AddNull();
    EXPECT_EQ(array.Size(), written.size() + 1);
    Pool pool(io_, Config(), logger_, clock_);
    auto rows = Run(pool.Execute(kElements, MakeParams(array.Text()), In(5s)));
    ASSERT_TRUE(rows) << rows.error().message;
    ASSERT_EQ(rows->Size(), static_cast<int>(written.size() + 1));
    for (std::size_t i = 0; i < written.size(); ++i) {
        EXPECT_EQ(rows->Text(static_cast<int>(i), 0), written[i]) << "element " << i;
        EXPECT_FALSE(rows->Bool(static_cast<int>(i), 1)) << "element " << i;
    }
    EXPECT_TRUE(rows->Bool(static_cast<int>(written.size()), 1)) << "AddNull is SQL NULL, not the text NULL";
    EXPECT_EQ(ArrayLiteral().Text(), "{}");
}

TEST_F(PgTest, MapsSqlStateToTypedErrors) {
    Pool pool(io_, Config(), logger_, clock_);
    auto run = [&](std::string_view sql) {
        return Run([&]() -> asio::awaitable<Result<Rows>> {
            auto connection = co_await pool.Acquire(In(5s));
            if (!connection) co_return connection.error();
            co_return co_await (*connection)->ExecuteScript(sql, In(5s));
        }());
    };
    ASSERT_TRUE(run("CREATE TABLE IF NOT EXISTS uniq (id int PRIMARY KEY, n int CHECK (n >= 0))"));
    ASSERT_TRUE(run("INSERT INTO uniq VALUES (1, 1) ON CONFLICT DO NOTHING"));
    auto duplicate = run("INSERT INTO uniq VALUES (1, 1)");
    ASSERT_FALSE(duplicate);
    EXPECT_EQ(duplicate.error().kind, ErrorKind::kUniqueViolation);
    EXPECT_EQ(duplicate.error().sqlstate, "23505");
    auto check = run("UPDATE uniq SET n = -1");
    ASSERT_FALSE(check);
    EXPECT_EQ(check.error().kind, ErrorKind::kCheckViolation);
    auto bad_input = run("SELECT 'abc'::int");
    ASSERT_FALSE(bad_input);
    EXPECT_EQ(bad_input.error().kind, ErrorKind::kInvalidInput);
    EXPECT_TRUE(run("SELECT 1")) << "the connection survives statement errors";
}

TEST_F(PgTest, ServerSideStatementTimeout) {
    auto config = Config();
    config.statement_timeout = 200ms;
    Pool pool(io_, config, logger_, clock_);
    auto started = clock_.Now();
    auto rows = Run(pool.Execute(kSleep, MakeParams("3"), In(10s)));
    ASSERT_FALSE(rows);
    EXPECT_EQ(rows.error().kind, ErrorKind::kTimeout);
    EXPECT_EQ(rows.error().sqlstate, "57014");
    EXPECT_LT(clock_.Now() - started, 2s);
}

TEST_F(PgTest, TheConnectionStringsOwnOptionsStayBesideThePoolsLimits) {
    constexpr Statement kSettings{"settings", "SELECT current_setting('search_path'), current_setting('statement_timeout')"};
    for (std::string conninfo : {server_->ConnInfo("app", "app_owner") + " options='-c search_path=elsewhere,public'",
                                 "postgresql://app_owner@127.0.0.1:" + std::to_string(server_->Port()) +
                                     "/app?options=-c%20search_path%3Delsewhere,public"}) {
        auto config = Config();
        config.conninfo = conninfo;
        config.statement_timeout = 1234ms;
        Pool pool(io_, config, logger_, clock_);
        auto rows = Run(pool.Execute(kSettings, {}, In(5s)));
        ASSERT_TRUE(rows) << conninfo << ": " << rows.error().message;
        EXPECT_EQ(rows->Text(0, 0), "elsewhere,public") << conninfo;
        EXPECT_EQ(rows->Text(0, 1), "1234ms") << conninfo;
    }
}

TEST_F(PgTest, TcpConnectionsNoticeAVanishedServerWithinHalfAMinute) {
    // What the kernel does with the socket: probes after 15 s of silence, three of them 5 s apart, and gives up on a
    // statement not acknowledged within 30 s. Left to the system, the first probe would come after two hours, and an
    // unacknowledged statement would be retransmitted for ~15 minutes.
    auto socket_option = [](int fd, int level, int name) {
        int value = -1;
        socklen_t size = sizeof value;
        EXPECT_EQ(::getsockopt(fd, level, name, &value, &size), 0) << std::strerror(errno);
        return value;
    };
    {
        Pool pool(io_, Config(), logger_, clock_);
        auto connection = Run(pool.Acquire(In(5s)));
        ASSERT_TRUE(connection) << connection.error().message;
        const int fd = (*connection)->Socket();
        EXPECT_EQ(socket_option(fd, SOL_SOCKET, SO_KEEPALIVE), 1);
        EXPECT_EQ(socket_option(fd, IPPROTO_TCP, TCP_KEEPIDLE), 15);
        EXPECT_EQ(socket_option(fd, IPPROTO_TCP, TCP_KEEPINTVL), 5);
        EXPECT_EQ(socket_option(fd, IPPROTO_TCP, TCP_KEEPCNT), 3);
        EXPECT_EQ(socket_option(fd, IPPROTO_TCP, TCP_USER_TIMEOUT), 30000) << "ms: an unacknowledged statement";
    }
    // Timings the connection string gives are its own, in either form.
    for (std::string conninfo :
         {server_->ConnInfo("app", "app_owner") + " keepalives_idle=40 keepalives_count=7 tcp_user_timeout=9000",
          "postgresql://app_owner@127.0.0.1:" + std::to_string(server_->Port()) +
              "/app?keepalives_idle=40&keepalives_count=7&tcp_user_timeout=9000"}) {
        auto config = Config();
        config.conninfo = conninfo;
        Pool pool(io_, config, logger_, clock_);
        auto connection = Run(pool.Acquire(In(5s)));
        ASSERT_TRUE(connection) << conninfo << ": " << connection.error().message;
        const int fd = (*connection)->Socket();
        EXPECT_EQ(socket_option(fd, IPPROTO_TCP, TCP_KEEPIDLE), 40) << conninfo;
        EXPECT_EQ(socket_option(fd, IPPROTO_TCP, TCP_KEEPINTVL), 5) << conninfo;
        EXPECT_EQ(socket_option(fd, IPPROTO_TCP, TCP_KEEPCNT), 7) << conninfo;
        EXPECT_EQ(socket_option(fd, IPPROTO_TCP, TCP_USER_TIMEOUT), 9000) << conninfo;
    }
}

TEST_F(PgTest, ClientDeadlineAbandonsTheConnection) {
    Pool pool(io_, Config(), logger_, clock_);
    auto started = clock_.Now();
    auto rows = Run(pool.Execute(kSleep, MakeParams("3"), In(150ms)));
    ASSERT_FALSE(rows);
    EXPECT_EQ(rows.error().kind, ErrorKind::kTimeout);
    EXPECT_LT(clock_.Now() - started, 1s);
    EXPECT_EQ(pool.Open(), 0u) << "a connection with a statement still running is not reused";
    EXPECT_TRUE(Run(pool.Execute(kEcho, MakeParams("a", "1", "b"), In(5s))));
}

TEST_F(PgTest, AStatementPastItsDeadlineIsNotSentAndTheConnectionStays) {
    Pool pool(io_, Config(1), logger_, clock_);
    ASSERT_TRUE(Run(pool.Execute(kEcho, MakeParams("warm", "1", "x"), In(5s))));
    auto late = Run([&]() -> asio::awaitable<Result<Rows>> {
        auto connection = co_await pool.Acquire(In(5s));
        if (!connection) co_return connection.error();
        auto passed = core::Deadline::After(clock_, 0ms);
        co_return co_await (*connection)->Execute(kEcho, MakeParams("late", "1", "x"), passed);
    }());
    ASSERT_FALSE(late);
    EXPECT_EQ(late.error().kind, ErrorKind::kTimeout);
    EXPECT_EQ(pool.Open(), 1u) << "nothing was sent: the connection is kept, not dropped";
    EXPECT_EQ(pool.Idle(), 1u);
    EXPECT_TRUE(Run(pool.Execute(kEcho, MakeParams("after", "1", "x"), In(5s))));
}

TEST_F(PgTest, PoolIsBoundedAndQueuesWaiters) {
    Pool pool(io_, Config(2), logger_, clock_);
    std::size_t peak = 0;
    int succeeded = 0;
    for (int i = 0; i < 6; ++i) {
        asio::co_spawn(io_, [&]() -> asio::awaitable<void> {
            auto rows = co_await pool.Execute(kSleep, MakeParams("0.1"), In(10s));
            peak = std::max(peak, pool.Open());
            if (rows) ++succeeded;
        }, asio::detached);
    }
    io_.run();
    EXPECT_EQ(succeeded, 6);
    EXPECT_EQ(peak, 2u);
    EXPECT_EQ(pool.Waiting(), 0u);
}

TEST_F(PgTest, AcquireTimesOutWhenExhausted) {
    Pool pool(io_, Config(1), logger_, clock_);
    auto outcome = Run([&]() -> asio::awaitable<Result<PooledConnection>> {
        auto held = co_await pool.Acquire(In(5s));
        EXPECT_TRUE(held);
        co_return co_await pool.Acquire(In(100ms));
    }());
    ASSERT_FALSE(outcome);
    EXPECT_EQ(outcome.error().kind, ErrorKind::kPoolExhausted);
}

TEST_F(PgTest, ConnectFailureIsAConnectionError) {
    PoolConfig config;
    config.conninfo = "host=127.0.0.1 port=1 dbname=x user=x";
    Pool pool(io_, config, logger_, clock_);
    auto rows = Run(pool.Execute(kEcho, MakeParams("a", "1", "b"), In(5s)));
    ASSERT_FALSE(rows);
    EXPECT_EQ(rows.error().kind, ErrorKind::kConnection);
    EXPECT_TRUE(rows.error().Transient());
}

TEST_F(PgTest, AFailedConnectWakesACallerQueuedForItsSlot) {
    // A listener that completes the TCP handshake and never answers: the pool's one connect hangs until its
    // timeout while a second caller queues for the slot.
    asio::ip::tcp::acceptor silent(io_, {asio::ip::make_address("127.0.0.1"), 0});
    PoolConfig config;
    config.conninfo = "host=127.0.0.1 port=" + std::to_string(silent.local_endpoint().port()) + " dbname=x user=x";
    config.max_size = 1;
    config.connect_timeout = 300ms;
    Pool pool(io_, config, logger_, clock_);
    std::optional<Result<PooledConnection>> first, second;
    std::chrono::steady_clock::duration second_took{};
    asio::co_spawn(io_, [&]() -> asio::awaitable<void> { first = co_await pool.Acquire(In(10s)); }, asio::detached);
    asio::co_spawn(io_, [&]() -> asio::awaitable<void> {
        auto started = std::chrono::steady_clock::now();
        second = co_await pool.Acquire(In(10s));
        second_took = std::chrono::steady_clock::now() - started;
    }, asio::detached);
    io_.run();
    ASSERT_TRUE(first && second);
    ASSERT_FALSE(*first);
    EXPECT_EQ(first->error().kind, ErrorKind::kTimeout) << first->error().message;
    ASSERT_FALSE(*second);
    // Its own connect timed out too, once the first freed the slot; it did not sleep to its deadline (10 s) beside
    // a free slot and then report the pool exhausted.
    EXPECT_EQ(second->error().kind, ErrorKind::kTimeout) << second->error().message;
    EXPECT_NE(second->error().message.find("connecting"), std::string::npos) << second->error().message;
    EXPECT_LT(second_took, 5s);
    EXPECT_EQ(pool.Open(), 0u);
    EXPECT_EQ(pool.Waiting(), 0u);
}

TEST_F(PgTest, AHostNameConnectsThroughTheAddressesItResolvesTo) {
    // libpq would look a host name up inside PQconnectStart, on the service's only I/O thread (a slow DNS server would
    // stall every request); the connection resolves it on Asio's resolver thread and gives libpq the addresses. A
    // name connects as its address does, in a key/value string and in a URI ...
    const std::string address = "host=127.0.0.1";
    auto named = Config();
    ASSERT_EQ(named.conninfo.find(address), 0u) << named.conninfo;
    for (const std::string& conninfo : {"host=localhost" + named.conninfo.substr(address.size()),
                                       "postgresql://app_owner@localhost:" + std::to_string(server_->Port()) + "/app"}) {
        named.conninfo = conninfo;
        Pool pool(io_, named, logger_, clock_);
        auto rows = Run(pool.Execute(kEcho, MakeParams("by name", "1", std::nullopt), In(5s)));
        ASSERT_TRUE(rows) << conninfo << ": " << rows.error().message;
        EXPECT_EQ(rows->Text(0, 0), "by name");
    }
    // ... and a name that does not resolve is a connection error that names it.
    PoolConfig unknown;
    unknown.conninfo = "host=no-such-host.invalid port=5432 dbname=x user=x";
    Pool nowhere(io_, unknown, logger_, clock_);
    auto failed = Run(nowhere.Execute(kEcho, MakeParams("a", "1", "b"), In(10s)));
    ASSERT_FALSE(failed);
    EXPECT_NE(failed.error().message.find("no-such-host.invalid"), std::string::npos) << failed.error().message;
    EXPECT_TRUE(failed.error().Transient()) << failed.error().message;
}

TEST_F(PgTest, AHostNameFromPGHOSTIsResolvedByTheConnectionToo) {
    // With no host in the string libpq takes PGHOST, and would look it up itself, on the I/O thread. The message
    // tells whose lookup failed: libpq says "could not translate host name", the connection "could not resolve".
    auto config = Config();
    const std::string address = "host=127.0.0.1 ";
    ASSERT_EQ(config.conninfo.find(address), 0u) << config.conninfo;
    config.conninfo = config.conninfo.substr(address.size());
    const char* saved = std::getenv("PGHOST");
    const std::string before = saved ? saved : "";
    setenv("PGHOST", "no-such-host.invalid", 1);
    Pool unknown(io_, config, logger_, clock_);
    auto failed = Run(unknown.Execute(kEcho, MakeParams("a", "1", "b"), In(5s)));
    // Where libpq would not take PGHOST, neither does the connection: an empty host given (the local socket) and a
    // service named (its file comes first). Both then fail in libpq's own way, not in a lookup of PGHOST's name.
    auto empty_host = config;
    empty_host.conninfo = "host='' " + config.conninfo;
    Pool socket(io_, empty_host, logger_, clock_);
    auto by_socket = Run(socket.Execute(kEcho, MakeParams("a", "1", "b"), In(5s)));
    auto with_service = config;
    with_service.conninfo = "service=valerix-no-such-service " + config.conninfo;
    Pool service(io_, with_service, logger_, clock_);
    auto by_service = Run(service.Execute(kEcho, MakeParams("a", "1", "b"), In(5s)));
    setenv("PGHOST", "localhost", 1);
    Pool named(io_, config, logger_, clock_);
    auto rows = Run(named.Execute(kEcho, MakeParams("by PGHOST", "1", std::nullopt), In(5s)));
    if (saved) setenv("PGHOST", before.c_str(), 1);
    else unsetenv("PGHOST");
    ASSERT_FALSE(failed);
    // The connection's own message ("could not resolve host", or "deadline passed resolving host" where the DNS
    // server is slow), not libpq's.
    EXPECT_NE(failed.error().message.find("resolv"), std::string::npos) << failed.error().message;
    EXPECT_NE(failed.error().message.find("\"no-such-host.invalid\""), std::string::npos) << failed.error().message;
    EXPECT_EQ(failed.error().message.find("could not translate host name"), std::string::npos) << failed.error().message;
    for (const auto* other : {&by_socket, &by_service}) {
        ASSERT_FALSE(*other);
        EXPECT_EQ(other->error().message.find("no-such-host.invalid"), std::string::npos) << other->error().message;
    }
    ASSERT_TRUE(rows) << rows.error().message;
    EXPECT_EQ(rows->Text(0, 0), "by PGHOST");
}

TEST_F(PgTest, MigrationsApplyOnceEvenConcurrently) {
    server_->CreateDatabase("migrated", "migrated_owner");
    std::vector<Migration> migrations = {
        {2, "add_column", "ALTER TABLE things ADD COLUMN colour text"},
        {1, "create", "CREATE TABLE things (id int PRIMARY KEY)"},
    };
    auto connect = [&]() -> asio::awaitable<std::unique_ptr<Connection>> {
        auto connection = co_await Connection::Connect(io_.get_executor(),
                                                       server_->ConnInfo("migrated", "migrated_owner"), In(5s), clock_);
        co_return std::move(connection.value());
    };
    std::vector<int> applied;
    for (int i = 0; i < 3; ++i) {
        asio::co_spawn(io_, [&]() -> asio::awaitable<void> {
            auto connection = co_await connect();
            auto count = co_await ApplyMigrations(*connection, migrations, logger_);
            applied.push_back(count ? *count : -1);
        }, asio::detached);
    }
    io_.run();
    std::sort(applied.begin(), applied.end());
    EXPECT_EQ(applied, (std::vector<int>{0, 0, 2}));
    auto rows = server_->Query("migrated", "SELECT version, name FROM schema_migrations ORDER BY version");
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0][1], "create");
    EXPECT_EQ(server_->Query("migrated", "SELECT count(*) FROM information_schema.columns WHERE column_name='colour'")[0][0], "1");
}

TEST_F(PgTest, FailedMigrationRollsBackAndReports) {
    server_->CreateDatabase("broken", "broken_owner");
    std::vector<Migration> migrations = {{1, "bad", "CREATE TABLE t (id int); SELECT no_such_function()"}};
    auto outcome = Run([&]() -> asio::awaitable<Result<int>> {
        auto connection = co_await Connection::Connect(io_.get_executor(), server_->ConnInfo("broken", "broken_owner"),
                                                       In(5s), clock_);
        co_return co_await ApplyMigrations(**connection, migrations, logger_);
    }());
    ASSERT_FALSE(outcome);
    EXPECT_NE(outcome.error().message.find("1_bad failed"), std::string::npos) << outcome.error().message;
    EXPECT_EQ(server_->Query("broken", "SELECT count(*) FROM pg_tables WHERE tablename='t'")[0][0], "0");
}

TEST_F(PgTest, AMigratorStoppedMidwayFreesTheLockWithinItsIdleLimit) {
    server_->CreateDatabase("stalled", "stalled_owner");
    const auto conninfo = server_->ConnInfo("stalled", "stalled_owner");
    std::vector<Migration> migrations = {{1, "slow", "CREATE TABLE things (id int); SELECT pg_sleep(3)"}};

    // A replica that stops (or loses the network) in the middle of a migration, holding the lock: a child process
    // that is sent SIGSTOP while its migration runs. It keeps its socket open and sends nothing more. The test
    // process has no other thread here, so it may fork.
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        asio::io_context io;
        core::SteadyClock clock;
        core::Logger logger{"child", core::LogLevel::kWarn, stderr};
        auto done = asio::co_spawn(io, [&]() -> asio::awaitable<void> {
            auto connection = co_await Connection::Connect(io.get_executor(), conninfo,
                                                           core::Deadline::After(clock, 5s), clock);
            if (connection) co_await ApplyMigrations(**connection, migrations, logger, 1s);
        }, asio::use_future);
        io.run();
        _exit(0);
    }
    auto stop_child = [child](int sig) { kill(child, sig); };
    bool running = false;
    for (int i = 0; i < 500 && !running; ++i) {
        running = server_->Query("stalled", "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(3)' "
                                            "AND state = 'active' AND pid <> pg_backend_pid()")[0][0] == "1";
        if (!running) std::this_thread::sleep_for(10ms);
    }
    if (!running) {
        stop_child(SIGKILL);
        waitpid(child, nullptr, 0);
        FAIL() << "the child's migration never ran";
    }
    stop_child(SIGSTOP);

    // Another replica waits for the lock, then applies the migration itself once the server ended the stopped one's
    // idle session (1 s after its statement ended; the statement runs 3 s, so SIGSTOP lands inside it).
    const auto started = std::chrono::steady_clock::now();
    auto apply = [&]() -> asio::awaitable<Result<int>> {
        auto connection = co_await Connection::Connect(io_.get_executor(), conninfo, In(5s), clock_);
        if (!connection) co_return connection.error();
        co_return co_await ApplyMigrations(**connection, migrations, logger_);
    };
    auto applied = asio::co_spawn(io_, apply(), asio::use_future);
    io_.restart();
    io_.run_for(15s);
    const bool in_time = applied.wait_for(0s) == std::future_status::ready;
    stop_child(SIGKILL);  // without the limit, only the child's end frees the lock: let the waiter finish
    waitpid(child, nullptr, 0);
    if (!in_time) {
        io_.restart();
        io_.run();
    }
    EXPECT_TRUE(in_time) << "the other replica still waited for the lock after 15 s";
    auto outcome = applied.get();
    ASSERT_TRUE(outcome) << outcome.error().message;
    EXPECT_EQ(*outcome, 1);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 15s);
    EXPECT_EQ(server_->Query("stalled", "SELECT count(*) FROM schema_migrations")[0][0], "1");
}

TEST_F(PgTest, ReconnectsAfterServerRestart) {
    Pool pool(io_, Config(), logger_, clock_);
    int answered = 0;
    for (int i = 0; i < 3; ++i) {  // three at once: three connections, idle afterwards
        asio::co_spawn(io_, [&]() -> asio::awaitable<void> {
            if (co_await pool.Execute(kSleep, MakeParams("0.1"), In(5s))) ++answered;
        }, asio::detached);
    }
    io_.run();
    ASSERT_EQ(answered, 3);
    ASSERT_EQ(pool.Idle(), 3u);
    server_->Restart();
    // Each idle connection the restart closed is noticed and replaced before a statement is sent on it.
    for (int i = 0; i < 4; ++i) {
        auto rows = Run(pool.Execute(kEcho, MakeParams("a", "1", "b"), In(5s)));
        EXPECT_TRUE(rows) << "statement " << i << ": " << rows.error().message;
    }
    EXPECT_EQ(pool.Open(), 1u);
}

}  // namespace
}  // namespace valerix::pg
