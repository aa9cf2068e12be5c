#pragma once

#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include <valerix/core/coalescer.hpp>
#include <valerix/metrics/batch_metrics.hpp>
#include <valerix/metrics/registry.hpp>
#include <valerix/pg/pool.hpp>

namespace valerix::order {

template <class T>
using Awaitable = boost::asio::awaitable<pg::Result<T>>;

/// What create_order decided for an Idempotency-Key.
struct CreateOutcome {
    std::string outcome;  ///< created | replay | in_flight | key_reused
    std::string order_id;
    int response_status = 0;  ///< replay only
    std::string body;         ///< replay only
};

/// The outcome of a state change: a short word from the SQL function and the order as JSON text.
struct Transition {
    std::string outcome;
    std::string body;
    int response_status = 0;  ///< FinishReserve: the answer stored for the key (0 when none)
};

/// An intent the reconciler claimed (leased) for one attempt.
struct ClaimedIntent {
    std::string order_id;
    std::string kind;  ///< reserve | commit | release
    int attempts = 0;
    std::string items_json;  ///< the order's items
};

struct OrderPage {
    std::vector<std::string> orders;  ///< JSON text each
    std::optional<std::string> next_cursor;
};

struct Backlog {
    long long pending = 0;
    double oldest_age_seconds = 0;
};

/// Group commit of the hot-path writes (create, finish reserve): calls made at the same moment share one statement
/// and one transaction. `max_batch` 1 turns it off.
struct StoreBatching {
    int max_batch = 64;
    int max_in_flight = 4;  ///< batches of one kind running at once; more calls wait and go in the next batch
    /// While a batch of a kind runs, another starts only when this many calls wait (0: a full batch, max_batch);
    /// 1 starts one whenever a call waits, up to max_in_flight.
    int overlap_at = 0;
};

/// A create waiting for its batch (see OrderStore::Create / CreateDeferred).
struct CreateCall {
    std::string key, fingerprint, order_id, customer_id, items_json;
    int lease_ms = 0;
    int delay_ms = 0;   ///< deferred creates only
    std::string error;  ///< deferred creates only
    core::Deadline deadline;
};

/// A finish_reserve waiting for its batch.
struct FinishCall {
    std::string order_id;
    bool confirmed = false;
    std::string items_json;
    long long total_cents = 0;
    std::string reason;
    int problem_status = 0;
    std::string problem_body;
    core::Deadline deadline;
};

/// A defer_intent waiting for its batch.
struct DeferCall {
    std::string order_id;
    std::string kind;
    std::string error;
    int delay_ms = 0;
    core::Deadline deadline;
};

/// order_db behind prepared statements; each state change is one call of a SQL function (one round trip, one
/// transaction) that guards the order state machine with a row lock. Creates and reserve outcomes made at the same
/// moment run as one statement that calls the same function for each (sorted by key / order id, so two batches
/// lock rows in the same order), in one transaction: one commit for all of them. So do the intents deferred at the
/// same moment (every order of a reservation batch whose call failed).
class OrderStore {
public:
    explicit OrderStore(pg::Pool& pool, StoreBatching batching = {});

    Awaitable<CreateOutcome> Create(const std::string& key, const std::string& fingerprint, const std::string& order_id,
                                    const std::string& customer_id, const std::string& items_json, int lease_ms,
                                    core::Deadline deadline);
    /// As Create, but the new order's reserve intent is deferred at once (retry after `delay_ms`, `error` recorded,
    /// the key answers 202): outcome "deferred" with the order's JSON, in one transaction. For creates while the
    /// breaker refuses calls.
    Awaitable<CreateOutcome> CreateDeferred(const std::string& key, const std::string& fingerprint,
                                            const std::string& order_id, const std::string& customer_id,
                                            const std::string& items_json, int lease_ms, int delay_ms,
                                            const std::string& error, core::Deadline deadline);
    /// Records CONFIRMED (with priced items and total) or REJECTED (with the problem a replay must return).
    Awaitable<Transition> FinishReserve(const std::string& order_id, bool confirmed, const std::string& items_json,
                                        long long total_cents, const std::string& reason, int problem_status,
                                        const std::string& problem_body, core::Deadline deadline);
    /// Leaves the intent pending, to be retried after delay_ms; returns the order ("" for an order that does not
    /// exist).
    Awaitable<std::string> DeferIntent(const std::string& order_id, const std::string& kind, const std::string& error,
                                       int delay_ms, core::Deadline deadline);
    Awaitable<void> FailIntent(const std::string& order_id, const std::string& kind, const std::string& error,
                               core::Deadline deadline);
    Awaitable<Transition> StartShip(const std::string& order_id, int lease_ms, core::Deadline deadline);
    Awaitable<std::string> FinishShip(const std::string& order_id, core::Deadline deadline);
    Awaitable<Transition> Cancel(const std::string& order_id, int lease_ms, core::Deadline deadline);
    Awaitable<void> FinishRelease(const std::string& order_id, core::Deadline deadline);

    Awaitable<std::optional<std::string>> Get(const std::string& order_id, core::Deadline deadline);
    /// Newest first; `cursor` from a previous page.
    Awaitable<OrderPage> List(const std::optional<std::string>& status, int limit,
                              const std::optional<std::string>& cursor, core::Deadline deadline);

    /// Leases up to `limit` due intents for lease_ms (SKIP LOCKED: safe with several replicas).
    Awaitable<std::vector<ClaimedIntent>> ClaimDueIntents(int limit, int lease_ms, core::Deadline deadline);
    Awaitable<Backlog> GetBacklog(core::Deadline deadline);
    /// Keys one purge deletes at most: one short transaction.
    static constexpr int kPurgeChunk = 1000;
    /// Deletes up to kPurgeChunk idempotency keys older than retention; returns how many.
    Awaitable<int> PurgeKeys(std::chrono::seconds retention, core::Deadline deadline);
    Awaitable<void> Ping(core::Deadline deadline);

    /// Feeds valerix_batch_*{operation} from every create, finish-reserve and defer batch.
    void ObserveBatches(metrics::BatchMetrics& batches);

    const core::Coalescer<CreateCall, pg::Result<CreateOutcome>>::Stats& CreateBatchStats() const {
        return creates_.GetStats();
    }
    const core::Coalescer<FinishCall, pg::Result<Transition>>::Stats& FinishBatchStats() const {
        return finishes_.GetStats();
    }

private:
    boost::asio::awaitable<std::vector<pg::Result<CreateOutcome>>> CreateBatch(std::vector<CreateCall>& calls,
                                                                               bool deferred);
    boost::asio::awaitable<std::vector<pg::Result<Transition>>> FinishBatch(std::vector<FinishCall>& calls);
    boost::asio::awaitable<std::vector<pg::Result<std::string>>> DeferBatch(std::vector<DeferCall>& calls);
    Awaitable<Transition> CallTransition(const pg::Statement& statement, pg::Params params, core::Deadline deadline);
    pg::Pool& pool_;
    core::Coalescer<CreateCall, pg::Result<CreateOutcome>> creates_;
    core::Coalescer<CreateCall, pg::Result<CreateOutcome>> deferred_creates_;
    core::Coalescer<FinishCall, pg::Result<Transition>> finishes_;
    core::Coalescer<DeferCall, pg::Result<std::string>> defers_;
};

/// Encodes / decodes the opaque list cursor ("<created_at>|<id>" as hex).
std::string EncodeCursor(std::string_view created_at, std::string_view id);
std::optional<std::pair<std::string, std::string>> DecodeCursor(std::string_view cursor);

}  // namespace valerix::order
