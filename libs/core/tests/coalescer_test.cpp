#include <valerix/core/coalescer.hpp>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

namespace valerix::core {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

/// Doubles each item; records the batches it saw; optionally holds each batch on a timer first.
struct Doubler {
    asio::io_context& io;
    std::vector<std::vector<int>> batches{};
    std::chrono::milliseconds hold{0};
    bool throw_on_next = false;
    int running = 0, most_running = 0;

    asio::awaitable<std::vector<std::string>> operator()(std::vector<int>& items) {
        batches.push_back(items);
        most_running = std::max(most_running, ++running);
        if (hold.count() > 0) {
            asio::steady_timer timer(io, hold);
            co_await timer.async_wait(asio::use_awaitable);
        }
        --running;
        if (std::exchange(throw_on_next, false)) throw std::runtime_error("database gone");
        std::vector<std::string> results;
        for (int item : items) results.push_back(std::to_string(item * 2));
        co_return results;
    }
};

using IntCoalescer = Coalescer<int, std::string>;

IntCoalescer Make(asio::io_context& io, Doubler& doubler, std::size_t max_batch, std::size_t max_in_flight,
                  std::size_t overlap_at = 1) {
    return IntCoalescer(
        io.get_executor(), max_batch, max_in_flight, [&doubler](std::vector<int>& items) { return doubler(items); },
        [](const std::string& why) { return "failed: " + why; }, overlap_at);
}

void SubmitInto(asio::io_context& io, IntCoalescer& coalescer, int item, std::vector<std::string>& results) {
    asio::co_spawn(
        io,
        [&coalescer, item, &results]() -> asio::awaitable<void> {
            results[static_cast<std::size_t>(item)] = co_await coalescer.Submit(item);
        },
        asio::detached);
}

TEST(Coalescer, ItemsSubmittedInOneTurnShareABatchAndEachGetsItsOwnResult) {
    asio::io_context io;
    Doubler doubler{io};
    auto coalescer = Make(io, doubler, 64, 0);
    std::vector<std::string> results(5);
    for (int i = 0; i < 5; ++i) SubmitInto(io, coalescer, i, results);
    io.run();
    ASSERT_EQ(doubler.batches.size(), 1u);
    EXPECT_EQ(doubler.batches[0], (std::vector<int>{0, 1, 2, 3, 4}));
    EXPECT_EQ(results, (std::vector<std::string>{"0", "2", "4", "6", "8"}));
    EXPECT_EQ(coalescer.GetStats().batches, 1u);
    EXPECT_EQ(coalescer.GetStats().items, 5u);
}

TEST(Coalescer, AnItemAloneRunsAloneWithoutWaitingForCompany) {
    asio::io_context io;
    Doubler doubler{io};
    auto coalescer = Make(io, doubler, 64, 0);
    std::vector<std::string> results(1);
    SubmitInto(io, coalescer, 0, results);
    auto started = std::chrono::steady_clock::now();
    io.run();
    EXPECT_LT(std::chrono::steady_clock::now() - started, 50ms);
    ASSERT_EQ(doubler.batches.size(), 1u);
    EXPECT_EQ(results[0], "0");
}

TEST(Coalescer, MaxBatchSplitsAndEveryItemIsAnswered) {
    asio::io_context io;
    Doubler doubler{io};
    auto coalescer = Make(io, doubler, 4, 0);
    std::vector<std::string> results(10);
    for (int i = 0; i < 10; ++i) SubmitInto(io, coalescer, i, results);
    io.run();
    ASSERT_EQ(doubler.batches.size(), 3u);
    EXPECT_EQ(doubler.batches[0].size(), 4u);
    EXPECT_EQ(doubler.batches[1].size(), 4u);
    EXPECT_EQ(doubler.batches[2].size(), 2u);
    for (int i = 0; i < 10; ++i) EXPECT_EQ(results[static_cast<std::size_t>(i)], std::to_string(i * 2));
    EXPECT_EQ(coalescer.GetStats().largest, 4u);
}

TEST(Coalescer, WhileTheInFlightLimitIsReachedLaterItemsGoTogetherInTheNextBatch) {
    asio::io_context io;
    Doubler doubler{io, {}, 30ms};
    auto coalescer = Make(io, doubler, 64, 1);
    std::vector<std::string> results(6);
    SubmitInto(io, coalescer, 0, results);
    // Five more arrive one at a time while the first batch is held: they must wait, then share one batch.
    asio::steady_timer later(io, 5ms);
    later.async_wait([&](boost::system::error_code) {
        for (int i = 1; i < 6; ++i) SubmitInto(io, coalescer, i, results);
    });
    io.run();
    ASSERT_EQ(doubler.batches.size(), 2u);
    EXPECT_EQ(doubler.batches[0], (std::vector<int>{0}));
    EXPECT_EQ(doubler.batches[1], (std::vector<int>{1, 2, 3, 4, 5}));
    EXPECT_EQ(results[5], "10");
}

TEST(Coalescer, WithOverlapAtASecondBatchStartsOnlyWhenAFullOneWaits) {
    asio::io_context io;
    Doubler doubler{io, {}, 30ms};
    auto coalescer = Make(io, doubler, 4, 4, 4);
    std::vector<std::string> results(8);
    SubmitInto(io, coalescer, 0, results);
    // Two while the first batch runs: not a full batch, so they wait for it rather than start a second one.
    asio::steady_timer few(io, 5ms);
    few.async_wait([&](boost::system::error_code) {
        for (int i = 1; i < 3; ++i) SubmitInto(io, coalescer, i, results);
    });
    // Five more: now a full batch waits and runs beside the first; the three left wait again.
    asio::steady_timer burst(io, 10ms);
    burst.async_wait([&](boost::system::error_code) {
        for (int i = 3; i < 8; ++i) SubmitInto(io, coalescer, i, results);
    });
    io.run();
    ASSERT_EQ(doubler.batches.size(), 3u);
    EXPECT_EQ(doubler.batches[0], (std::vector<int>{0}));
    EXPECT_EQ(doubler.batches[1], (std::vector<int>{1, 2, 3, 4}));
    EXPECT_EQ(doubler.batches[2], (std::vector<int>{5, 6, 7}));
    EXPECT_EQ(doubler.most_running, 2);
    for (int i = 0; i < 8; ++i) EXPECT_EQ(results[static_cast<std::size_t>(i)], std::to_string(i * 2));
}

TEST(Coalescer, ABatchThatThrowsFailsEachOfItsItemsAndTheNextBatchWorks) {
    asio::io_context io;
    Doubler doubler{io};
    doubler.throw_on_next = true;
    auto coalescer = Make(io, doubler, 64, 0);
    std::vector<std::string> results(4);
    for (int i = 0; i < 3; ++i) SubmitInto(io, coalescer, i, results);
    io.run();
    for (int i = 0; i < 3; ++i) EXPECT_EQ(results[static_cast<std::size_t>(i)], "failed: database gone");
    io.restart();
    SubmitInto(io, coalescer, 3, results);
    io.run();
    EXPECT_EQ(results[3], "6");
}

TEST(Coalescer, AnItemWhoseDeadlinePassesWhileQueuedGivesUpAtOnceAndIsNeverSent) {
    asio::io_context io;
    Doubler doubler{io, {}, 60ms};
    auto coalescer = Make(io, doubler, 64, 1);
    std::vector<std::string> results(3);
    SubmitInto(io, coalescer, 0, results);  // holds the only batch slot for 60 ms
    const auto start = std::chrono::steady_clock::now();
    std::chrono::steady_clock::duration gave_up_after{};
    asio::steady_timer later(io, 5ms);
    later.async_wait([&](boost::system::error_code) {
        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
                results[1] = co_await coalescer.Submit(1, std::chrono::steady_clock::now() + 10ms);
                gave_up_after = std::chrono::steady_clock::now() - start;
            },
            asio::detached);
        SubmitInto(io, coalescer, 2, results);  // no deadline: waits for the slot
    });
    io.run();
    EXPECT_EQ(results[1], std::string("failed: ") + IntCoalescer::kGaveUp);
    EXPECT_GE(gave_up_after, 15ms);
    EXPECT_LT(gave_up_after, 55ms) << "answered when its deadline passed, not when a batch slot freed";
    ASSERT_EQ(doubler.batches.size(), 2u);
    EXPECT_EQ(doubler.batches[1], (std::vector<int>{2})) << "the item that gave up is not sent";
    EXPECT_EQ(results[2], "4");
    EXPECT_EQ(coalescer.GetStats().gave_up, 1u);
}

TEST(Coalescer, ABatchNeverTakesAnItemWhoseDeadlineHasPassed) {
    asio::io_context io;
    Doubler doubler{io};
    auto coalescer = Make(io, doubler, 64, 0);
    std::vector<std::string> results(2);
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            results[0] = co_await coalescer.Submit(0, std::chrono::steady_clock::now() - 1ms);
        },
        asio::detached);
    SubmitInto(io, coalescer, 1, results);
    io.run();
    EXPECT_EQ(results[0], std::string("failed: ") + IntCoalescer::kGaveUp);
    ASSERT_EQ(doubler.batches.size(), 1u);
    EXPECT_EQ(doubler.batches[0], (std::vector<int>{1}));
    EXPECT_EQ(results[1], "2");
}

TEST(Coalescer, ObserverSeesEveryBatchSize) {
    asio::io_context io;
    Doubler doubler{io};
    auto coalescer = Make(io, doubler, 2, 0);
    std::vector<std::size_t> sizes;
    coalescer.SetObserver([&sizes](std::size_t size) { sizes.push_back(size); });
    std::vector<std::string> results(3);
    for (int i = 0; i < 3; ++i) SubmitInto(io, coalescer, i, results);
    io.run();
    EXPECT_EQ(sizes, (std::vector<std::size_t>{2, 1}));
}

TEST(Coalescer, TimingObserversSplitACallersTimeIntoQueueingAndTheBatch) {
    asio::io_context io;
    Doubler doubler{io, {}, 30ms};
    auto coalescer = Make(io, doubler, 64, 1);
    std::vector<std::chrono::steady_clock::duration> waits, runs;
    coalescer.SetTimingObservers([&waits](auto waited) { waits.push_back(waited); },
                                 [&runs](auto ran) { runs.push_back(ran); });
    std::vector<std::string> results(3);
    SubmitInto(io, coalescer, 0, results);
    // Two more queue behind the held first batch: they wait for it to finish (~30 ms), then run for ~30 ms.
    asio::steady_timer later(io, 5ms);
    later.async_wait([&](boost::system::error_code) {
        for (int i = 1; i < 3; ++i) SubmitInto(io, coalescer, i, results);
    });
    io.run();
    ASSERT_EQ(waits.size(), 3u);
    ASSERT_EQ(runs.size(), 2u);
    EXPECT_LT(waits[0], 20ms);  // alone: started on the next turn of the loop
    EXPECT_GE(waits[1], 20ms);  // queued from ~5 ms until the first batch ended at ~30 ms
    EXPECT_GE(waits[2], 20ms);
    for (auto ran : runs) EXPECT_GE(ran, 30ms);
}

}  // namespace
}  // namespace valerix::core
