#pragma once

#include <chrono>

#include <valerix/core/random.hpp>

namespace valerix::resilience {

/// Exponential backoff bounds: the delay ceiling doubles from `base` per retry and never exceeds `cap`.
struct BackoffPolicy {
    std::chrono::milliseconds base{50};
    std::chrono::milliseconds cap{2000};
};

/// Full jitter (AWS architecture blog, "Exponential Backoff And Jitter"): uniform in [0, min(cap, base * 2^attempt)],
/// `attempt` counted from 0 for the first retry. Spreading retries over the whole interval keeps clients that failed
/// together from retrying together.
///
/// Never overflows: any attempt large enough that base * 2^attempt would exceed the cap yields the cap as bound. A
/// negative attempt counts as 0; a non-positive base or cap gives zero delay. Thread-safe if `random` is.
std::chrono::milliseconds FullJitterDelay(const BackoffPolicy& policy, int attempt, core::Random& random);

}  // namespace valerix::resilience
