#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace valerix::core {

/// The reason given to the failure result of a Coalescer item that gave up while queued (its deadline passed).
inline constexpr const char* kBatchGaveUp = "the deadline passed while waiting for a batch";

/// Application-level group commit: coroutines submit one item each and get one result each, while the work runs in
/// batches — one database transaction or one HTTP call for many items.
///
/// A batch starts one turn of the event loop after the first item is queued and takes everything queued by then (at
/// most `max_batch`), so items submitted together (a burst of replies handled in one turn, the reconciler's leased
/// intents) share a batch and an item that comes alone runs alone, without waiting for company. With `max_in_flight`
/// set, no more than that many batches run at once; items queued meanwhile go together in the next one, which is what
/// makes batches grow with the load. With `overlap_at` set too, a batch starts while others of its kind run only when
/// that many items wait (e.g. a full batch): at moderate load one batch runs at a time and the next takes everything
/// that came meanwhile (fewer, larger transactions and no queueing behind batches that compete for the same CPUs and
/// disk), while a burst (the reconciler's window) still runs up to `max_in_flight` batches side by side.
/// Single-threaded: use from the executor's thread.
///
/// An item may carry a time to give up at (its caller's deadline): if that passes while it still waits in the queue
/// (behind batches in flight), it leaves the queue and gets the failure result at once; a batch never takes an item
/// whose time has passed. An item already in a running batch waits for that batch.
template <class Item, class Result>
class Coalescer {
public:
    /// Runs one batch; returns one result per item, in the same order.
    using RunBatch = std::function<boost::asio::awaitable<std::vector<Result>>(std::vector<Item>&)>;
    /// The result every item of a batch gets when the batch throws or answers with the wrong number of results.
    using Failure = std::function<Result(const std::string& why)>;

    using TimePoint = std::chrono::steady_clock::time_point;

    static constexpr const char* kGaveUp = kBatchGaveUp;

    struct Stats {
        std::uint64_t batches = 0;
        std::uint64_t items = 0;
        std::size_t largest = 0;
        std::uint64_t gave_up = 0;  ///< items whose time passed while queued (never sent)
    };

    /// `max_in_flight` 0 = no limit; `overlap_at` 0 or 1 = a batch starts whenever an item waits (within the limit).
    Coalescer(boost::asio::any_io_executor executor, std::size_t max_batch, std::size_t max_in_flight, RunBatch run,
              Failure failure, std::size_t overlap_at = 1)
        : executor_(std::move(executor)),
          max_batch_(max_batch == 0 ? 1 : max_batch),
          max_in_flight_(max_in_flight),
          overlap_at_(overlap_at == 0 ? 1 : overlap_at),
          run_(std::move(run)),
          failure_(std::move(failure)) {}

    Coalescer(const Coalescer&) = delete;
    Coalescer& operator=(const Coalescer&) = delete;

    boost::asio::awaitable<Result> Submit(Item item, TimePoint give_up_at = TimePoint::max()) {
        Slot slot{std::move(item), std::nullopt, boost::asio::steady_timer(executor_, give_up_at), give_up_at,
                  std::chrono::steady_clock::now()};
        queue_.push_back(&slot);
        ScheduleBatch();
        while (!slot.result) {
            boost::system::error_code ignored;  // cancelled = the result is in; expired = time to give up
            co_await slot.ready.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ignored));
            if (slot.result) break;
            if (!slot.taken) {
                queue_.erase(std::find(queue_.begin(), queue_.end(), &slot));
                ++stats_.gave_up;
                co_return failure_(kGaveUp);
            }
            slot.ready.expires_at(TimePoint::max());  // in a running batch: its answer comes
        }
        co_return std::move(*slot.result);
    }

    /// Called with the size of each batch as it starts (e.g. to feed a histogram).
    void SetObserver(std::function<void(std::size_t)> observer) { observer_ = std::move(observer); }

    using Duration = std::chrono::steady_clock::duration;
    /// `waited` is called for each item as its batch starts, with the time it spent queued; `ran` as each batch
    /// finishes, with the time it took. Together they split a caller's wait into queueing and work.
    void SetTimingObservers(std::function<void(Duration)> waited, std::function<void(Duration)> ran) {
        waited_ = std::move(waited);
        ran_ = std::move(ran);
    }

    const Stats& GetStats() const { return stats_; }
    std::size_t Queued() const { return queue_.size(); }
    std::size_t InFlight() const { return in_flight_; }

private:
    struct Slot {
        Item item;
        std::optional<Result> result;
        boost::asio::steady_timer ready;
        TimePoint give_up_at;
        TimePoint queued_at;
        bool taken = false;  ///< out of the queue, into a batch
    };

    /// May a batch start now? When not, the batch that finishes starts the next.
    bool MayStart() const {
        if (queue_.empty()) return false;
        if (max_in_flight_ != 0 && in_flight_ >= max_in_flight_) return false;
        return in_flight_ == 0 || queue_.size() >= overlap_at_;
    }

    void ScheduleBatch() {
        if (scheduled_ || !MayStart()) return;
        scheduled_ = true;
        boost::asio::post(executor_, [this] {
            scheduled_ = false;
            StartBatch();
        });
    }

    void StartBatch() {
        if (!MayStart()) return;
        std::vector<Slot*> batch;
        const auto now = std::chrono::steady_clock::now();
        while (!queue_.empty() && batch.size() < max_batch_) {
            Slot* slot = queue_.front();
            queue_.pop_front();
            slot->taken = true;
            if (slot->give_up_at <= now) {  // its timer has fired or is about to: answer it without sending it
                slot->result.emplace(failure_(kGaveUp));
                slot->ready.cancel();
                ++stats_.gave_up;
                continue;
            }
            if (waited_) waited_(now - slot->queued_at);
            batch.push_back(slot);
        }
        if (batch.empty()) return;
        ++in_flight_;
        ++stats_.batches;
        stats_.items += batch.size();
        stats_.largest = std::max(stats_.largest, batch.size());
        if (observer_) observer_(batch.size());
        boost::asio::co_spawn(executor_, Run(std::move(batch)), boost::asio::detached);
        ScheduleBatch();  // more than max_batch were queued
    }

    boost::asio::awaitable<void> Run(std::vector<Slot*> batch) {
        std::vector<Item> items;
        items.reserve(batch.size());
        for (auto* slot : batch) items.push_back(std::move(slot->item));
        std::vector<Result> results;
        std::string failed;
        const auto started = std::chrono::steady_clock::now();
        try {
            results = co_await run_(items);
            if (results.size() != batch.size()) failed = "a batch returned a result count that does not match";
        } catch (const std::exception& e) {
            failed = e.what();
        }
        if (ran_) ran_(std::chrono::steady_clock::now() - started);
        for (std::size_t i = 0; i < batch.size(); ++i) {
            batch[i]->result.emplace(failed.empty() ? std::move(results[i]) : failure_(failed));
            batch[i]->ready.cancel();
        }
        --in_flight_;
        ScheduleBatch();
    }

    boost::asio::any_io_executor executor_;
    std::size_t max_batch_;
    std::size_t max_in_flight_;
    std::size_t overlap_at_;
    RunBatch run_;
    Failure failure_;
    std::function<void(std::size_t)> observer_;
    std::function<void(Duration)> waited_;
    std::function<void(Duration)> ran_;
    std::deque<Slot*> queue_;
    bool scheduled_ = false;
    std::size_t in_flight_ = 0;
    Stats stats_;
};

}  // namespace valerix::core
