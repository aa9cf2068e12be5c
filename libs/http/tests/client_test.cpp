#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/parse.hpp>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <thread>
#include <type_traits>
#include <valerix/http/client.hpp>
#include <valerix/http/server.hpp>
#include <valerix/testing/free_port.hpp>

namespace valerix::http {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using CallResult = boost::system::result<ClientResponse, ClientError>;

/// The steady clock shifted by an adjustable offset: idle-timeout tests jump ahead instead of sleeping.
class ShiftedClock final : public core::Clock {
  public:
    TimePoint Now() const override {
        return std::chrono::steady_clock::now() + std::chrono::nanoseconds(shift_ns_.load());
    }
    void Advance(std::chrono::nanoseconds by) { shift_ns_ += by.count(); }

  private:
    std::atomic<long long> shift_ns_{0};
};

void FailOnException(std::exception_ptr error) {
    if (!error) return;
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        ADD_FAILURE() << "coroutine failed: " << e.what();
    }
}

/// A raw TCP peer that misbehaves on purpose, counting the connections and requests (bodiless) it receives.
class FakeUpstream {
  public:
    enum class Behavior { kAnswer, kCloseWithoutAnswer, kGarbage };

    FakeUpstream(asio::io_context& io, Behavior behavior) : state_(std::make_shared<State>(io, behavior)) {
        tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
        state_->acceptor.open(endpoint.protocol());
        state_->acceptor.bind(endpoint);
        state_->acceptor.listen();
        port_ = state_->acceptor.local_endpoint().port();
        asio::co_spawn(io, Accept(state_), FailOnException);
    }

    unsigned short Port() const { return port_; }
    int Accepted() const { return state_->accepted; }
    int Requests() const { return state_->requests; }

  private:
    struct State {
        State(asio::io_context& io, Behavior behavior) : acceptor(io), behavior(behavior) {}
        tcp::acceptor acceptor;
        Behavior behavior;
        std::atomic<int> accepted{0};
        std::atomic<int> requests{0};
    };

    static asio::awaitable<void> Accept(std::shared_ptr<State> state) {
        for (;;) {
            error_code ec;
            tcp::socket socket = co_await state->acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
            if (ec) co_return;
            ++state->accepted;
            asio::co_spawn(state->acceptor.get_executor(), Serve(state, std::move(socket)), FailOnException);
        }
    }

    static asio::awaitable<void> Serve(std::shared_ptr<State> state, tcp::socket socket) {
        static const std::string kAnswer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        static const std::string kGarbage = "garbage\r\n\r\n";
        std::string buffer;
        for (;;) {
            error_code ec;
            std::size_t n = co_await asio::async_read_until(socket, asio::dynamic_buffer(buffer), "\r\n\r\n",
                                                            asio::redirect_error(asio::use_awaitable, ec));
            if (ec) co_return;
            buffer.erase(0, n);
            ++state->requests;
            switch (state->behavior) {
                case Behavior::kAnswer:
                    co_await asio::async_write(socket, asio::buffer(kAnswer),
                                               asio::redirect_error(asio::use_awaitable, ec));
                    if (ec) co_return;
                    break;
                case Behavior::kCloseWithoutAnswer:
                    co_return;
                case Behavior::kGarbage:
                    co_await asio::async_write(socket, asio::buffer(kGarbage),
                                               asio::redirect_error(asio::use_awaitable, ec));
                    co_return;
            }
        }
    }

    std::shared_ptr<State> state_;
    unsigned short port_ = 0;
};

/// A real valerix::http::Server on 127.0.0.1, an io_context run by its own thread, and helpers to drive Clients from
/// coroutines on that thread.
class ClientTest : public ::testing::Test {
  protected:
    void SetUp() override {
        router_.Add("GET", "/echo", Echo);
        router_.Add("POST", "/echo", Echo);
        router_.Add("GET", "/slow", [this](const Request& request, RequestContext&) -> asio::awaitable<Response> {
            slow_started_ = true;
            auto ms = std::stoi(request.QueryParam("ms").value_or("500"));
            asio::steady_timer timer(io_, std::chrono::milliseconds(ms));
            co_await timer.async_wait(asio::use_awaitable);
            co_return JsonText(200, R"({"slow":true})");
        });
        StartServer(0);
        thread_ = std::thread([this] { io_.run(); });
    }

    void TearDown() override {
        StopServer();
        work_.reset();
        io_.stop();
        thread_.join();
    }

    /// Answers with what it received: method, body, and headers (repeated ones joined with ", ").
    static asio::awaitable<Response> Echo(const Request& request, RequestContext&) {
        boost::json::object headers;
        for (const auto& [name, value] : request.headers) {
            if (auto* seen = headers.if_contains(name)) {
                *seen = std::string(seen->as_string()) + ", " + value;
            } else {
                headers[name] = value;
            }
        }
        boost::json::object body{{"method", request.method}, {"body", request.body}, {"headers", headers}};
        co_return Json(200, body);
    }

    static boost::json::object EchoedHeaders(const ClientResponse& response) {
        return boost::json::parse(response.body).at("headers").as_object();
    }

    void StartServer(unsigned short port) {
        ServerConfig config;
        config.port = port;
        config.shutdown_grace = 5s;
        // Each server registers its metric families: a restarted one gets a registry of its own.
        registries_.push_back(std::make_unique<metrics::Registry>());
        servers_.push_back(
            std::make_unique<Server>(io_, config, router_, logger_, *registries_.back(), random_, clock_));
        servers_.back()->Start();
    }

    /// Shuts the server down and waits until it has closed every connection.
    void StopServer() {
        if (servers_.empty() || stopped_) return;
        std::promise<void> drained;
        asio::post(io_, [&] { servers_.back()->Shutdown([&] { drained.set_value(); }); });
        ASSERT_EQ(drained.get_future().wait_for(10s), std::future_status::ready);
        stopped_ = true;
    }

    void RestartServer() {
        auto port = Port();
        StopServer();
        std::promise<void> started;
        asio::post(io_, [&] {
            StartServer(port);
            started.set_value();
        });
        started.get_future().wait();
        stopped_ = false;
    }

    unsigned short Port() const { return servers_.back()->Port(); }

    /// A client destroyed only after the io thread has stopped.
    Client& MakeClient(ClientConfig config) {
        clients_.push_back(std::make_unique<Client>(io_, std::move(config), clock_));
        return *clients_.back();
    }
    Client& MakeClient() {
        ClientConfig config;
        config.port = Port();
        return MakeClient(config);
    }

    FakeUpstream& MakeUpstream(FakeUpstream::Behavior behavior) {
        upstreams_.push_back(std::make_unique<FakeUpstream>(io_, behavior));
        return *upstreams_.back();
    }

    /// Starts the coroutine `body()` on the io thread.
    template <class F>
    auto Spawn(F body) {
        return asio::co_spawn(io_, std::move(body), asio::use_future);
    }

    /// Runs the coroutine `body()` on the io thread and returns its result (rethrowing its exception).
    template <class F>
    auto Run(F body) {
        auto future = Spawn(std::move(body));
        if (future.wait_for(20s) != std::future_status::ready) {
            std::fprintf(stderr, "test coroutine still running after 20 s\n");
            std::abort();
        }
        return future.get();
    }

    /// Sends one request within `budget` (nullopt: an infinite deadline).
    CallResult Call(Client& client, ClientRequest request, std::optional<std::chrono::milliseconds> budget = 2s) {
        return Run([this, &client, request, budget]() -> asio::awaitable<CallResult> {
            auto deadline = budget ? core::Deadline::After(clock_, *budget) : core::Deadline::Infinite();
            co_return co_await client.Send(request, deadline);
        });
    }

    static ClientRequest Get(std::string target) { return ClientRequest{"GET", std::move(target), "", {}}; }

    /// Waits on the io thread (without blocking it) until `ready()` holds.
    asio::awaitable<void> Until(std::function<bool()> ready) {
        asio::steady_timer timer(io_);
        while (!ready()) {
            timer.expires_after(1ms);
            co_await timer.async_wait(asio::use_awaitable);
        }
    }

    asio::io_context io_;
    asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
    Router router_;
    core::Logger logger_{"test", core::LogLevel::kError, stderr};
    core::SeededRandom random_{1};
    ShiftedClock clock_;  ///< the steady clock unless a test advances it
    std::vector<std::unique_ptr<metrics::Registry>> registries_;
    std::vector<std::unique_ptr<Server>> servers_;
    bool stopped_ = false;
    std::vector<std::unique_ptr<Client>> clients_;
    std::vector<std::unique_ptr<FakeUpstream>> upstreams_;
    std::vector<std::shared_ptr<void>> kept_;  ///< I/O objects of a test, destroyed after the io thread stopped
    std::atomic<bool> slow_started_{false};
    std::thread thread_;
};

TEST_F(ClientTest, GetAndPostRoundTripWithHeaders) {
    auto& client = MakeClient();

    ClientRequest get = Get("/echo?x=1");
    get.headers = {{"X-Custom", "abc"}};
    auto got = Call(client, get);
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_EQ(got->status, 200);
    EXPECT_EQ(got->Header("content-type"), "application/json");
    EXPECT_FALSE(got->Header("x-request-id").empty()) << "response header names are lower-case";
    auto headers = EchoedHeaders(*got);
    EXPECT_EQ(headers.at("host").as_string(), "127.0.0.1:" + std::to_string(Port()));
    EXPECT_EQ(headers.at("x-custom").as_string(), "abc");
    EXPECT_FALSE(headers.contains("content-type")) << "no body, no content type";

    ClientRequest post{"POST", "/echo", R"({"sku":"A-1"})", {}};
    auto posted = Call(client, post);
    ASSERT_TRUE(posted) << posted.error().message;
    auto echoed = boost::json::parse(posted->body).as_object();
    EXPECT_EQ(echoed.at("method").as_string(), "POST");
    EXPECT_EQ(echoed.at("body").as_string(), R"({"sku":"A-1"})");
    EXPECT_EQ(echoed.at("headers").at("content-type").as_string(), "application/json");
    EXPECT_EQ(echoed.at("headers").at("content-length").as_string(), "13");

    ClientRequest text{"POST", "/echo", "plain", {{"Content-Type", "text/plain"}, {"Content-Length", "999"}}};
    auto texted = Call(client, text);
    ASSERT_TRUE(texted) << texted.error().message;
    EXPECT_EQ(EchoedHeaders(*texted).at("content-type").as_string(), "text/plain") << "a given type is kept, once";
    EXPECT_EQ(EchoedHeaders(*texted).at("content-length").as_string(), "5") << "framing follows the body";

    auto missing = Call(client, Get("/nothing"));
    ASSERT_TRUE(missing) << "any status is a response, not an error";
    EXPECT_EQ(missing->status, 404);
}

TEST_F(ClientTest, ReusesOneKeepAliveConnectionForSequentialCalls) {
    auto& client = MakeClient();
    auto opened = Run([&]() -> asio::awaitable<std::vector<std::size_t>> {
        std::vector<std::size_t> open_after_each;
        for (int i = 0; i < 20; ++i) {
            auto result = co_await client.Send(Get("/echo"), core::Deadline::After(clock_, 2s));
            if (!result || result->status != 200) co_return std::vector<std::size_t>{};
            open_after_each.push_back(client.Open());
        }
        co_return open_after_each;
    });
    EXPECT_EQ(opened, std::vector<std::size_t>(20, 1));
    EXPECT_EQ(client.Idle(), 1u);

    // The peer's view: one connection, twenty requests.
    auto& upstream = MakeUpstream(FakeUpstream::Behavior::kAnswer);
    ClientConfig config;
    config.port = upstream.Port();
    auto& counted = MakeClient(config);
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(Call(counted, Get("/")));
    EXPECT_EQ(upstream.Requests(), 20);
    EXPECT_EQ(upstream.Accepted(), 1);
}

TEST_F(ClientTest, SendsTheRemainingBudgetOnlyForFiniteDeadlines) {
    auto& client = MakeClient();
    ClientRequest request = Get("/echo");
    request.headers = {{"X-Valerix-Deadline-Ms", "999999"}};  // stale value from the caller: replaced
    auto finite = Call(client, request, 2000ms);
    ASSERT_TRUE(finite) << finite.error().message;
    std::string sent(EchoedHeaders(*finite).at(kDeadlineHeader).as_string());
    long long budget_ms = std::stoll(sent);
    EXPECT_LE(budget_ms, 2000);
    EXPECT_GT(budget_ms, 1000);

    auto infinite = Call(client, Get("/echo"), std::nullopt);
    ASSERT_TRUE(infinite) << infinite.error().message;
    EXPECT_FALSE(EchoedHeaders(*infinite).contains(kDeadlineHeader));

    // A public-API client keeps its deadline to itself; a header the caller sets itself goes as given.
    ClientConfig quiet;
    quiet.port = Port();
    quiet.propagate_deadline = false;
    auto& quiet_client = MakeClient(quiet);
    auto kept = Call(quiet_client, request, 2000ms);
    ASSERT_TRUE(kept) << kept.error().message;
    EXPECT_EQ(EchoedHeaders(*kept).at(kDeadlineHeader).as_string(), "999999");
}

TEST_F(ClientTest, SlowReplyTimesOutAtTheDeadlineAndTheConnectionIsClosed) {
    auto& client = MakeClient();
    ASSERT_TRUE(Call(client, Get("/echo")));
    ASSERT_EQ(client.Idle(), 1u);

    auto started = std::chrono::steady_clock::now();
    auto slow = Call(client, Get("/slow?ms=500"), 100ms);
    auto elapsed = std::chrono::steady_clock::now() - started;
    ASSERT_FALSE(slow);
    EXPECT_EQ(slow.error().kind, ClientErrorKind::kTimeout) << slow.error().message;
    EXPECT_TRUE(slow.error().RequestMayHaveBeenProcessed());
    EXPECT_GE(elapsed, 100ms);
    EXPECT_LT(elapsed, 450ms) << "gave up at the deadline, not when the reply came";
    EXPECT_EQ(client.Open(), 0u) << "a timed-out connection is closed, not reused";
    EXPECT_EQ(client.Idle(), 0u);

    auto next = Call(client, Get("/echo"));
    ASSERT_TRUE(next) << next.error().message;
    EXPECT_EQ(client.Open(), 1u);
}

TEST_F(ClientTest, ExpiredDeadlineFailsWithoutSending) {
    auto& upstream = MakeUpstream(FakeUpstream::Behavior::kAnswer);
    ClientConfig config;
    config.port = upstream.Port();
    auto& client = MakeClient(config);
    auto result = Run([&]() -> asio::awaitable<CallResult> {
        co_return co_await client.Send(Get("/"), core::Deadline::At(clock_.Now() - 1ms));
    });
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().kind, ClientErrorKind::kTimeout);
    EXPECT_FALSE(result.error().RequestMayHaveBeenProcessed());
    EXPECT_EQ(upstream.Accepted(), 0);
}

TEST_F(ClientTest, ConnectionRefusedIsAConnectErrorThatWasNotSent) {
    ClientConfig config;
    config.port = static_cast<unsigned short>(testing::FreePort());
    auto& client = MakeClient(config);
    auto result = Call(client, Get("/echo"));
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().kind, ClientErrorKind::kConnect) << result.error().message;
    EXPECT_FALSE(result.error().RequestMayHaveBeenProcessed());
    EXPECT_EQ(client.Open(), 0u);
    EXPECT_THROW(result.value(), std::runtime_error) << "throw_exception_from_error is found";
}

TEST_F(ClientTest, ConnectTimeoutIsAConnectErrorUnlessTheDeadlineBinds) {
    // A listener that never accepts, with its queue full: further SYNs are dropped, so connecting hangs. Kept until
    // the io thread has stopped.
    auto listener = std::make_shared<tcp::acceptor>(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    listener->listen(0);
    for (int i = 0; i < 4; ++i) {
        auto filler = std::make_shared<tcp::socket>(io_);
        filler->async_connect(listener->local_endpoint(), [](error_code) {});
        kept_.push_back(filler);
    }
    kept_.push_back(listener);
    ClientConfig config;
    config.port = listener->local_endpoint().port();
    config.connect_timeout = 100ms;
    auto& client = MakeClient(config);

    auto by_connect_timeout = Call(client, Get("/"), 5s);
    ASSERT_FALSE(by_connect_timeout);
    EXPECT_EQ(by_connect_timeout.error().kind, ClientErrorKind::kConnect) << by_connect_timeout.error().message;

    config.connect_timeout = 5s;
    auto& patient = MakeClient(config);
    auto by_deadline = Call(patient, Get("/"), 100ms);
    ASSERT_FALSE(by_deadline);
    EXPECT_EQ(by_deadline.error().kind, ClientErrorKind::kTimeout) << by_deadline.error().message;
    EXPECT_FALSE(by_deadline.error().RequestMayHaveBeenProcessed()) << "it timed out before anything was written";
    EXPECT_EQ(patient.Open(), 0u);
}

TEST_F(ClientTest, ConcurrentCallsShareAtMostMaxConnections) {
    ClientConfig config;
    config.port = Port();
    config.max_connections = 2;
    auto& client = MakeClient(config);

    std::atomic<int> finished{0};
    std::size_t most_open = 0, most_waiting = 0;
    auto sampler = Spawn([&]() -> asio::awaitable<void> {
        asio::steady_timer timer(io_);
        while (finished < 5) {
            most_open = std::max(most_open, client.Open());
            most_waiting = std::max(most_waiting, client.Waiting());
            timer.expires_after(2ms);
            co_await timer.async_wait(asio::use_awaitable);
        }
    });
    auto started = std::chrono::steady_clock::now();
    std::vector<std::future<CallResult>> calls;
    for (int i = 0; i < 5; ++i) {
        calls.push_back(Spawn([&]() -> asio::awaitable<CallResult> {
            auto result = co_await client.Send(Get("/slow?ms=200"), core::Deadline::After(clock_, 5s));
            most_open = std::max(most_open, client.Open());
            ++finished;
            co_return result;
        }));
    }
    for (auto& call : calls) {
        auto result = call.get();
        ASSERT_TRUE(result) << result.error().message;
        EXPECT_EQ(result->status, 200);
    }
    sampler.get();
    EXPECT_GE(std::chrono::steady_clock::now() - started, 600ms) << "five 200 ms calls on two connections: 3 rounds";
    EXPECT_EQ(most_open, 2u);
    EXPECT_EQ(most_waiting, 3u) << "two calls on the connections, three waiting";
    EXPECT_EQ(client.Waiting(), 0u);
    EXPECT_EQ(client.Idle(), 2u);
}

TEST_F(ClientTest, PoolExhaustedWhenNoConnectionFreesBeforeTheDeadline) {
    ClientConfig config;
    config.port = Port();
    config.max_connections = 1;
    auto& client = MakeClient(config);

    auto slow = Spawn([&]() -> asio::awaitable<CallResult> {
        co_return co_await client.Send(Get("/slow?ms=500"), core::Deadline::After(clock_, 5s));
    });
    std::chrono::steady_clock::duration elapsed{};
    auto starved = Run([&]() -> asio::awaitable<CallResult> {
        co_await Until([&] { return client.Open() == 1; });
        auto started = std::chrono::steady_clock::now();
        auto result = co_await client.Send(Get("/echo"), core::Deadline::After(clock_, 50ms));
        elapsed = std::chrono::steady_clock::now() - started;
        co_return result;
    });
    ASSERT_FALSE(starved);
    EXPECT_EQ(starved.error().kind, ClientErrorKind::kPoolExhausted) << starved.error().message;
    EXPECT_FALSE(starved.error().RequestMayHaveBeenProcessed());
    EXPECT_GE(elapsed, 50ms);
    EXPECT_LT(elapsed, 400ms) << "gave up at its deadline, not when the connection was freed";

    auto slow_result = slow.get();
    ASSERT_TRUE(slow_result) << slow_result.error().message;
    EXPECT_EQ(client.Open(), 1u);
    EXPECT_EQ(client.Idle(), 1u);
}

TEST_F(ClientTest, InfiniteDeadlineWaitsForAFreeConnection) {
    ClientConfig config;
    config.port = Port();
    config.max_connections = 1;
    auto& client = MakeClient(config);
    auto slow = Spawn([&]() -> asio::awaitable<CallResult> {
        co_return co_await client.Send(Get("/slow?ms=100"), core::Deadline::Infinite());
    });
    auto waiting = Run([&]() -> asio::awaitable<CallResult> {
        co_await Until([&] { return client.Open() == 1; });
        co_return co_await client.Send(Get("/echo"), core::Deadline::Infinite());
    });
    ASSERT_TRUE(waiting) << waiting.error().message;
    EXPECT_EQ(waiting->status, 200);
    ASSERT_TRUE(slow.get());
    EXPECT_EQ(client.Open(), 1u);
}

TEST_F(ClientTest, IdleConnectionClosedByTheServerIsReplaced) {
    auto& client = MakeClient();
    ASSERT_TRUE(Call(client, Get("/echo")));
    ASSERT_EQ(client.Idle(), 1u);

    // The old server closes every idle connection; a new one listens on the same port.
    RestartServer();

    auto after = Call(client, Get("/echo"));
    ASSERT_TRUE(after) << after.error().message;
    EXPECT_EQ(after->status, 200);
    EXPECT_EQ(client.Open(), 1u);
    EXPECT_EQ(client.Idle(), 1u);
}

TEST_F(ClientTest, ConnectionCloseInTheResponseIsHonoured) {
    auto& client = MakeClient();
    auto slow = Spawn([&]() -> asio::awaitable<CallResult> {
        co_return co_await client.Send(Get("/slow?ms=200"), core::Deadline::After(clock_, 5s));
    });
    while (!slow_started_) std::this_thread::sleep_for(1ms);
    // A draining server answers the request in flight with "Connection: close".
    std::promise<void> drained;
    asio::post(io_, [&] { servers_.back()->Shutdown([&] { drained.set_value(); }); });
    auto result = slow.get();
    ASSERT_TRUE(result) << result.error().message;
    EXPECT_EQ(result->Header("connection"), "close");
    EXPECT_EQ(client.Open(), 0u);
    EXPECT_EQ(client.Idle(), 0u);
    ASSERT_EQ(drained.get_future().wait_for(5s), std::future_status::ready);
    stopped_ = true;
}

TEST_F(ClientTest, ConnectionLostAfterSendingMayHaveBeenProcessed) {
    auto& upstream = MakeUpstream(FakeUpstream::Behavior::kCloseWithoutAnswer);
    ClientConfig config;
    config.port = upstream.Port();
    auto& client = MakeClient(config);
    auto result = Call(client, Get("/"));
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().kind, ClientErrorKind::kConnectionLost) << result.error().message;
    EXPECT_TRUE(result.error().RequestMayHaveBeenProcessed());
    EXPECT_EQ(upstream.Requests(), 1) << "never retried by the client";
    EXPECT_EQ(client.Open(), 0u);
}

TEST_F(ClientTest, InvalidHttpIsAProtocolError) {
    auto& upstream = MakeUpstream(FakeUpstream::Behavior::kGarbage);
    ClientConfig config;
    config.port = upstream.Port();
    auto& client = MakeClient(config);
    auto result = Call(client, Get("/"));
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().kind, ClientErrorKind::kProtocol) << result.error().message;
    EXPECT_TRUE(result.error().RequestMayHaveBeenProcessed());
    EXPECT_EQ(client.Open(), 0u);
}

TEST_F(ClientTest, IdleConnectionsOlderThanTheIdleTimeoutAreNotReused) {
    auto& upstream = MakeUpstream(FakeUpstream::Behavior::kAnswer);
    ClientConfig config;
    config.port = upstream.Port();
    config.idle_timeout = 30s;
    auto& client = MakeClient(config);

    ASSERT_TRUE(Call(client, Get("/")));
    clock_.Advance(29s);
    ASSERT_TRUE(Call(client, Get("/")));
    EXPECT_EQ(upstream.Accepted(), 1);
    clock_.Advance(31s);
    ASSERT_TRUE(Call(client, Get("/")));
    EXPECT_EQ(upstream.Accepted(), 2);
    EXPECT_EQ(client.Open(), 1u) << "the expired connection was closed";
}

TEST_F(ClientTest, CloseDropsIdleConnectionsAndFailsNewCalls) {
    auto& client = MakeClient();
    ASSERT_TRUE(Call(client, Get("/echo")));
    Run([&]() -> asio::awaitable<void> {
        client.Close();
        co_return;
    });
    EXPECT_EQ(client.Open(), 0u);
    EXPECT_EQ(client.Idle(), 0u);
    auto result = Call(client, Get("/echo"));
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().kind, ClientErrorKind::kConnect);
    EXPECT_FALSE(result.error().RequestMayHaveBeenProcessed());
}

TEST_F(ClientTest, ResolvesHostNames) {
    ClientConfig config;
    config.host = "localhost";
    config.port = Port();
    auto& client = MakeClient(config);
    auto result = Call(client, Get("/echo"));
    ASSERT_TRUE(result) << result.error().message;
    EXPECT_EQ(EchoedHeaders(*result).at("host").as_string(), "localhost:" + std::to_string(Port()));
}

TEST_F(ClientTest, RejectsRequestsThatWouldSplitTheMessage) {
    auto& client = MakeClient();
    ClientRequest injected = Get("/echo");
    injected.headers = {{"X-Custom", "a\r\nX-Evil: 1"}};
    EXPECT_THROW(Call(client, injected), std::invalid_argument);
    EXPECT_THROW(Call(client, Get("/echo HTTP/1.1\r\n")), std::invalid_argument);
    EXPECT_THROW(Call(client, ClientRequest{"GE T", "/", "", {}}), std::invalid_argument);
    EXPECT_EQ(client.Open(), 0u);
}

TEST(ClientConfigTest, RejectsInvalidConfiguration) {
    asio::io_context io;
    core::SteadyClock clock;
    ClientConfig no_port;
    EXPECT_THROW({ Client client(io, no_port, clock); }, std::invalid_argument);
    ClientConfig no_connections;
    no_connections.port = 1;
    no_connections.max_connections = 0;
    EXPECT_THROW({ Client client(io, no_connections, clock); }, std::invalid_argument);
}

TEST(ClientErrorTest, OnlyErrorsAfterWritingMayHaveBeenProcessed) {
    EXPECT_FALSE((ClientError{ClientErrorKind::kConnect, "x"}.RequestMayHaveBeenProcessed()));
    EXPECT_FALSE((ClientError{ClientErrorKind::kPoolExhausted, "x"}.RequestMayHaveBeenProcessed()));
    EXPECT_TRUE((ClientError{ClientErrorKind::kTimeout, "x"}.RequestMayHaveBeenProcessed()));
    EXPECT_FALSE((ClientError{ClientErrorKind::kTimeout, "x", false}.RequestMayHaveBeenProcessed()));
    EXPECT_TRUE((ClientError{ClientErrorKind::kConnectionLost, "x"}.RequestMayHaveBeenProcessed()));
    EXPECT_TRUE((ClientError{ClientErrorKind::kProtocol, "x"}.RequestMayHaveBeenProcessed()));
    EXPECT_EQ(ToString(ClientErrorKind::kPoolExhausted), "pool_exhausted");
}

}  // namespace
}  // namespace valerix::http
