#include <valerix/http/router.hpp>

#include <boost/url/pct_string_view.hpp>

namespace valerix::http {
namespace {

std::vector<std::string_view> SplitPath(std::string_view path) {
    std::vector<std::string_view> segments;
    std::size_t start = 0;
    if (!path.empty() && path.front() == '/') start = 1;
    while (start <= path.size()) {
        auto end = path.find('/', start);
        if (end == std::string_view::npos) end = path.size();
        segments.push_back(path.substr(start, end - start));
        start = end + 1;
    }
    return segments;
}

// One segment with its %XX escapes decoded, as Boost.URL decodes a whole path (the server refused malformed targets;
// a segment that is not valid percent-encoding is taken as it is).
std::string Decoded(std::string_view segment) {
    auto encoded = boost::urls::make_pct_string_view(boost::core::string_view(segment.data(), segment.size()));
    return encoded ? encoded->decode() : std::string(segment);
}

bool IsPlaceholder(std::string_view segment) {
    return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

}  // namespace

void Router::Add(std::string method, std::string pattern, Handler handler) {
    Route route{std::move(method), pattern, {}, std::move(handler)};
    for (auto segment : SplitPath(pattern)) route.segments.emplace_back(segment);
    routes_.push_back(std::move(route));
}

Router::Match Router::Find(std::string_view method, std::string_view encoded_path) const {
    Match match;
    match.route = "unmatched";
    // Split before decoding: an encoded '/' (%2F) is data inside its segment (RFC 3986 §2.2), e.g. a SKU "A/B".
    std::vector<std::string> segments;
    for (auto segment : SplitPath(encoded_path)) segments.push_back(Decoded(segment));
    for (const auto& route : routes_) {
        if (route.segments.size() != segments.size()) continue;
        std::vector<std::pair<std::string, std::string>> params;
        bool ok = true;
        for (std::size_t i = 0; i < segments.size() && ok; ++i) {
            const auto& pattern = route.segments[i];
            if (IsPlaceholder(pattern)) {
                if (segments[i].empty()) ok = false;
                else params.emplace_back(pattern.substr(1, pattern.size() - 2), segments[i]);
            } else {
                ok = pattern == segments[i];
            }
        }
        if (!ok) continue;
        // HEAD is GET without the body (RFC 9110 §9.3.2): the server sends a GET route's headers only.
        if (route.method != method && !(method == "HEAD" && route.method == "GET")) {
            match.path_known = true;
            if (!match.allow.empty()) match.allow += ", ";
            match.allow += route.method;
            if (route.method == "GET") match.allow += ", HEAD";  // served by that route, as above
            continue;
        }
        match.handler = &route.handler;
        match.route = route.pattern;
        match.params = std::move(params);
        return match;
    }
    if (fallback_ && !match.path_known) {
        match.handler = &fallback_;
        match.route = "fallback";
    }
    return match;
}

}  // namespace valerix::http
