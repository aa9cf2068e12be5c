#include <valerix/http/server.hpp>

#include <atomic>
#include <cstring>
#include <fstream>
#include <future>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <valerix/http/service_setup.hpp>
#include <valerix/testing/http_client.hpp>

namespace valerix::http {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

constexpr long long kNoDeadlineMs = 1'000'000'000'000;  // what /echo reports as remaining without a deadline

class ServerTest : public ::testing::Test {
protected:
    void SetUp() override {
        router_.Add("GET", "/echo/{name}",
                    [this](const Request& request, RequestContext& context) -> asio::awaitable<Response> {
            boost::json::object body{{"name", context.Param("name")},
                                     {"request_id", context.request_id},
                                     {"trace_id", context.trace_id},
                                     {"route", context.route},
                                     {"q", request.QueryParam("q").value_or("")},
                                     {"has_deadline", !context.deadline.IsInfinite()},
                                     {"remaining_ms", core::RemainingMillis(context.deadline, clock_, kNoDeadlineMs)}};
            co_return Json(200, body);
        });
        router_.Add("POST", "/echo/{name}", [](const Request& request, RequestContext&) -> asio::awaitable<Response> {
            co_return JsonText(200, request.body);
        });
        router_.Add("POST", "/slow", [this](const Request&, RequestContext&) -> asio::awaitable<Response> {
            slow_started_ = true;
            asio::steady_timer timer(io_, 400ms);
            co_await timer.async_wait(asio::use_awaitable);
            co_return JsonText(200, R"({"slow":true})");
        });
        router_.Add("POST", "/drop", [](const Request&, RequestContext&) -> asio::awaitable<Response> {
            Response response;
            response.drop_connection = true;
            co_return response;
        });
        router_.Add("GET", "/boom", [](const Request&, RequestContext&) -> asio::awaitable<Response> {
            throw std::runtime_error("secret internal detail");
            co_return Response{};
        });
        ServerConfig config;
        config.shutdown_grace = 5s;
        config.read_timeout = read_timeout_;
        server_ = std::make_unique<Server>(io_, config, router_, logger_, registry_, random_, clock_);
        server_->Start();
        thread_ = std::thread([this] { io_.run(); });
    }

    void TearDown() override {
        if (!drained_) {
            std::promise<void> done;
            asio::post(io_, [&] { server_->Shutdown([&] { done.set_value(); }); });
            done.get_future().wait_for(10s);
        }
        io_.stop();
        thread_.join();
    }

    asio::io_context io_;
    Router router_;
    core::Logger logger_{"test", core::LogLevel::kWarn, stderr};
    metrics::Registry registry_;
    core::SeededRandom random_{1};
    core::SteadyClock clock_;
    std::unique_ptr<Server> server_;
    std::thread thread_;
    std::atomic<bool> slow_started_{false};
    bool drained_ = false;
    std::chrono::milliseconds read_timeout_ = ServerConfig{}.read_timeout;
};

/// A blocking TCP connection to the server, for byte-exact exchanges the HTTP client would tidy up.
class RawConnection {
public:
    explicit RawConnection(int port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(static_cast<std::uint16_t>(port));
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        timeval timeout{2, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
            throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
        }
    }
    ~RawConnection() { ::close(fd_); }
    /// Sends all of `bytes`; false once the peer stopped taking them.
    bool Send(std::string_view bytes) {
        while (!bytes.empty()) {
            auto sent = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (sent <= 0) return false;
            bytes.remove_prefix(static_cast<std::size_t>(sent));
        }
        return true;
    }
    /// Everything received until the server closes (or 2 s pass without a byte, or the connection is reset).
    std::string ReadAll() {
        std::string all;
        char chunk[4096];
        for (ssize_t n; (n = ::recv(fd_, chunk, sizeof chunk, 0)) > 0;) all.append(chunk, static_cast<std::size_t>(n));
        return all;
    }
    /// What arrives within the receive timeout, at most one read.
    std::string ReadSome() {
        char chunk[4096];
        auto n = ::recv(fd_, chunk, sizeof chunk, 0);
        return n > 0 ? std::string(chunk, static_cast<std::size_t>(n)) : std::string();
    }

private:
    int fd_;
};

std::size_t Occurrences(const std::string& text, std::string_view what) {
    std::size_t count = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++count;
    return count;
}

TEST_F(ServerTest, HeadGetsTheHeadersOfAGetAndNoBody) {
    // Any body after a HEAD's headers would be read as the start of the next response on the connection.
    RawConnection connection(server_->Port());
    ASSERT_TRUE(connection.Send("HEAD /echo/x HTTP/1.1\r\nHost: t\r\n\r\n"
                                "HEAD /nothing HTTP/1.1\r\nHost: t\r\n\r\n"
                                "GET /echo/y HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
    auto bytes = connection.ReadAll();
    auto first_end = bytes.find("\r\n\r\n");
    ASSERT_NE(first_end, std::string::npos) << bytes;
    auto first = bytes.substr(0, first_end);
    EXPECT_TRUE(first.starts_with("HTTP/1.1 200")) << first;
    EXPECT_EQ(first.find("Content-Length: 0\r\n"), std::string::npos) << "the length a GET would have: " << first;
    auto rest = bytes.substr(first_end + 4);
    EXPECT_TRUE(rest.starts_with("HTTP/1.1 404")) << "no body after the HEAD's headers: " << rest.substr(0, 200);
    auto second_end = rest.find("\r\n\r\n");
    ASSERT_NE(second_end, std::string::npos);
    EXPECT_TRUE(rest.substr(second_end + 4).starts_with("HTTP/1.1 200")) << rest;
    EXPECT_NE(rest.find("\"name\":\"y\""), std::string::npos) << "the GET after them is answered in full";
}

TEST_F(ServerTest, ATransferEncodingOtherThanChunkedIs400AndItsBodyIsNeverARequest) {
    // Read as "no body", the body would be parsed as a second request (RFC 9112 §6.3: 400, then close).
    RawConnection connection(server_->Port());
    ASSERT_TRUE(connection.Send("POST /echo/x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n"
                                "GET /echo/smuggled HTTP/1.1\r\nHost: t\r\n\r\n"));
    auto bytes = connection.ReadAll();
    EXPECT_TRUE(bytes.starts_with("HTTP/1.1 400")) << bytes;
    EXPECT_EQ(Occurrences(bytes, "HTTP/1.1 "), 1u) << bytes;
    EXPECT_EQ(bytes.find("smuggled"), std::string::npos) << bytes;
}

TEST_F(ServerTest, AClientThatSendsItsWholeTooLargeBodyBeforeReadingGetsThe413) {
    // As most clients do: the whole body, then the answer. Closed with the upload unread, the connection was reset:
    // the client's sending failed and it never read the 413 (a broken pipe instead).
    RawConnection connection(server_->Port());
    constexpr std::size_t kBody = 8 << 20;
    std::string request = "POST /echo/x HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(kBody) + "\r\n\r\n";
    request.append(kBody, 'a');
    EXPECT_TRUE(connection.Send(request)) << "the server took the whole upload";
    auto bytes = connection.ReadAll();
    EXPECT_TRUE(bytes.starts_with("HTTP/1.1 413")) << "read " << bytes.size() << " bytes: " << bytes.substr(0, 200);
}

class ServerReadTimeoutTest : public ServerTest {
protected:
    void SetUp() override {
        read_timeout_ = 500ms;
        ServerTest::SetUp();
    }
};

TEST_F(ServerReadTimeoutTest, ABodyShorterThanItsContentLengthGets408NotSilence) {
    // Before: Beast's stream timeout closed the socket, and the client saw the connection end without a word.
    RawConnection connection(server_->Port());
    ASSERT_TRUE(connection.Send("POST /echo/x HTTP/1.1\r\nHost: t\r\nX-Request-Id: short-1\r\n"
                                "Content-Length: 10\r\n\r\n{}"));
    auto bytes = connection.ReadAll();
    EXPECT_TRUE(bytes.starts_with("HTTP/1.1 408 Request Timeout\r\n")) << bytes;
    EXPECT_NE(bytes.find("\"code\":\"request_timeout\""), std::string::npos) << bytes;
    EXPECT_NE(bytes.find("X-Request-Id: short-1"), std::string::npos) << bytes;
    EXPECT_NE(bytes.find("Connection: close"), std::string::npos) << bytes;
}

TEST_F(ServerReadTimeoutTest, HeadersWithoutTheirEndGet408) {
    RawConnection connection(server_->Port());
    ASSERT_TRUE(connection.Send("GET /echo/x HTTP/1.1\r\nHost: t\r\n"));
    EXPECT_TRUE(connection.ReadAll().starts_with("HTTP/1.1 408")) << "within the read timeout";
}

TEST_F(ServerReadTimeoutTest, TheLimitIsPerRequestNotPerConnection) {
    // A kept-alive connection outlives many read timeouts; each request has its own (the idle wait between requests
    // is the idle timeout's).
    RawConnection connection(server_->Port());
    for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(connection.Send("POST /echo/x HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}"));
        EXPECT_TRUE(connection.ReadSome().starts_with("HTTP/1.1 200")) << i;
        std::this_thread::sleep_for(600ms);
    }
    // A request sent in pieces, the whole well within the limit, is served.
    ASSERT_TRUE(connection.Send("POST /echo/x HTTP/1.1\r\nHost: t\r\n"));
    std::this_thread::sleep_for(100ms);
    ASSERT_TRUE(connection.Send("Content-Length: 2\r\n\r\n{"));
    std::this_thread::sleep_for(100ms);
    ASSERT_TRUE(connection.Send("}"));
    EXPECT_TRUE(connection.ReadSome().starts_with("HTTP/1.1 200"));
    std::this_thread::sleep_for(600ms);  // the timer's wait for that request is over
    // The timer now waits for the next request's limit (500 ms after it); a second request, started 250 ms later
    // and still being read then, has until 750 ms: it is served, not cut off at 500 ms.
    ASSERT_TRUE(connection.Send("POST /echo/x HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}"));
    EXPECT_TRUE(connection.ReadSome().starts_with("HTTP/1.1 200"));
    std::this_thread::sleep_for(250ms);
    ASSERT_TRUE(connection.Send("POST /echo/x HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{"));
    std::this_thread::sleep_for(300ms);
    ASSERT_TRUE(connection.Send("}"));
    EXPECT_TRUE(connection.ReadSome().starts_with("HTTP/1.1 200")) << "cut off by the earlier request's limit";
}

TEST_F(ServerTest, ExpectContinueIsHonouredWhateverItsCase) {
    RawConnection connection(server_->Port());
    ASSERT_TRUE(connection.Send("POST /echo/x HTTP/1.1\r\nHost: t\r\nExpect: 100-Continue\r\n"
                                "Content-Length: 2\r\n\r\n"));
    EXPECT_TRUE(connection.ReadSome().starts_with("HTTP/1.1 100 Continue"));
    ASSERT_TRUE(connection.Send("{}"));
    EXPECT_TRUE(connection.ReadSome().starts_with("HTTP/1.1 200"));
}

TEST_F(ServerTest, RoutesAndEchoesRequestId) {
    testing::HttpClient client("127.0.0.1", server_->Port());
    auto response = client.Request("GET", "/echo/abc?q=x%20y", "", {{"X-Request-Id", "req-123"}});
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(response.Header("x-request-id"), "req-123");
    auto body = boost::json::parse(response.body).as_object();
    EXPECT_EQ(body.at("name").as_string(), "abc");
    EXPECT_EQ(body.at("route").as_string(), "/echo/{name}");
    EXPECT_EQ(body.at("q").as_string(), "x y");
    EXPECT_FALSE(body.at("has_deadline").as_bool());

    auto generated = client.Request("GET", "/echo/abc");
    EXPECT_EQ(generated.Header("x-request-id").size(), 32u);
}

TEST_F(ServerTest, PropagatesTraceAndDeadline) {
    testing::HttpClient client("127.0.0.1", server_->Port());
    auto response = client.Request("GET", "/echo/t", "",
                                   {{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
                                    {"X-Valerix-Deadline-Ms", "2500"}});
    auto body = boost::json::parse(response.body).as_object();
    EXPECT_EQ(body.at("trace_id").as_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
    EXPECT_TRUE(body.at("has_deadline").as_bool());
    EXPECT_GT(body.at("remaining_ms").as_int64(), 2000);
    EXPECT_LE(body.at("remaining_ms").as_int64(), 2500);
}

TEST_F(ServerTest, AHugeDeadlineBudgetIsCappedNotWrappedIntoThePast) {
    // Milliseconds near LLONG_MAX overflow once turned into a time point: the deadline landed in the past and every
    // call with it would answer 504 at once. A budget beyond a day counts as a day.
    testing::HttpClient client("127.0.0.1", server_->Port());
    for (const char* budget : {"9223372036854775807", "9223372036854", "86400001"}) {
        auto body = boost::json::parse(client.Request("GET", "/echo/t", "", {{"X-Valerix-Deadline-Ms", budget}}).body)
                        .as_object();
        EXPECT_TRUE(body.at("has_deadline").as_bool()) << budget;
        EXPECT_GT(body.at("remaining_ms").as_int64(), 86'000'000) << budget;
        EXPECT_LE(body.at("remaining_ms").as_int64(), 86'400'000) << budget;
    }
}

TEST_F(ServerTest, AnswersProblemsForUnknownRoutesAndMethods) {
    testing::HttpClient client("127.0.0.1", server_->Port());
    auto missing = client.Request("GET", "/nothing");
    EXPECT_EQ(missing.status, 404);
    EXPECT_EQ(missing.Header("content-type"), "application/problem+json");
    auto wrong = client.Request("DELETE", "/echo/x");
    EXPECT_EQ(wrong.status, 405);
    EXPECT_EQ(wrong.Header("allow"), "GET, HEAD, POST");
}

TEST_F(ServerTest, RejectsOversizedBodyWith413AndKeepsServing) {
    testing::HttpClient client("127.0.0.1", server_->Port());
    auto response = client.Request("POST", "/echo/x", std::string(kMaxBodyBytes + 1, 'a'), {{"X-Request-Id", "big-1"}});
    EXPECT_EQ(response.status, 413);
    EXPECT_EQ(boost::json::parse(response.body).at("code").as_string(), "body_too_large");
    EXPECT_EQ(response.Header("x-request-id"), "big-1") << "every response carries X-Request-Id (DESIGN.md §4)";
    testing::HttpClient again("127.0.0.1", server_->Port());
    EXPECT_EQ(again.Request("POST", "/echo/x", std::string(kMaxBodyBytes - 10, 'a')).status, 200);
}

TEST_F(ServerTest, AnUnknownMethodIsOneMetricLabelNotOnePerSpelling) {
    for (const char* method : {"A0001", "A0002", "A0003"}) {
        testing::HttpClient client("127.0.0.1", server_->Port());
        auto response = client.SendRaw(std::string(method) + " /echo/x HTTP/1.1\r\nHost: t\r\n\r\n");
        EXPECT_EQ(response.status, 405) << method;
    }
    std::string metrics;
    for (int i = 0; i < 100 && metrics.find(R"(method="OTHER",status="405"} 3)") == std::string::npos; ++i) {
        std::this_thread::sleep_for(10ms);
        metrics = registry_.Expose();
    }
    const std::string other = R"(_count{route="unmatched",method="OTHER",status="405"} 3)";
    EXPECT_NE(metrics.find("http_server_request_duration_seconds" + other), std::string::npos) << metrics;
    EXPECT_EQ(metrics.find("A0001"), std::string::npos) << "a client's spelling never becomes a label";
}

TEST_F(ServerTest, ADroppedConnectionIsCountedThoughItHasNoStatus) {
    for (int i = 0; i < 2; ++i) {
        RawConnection raw(server_->Port());
        ASSERT_TRUE(raw.Send("POST /drop HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}"));
        EXPECT_EQ(raw.ReadAll(), "") << "closed without an answer";
    }
    std::string metrics;
    const std::string dropped = R"(http_server_dropped_responses_total{route="/drop",method="POST"} 2)";
    for (int i = 0; i < 100 && metrics.find(dropped) == std::string::npos; ++i) {
        std::this_thread::sleep_for(10ms);
        metrics = registry_.Expose();
    }
    EXPECT_NE(metrics.find(dropped), std::string::npos) << metrics;
    EXPECT_EQ(metrics.find(R"(route="/drop",method="POST",status=)"), std::string::npos)
        << "not in the duration histogram: no status was sent";
}

TEST_F(ServerTest, MalformedHttpIs400) {
    testing::HttpClient client("127.0.0.1", server_->Port());
    auto response = client.SendRaw("GARBAGE\r\n\r\n");
    EXPECT_EQ(response.status, 400);
    EXPECT_EQ(boost::json::parse(response.body).at("code").as_string(), "bad_request");
    EXPECT_EQ(response.Header("x-request-id").size(), 32u) << "a generated one, as for any request";
}

TEST_F(ServerTest, HandlerExceptionIs500WithoutLeakingDetails) {
    testing::HttpClient client("127.0.0.1", server_->Port());
    auto response = client.Request("GET", "/boom");
    EXPECT_EQ(response.status, 500);
    EXPECT_EQ(response.body.find("secret internal detail"), std::string::npos);
    EXPECT_EQ(client.Request("GET", "/echo/ok").status, 200) << "connection and server keep working";
}

TEST_F(ServerTest, KeepAliveServesManyRequestsOnOneConnection) {
    testing::HttpClient client("127.0.0.1", server_->Port());
    for (int i = 0; i < 50; ++i) ASSERT_EQ(client.Request("GET", "/echo/" + std::to_string(i)).status, 200);
    // The server records a request once its response is written, which can be just after the client has read it.
    std::string metrics;
    for (int i = 0; i < 100 && metrics.find("status=\"200\"} 50") == std::string::npos; ++i) {
        std::this_thread::sleep_for(10ms);
        metrics = registry_.Expose();
    }
    EXPECT_NE(metrics.find(R"(http_server_request_duration_seconds_count{route="/echo/{name}",method="GET",status="200"} 50)"),
              std::string::npos)
        << metrics;
}

TEST_F(ServerTest, ShutdownFinishesInFlightRequests) {
    auto slow = std::async(std::launch::async, [this] {
        testing::HttpClient client("127.0.0.1", server_->Port());
        return client.Request("POST", "/slow", "{}");
    });
    while (!slow_started_) std::this_thread::sleep_for(5ms);
    std::promise<void> done;
    asio::post(io_, [&] { server_->Shutdown([&] { done.set_value(); }); });
    auto response = slow.get();
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(response.Header("connection"), "close");
    EXPECT_EQ(done.get_future().wait_for(5s), std::future_status::ready);
    drained_ = true;
    testing::HttpClient late("127.0.0.1", server_->Port());
    EXPECT_ANY_THROW(late.Request("GET", "/echo/x", "", {}, 1s)) << "no new connections after shutdown";
}

}  // namespace
}  // namespace valerix::http

namespace valerix::http {
namespace {

TEST(ServiceSetupTest, TheOpenFilesLimitIsRaisedToTheHardOne) {
    rlimit before{};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &before), 0);
    rlimit low = before;
    low.rlim_cur = std::min<rlim_t>(256, before.rlim_max);  // a shell's or systemd's soft limit, lower still
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
    core::Logger logger("test", core::LogLevel::kError, stderr);
    const auto now = RaiseOpenFileLimit(logger);
    rlimit after{};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &after), 0);
    rlim_t nr_open = rlim_t{1} << 20;
    if (std::ifstream file("/proc/sys/fs/nr_open"); file) file >> nr_open;
    const rlim_t expected = before.rlim_max == RLIM_INFINITY ? nr_open : before.rlim_max;
    EXPECT_EQ(after.rlim_cur, expected);
    EXPECT_EQ(now, expected);
    EXPECT_EQ(RaiseOpenFileLimit(logger), now) << "a second call changes nothing";
    ::setrlimit(RLIMIT_NOFILE, &before);
}

}  // namespace
}  // namespace valerix::http
