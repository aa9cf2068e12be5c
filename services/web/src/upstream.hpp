#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <valerix/core/clock.hpp>
#include <valerix/http/client.hpp>
#include <valerix/http/message.hpp>

namespace valerix::web {

/// One service behind the gateway: its pooled client and how to forward a request to it.
class Upstream {
public:
    Upstream(std::string name, boost::asio::io_context& io, http::ClientConfig config, const core::Clock& clock,
             std::chrono::milliseconds timeout);

    const std::string& Name() const { return name_; }

    /// Forwards `request` unchanged to `target` (request id, traceparent, auth, idempotency key passed through) and
    /// returns the service's answer; a service that cannot be reached is a 503 problem, one that does not answer in
    /// time a 504. Never retries: a client retrying with the same Idempotency-Key is safe, a gateway guess is not.
    boost::asio::awaitable<http::Response> Forward(const http::Request& request, const http::RequestContext& context,
                                                   std::string target);

    /// A plain GET for the gateway's own use (health, snapshots): the answer or an error text.
    struct Fetched {
        int status = 0;  ///< 0 when unreachable
        std::string body;
        std::string error;
    };
    boost::asio::awaitable<Fetched> Get(std::string target, std::chrono::milliseconds timeout,
                                        http::Headers headers = {});

    void Close() { client_.Close(); }

private:
    std::string name_;
    http::Client client_;
    const core::Clock& clock_;
    std::chrono::milliseconds timeout_;
};

}  // namespace valerix::web
