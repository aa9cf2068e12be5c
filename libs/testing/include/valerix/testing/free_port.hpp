#pragma once

namespace valerix::testing {

/// Returns a TCP port that is free on 127.0.0.1 at the time of the call (the kernel picks it from the
/// ephemeral range by binding port 0). Never returns a port of the local dev stack (3000-3003, 5432, 5433,
/// 8080, 9090, 9187), nor a port it already returned in this process, so two calls in a row give two
/// different ports even before either is bound. Another process may still take the port before the caller
/// binds it. Thread-safe. Throws std::system_error when no socket can be bound.
int FreePort();

}  // namespace valerix::testing
