#include <valerix/core/random.hpp>

#include <cctype>

namespace valerix::core {

std::uint64_t EntropySeed() {
    std::random_device device;
    return (static_cast<std::uint64_t>(device()) << 32) ^ device();
}

std::string RandomHex(Random& random, std::size_t bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes * 2);
    std::uint64_t word = 0;
    for (std::size_t i = 0; i < bytes; ++i) {
        if (i % 8 == 0) word = random.NextU64();
        auto byte = static_cast<unsigned>(word & 0xff);
        word >>= 8;
        out.push_back(kDigits[byte >> 4]);
        out.push_back(kDigits[byte & 0xf]);
    }
    return out;
}

std::string RandomUuid(Random& random) {
    std::string hex = RandomHex(random, 16);
    hex[12] = '4';
    hex[16] = "89ab"[random.NextU64() % 4];
    return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
           hex.substr(20);
}

std::string TimeOrderedUuid(Random& random, std::int64_t unix_ms) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string hex = RandomHex(random, 16);
    auto ms = static_cast<std::uint64_t>(unix_ms) & 0xffffffffffffULL;
    for (int i = 11; i >= 0; --i, ms >>= 4) hex[static_cast<std::size_t>(i)] = kDigits[ms & 0xf];
    hex[12] = '7';
    hex[16] = "89ab"[random.NextU64() % 4];
    return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
           hex.substr(20);
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
