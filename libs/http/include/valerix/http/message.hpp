#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <valerix/core/deadline.hpp>

namespace valerix::http {

/// Header name/value pairs; names are stored lower-case.
using Headers = std::vector<std::pair<std::string, std::string>>;

/// `text` with its ASCII letters in lower case (header names, media types).
std::string LowerCase(std::string_view text);

/// The largest request body any service accepts; larger bodies are answered with 413.
inline constexpr std::size_t kMaxBodyBytes = 64 * 1024;

/// Header carrying the caller's remaining time budget in milliseconds (deadline propagation).
inline constexpr std::string_view kDeadlineHeader = "x-valerix-deadline-ms";

/// A parsed request, free of Beast types so that handlers compile quickly.
struct Request {
    std::string method;       ///< "GET", "POST", ...
    std::string target;       ///< the request target as received (path and query, still percent-encoded)
    std::string path;         ///< percent-decoded path, without the query
    std::string query;        ///< raw query string, without '?'
    Headers headers;
    std::string body;

    /// The first header of that (lower-case) name, or an empty view.
    std::string_view Header(std::string_view lower_name) const;
    /// The decoded value of a query parameter, if present.
    std::optional<std::string> QueryParam(std::string_view name) const;
};

/// Per-request facts established by the server before the handler runs.
struct RequestContext {
    std::string request_id;     ///< echoed from X-Request-Id when valid, else generated
    std::string trace_id;       ///< from W3C traceparent when valid, else generated
    std::string traceparent;    ///< to send downstream: same trace, a new span
    std::string route;          ///< the matched route template, e.g. "/api/v1/products/{sku}"
    std::vector<std::pair<std::string, std::string>> params;  ///< path parameters by name
    core::Deadline deadline = core::Deadline::Infinite();     ///< from the propagated deadline header

    /// The value of a path parameter (empty when absent).
    const std::string& Param(std::string_view name) const;
};

/// A response body produced piece by piece (Server-Sent Events). Next() returns the next chunk, or nullopt to end
/// the response; the server stops asking when the client goes away or the server drains.
class BodyStream {
public:
    virtual ~BodyStream() = default;
    virtual boost::asio::awaitable<std::optional<std::string>> Next() = 0;
};

struct Response {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    Headers headers;  ///< extra headers
    /// Close the connection without writing any reply (fault injection: a reply lost on the wire).
    bool drop_connection = false;
    /// When set, `body` is ignored: the headers are sent, then every chunk of the stream, and the connection is
    /// closed at its end (a close-delimited body, as EventSource expects).
    std::shared_ptr<BodyStream> stream;
};

/// A JSON response.
Response Json(int status, const boost::json::value& body);
/// A JSON response whose body is already serialized JSON text.
Response JsonText(int status, std::string body);

/// An RFC 9457 problem+json response: {"type","title","status","detail","code", ...extra}.
Response Problem(int status, std::string_view code, std::string_view title, std::string_view detail,
                 boost::json::object extra = {});

/// 422 naming the offending field.
Response ValidationProblem(std::string_view field, std::string_view detail);

/// Parses the request body as JSON. On failure returns the problem to send: 400 malformed_json, or 415 when the
/// Content-Type is present and not JSON.
struct JsonBody {
    std::optional<boost::json::value> value;
    Response problem;
};
JsonBody ParseJsonBody(const Request& request);

/// Standard reason phrase for a status code ("Not Found").
std::string_view ReasonPhrase(int status);

/// Constant-time check of "Authorization: Bearer <token>". An empty expected token never matches.
bool BearerTokenMatches(const Request& request, std::string_view expected);

/// 401 problem for a missing or wrong admin token.
Response UnauthorizedProblem();

}  // namespace valerix::http
