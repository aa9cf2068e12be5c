#include <valerix/core/random.hpp>

#include <cctype>
#include <utility>

namespace valerix::core {

std::uint64_t EntropySeed() {
    std::random_device device;
    return (static_cast<std::uint64_t>(device()) << 32) ^ device();
}

namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

/// 32 hex digits as a canonical UUID of `version`, with the RFC 9562 variant bits drawn from `random`.
std::string FormatUuid(std::string hex, char version, Random& random) {
    hex[12] = version;
    hex[16] = "89ab"[random.NextU64() % 4];
    return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
           hex.substr(20);
}

}  // namespace

std::string RandomHex(Random& random, std::size_t bytes) {
    std::string out;
    out.reserve(bytes * 2);
    std::uint64_t word = 0;
    for (std::size_t i = 0; i < bytes; ++i) {
        if (i % 8 == 0) word = random.NextU64();
        auto byte = static_cast<unsigned>(word & 0xff);
        word >>= 8;
        out.push_back(kHexDigits[byte >> 4]);
        out.push_back(kHexDigits[byte & 0xf]);
    }
    return out;
}

std::string RandomUuid(Random& random) { return FormatUuid(RandomHex(random, 16), '4', random); }

std::string TimeOrderedUuid(Random& random, std::int64_t unix_ms) {
    std::string hex = RandomHex(random, 16);
    auto ms = static_cast<std::uint64_t>(unix_ms) & 0xffffffffffffULL;
    for (int i = 11; i >= 0; --i, ms >>= 4) hex[static_cast<std::size_t>(i)] = kHexDigits[ms & 0xf];
    return FormatUuid(std::move(hex), '7', random);
}

std::optional<std::string> CanonicalUuid(std::string_view text) {
    if (text.size() != 36) return std::nullopt;
    std::string out(text);
    for (std::size_t i = 0; i < out.size(); ++i) {
        char& c = out[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') return std::nullopt;
            continue;
        }
        if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
}

}  // namespace valerix::core
