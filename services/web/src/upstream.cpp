#include "upstream.hpp"

#include <algorithm>
#include <iterator>

#include <valerix/core/deadline.hpp>

namespace valerix::web {
namespace {

constexpr std::string_view kForwardedRequestHeaders[] = {"content-type", "content-encoding", "authorization",
                                                         "idempotency-key", "accept", "x-valerix-deadline-ms"};
constexpr std::string_view kForwardedResponseHeaders[] = {"location", "idempotent-replayed", "retry-after",
                                                          "www-authenticate", "allow"};

}  // namespace

Upstream::Upstream(std::string name, boost::asio::io_context& io, http::ClientConfig config,
                   const core::Clock& clock, std::chrono::milliseconds timeout)
    : name_(std::move(name)), client_(io, std::move(config), clock), clock_(clock), timeout_(timeout) {}

boost::asio::awaitable<http::Response> Upstream::Forward(const http::Request& request,
                                                         const http::RequestContext& context, std::string target) {
    http::ClientRequest out;
    // HEAD goes up as GET: the server here sends its headers only, with the length the body has.
    out.method = request.method == "HEAD" ? "GET" : request.method;
    out.target = std::move(target);
    out.body = request.body;
    // Every occurrence, in order: a header given twice (two Idempotency-Keys) must reach the service as it came, to
    // be refused there, not be cut to its first value here.
    for (const auto& [name, value] : request.headers) {
        if (std::find(std::begin(kForwardedRequestHeaders), std::end(kForwardedRequestHeaders), name) !=
                std::end(kForwardedRequestHeaders) &&
            !value.empty()) {
            out.headers.emplace_back(name, value);
        }
    }
    out.headers.emplace_back("x-request-id", context.request_id);
    out.headers.emplace_back("traceparent", context.traceparent);
    auto deadline = context.deadline.Capped(clock_, timeout_);
    // The time it has, for a 504's message: the gateway's limit, or the caller's shorter X-Valerix-Deadline-Ms.
    const long long budget_ms = core::RemainingMillis(deadline, clock_, timeout_.count());
    auto answer = co_await client_.Send(out, deadline);
    if (!answer) {
        const auto& error = answer.error();
        if (error.kind == http::ClientErrorKind::kTimeout) {
            co_return http::Problem(504, "upstream_timeout", "Service did not answer in time",
                                    name_ + " did not answer within " + std::to_string(budget_ms) + " ms",
                                    {{"service", name_}});
        }
        if (error.kind == http::ClientErrorKind::kConnect || error.kind == http::ClientErrorKind::kPoolExhausted) {
            co_return http::Problem(503, "service_unavailable", "Service unavailable",
                                    name_ + " is not reachable right now; retry later", {{"service", name_}});
        }
        co_return http::Problem(502, "bad_gateway", "Bad gateway", name_ + ": " + error.message, {{"service", name_}});
    }
    http::Response response;
    response.status = answer->status;
    response.body = std::move(answer->body);
    auto content_type = answer->Header("content-type");
    response.content_type = content_type.empty() ? "application/json" : std::string(content_type);
    for (auto name : kForwardedResponseHeaders) {
        auto value = answer->Header(name);
        if (!value.empty()) response.headers.emplace_back(std::string(name), std::string(value));
    }
    co_return response;
}

boost::asio::awaitable<Upstream::Fetched> Upstream::Get(std::string target, std::chrono::milliseconds timeout,
                                                        http::Headers headers) {
    http::ClientRequest out;
    out.method = "GET";
    out.target = std::move(target);
    out.headers = std::move(headers);
    auto answer = co_await client_.Send(out, core::Deadline::After(clock_, timeout));
    Fetched fetched;
    if (!answer) {
        fetched.error = answer.error().message;
        co_return fetched;
    }
    fetched.status = answer->status;
    fetched.body = std::move(answer->body);
    co_return fetched;
}

}  // namespace valerix::web
