#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <valerix/core/clock.hpp>
#include <valerix/core/deadline.hpp>
#include <valerix/http/message.hpp>

namespace valerix::http {

struct ClientConfig {
    std::string host = "127.0.0.1";  ///< IP address or DNS name (resolved, within the deadline, per new connection)
    unsigned short port = 0;
    /// Open connections at most; further calls wait (until their deadline) for one.
    std::size_t max_connections = 64;
    /// Limit for opening one connection, capped by the call's deadline.
    std::chrono::milliseconds connect_timeout{1000};
    /// Idle keep-alive connections older than this are closed, not reused. Must stay below the server's idle timeout
    /// (60 s for valerix::http::Server) so that we close first.
    std::chrono::milliseconds idle_timeout{30000};
    /// Send X-Valerix-Deadline-Ms (kDeadlineHeader) with each call's remaining budget. Service-to-service calls do;
    /// a client of the public API (the scenario runner) does not, like a browser.
    bool propagate_deadline = true;
};

struct ClientRequest {
    std::string method;  ///< "GET", "POST", ...
    std::string target;  ///< origin-form, already percent-encoded: "/api/v1/reservations?x=1"
    std::string body;
    Headers headers;  ///< extra headers, any case
};

struct ClientResponse {
    int status = 0;
    std::string body;
    Headers headers;  ///< names lower-case

    /// The first header of that (lower-case) name, or an empty view.
    std::string_view Header(std::string_view lower_name) const;
};

enum class ClientErrorKind {
    kConnect,         ///< could not connect (refused, unreachable, connect_timeout): the request was certainly not sent
    kTimeout,         ///< the deadline passed (connecting, writing, or waiting for the reply)
    kConnectionLost,  ///< the connection broke after the request was (partly) sent: outcome unknown
    kProtocol,        ///< the reply was not valid HTTP (or too large): outcome unknown
    kPoolExhausted,   ///< no connection became free before the deadline: not sent
};

/// "connect", "timeout", "connection_lost", "protocol", "pool_exhausted": for logs and metric labels.
std::string_view ToString(ClientErrorKind kind);

/// A failed call. Decide on retries with RequestMayHaveBeenProcessed(), not with the kind alone: a timeout while
/// still connecting is safe to retry, one while waiting for the reply is not (unless the request is idempotent).
struct ClientError {
    ClientErrorKind kind = ClientErrorKind::kConnect;
    std::string message;
    /// False when the call failed before any byte of the request was written. The client sets it for every error;
    /// the default keeps a hand-made ClientError{kind, message} (fakes in tests) conservative.
    bool request_written = true;

    /// False when the server certainly never saw the request (kConnect, kPoolExhausted, or a timeout before any byte
    /// was written), so retrying cannot apply it twice; true when the outcome is unknown.
    bool RequestMayHaveBeenProcessed() const;
};

/// Lets boost::system::result<T, ClientError>::value() throw (std::runtime_error) on error.
[[noreturn]] void throw_exception_from_error(const ClientError& error, const boost::source_location& location);

/// A pooled keep-alive HTTP/1.1 client for service-to-service calls to one host:port, on Beast with C++20 coroutines.
///
/// Every call is bounded by its deadline: resolving, connecting, waiting for a free connection, writing and reading
/// never block the I/O thread and never outlive it. A connection goes back to the pool only when its response was
/// read completely and keep-alive holds; on timeout or error it is closed. The pool keeps no timer of its own (idle
/// connections are checked when a call needs one), so it never keeps io_context::run() from returning.
///
/// Not thread-safe: create, call and destroy it on the thread that runs the io_context. Calls in flight keep the
/// pool's state alive, so destroying the Client (which closes it) before they finish is safe.
class Client {
  public:
    /// Throws std::invalid_argument for an invalid configuration (empty host, port 0, max_connections 0, ...).
    Client(boost::asio::io_context& io, ClientConfig config, const core::Clock& clock);
    /// Closes the pool (see Close); calls in flight finish on their own.
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    /// Sends one request and reads its reply before `deadline`. Adds Host unless given, Content-Length, Content-Type:
    /// application/json when a body is present and none is given, and X-Valerix-Deadline-Ms (kDeadlineHeader) with
    /// the remaining budget in whole milliseconds when the deadline is finite and propagate_deadline is set (replacing
    /// one the caller gave).
    ///
    /// Never retries by itself (the caller's retry policy decides), except that a reused idle connection found
    /// already closed by the peer before anything was written is discarded and another one used. Any HTTP status is
    /// a response, not an error. Throws std::invalid_argument for a malformed method, target or header (CR, LF, ...).
    boost::asio::awaitable<boost::system::result<ClientResponse, ClientError>> Send(ClientRequest request,
                                                                                    core::Deadline deadline);

    /// Connections open now: in use, being opened, or idle.
    std::size_t Open() const;
    /// Idle keep-alive connections.
    std::size_t Idle() const;
    /// Calls waiting now for a connection to become free (all max_connections in use).
    std::size_t Waiting() const;

    /// Closes idle connections and fails new calls (and calls waiting for a connection) with kConnect. Calls already
    /// on a connection finish; their connection is closed afterwards.
    void Close();

  private:
    class Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace valerix::http
