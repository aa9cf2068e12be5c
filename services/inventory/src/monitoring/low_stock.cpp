#include "monitoring/low_stock.hpp"

#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace valerix::inventory {
namespace {

constexpr pg::Statement kLowStock{
    "inventory_low_stock",
    "SELECT sku, available, available <= $1::int FROM products WHERE available <= $1::int OR sku = ANY($2::text[]) "
    "ORDER BY sku"};

std::string TextArray(const std::set<std::string>& values) {
    std::string out = "{";
    bool first = true;
    for (const auto& value : values) {
        if (!first) out += ',';
        first = false;
        out += '"';
        for (char c : value) {
            if (c == '"' || c == '\\') out += '\\';
            out += c;
        }
        out += '"';
    }
    return out + "}";
}

}  // namespace

LowStockMonitor::LowStockMonitor(boost::asio::io_context& io, pg::Pool& pool, LowStockConfig config,
                                 metrics::Registry& registry, core::Logger& logger)
    : io_(io),
      pool_(pool),
      config_(config),
      logger_(logger),
      timer_(io),
      low_skus_(registry.AddGauge("valerix_inventory_low_stock_skus",
                                  "SKUs whose available units are at or below the low-stock threshold now.")
                    .WithLabels({})),
      available_(registry.AddGauge("valerix_inventory_low_stock_available_units",
                                   "Available units of every SKU that has run low since start.", {"sku"})) {}

void LowStockMonitor::Start() {
    running_ = true;
    boost::asio::co_spawn(io_, Run(), [this](std::exception_ptr error) {
        running_ = false;
        if (error) {
            try {
                std::rethrow_exception(error);
            } catch (const std::exception& e) {
                logger_.Error("low-stock monitor stopped unexpectedly", {{"error", e.what()}});
            }
        }
        if (on_stopped_) std::exchange(on_stopped_, nullptr)();
    });
}

void LowStockMonitor::Stop(std::function<void()> on_stopped) {
    stopping_ = true;
    timer_.cancel();
    if (running_) {
        on_stopped_ = std::move(on_stopped);
    } else if (on_stopped) {
        on_stopped();
    }
}

boost::asio::awaitable<void> LowStockMonitor::Run() {
    while (!stopping_) {
        auto params = pg::MakeParams(std::to_string(config_.threshold), TextArray(tracked_));
        core::SteadyClock clock;
        auto deadline = core::Deadline::After(clock, config_.interval);
        auto rows = co_await pool_.Execute(kLowStock, params, deadline);
        if (rows) {
            int low = 0;
            for (int i = 0; i < rows->Size(); ++i) {
                std::string sku(rows->Text(i, 0));
                bool is_low = rows->Bool(i, 2);
                low += is_low ? 1 : 0;
                if (is_low && !tracked_.contains(sku) && tracked_.size() < config_.max_tracked_skus) {
                    tracked_.insert(sku);
                }
                if (tracked_.contains(sku)) {
                    available_.WithLabels({sku}).Set(static_cast<double>(rows->Int(i, 1)));
                }
            }
            low_skus_.Set(low);
        }
        // Stop() may have come while the query ran: its cancel found no wait, and a new one would hold the
        // shutdown for a whole interval.
        if (stopping_) break;
        timer_.expires_after(config_.interval);
        boost::system::error_code ignored;
        co_await timer_.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ignored));
    }
}

}  // namespace valerix::inventory
