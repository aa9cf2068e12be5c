#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include <valerix/core/clock.hpp>
#include <valerix/core/logging.hpp>
#include <valerix/core/random.hpp>
#include <valerix/http/router.hpp>
#include <valerix/metrics/registry.hpp>

namespace valerix::http {

struct ServerConfig {
    std::string host = "127.0.0.1";
    unsigned short port = 0;  ///< 0 picks a free port (tests)
    std::chrono::milliseconds read_timeout{10000};   ///< to read one whole request once it has started
    std::chrono::milliseconds idle_timeout{60000};   ///< keep-alive connection with no request
    std::chrono::milliseconds shutdown_grace{10000}; ///< in-flight requests get this long after SIGTERM
    std::size_t body_limit = kMaxBodyBytes;
    /// Called for every answered request with its route template, status and duration (e.g. a rolling latency
    /// view); runs on the I/O thread, must be cheap.
    std::function<void(const std::string& route, int status, std::chrono::nanoseconds duration)> on_request;
};

/// HTTP/1.1 server on Beast with C++20 coroutines: keep-alive, body limit (413), read and idle timeouts,
/// problem+json for protocol errors, X-Request-Id and traceparent handling, RED metrics per route template, and
/// graceful shutdown. Runs on one io_context driven by one thread; handlers run on that thread and must not block.
class Server {
public:
    Server(boost::asio::io_context& io, ServerConfig config, const Router& router, core::Logger& logger,
           metrics::Registry& registry, core::Random& random, const core::Clock& clock);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    /// Binds and starts accepting. Throws std::system_error when the address cannot be bound.
    void Start();
    /// The bound port (after Start).
    unsigned short Port() const;
    /// Stops accepting, lets in-flight requests finish (up to shutdown_grace), closes idle connections, then calls
    /// `on_drained` once on the io_context's thread.
    void Shutdown(std::function<void()> on_drained);

private:
    class Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace valerix::http
