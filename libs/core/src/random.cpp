#include <valerix/core/random.hpp>

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

}  // namespace valerix::core
