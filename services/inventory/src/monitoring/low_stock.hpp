#pragma once

#include <chrono>
#include <functional>
#include <set>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <valerix/core/logging.hpp>
#include <valerix/metrics/registry.hpp>
#include <valerix/pg/pool.hpp>

namespace valerix::inventory {

struct LowStockConfig {
    int threshold = 10;                           ///< available units at or below this count as low
    std::chrono::milliseconds interval{5000};
    std::size_t max_tracked_skus = 1000;          ///< bounds the cardinality of the per-SKU gauge
};

/// Publishes stock running low: `valerix_inventory_low_stock_skus` (how many SKUs are low now) and
/// `valerix_inventory_low_stock_available_units{sku}` for every SKU that has been low since start (it keeps
/// tracking a SKU after a restock, so the series set only grows with SKUs that really ran low). One cheap query per
/// interval on the I/O thread.
class LowStockMonitor {
public:
    LowStockMonitor(boost::asio::io_context& io, pg::Pool& pool, LowStockConfig config, metrics::Registry& registry,
                    core::Logger& logger);
    void Start();
    /// Stops after the current query; `on_stopped` runs once the loop has exited (at once if it is not running).
    void Stop(std::function<void()> on_stopped);

private:
    boost::asio::awaitable<void> Run();

    boost::asio::io_context& io_;
    pg::Pool& pool_;
    LowStockConfig config_;
    core::Logger& logger_;
    boost::asio::steady_timer timer_;
    bool stopping_ = false;
    bool running_ = false;
    std::function<void()> on_stopped_;
    std::set<std::string> tracked_;
    metrics::Gauge& low_skus_;
    metrics::Family<metrics::Gauge>& available_;
};

}  // namespace valerix::inventory
