#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <libpq-fe.h>

namespace valerix::pg::detail {

/// `conninfo` with `key` set to `value`, in the form the string already has: libpq does not understand key/value
/// options appended to a URI. A later setting of a key overrides an earlier one. In a URI the value is
/// percent-encoded where it would end or change the query (space, '=', '&', '#', '%'); in a key/value string it is
/// quoted, with backslash and quote escaped.
inline std::string WithConnParam(std::string conninfo, std::string_view key, std::string_view value) {
    if (conninfo.starts_with("postgres://") || conninfo.starts_with("postgresql://")) {
        conninfo += conninfo.find('?') == std::string::npos ? '?' : '&';
        conninfo.append(key).push_back('=');
        for (char c : value) {
            switch (c) {
                case ' ': conninfo += "%20"; break;
                case '=': conninfo += "%3D"; break;
                case '&': conninfo += "%26"; break;
                case '#': conninfo += "%23"; break;
                case '%': conninfo += "%25"; break;
                default: conninfo += c;
            }
        }
        return conninfo;
    }
    conninfo.append(" ").append(key).append("='");
    for (char c : value) {
        if (c == '\\' || c == '\'') conninfo += '\\';
        conninfo += c;
    }
    conninfo += '\'';
    return conninfo;
}

/// The keys `conninfo` gives a value, with their values (an empty value is given: `host=''` means the local socket to
/// libpq, not "take PGHOST"); nullopt when libpq cannot parse it (connecting reports that). Environment variables and
/// defaults are not consulted.
using ConnParams = std::map<std::string, std::string, std::less<>>;
inline std::optional<ConnParams> GivenConnParams(const std::string& conninfo) {
    char* parse_error = nullptr;
    PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &parse_error);
    if (parse_error != nullptr) PQfreemem(parse_error);
    if (options == nullptr) return std::nullopt;
    ConnParams given;
    for (const PQconninfoOption* option = options; option->keyword != nullptr; ++option) {
        if (option->val != nullptr) given[option->keyword] = option->val;
    }
    PQconninfoFree(options);
    return given;
}

}  // namespace valerix::pg::detail
