#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cctype>
#include <cerrno>
#include <deque>
#include <limits>
#include <list>
#include <optional>
#include <stdexcept>
#include <valerix/http/client.hpp>
#include <vector>

namespace valerix::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

constexpr std::uint64_t kMaxResponseBodyBytes = 8 * 1024 * 1024;
constexpr std::uint32_t kMaxResponseHeaderBytes = 64 * 1024;

ClientError Failure(ClientErrorKind kind, bool request_written, std::string message) {
    return ClientError{kind, std::move(message), request_written};
}

/// RFC 9110 token: method names and header field names.
bool IsToken(std::string_view text) {
    static constexpr std::string_view kSpecials = "!#$%&'*+-.^_`|~";
    return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || kSpecials.find(c) != std::string_view::npos;
    });
}

/// Rejects what would let a caller's value split the request (header or request smuggling).
void Validate(const ClientRequest& request) {
    if (!IsToken(request.method)) throw std::invalid_argument("invalid HTTP method: '" + request.method + "'");
    bool target_ok = !request.target.empty() && std::none_of(request.target.begin(), request.target.end(), [](char c) {
        return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
    });
    if (!target_ok) throw std::invalid_argument("invalid HTTP request target: '" + request.target + "'");
    for (const auto& [name, value] : request.headers) {
        bool value_ok = std::none_of(value.begin(), value.end(), [](char c) {
            return (static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f;
        });
        if (!IsToken(name) || !value_ok) throw std::invalid_argument("invalid HTTP header '" + name + "'");
    }
}

bool IsHttpError(error_code ec) {
    return ec.category() == bhttp::make_error_code(bhttp::error::end_of_stream).category();
}

}  // namespace

class Client::Impl {
  public:
    using Result = boost::system::result<ClientResponse, ClientError>;

    Impl(asio::io_context& io, ClientConfig config, const core::Clock& clock)
        : io_(io), config_(std::move(config)), clock_(clock) {
        if (config_.host.empty()) throw std::invalid_argument("http client: host must not be empty");
        if (config_.port == 0) throw std::invalid_argument("http client: port must not be 0");
        if (config_.max_connections == 0) throw std::invalid_argument("http client: max_connections must be > 0");
        if (config_.connect_timeout <= std::chrono::milliseconds::zero()) {
            throw std::invalid_argument("http client: connect_timeout must be > 0");
        }
        if (config_.idle_timeout < std::chrono::milliseconds::zero()) {
            throw std::invalid_argument("http client: idle_timeout must not be negative");
        }
        error_code ec;
        auto address = asio::ip::make_address(config_.host, ec);
        if (!ec) address_ = address;
        bool ipv6_literal = address_ && address_->is_v6();
        host_header_ = (ipv6_literal ? "[" + config_.host + "]" : config_.host) + ":" + std::to_string(config_.port);
        authority_ = host_header_;
    }

    ~Impl() { Close(); }

    /// A coroutine of its own holding `self`, so that the pool outlives every call in flight.
    static asio::awaitable<Result> Send(std::shared_ptr<Impl> self, ClientRequest request, core::Deadline deadline) {
        co_return co_await self->Call(std::move(request), deadline);
    }

    std::size_t Open() const { return open_; }
    std::size_t Idle() const { return idle_.size(); }
    std::size_t Waiting() const { return waiters_.size(); }

    void Close() {
        closed_ = true;
        for (auto& connection : idle_) CloseSocket(*connection);
        open_ -= idle_.size();
        idle_.clear();
        auto waiters = std::move(waiters_);
        waiters_.clear();
        for (auto* waiter : waiters) {
            waiter->woken = true;
            waiter->timer.cancel();
        }
    }

  private:
    struct Connection {
        explicit Connection(asio::io_context& io) : stream(io) {}
        beast::tcp_stream stream;
        beast::flat_buffer buffer;
        core::Clock::TimePoint idle_since{};
    };

    /// A call waiting for a free connection. It is in waiters_ exactly while `woken` is false.
    struct Waiter {
        asio::steady_timer timer;
        std::unique_ptr<Connection> handed;  ///< set by Release; empty when woken because a slot was freed
        bool woken = false;
    };

    /// A connection on loan to one call: closed (freeing its slot) on destruction unless given back with Return.
    class Lease {
      public:
        Lease(Impl* pool, std::unique_ptr<Connection> connection, bool reused)
            : pool_(pool), connection_(std::move(connection)), reused_(reused) {}
        Lease(Lease&& other) noexcept
            : pool_(std::exchange(other.pool_, nullptr)),
              connection_(std::move(other.connection_)),
              reused_(other.reused_) {}
        Lease& operator=(Lease&&) = delete;
        ~Lease() {
            if (pool_ && connection_) pool_->Discard(std::move(connection_));
        }

        Connection& connection() const { return *connection_; }
        /// True when the connection had served an earlier call.
        bool Reused() const { return reused_; }
        /// Gives the connection back for reuse.
        void Return() {
            pool_->Release(std::move(connection_));
            pool_ = nullptr;
        }

      private:
        Impl* pool_;
        std::unique_ptr<Connection> connection_;
        bool reused_;
    };

    asio::awaitable<Result> Call(ClientRequest request, core::Deadline deadline) {
        if (closed_) co_return Failure(ClientErrorKind::kConnect, false, "the HTTP client is closed");
        if (deadline.Expired(clock_)) {
            co_return Failure(ClientErrorKind::kTimeout, false, "the deadline had passed before the call");
        }
        bool head = request.method == "HEAD";
        auto message = BuildMessage(std::move(request));
        for (;;) {
            auto lease = co_await Acquire(deadline);
            if (!lease) co_return lease.error();
            Connection& connection = lease->connection();
            if (deadline.IsInfinite()) {
                connection.stream.expires_never();
            } else {
                auto budget_ms = core::RemainingMillis(deadline, clock_, std::numeric_limits<long long>::max());
                if (budget_ms <= 0) {
                    lease->Return();
                    co_return Failure(ClientErrorKind::kTimeout, false, "the deadline passed before sending");
                }
                if (config_.propagate_deadline) {
                    message.set(beast::string_view(kDeadlineHeader.data(), kDeadlineHeader.size()),
                                std::to_string(budget_ms));
                }
                connection.stream.expires_at(deadline.When());
            }

            error_code ec;
            std::size_t written =
                co_await bhttp::async_write(connection.stream, message, asio::redirect_error(asio::use_awaitable, ec));
            if (ec) {
                if (ec == beast::error::timeout) {
                    co_return Failure(ClientErrorKind::kTimeout, written > 0,
                                      "timed out sending the request to " + authority_);
                }
                // The peer closed an idle connection just before we used it: nothing left us, so another connection
                // may carry the request without risk of applying it twice.
                if (written == 0 && lease->Reused()) continue;
                co_return Failure(ClientErrorKind::kConnectionLost, written > 0,
                                  "connection to " + authority_ + " lost while sending: " + ec.message());
            }

            bhttp::response_parser<bhttp::string_body> parser;
            parser.body_limit(kMaxResponseBodyBytes);
            parser.header_limit(kMaxResponseHeaderBytes);
            parser.skip(head);
            co_await bhttp::async_read(connection.stream, connection.buffer, parser,
                                       asio::redirect_error(asio::use_awaitable, ec));
            if (ec) co_return ReadFailure(ec);

            auto raw = parser.release();
            ClientResponse response;
            response.status = static_cast<int>(raw.result_int());
            for (const auto& field : raw) {
                response.headers.emplace_back(LowerCase(field.name_string()), std::string(field.value()));
            }
            response.body = std::move(raw.body());
            // Bytes beyond the response would be a reply to nothing we asked: such a connection is not reused.
            if (raw.keep_alive() && connection.buffer.size() == 0) lease->Return();
            co_return response;
        }
    }

    bhttp::request<bhttp::string_body> BuildMessage(ClientRequest request) const {
        Validate(request);
        bhttp::request<bhttp::string_body> message;
        message.version(11);
        message.method_string(request.method);
        message.target(request.target);
        bool has_host = false;
        bool has_content_type = false;
        for (const auto& [name, value] : request.headers) {
            auto lower = LowerCase(name);
            // Framing follows the body we send, whatever the caller says.
            if (lower == "content-length" || lower == "transfer-encoding") continue;
            has_host = has_host || lower == "host";
            has_content_type = has_content_type || lower == "content-type";
            message.insert(name, value);
        }
        if (!has_host) message.set(bhttp::field::host, host_header_);
        if (!request.body.empty() && !has_content_type) message.set(bhttp::field::content_type, "application/json");
        message.body() = std::move(request.body);
        message.prepare_payload();
        return message;
    }

    ClientError ReadFailure(error_code ec) const {
        if (ec == beast::error::timeout) {
            return Failure(ClientErrorKind::kTimeout, true, "timed out waiting for the response from " + authority_);
        }
        if (!IsHttpError(ec) || ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message) {
            return Failure(ClientErrorKind::kConnectionLost, true,
                           "connection to " + authority_ + " lost before the whole response: " + ec.message());
        }
        return Failure(ClientErrorKind::kProtocol, true,
                       "invalid HTTP response from " + authority_ + ": " + ec.message());
    }

    /// A connection for one call: an idle one still open, a new one while below max_connections, or the next one
    /// released before the deadline.
    asio::awaitable<boost::system::result<Lease, ClientError>> Acquire(core::Deadline deadline) {
        bool waited = false;
        for (;;) {
            if (closed_) co_return Failure(ClientErrorKind::kConnect, false, "the HTTP client is closed");
            if (waited && deadline.Expired(clock_)) {
                WakeForFreeSlot();  // a slot we were woken for goes to the next waiter
                co_return PoolExhausted();
            }
            DropExpiredIdle();
            while (!idle_.empty()) {
                auto connection = std::move(idle_.back());
                idle_.pop_back();
                if (StillUsable(*connection)) co_return Lease(this, std::move(connection), true);
                Discard(std::move(connection));
            }
            if (open_ < config_.max_connections) {
                ++open_;
                auto opened = co_await Connect(deadline);
                if (!opened) {
                    FreeSlot();
                    co_return opened.error();
                }
                co_return Lease(this, std::move(*opened), false);
            }
            if (deadline.Expired(clock_)) co_return PoolExhausted();

            Waiter waiter{asio::steady_timer(io_), nullptr, false};
            waiter.timer.expires_at(deadline.When());
            waiters_.push_back(&waiter);
            struct Unlist {
                Impl* impl;
                std::list<Waiter*>::iterator position;
                Waiter* waiter;
                ~Unlist() {
                    if (!waiter->woken) impl->waiters_.erase(position);
                }
            };
            {
                Unlist unlist{this, std::prev(waiters_.end()), &waiter};
                error_code ec;
                co_await waiter.timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            }
            waited = true;
            if (waiter.handed) {
                // The timer may have fired just as the connection was handed over.
                if (deadline.Expired(clock_)) {
                    Release(std::move(waiter.handed));
                    co_return PoolExhausted();
                }
                if (StillUsable(*waiter.handed)) co_return Lease(this, std::move(waiter.handed), true);
                Discard(std::move(waiter.handed));
                continue;
            }
            if (!waiter.woken) co_return PoolExhausted();
            // Woken because a slot was freed or the client closed: look again.
        }
    }

    ClientError PoolExhausted() const {
        return Failure(ClientErrorKind::kPoolExhausted, false,
                       "no connection to " + authority_ + " became free before the deadline (max_connections " +
                           std::to_string(config_.max_connections) + ")");
    }

    asio::awaitable<boost::system::result<std::unique_ptr<Connection>, ClientError>> Connect(core::Deadline deadline) {
        auto connect_deadline = deadline.Capped(clock_, config_.connect_timeout);
        bool call_deadline_binds = connect_deadline == deadline;
        auto timed_out = [&](std::string_view doing) {
            if (call_deadline_binds) {
                return Failure(ClientErrorKind::kTimeout, false, "the deadline passed while " + std::string(doing));
            }
            return Failure(
                ClientErrorKind::kConnect, false,
                std::string(doing) + " timed out after " + std::to_string(config_.connect_timeout.count()) + " ms");
        };

        std::vector<tcp::endpoint> endpoints;
        if (address_) {
            endpoints.emplace_back(*address_, config_.port);
        } else {
            auto resolved = co_await Resolve(connect_deadline);
            if (resolved.has_error() && resolved.error() == asio::error::timed_out) {
                co_return timed_out("resolving " + config_.host);
            }
            if (!resolved) {
                co_return Failure(ClientErrorKind::kConnect, false,
                                  "cannot resolve " + config_.host + ": " + resolved.error().message());
            }
            endpoints = std::move(*resolved);
        }

        auto connection = std::make_unique<Connection>(io_);
        connection->stream.expires_at(connect_deadline.When());
        error_code ec;
        co_await connection->stream.async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
        if (ec == beast::error::timeout) co_return timed_out("connecting to " + authority_);
        if (ec)
            co_return Failure(ClientErrorKind::kConnect, false,
                              "cannot connect to " + authority_ + ": " + ec.message());
        connection->stream.socket().set_option(tcp::no_delay(true), ec);
        co_return connection;
    }

    /// Resolves the host within `deadline`. Asio resolves on a private thread and cannot abandon a lookup in
    /// progress, so the call stops waiting at the deadline and the lookup finishes on its own.
    asio::awaitable<boost::system::result<std::vector<tcp::endpoint>>> Resolve(core::Deadline deadline) {
        struct Lookup {
            explicit Lookup(asio::io_context& io) : resolver(io) {}
            tcp::resolver resolver;
            asio::steady_timer* waiter = nullptr;
            bool done = false;
            error_code ec;
            std::vector<tcp::endpoint> endpoints;
        };
        auto lookup = std::make_shared<Lookup>(io_);
        asio::steady_timer timer(io_);
        timer.expires_at(deadline.When());
        lookup->waiter = &timer;
        struct Forget {
            Lookup& lookup;
            ~Forget() { lookup.waiter = nullptr; }
        };
        lookup->resolver.async_resolve(config_.host, std::to_string(config_.port), tcp::resolver::numeric_service,
                                       [lookup](error_code ec, const tcp::resolver::results_type& results) {
                                           lookup->done = true;
                                           lookup->ec = ec;
                                           for (const auto& entry : results)
                                               lookup->endpoints.push_back(entry.endpoint());
                                           if (lookup->waiter) lookup->waiter->cancel();
                                       });
        {
            Forget forget{*lookup};
            error_code ignored;
            co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
        }
        if (!lookup->done) {
            lookup->resolver.cancel();
            co_return error_code(asio::error::timed_out);
        }
        if (lookup->ec) co_return lookup->ec;
        if (lookup->endpoints.empty()) co_return error_code(asio::error::host_not_found);
        co_return std::move(lookup->endpoints);
    }

    /// False when the peer closed the idle connection (or sent something unasked, such as a 408): then it must not
    /// carry a request.
    static bool StillUsable(Connection& connection) {
        auto& socket = connection.stream.socket();
        if (connection.buffer.size() != 0 || !socket.is_open()) return false;
        char byte;
        ssize_t n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }

    void DropExpiredIdle() {
        auto now = clock_.Now();
        // idle_ is ordered by idle_since: the oldest at the front.
        while (!idle_.empty() && now - idle_.front()->idle_since >= config_.idle_timeout) {
            auto connection = std::move(idle_.front());
            idle_.pop_front();
            Discard(std::move(connection));
        }
    }

    /// Takes back a connection whose response was read completely and which keep-alive allows to reuse.
    void Release(std::unique_ptr<Connection> connection) {
        if (closed_) {
            Discard(std::move(connection));
            return;
        }
        connection->idle_since = clock_.Now();
        if (!waiters_.empty()) {
            Waiter* waiter = waiters_.front();
            waiters_.pop_front();
            waiter->woken = true;
            waiter->handed = std::move(connection);
            waiter->timer.cancel();
            return;
        }
        DropExpiredIdle();
        idle_.push_back(std::move(connection));
    }

    /// Closes a connection that must not be reused and frees its slot.
    void Discard(std::unique_ptr<Connection> connection) {
        CloseSocket(*connection);
        connection.reset();
        FreeSlot();
    }

    void FreeSlot() {
        --open_;
        WakeForFreeSlot();
    }

    void WakeForFreeSlot() {
        if (waiters_.empty()) return;
        Waiter* waiter = waiters_.front();
        waiters_.pop_front();
        waiter->woken = true;
        waiter->timer.cancel();
    }

    static void CloseSocket(Connection& connection) {
        error_code ignored;
        connection.stream.socket().close(ignored);
    }

    asio::io_context& io_;
    ClientConfig config_;
    const core::Clock& clock_;
    std::optional<asio::ip::address> address_;  ///< set when the host is an IP literal: no lookup needed
    std::string host_header_;
    std::string authority_;  ///< host:port for messages
    std::deque<std::unique_ptr<Connection>> idle_;
    std::list<Waiter*> waiters_;
    std::size_t open_ = 0;
    bool closed_ = false;
};

std::string_view ClientResponse::Header(std::string_view lower_name) const {
    for (const auto& [name, value] : headers) {
        if (name == lower_name) return value;
    }
    return {};
}

std::string_view ToString(ClientErrorKind kind) {
    switch (kind) {
        case ClientErrorKind::kConnect:
            return "connect";
        case ClientErrorKind::kTimeout:
            return "timeout";
        case ClientErrorKind::kConnectionLost:
            return "connection_lost";
        case ClientErrorKind::kProtocol:
            return "protocol";
        case ClientErrorKind::kPoolExhausted:
            return "pool_exhausted";
    }
    return "unknown";
}

bool ClientError::RequestMayHaveBeenProcessed() const {
    if (kind == ClientErrorKind::kConnect || kind == ClientErrorKind::kPoolExhausted) return false;
    return request_written;
}

void throw_exception_from_error(const ClientError& error, const boost::source_location&) {
    throw std::runtime_error("http client error (" + std::string(ToString(error.kind)) + "): " + error.message);
}

Client::Client(asio::io_context& io, ClientConfig config, const core::Clock& clock)
    : impl_(std::make_shared<Impl>(io, std::move(config), clock)) {}

Client::~Client() { impl_->Close(); }

asio::awaitable<boost::system::result<ClientResponse, ClientError>> Client::Send(ClientRequest request,
                                                                                 core::Deadline deadline) {
    return Impl::Send(impl_, std::move(request), deadline);
}

std::size_t Client::Open() const { return impl_->Open(); }
std::size_t Client::Idle() const { return impl_->Idle(); }
std::size_t Client::Waiting() const { return impl_->Waiting(); }
void Client::Close() { impl_->Close(); }

}  // namespace valerix::http
