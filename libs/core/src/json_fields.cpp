#include <valerix/core/json_fields.hpp>

#include <algorithm>
#include <stdexcept>

namespace valerix::core {

void throw_exception_from_error(const FieldError& error, const boost::source_location&) {
    throw std::invalid_argument(error.field + ": " + error.detail);
}

Validated<long long> IntegerField(const boost::json::object& object, const char* key, const std::string& field,
                                  long long min, long long max) {
    auto it = object.find(key);
    if (it == object.end() || it->value().is_null()) return FieldError{field, field + " is required"};
    const auto& value = it->value();
    if (value.is_uint64()) return FieldError{field, field + " must be at most " + std::to_string(max)};
    if (!value.is_int64()) {  // a fraction, a string, or a number beyond 64 bits (1e62, 2^64)
        return FieldError{field, field + " must be an integer from " + std::to_string(min) + " to " +
                                     std::to_string(max)};
    }
    long long number = value.get_int64();
    if (number < min || number > max) {
        return FieldError{field, field + " must be between " + std::to_string(min) + " and " + std::to_string(max)};
    }
    return number;
}

Validated<std::string> StringField(const boost::json::object& object, const char* key, const std::string& field,
                                   std::size_t min, std::size_t max) {
    auto it = object.find(key);
    if (it == object.end() || it->value().is_null()) return FieldError{field, field + " is required"};
    if (!it->value().is_string()) return FieldError{field, field + " must be a string"};
    std::string text(it->value().get_string());
    // Characters, as the contract's str(1..64) and PostgreSQL's length() in the tables' checks count them: JSON text
    // is valid UTF-8 once parsed, so every byte but a continuation byte (10xxxxxx) starts one.
    const auto characters = static_cast<std::size_t>(
        std::count_if(text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
    if (characters < min || characters > max) {
        return FieldError{field, field + " must be " + std::to_string(min) + ".." + std::to_string(max) +
                                     " characters long"};
    }
    // PostgreSQL text cannot hold U+0000, and a C-string parameter would end at it: "a\u0000x" stored as "a" (its
    // idempotency fingerprint too), and in a batch's array literal an unterminated element failed the whole batch.
    if (text.find('\0') != std::string::npos) {
        return FieldError{field, field + " must not contain the NUL character (U+0000)"};
    }
    return Validated<std::string>(boost::system::in_place_value, std::move(text));
}

bool IsPrintableToken(std::string_view text, std::size_t max_length) {
    if (text.empty() || text.size() > max_length) return false;
    return std::all_of(text.begin(), text.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

}  // namespace valerix::core
