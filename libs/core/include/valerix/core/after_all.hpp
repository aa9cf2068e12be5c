#pragma once

#include <functional>
#include <memory>

namespace valerix::core {

/// A callback to hand to `count` asynchronous steps (e.g. "server drained", "background loop stopped"); `done` runs
/// once, when the last of them has called it. Not thread-safe: every call must come from the same thread.
inline std::function<void()> AfterAll(int count, std::function<void()> done) {
    auto remaining = std::make_shared<int>(count);
    return [remaining, done = std::move(done)] {
        if (--*remaining == 0) done();
    };
}

}  // namespace valerix::core
