#include "storage/order_store.hpp"

#include <algorithm>
#include <array>
#include <optional>

#include <valerix/core/random.hpp>

namespace valerix::order {
namespace {

constexpr pg::Statement kCreate{
    "order_create",
    "SELECT outcome, order_id, response_status, body "
    "FROM create_order($1, md5($2), $3::uuid, $4, $5::jsonb, $6::int)"};
constexpr pg::Statement kCreateDeferred{
    "order_create_deferred",
    "SELECT outcome, order_id, response_status, body "
    "FROM create_order_deferred($1, md5($2), $3::uuid, $4, $5::jsonb, $6::int, $7::int, $8)"};
// The batch forms answer with ord, the row's position in the arrays. create_order_batch (0007; with the delays and
// errors, the deferred create: 0010) and finish_reserve_batch (0008) do each step once for the whole batch.
constexpr pg::Statement kCreateBatch{
    "order_create_batch",
    "SELECT ord, outcome, order_id, response_status, body "
    "FROM create_order_batch($1::text[], $2::text[], $3::uuid[], $4::text[], $5::jsonb[], $6::int[])"};
constexpr pg::Statement kCreateDeferredBatch{
    "order_create_deferred_batch",
    "SELECT ord, outcome, order_id, response_status, body "
    "FROM create_order_batch($1::text[], $2::text[], $3::uuid[], $4::text[], $5::jsonb[], $6::int[], $7::int[], "
    "                        $8::text[])"};
constexpr pg::Statement kFinishReserveBatch{
    "order_finish_reserve_batch",
    "SELECT ord, applied, status, response_status, body "
    "FROM finish_reserve_batch($1::uuid[], $2::bool[], $3::jsonb[], $4::bigint[], $5::text[], $6::int[], $7::text[])"};
constexpr pg::Statement kFinishReserve{
    "order_finish_reserve",
    "SELECT applied, status, response_status, body "
    "FROM finish_reserve($1::uuid, $2::bool, $3::jsonb, $4::bigint, $5, $6::int, $7)"};
constexpr pg::Statement kDefer{"order_defer_intent", "SELECT defer_intent($1::uuid, $2, $3, $4::int)"};
constexpr pg::Statement kDeferBatch{"order_defer_intent_batch",
                                    "SELECT ord, body FROM defer_intent_batch($1::uuid[], $2::text[], $3::text[], "
                                    "$4::int[])"};
constexpr pg::Statement kFail{"order_fail_intent", "SELECT fail_intent($1::uuid, $2, $3)"};
constexpr pg::Statement kStartShip{"order_start_ship", "SELECT outcome, body FROM start_ship($1::uuid, $2::int)"};
constexpr pg::Statement kFinishShip{"order_finish_ship", "SELECT finish_ship($1::uuid)"};
constexpr pg::Statement kCancel{"order_cancel", "SELECT outcome, body FROM cancel_order($1::uuid, $2::int)"};
constexpr pg::Statement kFinishRelease{"order_finish_release", "SELECT finish_release($1::uuid)"};
constexpr pg::Statement kGet{"order_get", "SELECT order_json($1::uuid)"};
constexpr pg::Statement kClaim{
    "order_claim_intents",
    "WITH due AS (SELECT order_id, kind FROM inventory_intents "
    "             WHERE state = 'pending' AND next_attempt_at <= now() "
    "             ORDER BY next_attempt_at LIMIT $1::int FOR UPDATE SKIP LOCKED) "
    "UPDATE inventory_intents i SET next_attempt_at = now() + $2::int * interval '1 millisecond', "
    "       attempts = i.attempts + 1, updated_at = now() "
    "FROM due WHERE i.order_id = due.order_id AND i.kind = due.kind "
    "RETURNING i.order_id, i.kind, i.attempts, (SELECT o.items::text FROM orders o WHERE o.id = i.order_id)"};
constexpr pg::Statement kBacklog{
    "order_backlog",
    "SELECT count(*), COALESCE(extract(epoch FROM now() - min(created_at)), 0)::float8 "
    "FROM inventory_intents WHERE state = 'pending' AND next_attempt_at IS NOT NULL"};  // the due index (0004)
constexpr pg::Statement kPurge{
    "order_purge_keys",
    "DELETE FROM idempotency_keys WHERE key IN (SELECT key FROM idempotency_keys "
    "WHERE created_at < now() - $1::int * interval '1 second' LIMIT $2::int)"};
constexpr pg::Statement kPing{"order_ping", "SELECT 1"};

std::string Hex(std::string_view text) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : text) {
        out.push_back(kDigits[c >> 4]);
        out.push_back(kDigits[c & 0xf]);
    }
    return out;
}

}  // namespace

std::string EncodeCursor(std::string_view created_at, std::string_view id) {
    return Hex(std::string(created_at) + "|" + std::string(id));
}

std::optional<std::pair<std::string, std::string>> DecodeCursor(std::string_view cursor) {
    if (cursor.size() % 2 != 0 || cursor.size() > 400) return std::nullopt;
    std::string text;
    for (std::size_t i = 0; i < cursor.size(); i += 2) {
        auto nibble = [](char c) -> int {
            if (c >= '0' && c <= '9') return c - '0';
            if (c >= 'a' && c <= 'f') return c - 'a' + 10;
            return -1;
        };
        int high = nibble(cursor[i]), low = nibble(cursor[i + 1]);
        if (high < 0 || low < 0) return std::nullopt;
        text.push_back(static_cast<char>(high * 16 + low));
    }
    auto bar = text.find('|');
    if (bar == std::string::npos) return std::nullopt;
    auto id = core::CanonicalUuid(std::string_view(text).substr(bar + 1));
    auto created_at = text.substr(0, bar);
    if (!id || created_at.empty() || created_at.size() > 64) return std::nullopt;
    bool plausible = std::all_of(created_at.begin(), created_at.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == ':' || c == ' ' || c == '.' || c == '+';
    });
    if (!plausible) return std::nullopt;
    return std::make_pair(created_at, *id);
}

namespace {

CreateOutcome ToCreateOutcome(const pg::Rows& rows) {
    CreateOutcome outcome;
    outcome.outcome = std::string(rows.Text(0, 0));
    outcome.order_id = std::string(rows.Text(0, 1));
    if (!rows.IsNull(0, 2)) outcome.response_status = static_cast<int>(rows.Int(0, 2));
    if (!rows.IsNull(0, 3)) outcome.body = std::string(rows.Text(0, 3));
    return outcome;
}

}  // namespace

namespace {

std::size_t AtLeastOne(int value) { return static_cast<std::size_t>(std::max(1, value)); }

/// What every call of a batch gets when the batch itself could not run, or a call whose deadline passed while it
/// waited for a batch (a timeout: nothing was sent).
template <class T>
pg::Result<T> BatchFailed(const std::string& why) {
    return pg::Error{why == core::kBatchGaveUp ? pg::ErrorKind::kTimeout : pg::ErrorKind::kOther, "", why};
}

/// The statement of one listing filter, by status or not, after a cursor or from the newest. Each is an index scan
/// that stops after the page; one statement with "$1 IS NULL OR status = $1" got a generic plan that scanned
/// orders_by_created and filtered, reading the whole table for a rare status (1.4 s on 515,000 orders).
pg::Statement ListStatement(bool by_status, bool after) {
    struct Listing {
        std::string name, sql;
    };
    static const std::array<Listing, 4> listings = [] {
        std::array<Listing, 4> out;
        for (std::size_t i = 0; i < out.size(); ++i) {
            const bool status = (i & 1) != 0, cursor = (i & 2) != 0;
            int next = 1;
            auto param = [&next] { return "$" + std::to_string(next++); };
            std::string where;
            if (status) where = "status = " + param();
            if (cursor) {
                where += where.empty() ? "" : " AND ";
                where += "(created_at, id) < (" + param() + "::timestamptz, ";
                where += param() + "::uuid)";
            }
            out[i].name = std::string("order_list") + (status ? "_status" : "") + (cursor ? "_after" : "");
            // The text copy of created_at (for the cursor) has a name of its own: an output column named created_at
            // would make ORDER BY sort by the text, never by the index.
            out[i].sql = "SELECT order_json(id), created_at::text AS cursor_created_at, id FROM orders " +
                         (where.empty() ? "" : "WHERE " + where + " ") + "ORDER BY created_at DESC, id DESC LIMIT " +
                         param() + "::int";
        }
        return out;
    }();
    const auto& listing = listings[(by_status ? 1 : 0) + (after ? 2 : 0)];
    return pg::Statement{listing.name, listing.sql};  // views of strings that live as long as the program
}

std::size_t OverlapAt(const StoreBatching& batching) {
    return AtLeastOne(batching.overlap_at > 0 ? batching.overlap_at : batching.max_batch);
}

}  // namespace

OrderStore::OrderStore(pg::Pool& pool, StoreBatching batching)
    : pool_(pool),
      creates_(pool.Executor(), AtLeastOne(batching.max_batch), AtLeastOne(batching.max_in_flight),
               [this](std::vector<CreateCall>& calls) { return CreateBatch(calls, false); },
               &BatchFailed<CreateOutcome>, OverlapAt(batching)),
      deferred_creates_(pool.Executor(), AtLeastOne(batching.max_batch), AtLeastOne(batching.max_in_flight),
                        [this](std::vector<CreateCall>& calls) { return CreateBatch(calls, true); },
                        &BatchFailed<CreateOutcome>, OverlapAt(batching)),
      finishes_(pool.Executor(), AtLeastOne(batching.max_batch), AtLeastOne(batching.max_in_flight),
                [this](std::vector<FinishCall>& calls) { return FinishBatch(calls); }, &BatchFailed<Transition>,
                OverlapAt(batching)),
      defers_(pool.Executor(), AtLeastOne(batching.max_batch), AtLeastOne(batching.max_in_flight),
              [this](std::vector<DeferCall>& calls) { return DeferBatch(calls); }, &BatchFailed<std::string>,
              OverlapAt(batching)) {}

void OrderStore::ObserveBatches(metrics::BatchMetrics& batches) {
    batches.Observe(creates_, "create_order");
    batches.Observe(deferred_creates_, "create_order_deferred");
    batches.Observe(finishes_, "finish_reserve");
    batches.Observe(defers_, "defer_intent");
}

Awaitable<CreateOutcome> OrderStore::Create(const std::string& key, const std::string& fingerprint,
                                            const std::string& order_id, const std::string& customer_id,
                                            const std::string& items_json, int lease_ms, core::Deadline deadline) {
    CreateCall call{key, fingerprint, order_id, customer_id, items_json, lease_ms, 0, "", deadline};
    co_return co_await creates_.Submit(std::move(call), deadline.When());
}

Awaitable<CreateOutcome> OrderStore::CreateDeferred(const std::string& key, const std::string& fingerprint,
                                                    const std::string& order_id, const std::string& customer_id,
                                                    const std::string& items_json, int lease_ms, int delay_ms,
                                                    const std::string& error, core::Deadline deadline) {
    CreateCall call{key, fingerprint, order_id, customer_id, items_json, lease_ms, delay_ms, error, deadline};
    co_return co_await deferred_creates_.Submit(std::move(call), deadline.When());
}

namespace {

/// The order in which a batch takes its row locks: sorted by `key`, so concurrent batches never wait on each other
/// in a cycle.
template <class Call, class Key>
std::vector<std::size_t> LockOrder(const std::vector<Call>& calls, Key key) {
    std::vector<std::size_t> order(calls.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return key(calls[a]) < key(calls[b]); });
    return order;
}

/// The caller a row of a batch function answers: the row's first column (`ord`, 1-based) is a position in the arrays
/// sent, which held the calls in `order`; nullopt for a position outside them.
std::optional<std::size_t> CallerOf(const pg::Rows& rows, int r, const std::vector<std::size_t>& order) {
    auto position = static_cast<std::size_t>(rows.Int(r, 0) - 1);
    if (position >= order.size()) return std::nullopt;
    return order[position];
}

/// A batch's time limit: the latest of its callers' (see Deadline::Later). Under load the oldest queued call has
/// least time left, and the whole transaction would be cut to that.
core::Deadline Latest(const auto& calls) {
    core::Deadline latest = calls.front().deadline;
    for (const auto& call : calls) latest = latest.Later(call.deadline);
    return latest;
}

}  // namespace

boost::asio::awaitable<std::vector<pg::Result<CreateOutcome>>> OrderStore::CreateBatch(std::vector<CreateCall>& calls,
                                                                                       bool deferred) {
    std::vector<pg::Result<CreateOutcome>> results;
    if (calls.size() == 1) {
        const auto& c = calls.front();
        auto params = deferred ? pg::MakeParams(c.key, c.fingerprint, c.order_id, c.customer_id, c.items_json,
                                                std::to_string(c.lease_ms), std::to_string(c.delay_ms), c.error)
                               : pg::MakeParams(c.key, c.fingerprint, c.order_id, c.customer_id, c.items_json,
                                                std::to_string(c.lease_ms));
        auto rows = co_await pool_.Execute(deferred ? kCreateDeferred : kCreate, params, c.deadline);
        if (rows) results.emplace_back(ToCreateOutcome(*rows));
        else results.emplace_back(rows.error());
        co_return results;
    }
    auto order = LockOrder(calls, [](const CreateCall& c) -> const std::string& { return c.key; });
    pg::ArrayLiteral keys, fingerprints, ids, customers, items, leases, delays, errors;
    for (auto i : order) {
        const auto& c = calls[i];
        keys.Add(c.key);
        fingerprints.Add(c.fingerprint);
        ids.Add(c.order_id);
        customers.Add(c.customer_id);
        items.Add(c.items_json);
        leases.Add(std::to_string(c.lease_ms));
        delays.Add(std::to_string(c.delay_ms));
        errors.Add(c.error);
    }
    auto params = deferred ? pg::MakeParams(keys.Text(), fingerprints.Text(), ids.Text(), customers.Text(),
                                            items.Text(), leases.Text(), delays.Text(), errors.Text())
                           : pg::MakeParams(keys.Text(), fingerprints.Text(), ids.Text(), customers.Text(),
                                            items.Text(), leases.Text());
    auto rows = co_await pool_.Execute(deferred ? kCreateDeferredBatch : kCreateBatch, params, Latest(calls));
    if (!rows) {
        results.assign(calls.size(), rows.error());
        co_return results;
    }
    results.assign(calls.size(), pg::Error{pg::ErrorKind::kOther, "", "create_order returned no row"});
    for (int r = 0; r < rows->Size(); ++r) {
        auto caller = CallerOf(*rows, r, order);
        if (!caller) continue;
        CreateOutcome outcome;
        outcome.outcome = std::string(rows->Text(r, 1));
        outcome.order_id = std::string(rows->Text(r, 2));
        if (!rows->IsNull(r, 3)) outcome.response_status = static_cast<int>(rows->Int(r, 3));
        if (!rows->IsNull(r, 4)) outcome.body = std::string(rows->Text(r, 4));
        results[*caller] = std::move(outcome);
    }
    co_return results;
}

Awaitable<Transition> OrderStore::FinishReserve(const std::string& order_id, bool confirmed,
                                                const std::string& items_json, long long total_cents,
                                                const std::string& reason, int problem_status,
                                                const std::string& problem_body, core::Deadline deadline) {
    FinishCall call{order_id, confirmed, items_json, total_cents, reason, problem_status, problem_body, deadline};
    co_return co_await finishes_.Submit(std::move(call), deadline.When());
}

boost::asio::awaitable<std::vector<pg::Result<Transition>>> OrderStore::FinishBatch(std::vector<FinishCall>& calls) {
    std::vector<pg::Result<Transition>> results;
    auto missing = [](const std::string& order_id) {
        return pg::Error{pg::ErrorKind::kOther, "", "order " + order_id + " does not exist"};
    };
    auto transition = [](const pg::Rows& rows, int r, int first) {
        return Transition{rows.Bool(r, first) ? "applied" : "unchanged", std::string(rows.Text(r, first + 3)),
                          rows.IsNull(r, first + 2) ? 0 : static_cast<int>(rows.Int(r, first + 2))};
    };
    if (calls.size() == 1) {
        const auto& c = calls.front();
        auto params = pg::MakeParams(c.order_id, c.confirmed ? "true" : "false", c.items_json,
                                     std::to_string(c.total_cents), c.reason, std::to_string(c.problem_status),
                                     c.problem_body);
        auto rows = co_await pool_.Execute(kFinishReserve, params, c.deadline);
        if (!rows) results.emplace_back(rows.error());
        else if (rows->Empty()) results.emplace_back(missing(c.order_id));
        else results.emplace_back(transition(*rows, 0, 0));
        co_return results;
    }
    auto order = LockOrder(calls, [](const FinishCall& c) -> const std::string& { return c.order_id; });
    pg::ArrayLiteral ids, confirmed, items, totals, reasons, statuses, problems;
    for (auto i : order) {
        const auto& c = calls[i];
        ids.Add(c.order_id);
        confirmed.Add(c.confirmed ? "true" : "false");
        items.Add(c.items_json);
        totals.Add(std::to_string(c.total_cents));
        reasons.Add(c.reason);
        statuses.Add(std::to_string(c.problem_status));
        problems.Add(c.problem_body);
    }
    auto params = pg::MakeParams(ids.Text(), confirmed.Text(), items.Text(), totals.Text(), reasons.Text(),
                                 statuses.Text(), problems.Text());
    auto rows = co_await pool_.Execute(kFinishReserveBatch, params, Latest(calls));
    if (!rows) {
        results.assign(calls.size(), rows.error());
        co_return results;
    }
    for (const auto& c : calls) results.emplace_back(missing(c.order_id));
    for (int r = 0; r < rows->Size(); ++r) {
        if (auto caller = CallerOf(*rows, r, order)) results[*caller] = transition(*rows, r, 1);
    }
    co_return results;
}

Awaitable<std::string> OrderStore::DeferIntent(const std::string& order_id, const std::string& kind,
                                               const std::string& error, int delay_ms, core::Deadline deadline) {
    DeferCall call{order_id, kind, error, delay_ms, deadline};
    co_return co_await defers_.Submit(std::move(call), deadline.When());
}

boost::asio::awaitable<std::vector<pg::Result<std::string>>> OrderStore::DeferBatch(std::vector<DeferCall>& calls) {
    std::vector<pg::Result<std::string>> results;
    if (calls.size() == 1) {
        const auto& c = calls.front();
        auto params = pg::MakeParams(c.order_id, c.kind, c.error, std::to_string(c.delay_ms));
        auto rows = co_await pool_.Execute(kDefer, params, c.deadline);
        if (rows) results.emplace_back(std::string(rows->Text(0, 0)));
        else results.emplace_back(rows.error());
        co_return results;
    }
    auto order = LockOrder(calls, [](const DeferCall& c) -> const std::string& { return c.order_id; });
    pg::ArrayLiteral ids, kinds, errors, delays;
    for (auto i : order) {
        const auto& c = calls[i];
        ids.Add(c.order_id);
        kinds.Add(c.kind);
        errors.Add(c.error);
        delays.Add(std::to_string(c.delay_ms));
    }
    auto params = pg::MakeParams(ids.Text(), kinds.Text(), errors.Text(), delays.Text());
    auto rows = co_await pool_.Execute(kDeferBatch, params, Latest(calls));
    if (!rows) {
        results.assign(calls.size(), rows.error());
        co_return results;
    }
    results.assign(calls.size(), pg::Error{pg::ErrorKind::kOther, "", "defer_intent_batch returned no row"});
    for (int r = 0; r < rows->Size(); ++r) {
        if (auto caller = CallerOf(*rows, r, order)) {
            results[*caller] = std::string(rows->IsNull(r, 1) ? "" : rows->Text(r, 1));
        }
    }
    co_return results;
}

Awaitable<void> OrderStore::FailIntent(const std::string& order_id, const std::string& kind, const std::string& error,
                                       core::Deadline deadline) {
    auto params = pg::MakeParams(order_id, kind, error);
    auto rows = co_await pool_.Execute(kFail, params, deadline);
    if (!rows) co_return rows.error();
    co_return pg::Result<void>();
}

Awaitable<Transition> OrderStore::CallTransition(const pg::Statement& statement, pg::Params params,
                                                 core::Deadline deadline) {
    auto rows = co_await pool_.Execute(statement, params, deadline);
    if (!rows) co_return rows.error();
    co_return Transition{std::string(rows->Text(0, 0)), rows->IsNull(0, 1) ? "" : std::string(rows->Text(0, 1))};
}

Awaitable<Transition> OrderStore::StartShip(const std::string& order_id, int lease_ms, core::Deadline deadline) {
    co_return co_await CallTransition(kStartShip, pg::MakeParams(order_id, std::to_string(lease_ms)), deadline);
}

Awaitable<std::string> OrderStore::FinishShip(const std::string& order_id, core::Deadline deadline) {
    auto rows = co_await pool_.Execute(kFinishShip, pg::MakeParams(order_id), deadline);
    if (!rows) co_return rows.error();
    co_return std::string(rows->Text(0, 0));
}

Awaitable<Transition> OrderStore::Cancel(const std::string& order_id, int lease_ms, core::Deadline deadline) {
    co_return co_await CallTransition(kCancel, pg::MakeParams(order_id, std::to_string(lease_ms)), deadline);
}

Awaitable<void> OrderStore::FinishRelease(const std::string& order_id, core::Deadline deadline) {
    auto rows = co_await pool_.Execute(kFinishRelease, pg::MakeParams(order_id), deadline);
    if (!rows) co_return rows.error();
    co_return pg::Result<void>();
}

Awaitable<std::optional<std::string>> OrderStore::Get(const std::string& order_id, core::Deadline deadline) {
    auto rows = co_await pool_.Execute(kGet, pg::MakeParams(order_id), deadline);
    if (!rows) co_return rows.error();
    if (rows->Empty() || rows->IsNull(0, 0)) co_return std::optional<std::string>();
    co_return std::optional<std::string>(std::string(rows->Text(0, 0)));
}

Awaitable<OrderPage> OrderStore::List(const std::optional<std::string>& status, int limit,
                                      const std::optional<std::string>& cursor, core::Deadline deadline) {
    std::optional<std::pair<std::string, std::string>> after;
    if (cursor) after = DecodeCursor(*cursor);  // an unreadable cursor starts from the newest
    pg::Params params;
    if (status) params.emplace_back(*status);
    if (after) {
        params.emplace_back(after->first);
        params.emplace_back(after->second);
    }
    params.emplace_back(std::to_string(limit + 1));
    const pg::Statement statement = ListStatement(status.has_value(), after.has_value());
    auto rows = co_await pool_.Execute(statement, params, deadline);
    if (!rows) co_return rows.error();
    OrderPage page;
    int count = std::min(rows->Size(), limit);
    for (int i = 0; i < count; ++i) page.orders.emplace_back(rows->Text(i, 0));
    if (rows->Size() > limit) page.next_cursor = EncodeCursor(rows->Text(limit - 1, 1), rows->Text(limit - 1, 2));
    co_return page;
}

Awaitable<std::vector<ClaimedIntent>> OrderStore::ClaimDueIntents(int limit, int lease_ms, core::Deadline deadline) {
    auto rows = co_await pool_.Execute(kClaim, pg::MakeParams(std::to_string(limit), std::to_string(lease_ms)), deadline);
    if (!rows) co_return rows.error();
    std::vector<ClaimedIntent> intents;
    for (int i = 0; i < rows->Size(); ++i) {
        intents.push_back({std::string(rows->Text(i, 0)), std::string(rows->Text(i, 1)),
                           static_cast<int>(rows->Int(i, 2)), std::string(rows->Text(i, 3))});
    }
    co_return intents;
}

Awaitable<Backlog> OrderStore::GetBacklog(core::Deadline deadline) {
    auto rows = co_await pool_.Execute(kBacklog, {}, deadline);
    if (!rows) co_return rows.error();
    co_return Backlog{rows->Int(0, 0), std::strtod(std::string(rows->Text(0, 1)).c_str(), nullptr)};
}

Awaitable<int> OrderStore::PurgeKeys(std::chrono::seconds retention, core::Deadline deadline) {
    auto rows = co_await pool_.Execute(
        kPurge, pg::MakeParams(std::to_string(retention.count()), std::to_string(kPurgeChunk)), deadline);
    if (!rows) co_return rows.error();
    co_return rows->Affected();
}

Awaitable<void> OrderStore::Ping(core::Deadline deadline) {
    auto rows = co_await pool_.Execute(kPing, {}, deadline);
    if (!rows) co_return rows.error();
    co_return pg::Result<void>();
}

}  // namespace valerix::order
