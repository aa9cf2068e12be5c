#include <valerix/core/json_text.hpp>

#include <charconv>
#include <cmath>

#include <boost/json/serialize.hpp>

namespace valerix::core {
namespace {

namespace json = boost::json;

bool HoldsDouble(const json::value& value);

bool HoldsDouble(const json::object& object) {
    for (const auto& member : object) {
        if (HoldsDouble(member.value())) return true;
    }
    return false;
}

bool HoldsDouble(const json::value& value) {
    switch (value.kind()) {
        case json::kind::double_:
            return true;
        case json::kind::array:
            for (const auto& element : value.get_array()) {
                if (HoldsDouble(element)) return true;
            }
            return false;
        case json::kind::object:
            return HoldsDouble(value.get_object());
        default:
            return false;
    }
}

void AppendDouble(double number, std::string& out) {
    if (!std::isfinite(number)) {
        out += "null";
        return;
    }
    char buffer[32];
    auto [end, error] = std::to_chars(buffer, buffer + sizeof(buffer), number);  // shortest round trip
    std::string_view text(buffer, error == std::errc() ? static_cast<std::size_t>(end - buffer) : 0);
    out += text;
    // "3000" would read back as an integer: keep the number a double.
    if (text.find_first_of(".e") == std::string_view::npos) out += ".0";
}

void Append(const json::value& value, std::string& out);

void Append(const json::object& object, std::string& out) {
    out += '{';
    bool first = true;
    for (const auto& member : object) {
        if (!first) out += ',';
        first = false;
        out += json::serialize(member.key());
        out += ':';
        Append(member.value(), out);
    }
    out += '}';
}

void Append(const json::value& value, std::string& out) {
    switch (value.kind()) {
        case json::kind::object:
            Append(value.get_object(), out);
            return;
        case json::kind::array: {
            out += '[';
            bool first = true;
            for (const auto& element : value.get_array()) {
                if (!first) out += ',';
                first = false;
                Append(element, out);
            }
            out += ']';
            return;
        }
        case json::kind::double_:
            AppendDouble(value.get_double(), out);
            return;
        default:
            out += json::serialize(value);
    }
}

template <class Json>
std::string Serialize(const Json& json) {
    // Most answers (orders, reservations, problems) hold no double: Boost.JSON's own serializer writes those.
    if (!HoldsDouble(json)) return json::serialize(json);
    std::string out;
    Append(json, out);
    return out;
}

}  // namespace

std::string SerializeJson(const json::object& object) { return Serialize(object); }

std::string SerializeJson(const json::value& value) { return Serialize(value); }

}  // namespace valerix::core
