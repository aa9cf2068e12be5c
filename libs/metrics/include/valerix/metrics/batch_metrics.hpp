#pragma once

#include <chrono>
#include <string>

#include <valerix/core/coalescer.hpp>
#include <valerix/metrics/registry.hpp>

namespace valerix::metrics {

/// The histograms of application-level group commit (ADR 0005), by operation: how many calls shared each batch,
/// how long a call waited in the queue for its batch to start, and how long a batch took. A caller's time in a
/// Coalescer is its wait plus its batch's duration, so the two show whether latency comes from queueing or work.
class BatchMetrics {
  public:
    explicit BatchMetrics(Registry& registry)
        : sizes_(registry.AddHistogram("valerix_batch_size",
                                       "Calls sharing one transaction (group commit), by operation.", {"operation"},
                                       {1, 2, 4, 8, 16, 32, 64, 128, 256})),
          waits_(registry.AddHistogram("valerix_batch_wait_seconds",
                                       "Time a call waited in the queue for its batch to start, by operation.",
                                       {"operation"}, DefaultLatencyBuckets())),
          durations_(registry.AddHistogram("valerix_batch_duration_seconds",
                                           "Time one batch took (transaction or call), by operation.", {"operation"},
                                           DefaultLatencyBuckets())) {}

    /// Feeds the three histograms from `coalescer`'s batches under the label `operation`.
    template <class Item, class Result>
    void Observe(core::Coalescer<Item, Result>& coalescer, const std::string& operation) {
        auto* size = &sizes_.WithLabels({operation});
        auto* wait = &waits_.WithLabels({operation});
        auto* duration = &durations_.WithLabels({operation});
        coalescer.SetObserver([size](std::size_t n) { size->Observe(static_cast<double>(n)); });
        coalescer.SetTimingObservers(
            [wait](std::chrono::steady_clock::duration d) { wait->Observe(Seconds(d)); },
            [duration](std::chrono::steady_clock::duration d) { duration->Observe(Seconds(d)); });
    }

  private:
    static double Seconds(std::chrono::steady_clock::duration d) { return std::chrono::duration<double>(d).count(); }

    Family<Histogram>& sizes_;
    Family<Histogram>& waits_;
    Family<Histogram>& durations_;
};

}  // namespace valerix::metrics
