#pragma once

#include <functional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include <valerix/http/message.hpp>

namespace valerix::http {

using Handler = std::function<boost::asio::awaitable<Response>(const Request&, RequestContext&)>;

/// Maps (method, path) to a handler. Patterns are literal segments and `{name}` placeholders matching exactly one
/// non-empty segment: "/api/v1/products/{sku}". Routes are added at start-up; lookups are then thread-safe.
class Router {
public:
    void Add(std::string method, std::string pattern, Handler handler);
    /// The handler for requests no route matches (e.g. static files); without one they get 404/405.
    void SetFallback(Handler handler) { fallback_ = std::move(handler); }

    struct Match {
        const Handler* handler = nullptr;  ///< null when nothing matched
        std::string route;                 ///< the pattern matched (or "unmatched")
        std::vector<std::pair<std::string, std::string>> params;
        bool path_known = false;           ///< the path matched some route, but not with this method (405)
        std::string allow;                 ///< methods allowed for the path, for the Allow header
    };
    /// `encoded_path` as it came on the wire (percent-encoded, no query): it is split at '/' first, then each segment
    /// is decoded, so "%2F" stays inside its segment ("/api/v1/products/A%2FB" has the SKU "A/B").
    Match Find(std::string_view method, std::string_view encoded_path) const;

private:
    struct Route {
        std::string method;
        std::string pattern;
        std::vector<std::string> segments;
        Handler handler;
    };
    std::vector<Route> routes_;
    Handler fallback_;
};

}  // namespace valerix::http
