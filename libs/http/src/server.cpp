#include <valerix/http/server.hpp>

#include <array>
#include <charconv>
#include <list>
#include <memory>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>

namespace valerix::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

bool IsHex(std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) && !std::isupper(static_cast<unsigned char>(c)); });
}

/// The method as a metric label: one of HTTP's methods, else OTHER. Beast accepts any token as a method, and a label
/// taken from the request line would let a client make series without end (17 per value in the histogram).
std::string MethodLabel(std::string_view method) {
    for (std::string_view known : {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"}) {
        if (method == known) return std::string(known);
    }
    return "OTHER";
}

bool ValidRequestId(std::string_view id) {
    if (id.empty() || id.size() > 128) return false;
    return std::all_of(id.begin(), id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == ':';
    });
}

/// Trace id of a valid version-00 W3C traceparent ("00-<32 hex>-<16 hex>-<2 hex>"), else empty.
std::string_view TraceIdOf(std::string_view traceparent) {
    if (traceparent.size() != 55 || traceparent.substr(0, 3) != "00-" || traceparent[35] != '-' ||
        traceparent[52] != '-') {
        return {};
    }
    auto trace_id = traceparent.substr(3, 32);
    if (!IsHex(trace_id) || !IsHex(traceparent.substr(36, 16)) || !IsHex(traceparent.substr(53, 2)) ||
        trace_id == std::string(32, '0')) {
        return {};
    }
    return trace_id;
}

/// The time limit of reading one request. Beast's own stream timeout closes the socket, which leaves no way to answer
/// a client that sent part of a request and stalled; this one cancels the reads instead, so the server can still
/// send a 408 (RFC 9110 §15.5.9) before it closes. One per connection, and cheap per request: Arm and Finish only
/// note when the current read must end. The timer has one wait at a time, aimed at the limit of the request that
/// started it; when it fires early for a later request (each limit is later than the one before: the same length,
/// started later) it waits again, and it touches the socket only when a read is still going past its limit.
class ReadDeadline : public std::enable_shared_from_this<ReadDeadline> {
public:
    ReadDeadline(const asio::any_io_executor& executor, beast::tcp_stream& stream)
        : timer_(executor), stream_(&stream) {}

    void Arm(std::chrono::milliseconds limit) {
        until_ = std::chrono::steady_clock::now() + limit;
        reading_ = true;
        expired_ = false;
        if (!waiting_) Wait();
    }
    /// The request was read, or its reading failed.
    void Finish() { reading_ = false; }
    /// Before the stream goes away: no later completion touches it.
    void Close() {
        stream_ = nullptr;
        reading_ = false;
        timer_.cancel();
    }
    bool Expired() const { return expired_; }

private:
    void Wait() {
        waiting_ = true;
        timer_.expires_at(until_);
        timer_.async_wait([self = shared_from_this()](error_code ec) { self->Fired(ec); });
    }
    void Fired(error_code ec) {
        waiting_ = false;
        if (ec || stream_ == nullptr || !reading_) return;
        if (std::chrono::steady_clock::now() < until_) return Wait();  // a later request is being read
        expired_ = true;
        error_code ignored;
        stream_->socket().cancel(ignored);
    }

    asio::steady_timer timer_;
    beast::tcp_stream* stream_;
    std::chrono::steady_clock::time_point until_{};
    bool reading_ = false;
    bool waiting_ = false;
    bool expired_ = false;
};

}  // namespace

class Server::Impl {
public:
    Impl(asio::io_context& io, ServerConfig config, const Router& router, core::Logger& logger,
         metrics::Registry& registry, core::Random& random, const core::Clock& clock)
        : io_(io),
          config_(std::move(config)),
          router_(router),
          logger_(logger),
          random_(random),
          clock_(clock),
          acceptor_(io),
          grace_timer_(io),
          duration_(registry.AddHistogram("http_server_request_duration_seconds",
                                          "Time from a request's first byte to its response being written.",
                                          {"route", "method", "status"}, metrics::DefaultLatencyBuckets())),
          dropped_(registry.AddCounter("http_server_dropped_responses_total",
                                       "Requests whose connection was closed without an answer (chaos drop_connection).",
                                       {"route", "method"})),
          in_flight_(registry.AddGauge("http_server_requests_in_flight", "Requests being handled now.")
                         .WithLabels({})),
          connections_(registry.AddGauge("http_server_open_connections", "Open client connections.").WithLabels({})) {}

    void Start() {
        tcp::endpoint endpoint(asio::ip::make_address(config_.host), config_.port);
        acceptor_.open(endpoint.protocol());
        acceptor_.set_option(tcp::acceptor::reuse_address(true));
        acceptor_.bind(endpoint);
        acceptor_.listen(asio::socket_base::max_listen_connections);
        port_ = acceptor_.local_endpoint().port();
        asio::co_spawn(io_, Accept(), [this](std::exception_ptr error) { LogFailure("accept loop", error); });
        logger_.Info("listening", {{"host", config_.host}, {"port", port_}});
    }

    unsigned short Port() const { return port_; }

    void Shutdown(std::function<void()> on_drained) {
        if (draining_) return;
        draining_ = true;
        on_drained_ = std::move(on_drained);
        error_code ignored;
        acceptor_.close(ignored);
        logger_.Info("shutting down: draining connections", {{"open_connections", sessions_.size()}});
        for (auto& session : sessions_) {
            if (!session.busy) session.stream->socket().cancel(ignored);
        }
        grace_timer_.expires_after(config_.shutdown_grace);
        grace_timer_.async_wait([this](error_code ec) {
            if (ec) return;
            logger_.Warn("shutdown grace period over: closing remaining connections",
                         {{"open_connections", sessions_.size()}});
            error_code ignored;
            for (auto& session : sessions_) session.stream->socket().close(ignored);
        });
        MaybeDrained();
    }

private:
    struct Session {
        beast::tcp_stream* stream;
        bool busy = false;
    };

    void LogFailure(std::string_view what, std::exception_ptr error) {
        if (!error) return;
        try {
            std::rethrow_exception(error);
        } catch (const std::exception& e) {
            logger_.Error("unexpected failure", {{"where", what}, {"error", e.what()}});
        }
    }

    void MaybeDrained() {
        if (!draining_ || !sessions_.empty() || !on_drained_) return;
        grace_timer_.cancel();
        auto callback = std::move(on_drained_);
        on_drained_ = nullptr;
        logger_.Info("all connections drained");
        callback();
    }

    asio::awaitable<void> Accept() {
        for (;;) {
            error_code ec;
            tcp::socket socket = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
            if (ec) {
                if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
                logger_.Warn("accept failed", {{"error", ec.message()}});
                // Out of file descriptors and similar: back off instead of spinning.
                asio::steady_timer pause(io_, std::chrono::milliseconds(50));
                co_await pause.async_wait(asio::use_awaitable);
                continue;
            }
            socket.set_option(tcp::no_delay(true), ec);
            asio::co_spawn(io_, RunSession(std::move(socket)),
                           [this](std::exception_ptr error) { LogFailure("session", error); });
        }
    }

    asio::awaitable<void> RunSession(tcp::socket socket) {
        beast::tcp_stream stream(std::move(socket));
        auto self = sessions_.insert(sessions_.end(), Session{&stream});
        connections_.Add(1);
        struct Cleanup {
            Impl* impl;
            std::list<Session>::iterator self;
            ~Cleanup() {
                impl->connections_.Sub(1);
                impl->sessions_.erase(self);
                impl->MaybeDrained();
            }
        } cleanup{this, self};

        beast::flat_buffer buffer;
        error_code ec;
        auto deadline = std::make_shared<ReadDeadline>(stream.get_executor(), stream);
        struct CloseDeadline {
            ReadDeadline& deadline;
            ~CloseDeadline() { deadline.Close(); }
        } close_deadline{*deadline};
        while (!draining_) {
            if (buffer.size() == 0) {
                stream.expires_after(config_.idle_timeout);
                std::size_t n = co_await stream.async_read_some(buffer.prepare(4096),
                                                                asio::redirect_error(asio::use_awaitable, ec));
                if (ec) break;
                buffer.commit(n);
            }
            self->busy = true;
            auto started = clock_.Now();
            bhttp::request_parser<bhttp::string_body> parser;
            parser.body_limit(config_.body_limit);
            parser.header_limit(16 * 1024);
            // Beast's timeout stays as a backstop a little later: a cancel that finds no read pending (the timer
            // ran between two reads of Beast's composed read) cannot leave the connection reading for good.
            stream.expires_after(config_.read_timeout + std::chrono::seconds(2));
            deadline->Arm(config_.read_timeout);
            co_await bhttp::async_read_header(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
            // A Transfer-Encoding other than chunked (last), or on HTTP/1.0, leaves the body's length unknown: Beast
            // would read no body and take the body as the next request. RFC 9112 §6.3: 400, then close.
            if (!ec && parser.get().count(bhttp::field::transfer_encoding) > 0 &&
                (!parser.chunked() || parser.get().version() < 11)) {
                ec = bhttp::error::bad_transfer_encoding;
            }
            if (!ec && beast::iequals(parser.get()[bhttp::field::expect], "100-continue") && !parser.is_done()) {
                bhttp::response<bhttp::empty_body> proceed{bhttp::status::continue_, 11};
                co_await bhttp::async_write(stream, proceed, asio::redirect_error(asio::use_awaitable, ec));
            }
            if (!ec && !parser.is_done()) {
                co_await bhttp::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
            }
            deadline->Finish();
            if (ec) {
                if (auto problem = deadline->Expired() ? RequestTimeout() : ProtocolProblem(ec)) {
                    // Named locals, not temporaries: g++ 12 mishandles temporaries bound to coroutine parameters.
                    // Every response carries X-Request-Id (DESIGN.md §4): the client's, when its header was read
                    // (a body too large comes after the headers), else a new one.
                    RequestContext no_context;
                    no_context.request_id = RequestIdFor(parser.get()["x-request-id"]);
                    std::string route = "unmatched", method = "UNKNOWN";
                    co_await Write(stream, *problem, 11, false, no_context, started, route, method);
                    co_await Linger(stream);
                }
                break;
            }
            auto raw = parser.release();
            bool keep_alive = raw.keep_alive();
            Request request;
            RequestContext context;
            // Kept out of a conditional expression: g++ 12 miscompiles co_await inside ?:.
            Response response;
            if (auto early = Convert(raw, request, context)) {
                response = std::move(*early);
            } else {
                response = co_await Dispatch(request, context);
            }
            if (response.drop_connection) {
                // No status to file it under in the duration histogram, so a counter of its own: the error-ratio
                // alert adds these to the 5xx answers (deploy/prometheus/rules).
                dropped_.WithLabels({context.route, MethodLabel(request.method)}).Inc();
                logger_.Warn("request left without an answer: connection dropped",
                             {{"request_id", context.request_id}, {"trace_id", context.trace_id},
                              {"route", context.route}});
                break;
            }
            if (response.stream && request.method != "HEAD") {
                co_await Stream(stream, response, raw.version(), context, started);
                break;
            }
            keep_alive = keep_alive && !draining_;
            ec = co_await Write(stream, response, raw.version(), keep_alive, context, started, context.route,
                                request.method);
            self->busy = false;
            if (ec || !keep_alive) break;
        }
        stream.socket().shutdown(tcp::socket::shutdown_send, ec);
        stream.socket().close(ec);
    }

    /// After answering a request whose body was not read (too large, malformed): stops sending, then reads and drops
    /// what the client still sends, for up to 2 s. Closing with unread input makes the kernel reset the connection,
    /// and a client that sends its whole body before reading (most do) would see the reset, not the answer.
    asio::awaitable<void> Linger(beast::tcp_stream& stream) {
        error_code ec;
        stream.socket().shutdown(tcp::socket::shutdown_send, ec);
        if (ec) co_return;
        stream.expires_after(std::chrono::seconds(2));
        std::array<char, 64 * 1024> sink;
        while (!ec) {  // until the client closes (EOF), the time is up, or the server stops
            co_await stream.async_read_some(asio::buffer(sink), asio::redirect_error(asio::use_awaitable, ec));
        }
    }

    /// A request that began but did not arrive whole within the read timeout (a body shorter than its
    /// Content-Length, headers without their blank line).
    std::optional<Response> RequestTimeout() const {
        return Problem(408, "request_timeout", "Request timeout",
                       "the request did not arrive whole within " + std::to_string(config_.read_timeout.count()) +
                           " ms of its start (a body shorter than its Content-Length?)");
    }

    /// The problem to answer for a request that could not be read, or nullopt to just close.
    static std::optional<Response> ProtocolProblem(error_code ec) {
        if (ec == bhttp::error::body_limit) {
            return Problem(413, "body_too_large", "Request body too large",
                           "request bodies are limited to " + std::to_string(kMaxBodyBytes) + " bytes");
        }
        if (ec == bhttp::error::header_limit) {
            return Problem(431, "headers_too_large", "Request headers too large", "request headers are limited to 16 KiB");
        }
        if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
            ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
            return Problem(400, "bad_request", "Malformed HTTP request", ec.message());
        }
        return std::nullopt;  // peer closed, timed out, or cancelled by shutdown
    }

    /// The request id of an answer: the client's X-Request-Id when it is one we accept, else a new one.
    std::string RequestIdFor(std::string_view given) {
        return ValidRequestId(given) ? std::string(given) : core::RandomHex(random_, 16);
    }

    /// Fills `request` and `context`; returns a response when the request cannot be dispatched at all.
    std::optional<Response> Convert(bhttp::request<bhttp::string_body>& raw, Request& request,
                                    RequestContext& context) {
        request.method = std::string(raw.method_string());
        for (const auto& field : raw) {
            request.headers.emplace_back(LowerCase(field.name_string()), std::string(field.value()));
        }
        request.body = std::move(raw.body());

        context.request_id = RequestIdFor(request.Header("x-request-id"));
        auto trace_id = TraceIdOf(request.Header("traceparent"));
        context.trace_id = trace_id.empty() ? core::RandomHex(random_, 16) : std::string(trace_id);
        context.traceparent = "00-" + context.trace_id + "-" + core::RandomHex(random_, 8) + "-01";

        auto target = boost::urls::parse_origin_form(raw.target());
        if (!target) {
            context.route = "unmatched";
            return Problem(400, "bad_request", "Malformed request target", "the request target is not a valid path");
        }
        request.target = std::string(raw.target());
        request.path = std::string(target->path());
        request.query = std::string(target->encoded_query());

        if (auto budget = request.Header(kDeadlineHeader); !budget.empty()) {
            long long ms = 0;
            auto [end, err] = std::from_chars(budget.data(), budget.data() + budget.size(), ms);
            if (err == std::errc() && end == budget.data() + budget.size() && ms >= 0) {
                // Beyond a day counts as a day: milliseconds near LLONG_MAX overflow once added to a time point, and
                // a deadline wrapped into the past would answer every call 504.
                constexpr long long kLongestBudgetMs = 24LL * 3600 * 1000;
                context.deadline =
                    core::Deadline::After(clock_, std::chrono::milliseconds(std::min(ms, kLongestBudgetMs)));
            }
        }
        return std::nullopt;
    }

    asio::awaitable<Response> Dispatch(const Request& request, RequestContext& context) {
        // The target's path as sent (the server checked its form), so that an encoded '/' stays in its segment.
        const std::string_view target = request.target;
        auto match = router_.Find(request.method, target.substr(0, target.find('?')));
        context.route = match.route;
        if (match.handler == nullptr) {
            if (match.path_known) {
                Response response = Problem(405, "method_not_allowed", "Method not allowed",
                                            request.method + " is not allowed on " + request.path);
                response.headers.emplace_back("allow", match.allow);
                co_return response;
            }
            co_return Problem(404, "not_found", "Not found", "no resource at " + request.path);
        }
        context.params = std::move(match.params);
        in_flight_.Add(1);
        struct InFlight {
            metrics::Gauge& gauge;
            ~InFlight() { gauge.Sub(1); }
        } in_flight{in_flight_};
        try {
            co_return co_await (*match.handler)(request, context);
        } catch (const std::exception& e) {
            logger_.Error("request failed", {{"request_id", context.request_id},
                                             {"trace_id", context.trace_id},
                                             {"route", context.route},
                                             {"error", e.what()}});
        }
        co_return Problem(500, "internal_error", "Internal server error",
                          "the request could not be completed; request id " + context.request_id);
    }

    /// Sends the headers, then each chunk of response.stream until it ends, the client leaves, or we drain.
    asio::awaitable<void> Stream(beast::tcp_stream& stream, const Response& response, unsigned version,
                                 const RequestContext& context, core::Clock::TimePoint started) {
        bhttp::response<bhttp::empty_body> head{static_cast<bhttp::status>(response.status), version};
        head.reason(ReasonPhrase(response.status));
        head.set(bhttp::field::content_type, response.content_type);
        head.set(bhttp::field::cache_control, "no-cache");
        head.set("X-Request-Id", context.request_id);
        for (const auto& [name, value] : response.headers) head.set(name, value);
        head.keep_alive(false);
        bhttp::response_serializer<bhttp::empty_body> serializer(head);
        error_code ec;
        stream.expires_after(config_.read_timeout);
        co_await bhttp::async_write_header(stream, serializer, asio::redirect_error(asio::use_awaitable, ec));
        duration_.WithLabels({context.route, "GET", std::to_string(response.status)})
            .Observe(std::chrono::duration<double>(clock_.Now() - started).count());
        while (!ec && !draining_) {
            auto chunk = co_await response.stream->Next();
            if (!chunk || draining_) break;
            stream.expires_after(config_.read_timeout);
            co_await asio::async_write(stream, asio::buffer(*chunk), asio::redirect_error(asio::use_awaitable, ec));
        }
    }

    asio::awaitable<error_code> Write(beast::tcp_stream& stream, const Response& response, unsigned version,
                                      bool keep_alive, const RequestContext& context, core::Clock::TimePoint started,
                                      const std::string& route, const std::string& method) {
        bhttp::response<bhttp::string_body> out{static_cast<bhttp::status>(response.status), version};
        out.reason(ReasonPhrase(response.status));
        out.set(bhttp::field::content_type, response.content_type);
        if (!context.request_id.empty()) out.set("X-Request-Id", context.request_id);
        for (const auto& [name, value] : response.headers) out.set(name, value);
        out.body() = response.body;
        out.keep_alive(keep_alive);
        out.prepare_payload();
        error_code ec;
        stream.expires_after(config_.read_timeout);
        if (method == "HEAD") {
            // The headers a GET would get, Content-Length included, and no body: a body here would be read as the
            // start of the next response on a kept-alive connection.
            bhttp::response_serializer<bhttp::string_body> header_only{out};
            co_await bhttp::async_write_header(stream, header_only, asio::redirect_error(asio::use_awaitable, ec));
        } else {
            co_await bhttp::async_write(stream, out, asio::redirect_error(asio::use_awaitable, ec));
        }
        auto elapsed = clock_.Now() - started;
        double seconds = std::chrono::duration<double>(elapsed).count();
        if (config_.on_request) config_.on_request(route, response.status, elapsed);
        duration_.WithLabels({route, MethodLabel(method), std::to_string(response.status)}).Observe(seconds);
        if (response.status >= 500) {
            logger_.Warn("request answered with a server error",
                         {{"request_id", context.request_id}, {"trace_id", context.trace_id}, {"route", route},
                          {"status", response.status}, {"duration_ms", seconds * 1000}});
        } else if (logger_.Enabled(core::LogLevel::kDebug)) {
            logger_.Debug("request", {{"request_id", context.request_id}, {"trace_id", context.trace_id},
                                      {"route", route}, {"method", method}, {"status", response.status},
                                      {"duration_ms", seconds * 1000}});
        }
        co_return ec;
    }

    asio::io_context& io_;
    ServerConfig config_;
    const Router& router_;
    core::Logger& logger_;
    core::Random& random_;
    const core::Clock& clock_;
    tcp::acceptor acceptor_;
    asio::steady_timer grace_timer_;
    metrics::Family<metrics::Histogram>& duration_;
    metrics::Family<metrics::Counter>& dropped_;
    metrics::Gauge& in_flight_;
    metrics::Gauge& connections_;
    unsigned short port_ = 0;
    std::list<Session> sessions_;
    bool draining_ = false;
    std::function<void()> on_drained_;
};

Server::Server(asio::io_context& io, ServerConfig config, const Router& router, core::Logger& logger,
               metrics::Registry& registry, core::Random& random, const core::Clock& clock)
    : impl_(std::make_unique<Impl>(io, std::move(config), router, logger, registry, random, clock)) {}

Server::~Server() = default;

void Server::Start() { impl_->Start(); }
unsigned short Server::Port() const { return impl_->Port(); }
void Server::Shutdown(std::function<void()> on_drained) { impl_->Shutdown(std::move(on_drained)); }

}  // namespace valerix::http
