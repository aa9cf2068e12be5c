#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace valerix::metrics {

/// Values for a family's labels, in the order of the family's label names.
using LabelValues = std::vector<std::string>;

template <class Metric>
class Family;

/// A value that only goes up, e.g. requests served. Thread-safe: every method may be called concurrently; updates are
/// lock-free.
class Counter {
  public:
    Counter() = default;
    Counter(const Counter&) = delete;
    Counter& operator=(const Counter&) = delete;

    /// Adds v. A negative or NaN v is ignored, so the value never goes down.
    void Inc(double v = 1.0);
    double Value() const;

  private:
    friend class Family<Counter>;
    void AppendSamples(std::string& out, std::string_view name, std::string_view labels) const;

    std::atomic<double> value_{0.0};
};

/// A value that goes up and down, e.g. requests in flight. Thread-safe: every method may be called concurrently;
/// updates are lock-free.
class Gauge {
  public:
    Gauge() = default;
    Gauge(const Gauge&) = delete;
    Gauge& operator=(const Gauge&) = delete;

    void Set(double v);
    void Add(double v);
    void Sub(double v);
    double Value() const;

  private:
    friend class Family<Gauge>;
    void AppendSamples(std::string& out, std::string_view name, std::string_view labels) const;

    std::atomic<double> value_{0.0};
};

/// Counts observations into buckets by upper bound (v <= bound), e.g. request latencies. Thread-safe: every method may
/// be called concurrently; Observe is lock-free. A reader racing with Observe may see the sum and the count of
/// slightly different moments, but the count always equals the cumulative +Inf bucket.
class Histogram {
  public:
    /// bounds must be strictly increasing and free of NaN; a trailing +Inf is implied and may be omitted.
    /// Throws std::invalid_argument otherwise.
    explicit Histogram(std::vector<double> bounds);
    Histogram(const Histogram&) = delete;
    Histogram& operator=(const Histogram&) = delete;

    /// Records v in the first bucket whose bound is >= v; NaN lands in the +Inf bucket (and makes the sum NaN).
    void Observe(double v);
    std::uint64_t Count() const;
    double Sum() const;

  private:
    friend class Family<Histogram>;
    void AppendSamples(std::string& out, std::string_view name, std::string_view labels) const;

    std::vector<double> bounds_;
    std::vector<std::atomic<std::uint64_t>> counts_;  // per bucket, not cumulative; the last one is +Inf
    std::atomic<double> sum_{0.0};
};

/// Metrics of one name, one child per distinct set of label values. Obtained from a Registry, which owns it.
/// Thread-safe: WithLabels may be called concurrently; looking up an existing child takes only a shared lock, so hot
/// paths should still keep the returned reference rather than look it up per event.
template <class Metric>
class Family {
  public:
    Family(const Family&) = delete;
    Family& operator=(const Family&) = delete;

    /// Returns the child for these label values (created on first use); the reference stays valid for the life of the
    /// Registry. Throws std::invalid_argument if the number of values differs from the label names.
    Metric& WithLabels(const LabelValues& values);

  private:
    friend class Registry;
    using ChildFactory = std::function<std::unique_ptr<Metric>()>;

    Family(std::string name, std::string help, std::vector<std::string> label_names, ChildFactory make_child);
    void AppendTo(std::string& out) const;

    const std::string name_;
    const std::string help_;
    const std::vector<std::string> label_names_;
    const ChildFactory make_child_;
    mutable std::shared_mutex mutex_;
    std::map<LabelValues, std::unique_ptr<Metric>> children_;  // ordered, so exposition is stable
};

extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;

/// Owns every metric family of a process and renders them in the Prometheus text exposition format 0.0.4.
/// Families are never removed, so references returned by Add* live as long as the Registry.
/// Thread-safe: every method may be called concurrently, including registration during exposition.
class Registry {
  public:
    Registry();
    ~Registry();
    Registry(const Registry&) = delete;
    Registry& operator=(const Registry&) = delete;

    /// Registers a counter family. Give the name with its `_total` suffix; it is exposed as given.
    /// Throws std::invalid_argument if a name is not a valid Prometheus metric/label name, a label name is reserved
    /// (`__*`) or repeated, or the name is already taken. A family without labels has its single child created now,
    /// so it is exposed as 0 before its first update.
    Family<Counter>& AddCounter(std::string name, std::string help, std::vector<std::string> label_names = {});

    /// Registers a gauge family; errors as for AddCounter.
    Family<Gauge>& AddGauge(std::string name, std::string help, std::vector<std::string> label_names = {});

    /// Registers a histogram family exposing `name_bucket`, `name_sum` and `name_count`, all of which must be free.
    /// Errors as for AddCounter; also throws std::invalid_argument for the label name `le` or for buckets that are
    /// not strictly increasing or contain NaN. The `+Inf` bucket is implied.
    Family<Histogram>& AddHistogram(std::string name, std::string help, std::vector<std::string> label_names,
                                    std::vector<double> buckets);

    /// Adds a gauge whose value is read by calling fn at exposition time (e.g. pool size); fn must be thread-safe.
    /// fn is called without any registry lock held, so it may itself use the Registry. Errors as for AddCounter; also
    /// throws std::invalid_argument if fn is empty.
    void AddCallbackGauge(std::string name, std::string help, std::function<double()> fn);

    /// Prometheus text exposition of every family, families in registration order, children in a stable order
    /// (sorted by label values). The HELP line is left out when help is empty; families with labels but no children
    /// yet show only their HELP and TYPE lines. Exceptions thrown by a callback gauge propagate.
    std::string Expose() const;

  private:
    struct Entry;

    template <class Metric>
    Family<Metric>& AddFamily(std::string name, std::string help, std::vector<std::string> label_names,
                              std::vector<std::string> sample_names, typename Family<Metric>::ChildFactory make_child);
    void Insert(std::unique_ptr<Entry> entry, const std::vector<std::string>& sample_names);

    mutable std::mutex mutex_;
    std::vector<std::unique_ptr<Entry>> entries_;  // registration order
    std::unordered_set<std::string> taken_names_;  // family names and every sample name they expose
};

/// Default latency buckets in seconds: 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
std::vector<double> DefaultLatencyBuckets();

}  // namespace valerix::metrics
