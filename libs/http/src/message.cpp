#include <valerix/http/message.hpp>

#include <cctype>

#include <boost/beast/core/string.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/decode_view.hpp>
#include <boost/url/params_encoded_view.hpp>
#include <boost/url/pct_string_view.hpp>
#include <valerix/core/json_text.hpp>
#include <valerix/core/text.hpp>

namespace valerix::http {

std::string LowerCase(std::string_view text) {
    std::string out(text);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string_view Request::Header(std::string_view lower_name) const {
    for (const auto& [name, value] : headers) {
        if (name == lower_name) return value;
    }
    return {};
}

std::optional<std::string> Request::QueryParam(std::string_view name) const {
    boost::system::result<boost::urls::params_encoded_view> params =
        boost::urls::params_encoded_view(boost::core::string_view(query.data(), query.size()));
    if (!params) return std::nullopt;
    for (auto param : *params) {
        if (param.key.decode() == name) {
            return param.has_value ? std::string(param.value.decode()) : std::string();
        }
    }
    return std::nullopt;
}

const std::string& RequestContext::Param(std::string_view name) const {
    static const std::string kEmpty;
    for (const auto& [key, value] : params) {
        if (key == name) return value;
    }
    return kEmpty;
}

Response Json(int status, const boost::json::value& body) { return JsonText(status, core::SerializeJson(body)); }

Response JsonText(int status, std::string body) {
    Response response;
    response.status = status;
    response.body = std::move(body);
    return response;
}

Response Problem(int status, std::string_view code, std::string_view title, std::string_view detail,
                 boost::json::object extra) {
    boost::json::object problem;
    problem["type"] = "urn:valerix:problem:" + std::string(code);
    problem["title"] = title;
    problem["status"] = status;
    problem["detail"] = detail;
    problem["code"] = code;
    // Extra members add to the RFC 9457 ones, never replace them: "status" stays the HTTP status.
    for (auto& [key, value] : extra) {
        if (!problem.contains(key)) problem[key] = std::move(value);
    }
    Response response = Json(status, problem);
    response.content_type = "application/problem+json";
    return response;
}

Response ValidationProblem(std::string_view field, std::string_view detail) {
    return Problem(422, "validation_failed", "Invalid request field", detail, {{"field", field}});
}

JsonBody ParseJsonBody(const Request& request) {
    // A content-coded body (gzip, ...) is not JSON until decoded, which no service does: 415 names the cause, where
    // parsing the compressed bytes would answer 400 malformed_json (RFC 9110 §15.5.16, with Accept-Encoding).
    for (const auto& [name, value] : request.headers) {
        if (name != "content-encoding") continue;
        const auto coding = core::Trim(value, " \t");
        if (coding.empty() || boost::beast::iequals(coding, "identity")) continue;
        auto problem = Problem(415, "unsupported_media_type", "Unsupported media type",
                               "the request body must not be content-coded (Content-Encoding: " + std::string(value) +
                                   ")");
        problem.headers.emplace_back("accept-encoding", "identity");
        return {std::nullopt, std::move(problem)};
    }
    auto content_type = request.Header("content-type");
    if (!content_type.empty()) {
        const auto given = core::Trim(content_type.substr(0, content_type.find(';')), " \t");
        // Media types compare without regard to case (RFC 9110 §8.3.1).
        bool json = boost::beast::iequals(given, "application/json") ||
                    (given.size() > 5 && boost::beast::iequals(given.substr(given.size() - 5), "+json"));
        if (!json) {
            return {std::nullopt, Problem(415, "unsupported_media_type", "Unsupported media type",
                                          "the request body must be application/json")};
        }
    }
    boost::system::error_code ec;
    boost::json::parse_options options;
    options.max_depth = 32;
    auto value = boost::json::parse(request.body, ec, {}, options);
    if (ec) {
        return {std::nullopt,
                Problem(400, "malformed_json", "Malformed JSON", "the request body is not valid JSON: " + ec.message())};
    }
    return {std::move(value), {}};
}

std::string_view ReasonPhrase(int status) {
    switch (status) {
        case 200: return "OK";
        case 201: return "Created";
        case 202: return "Accepted";
        case 204: return "No Content";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 409: return "Conflict";
        case 413: return "Content Too Large";
        case 415: return "Unsupported Media Type";
        case 422: return "Unprocessable Content";
        case 429: return "Too Many Requests";
        case 431: return "Request Header Fields Too Large";
        case 500: return "Internal Server Error";
        case 502: return "Bad Gateway";
        case 503: return "Service Unavailable";
        case 504: return "Gateway Timeout";
        default: return "Unknown";
    }
}

bool BearerTokenMatches(const Request& request, std::string_view expected) {
    constexpr std::string_view kScheme = "bearer";
    auto header = request.Header("authorization");
    // The scheme without regard to case (RFC 9110 §11.1), then one or more spaces or tabs.
    if (expected.empty() || header.size() <= kScheme.size()) return false;
    if (header[kScheme.size()] != ' ' && header[kScheme.size()] != '\t') return false;
    if (!boost::beast::iequals(header.substr(0, kScheme.size()), kScheme)) return false;
    auto given = header.substr(kScheme.size());
    while (!given.empty() && (given.front() == ' ' || given.front() == '\t')) given.remove_prefix(1);
    // Constant time in the token's content: every byte of the expected token is always compared.
    unsigned char diff = given.size() == expected.size() ? 0 : 1;
    for (std::size_t i = 0; i < expected.size(); ++i) {
        unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
        diff |= static_cast<unsigned char>(g ^ static_cast<unsigned char>(expected[i]));
    }
    return diff == 0;
}

Response UnauthorizedProblem() {
    Response response = Problem(401, "unauthorized", "Unauthorized", "this endpoint needs Authorization: Bearer <admin token>");
    response.headers.emplace_back("www-authenticate", "Bearer");
    return response;
}

}  // namespace valerix::http
