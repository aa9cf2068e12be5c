#include "reconciler/reconciler.hpp"

#include <algorithm>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace valerix::order {

namespace asio = boost::asio;

Reconciler::Reconciler(asio::io_context& io, OrderStore& store, OrderWorkflow& workflow, InventoryClient& inventory,
                       ReconcilerConfig config, core::Random& random, const core::Clock& clock,
                       metrics::Registry& registry, core::Logger& logger)
    : io_(io),
      store_(store),
      workflow_(workflow),
      inventory_(inventory),
      config_(config),
      random_(random),
      clock_(clock),
      logger_(logger),
      wake_(io),
      backlog_gauge_(registry.AddGauge("valerix_reconciler_backlog", "Inventory intents not yet finished.")
                         .WithLabels({})),
      oldest_gauge_(registry
                        .AddGauge("valerix_reconciler_oldest_intent_age_seconds",
                                  "Age of the oldest unfinished inventory intent.")
                        .WithLabels({})),
      attempts_(registry.AddCounter("valerix_reconciler_attempts_total", "Intents attempted by the reconciler.",
                                    {"kind"})) {}

void Reconciler::Start() {
    running_ = true;
    asio::co_spawn(io_, Run(), [this](std::exception_ptr error) {
        running_ = false;
        if (error) {
            try {
                std::rethrow_exception(error);
            } catch (const std::exception& e) {
                logger_.Error("reconciler stopped unexpectedly", {{"error", e.what()}});
            }
        }
        if (on_stopped_) std::exchange(on_stopped_, nullptr)();
    });
}

void Reconciler::Stop(std::function<void()> on_stopped) {
    stopping_ = true;
    wake_.cancel();
    if (running_) {
        on_stopped_ = std::move(on_stopped);
    } else if (on_stopped) {
        on_stopped();
    }
}

asio::awaitable<void> Reconciler::Run() {
    logger_.Info("reconciler started");
    boost::system::error_code ignored;
    while (!stopping_) {
        int limit = config_.batch - in_flight_;
        int leased = 0;
        if (limit >= (config_.batch + 1) / 2) {
            try {
                leased = co_await Round(limit);
            } catch (const std::exception& e) {
                logger_.Error("reconciler round failed", {{"error", e.what()}});
            }
        }
        if (stopping_) break;
        if (leased > 0 && leased == limit) continue;  // the window is full now: the next pass waits
        // Wait for an intent to finish (it cancels the timer) or, with nothing due, for the idle interval.
        wake_.expires_after(config_.interval);
        co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    }
    while (in_flight_ > 0) {
        wake_.expires_after(config_.interval);
        co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    }
    logger_.Info("reconciler stopped");
}

asio::awaitable<int> Reconciler::Round(int limit) {
    auto db_deadline = core::Deadline::After(clock_, workflow_.Config().db_timeout);
    // The backlog count scans the pending intents: at most once per interval, not on every refill of the window.
    if (in_flight_ == 0 || clock_.Now() - last_backlog_ >= config_.interval) {
        last_backlog_ = clock_.Now();
        if (auto backlog = co_await store_.GetBacklog(db_deadline)) {
            backlog_ = *backlog;
            backlog_gauge_.Set(static_cast<double>(backlog->pending));
            oldest_gauge_.Set(backlog->oldest_age_seconds);
        }
    }
    if (clock_.Now() - last_purge_ >= config_.purge_interval) {
        last_purge_ = clock_.Now();
        auto purged = co_await store_.PurgeKeys(config_.key_retention, db_deadline);
        if (purged && *purged > 0) logger_.Info("purged expired idempotency keys", {{"count", *purged}});
        // A full chunk means more are due: the next round purges again, so the purge keeps up with any order rate
        // (one chunk a minute would fall behind above ~17 orders/s) without one long transaction.
        if (purged && *purged >= OrderStore::kPurgeChunk) last_purge_ = {};
    }
    if (backlog_.pending == 0) co_return 0;
    if (inventory_.Breaker().State() == resilience::BreakerState::kOpen &&
        inventory_.Breaker().GetSnapshot().open_remaining > std::chrono::milliseconds::zero()) {
        co_return 0;  // respect the breaker: no calls until it lets a trial through
    }
    if (inventory_.Breaker().State() != resilience::BreakerState::kClosed) {
        // Probing: only trial calls get through, so lease no more intents than there are trials left to grant. A
        // full window would be refused but for those few, and every refusal costs a transaction to defer its intent
        // again — 2026-12-05: 256 such transactions every 5 s while inventory was down held up new orders for ~1 s.
        // Left, not permitted in all: with the trials out (a slow dependency holds them up to a per-try timeout),
        // each lease of "the permitted number" was refused at once, and its finish started the next round.
        limit = std::min(limit, inventory_.Breaker().GetSnapshot().trials_left);
        if (limit <= 0) co_return 0;
    }
    auto lease = workflow_.Config().call_deadline + workflow_.Config().db_timeout;
    auto claimed = co_await store_.ClaimDueIntents(limit, static_cast<int>(lease.count()), db_deadline);
    if (!claimed) {
        logger_.Warn("reconciler could not claim intents", {{"error", claimed.error().message}});
        co_return 0;
    }
    for (auto& intent : *claimed) {
        attempts_.WithLabels({intent.kind}).Inc();
        ++in_flight_;
        asio::co_spawn(io_, DriveOne(std::move(intent)), [this](std::exception_ptr error) {
            if (!error) return;
            try {
                std::rethrow_exception(error);
            } catch (const std::exception& e) {
                logger_.Error("reconciler intent failed", {{"error", e.what()}});
            }
        });
    }
    co_return static_cast<int>(claimed->size());
}

asio::awaitable<void> Reconciler::DriveOne(ClaimedIntent intent) {
    struct Done {
        Reconciler* self;
        ~Done() {
            --self->in_flight_;
            self->wake_.cancel();  // the loop may lease more now
        }
    } done{this};
    CallContext context{core::RandomHex(random_, 16),
                        "00-" + core::RandomHex(random_, 16) + "-" + core::RandomHex(random_, 8) + "-01"};
    auto driven = co_await workflow_.Drive(intent, context);
    if (!driven) {
        logger_.Warn("reconciler attempt failed", {{"order_id", intent.order_id}, {"kind", intent.kind},
                                                   {"error", driven.error().message}});
    }
}

}  // namespace valerix::order
