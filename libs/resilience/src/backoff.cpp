#include <valerix/resilience/backoff.hpp>

#include <cstdint>

namespace valerix::resilience {

std::chrono::milliseconds FullJitterDelay(const BackoffPolicy& policy, int attempt, core::Random& random) {
    if (policy.base.count() <= 0 || policy.cap.count() <= 0) return std::chrono::milliseconds::zero();
    const auto base = static_cast<std::uint64_t>(policy.base.count());
    const auto cap = static_cast<std::uint64_t>(policy.cap.count());
    const int shift = attempt < 0 ? 0 : attempt;
    // base << shift <= cap exactly when base <= cap >> shift, which is checked without computing the product.
    std::uint64_t bound = cap;
    if (shift < 64 && base <= (cap >> shift)) bound = base << shift;
    return std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(random.NextUpTo(bound)));
}

}  // namespace valerix::resilience
