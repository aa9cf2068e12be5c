#pragma once

#include <chrono>
#include <list>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/object.hpp>

#include <valerix/core/clock.hpp>
#include <valerix/core/logging.hpp>
#include <valerix/http/message.hpp>

#include "upstream.hpp"

namespace valerix::web {

struct MonitorConfig {
    std::chrono::milliseconds interval{1000};
    std::chrono::milliseconds probe_timeout{800};
    double slow_average_ms = 1000;  ///< the 30 s average above which the latency tile is red
    std::string admin_token;        ///< to read inventory's chaos configuration; empty: chaos shown as null
};

/// Builds the one-snapshot view of the whole system (GET /api/v1/system, and every SSE event) once per interval,
/// whatever the number of viewers: each component's deep health, the order-service 30 s latency with its
/// green/red state, breaker, retry budget, reconciler backlog, chaos configuration, backups and firing alerts.
/// Upstreams that are not configured (nullptr) show as "unknown". Single-threaded (the I/O thread).
class SystemMonitor {
public:
    SystemMonitor(boost::asio::io_context& io, Upstream& order, Upstream& inventory, Upstream* backup,
                  Upstream* prometheus, MonitorConfig config, const core::Clock& clock, core::Logger& logger);

    void Start();
    void Stop();

    /// The latest snapshot as JSON text (built on demand the first time).
    boost::asio::awaitable<std::string> Latest();
    /// The version of the latest snapshot (0 before the first).
    std::uint64_t Version() const { return version_; }
    /// Completes when a snapshot newer than `version` exists (or after two intervals).
    boost::asio::awaitable<std::pair<std::uint64_t, std::string>> WaitNewer(std::uint64_t version);

private:
    boost::asio::awaitable<void> Run();
    boost::asio::awaitable<void> Refresh();

    boost::asio::io_context& io_;
    Upstream& order_;
    Upstream& inventory_;
    Upstream* backup_;
    Upstream* prometheus_;
    MonitorConfig config_;
    const core::Clock& clock_;
    core::Logger& logger_;
    boost::asio::steady_timer tick_;
    std::list<boost::asio::steady_timer*> waiters_;  ///< cancelled whenever a new snapshot is published
    std::string snapshot_;
    std::uint64_t version_ = 0;
    bool stopping_ = false;
};

/// The SSE body of GET /api/v1/events: one `event: system` per new snapshot.
class SystemEventStream final : public http::BodyStream {
public:
    explicit SystemEventStream(SystemMonitor& monitor) : monitor_(monitor) {}
    boost::asio::awaitable<std::optional<std::string>> Next() override;

private:
    SystemMonitor& monitor_;
    std::uint64_t version_ = 0;
    bool first_ = true;
};

}  // namespace valerix::web
