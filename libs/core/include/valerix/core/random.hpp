#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string_view>
#include <random>
#include <string>

namespace valerix::core {

/// Source of randomness, injected so jitter, chaos and ids are reproducible in tests. Thread-safe.
class Random {
public:
    virtual ~Random() = default;
    /// A uniformly distributed 64-bit value.
    virtual std::uint64_t NextU64() = 0;
    /// Uniform in [0, 1).
    double NextUnit() { return static_cast<double>(NextU64() >> 11) * 0x1.0p-53; }
    /// Uniform in [0, bound]; 0 when bound is 0.
    std::uint64_t NextUpTo(std::uint64_t bound) { return bound == 0 ? 0 : NextU64() % (bound + 1); }
};

/// A mutex-guarded mt19937_64: deterministic for a given seed.
class SeededRandom final : public Random {
public:
    explicit SeededRandom(std::uint64_t seed) : engine_(seed) {}
    std::uint64_t NextU64() override {
        std::lock_guard lock(mutex_);
        return engine_();
    }

private:
    std::mutex mutex_;
    std::mt19937_64 engine_;
};

/// A seed from the operating system's entropy source.
std::uint64_t EntropySeed();

/// `bytes` random bytes as lowercase hex (request ids, trace ids).
std::string RandomHex(Random& random, std::size_t bytes);

/// The canonical lower-case form of a UUID written 8-4-4-4-12 (any case), or nullopt.
std::optional<std::string> CanonicalUuid(std::string_view text);

/// A random (version 4) UUID in canonical text form.
std::string RandomUuid(Random& random);

/// A time-ordered (version 7, RFC 9562) UUID in canonical text form: `unix_ms` in the first 48 bits, then 74 random
/// bits. Ids made later sort later (to the millisecond), so a B-tree keyed by them takes new rows at its right edge
/// instead of on a random leaf: the pages new rows touch stay few and cached however large the table grows.
std::string TimeOrderedUuid(Random& random, std::int64_t unix_ms);

}  // namespace valerix::core
