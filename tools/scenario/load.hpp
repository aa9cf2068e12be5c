#pragma once

#include <atomic>
#include <boost/json/object.hpp>
#include <cstdint>
#include <exception>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "invariants.hpp"
#include "scenario.hpp"
#include "stack.hpp"

namespace valerix::scenario {

/// One request the client sent and what came back (or did not).
struct Exchange {
    std::uint64_t seq = 0;
    double t_s = 0;  // when it was sent, seconds since the run's clock started
    double latency_ms = 0;
    std::string op;  // create, ship, cancel, get, replay
    std::string method, target;
    std::string key;
    std::string order_id;
    int attempt = 1;
    std::string request_id;
    int status = 0;  // 0: no answer (connection error or timeout)
    std::string error;
    std::string code;          // problem code, if any
    std::string order_status;  // "status" of an order body, if any
    bool replayed = false;     // Idempotent-Replayed: true
    std::string body;          // response body, truncated
};

/// Appends every exchange as one JSON line to a file. Thread-safe.
class RequestLog {
  public:
    explicit RequestLog(const std::string& path);
    std::uint64_t Append(Exchange& exchange);
    const std::string& Path() const { return path_; }
    std::uint64_t Count() const { return next_seq_; }

  private:
    std::string path_;
    std::mutex mutex_;
    std::ofstream out_;
    std::atomic<std::uint64_t> next_seq_{0};
};

enum class Followup { kNone, kShip, kCancel };

/// The deterministic part of one order: the same seed and index always give the same order and follow-up.
struct OrderPlan {
    int index = 0;
    std::string key;
    std::string customer_id;
    Items items;
    std::string body;
    Followup followup = Followup::kNone;
    int followup_delay_ms = 0;
};

/// Builds the plan of order `index` from the scenario's seed (keys also carry `run_tag`, so two runs never share one).
OrderPlan PlanOrder(const Scenario& scenario, std::uint64_t seed, int index, const std::string& run_tag);

/// Everything the client did for one order and what it was told.
struct OrderRecord {
    OrderPlan plan;
    double created_t_s = 0;       // when the order was due (open loop) or its client started it
    double create_latency_s = 0;  // due -> final answer received (waiting for a connection and retries included)
    int create_attempts = 0;
    int create_status = 0;  // final answer's HTTP status, 0 when the client gave up
    std::string create_code;
    std::string create_order_status;
    std::string create_body;  // the final answer's body
    bool create_replayed = false;
    std::string order_id;
    std::set<std::string> told_ids;
    std::string known_status;  // last status the client saw through the API
    std::string promised, promised_by;
    std::vector<std::string> unexpected;
    std::vector<Exchange> exchanges;  // copies, for the report's stories
    // Follow-up.
    std::string followup_outcome;  // e.g. "shipped (200 SHIPPED)", "not shipped: order REJECTED"
    double followup_latency_s = 0;
    int followup_attempts = 0;
    int followup_polls = 0;
};

/// Simulated clients driving order-service's public API (DESIGN.md §4) like real ones: a fresh Idempotency-Key per
/// order, the same key again after a connection error, a timeout, a 5xx or a 409 idempotency_key_in_flight (bounded),
/// and some orders shipped or cancelled a little later. Every request goes to the RequestLog.
///
/// Asynchronous: one thread runs every order as a coroutine, so a slow answer holds a connection, not a client. With
/// a rate the load is open loop: order i starts at i / rate whatever happened to the earlier ones (its latency counts
/// from then), and at most `concurrency` requests are in flight (one keep-alive connection each); a request waiting
/// for a free connection is not sent yet. Without a rate, `concurrency` clients each place their next order once the
/// previous one is answered.
class LoadDriver {
  public:
    LoadDriver(const Scenario& scenario, std::uint64_t seed, Endpoint order, SteadyTime epoch, RequestLog& log,
               std::string run_tag);
    ~LoadDriver();

    /// Starts the client thread; orders are placed for the load's duration from now.
    void Start();
    /// Waits until every order is answered (or given up) and every follow-up is done.
    void Join();
    /// Stops placing new orders early (follow-ups of answered orders still run).
    void StopCreating() { stop_creating_ = true; }

    /// Every order's record, by index. Only after Join().
    std::vector<const OrderRecord*> Records() const;
    double CreatingWindowS() const { return creating_window_s_; }
    /// Most requests in flight at once (waiting for a connection included).
    int MaxInFlight() const { return max_in_flight_; }

  private:
    class Impl;
    const Scenario& scenario_;
    std::uint64_t seed_;
    Endpoint order_;
    SteadyTime epoch_;
    RequestLog& log_;
    std::string run_tag_;
    std::atomic<bool> stop_creating_{false};
    double creating_window_s_ = 0;
    int max_in_flight_ = 0;
    std::vector<std::unique_ptr<OrderRecord>> records_;
    std::exception_ptr failure_;
    std::thread thread_;
};

/// Percentiles of a sample, for the report.
struct Percentiles {
    std::size_t n = 0;
    double p50 = 0, p90 = 0, p99 = 0, max = 0;
};
Percentiles ComputePercentiles(std::vector<double> values);

}  // namespace valerix::scenario
