#include "load.hpp"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <cstdio>
#include <deque>
#include <exception>
#include <utility>
#include <valerix/core/clock.hpp>
#include <valerix/core/json_text.hpp>
#include <valerix/core/deadline.hpp>
#include <valerix/http/client.hpp>

namespace valerix::scenario {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kLoggedBodyLimit = 2048;
// Operations and methods, as the request log names them.
const std::string kCreate = "create", kCancel = "cancel", kShip = "ship", kPoll = "get", kGet = "GET", kPost = "POST";
const std::string kOrders = "/api/v1/orders", kNoBody;

// SplitMix64: a tiny, well-mixed generator, so every order draws from its own stream regardless of thread timing.
class SplitMix {
  public:
    explicit SplitMix(std::uint64_t seed) : state_(seed) {}
    std::uint64_t Next() {
        std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
    int Between(int min, int max) { return min + static_cast<int>(Next() % static_cast<std::uint64_t>(max - min + 1)); }

  private:
    std::uint64_t state_;
};

std::string StringOf(const json::object& object, const char* key) {
    auto it = object.find(key);
    return it != object.end() && it->value().is_string() ? std::string(it->value().get_string()) : std::string();
}

json::object ParseBody(const std::string& text) {
    boost::system::error_code ec;
    auto value = json::parse(text, ec);
    if (ec || !value.is_object()) return {};
    return std::move(value.get_object());
}

// The order id an answer names: an order body's "id", or a problem's "order_id".
std::string OrderIdOf(const json::object& body) {
    std::string id = StringOf(body, "id");
    return id.empty() ? StringOf(body, "order_id") : id;
}

}  // namespace

RequestLog::RequestLog(const std::string& path) : path_(path), out_(path, std::ios::trunc) {
    if (!out_) throw std::runtime_error("cannot write the request log " + path);
}

std::uint64_t RequestLog::Append(Exchange& exchange) {
    exchange.seq = next_seq_++;
    json::object line{{"seq", exchange.seq},
                      {"t_s", std::round(exchange.t_s * 1000) / 1000},
                      {"latency_ms", std::round(exchange.latency_ms * 10) / 10},
                      {"op", exchange.op},
                      {"method", exchange.method},
                      {"target", exchange.target},
                      {"key", exchange.key},
                      {"order_id", exchange.order_id},
                      {"attempt", exchange.attempt},
                      {"request_id", exchange.request_id},
                      {"status", exchange.status}};
    if (!exchange.error.empty()) line["error"] = exchange.error;
    if (!exchange.code.empty()) line["code"] = exchange.code;
    if (exchange.replayed) line["replayed"] = true;
    line["body"] = exchange.body;
    std::string text = core::SerializeJson(line);
    std::lock_guard lock(mutex_);
    out_ << text << '\n';
    return exchange.seq;
}

OrderPlan PlanOrder(const Scenario& scenario, std::uint64_t seed, int index, const std::string& run_tag) {
    SplitMix random(seed * 0x100000001b3ULL ^ (static_cast<std::uint64_t>(index) + 1) * 0x9e3779b97f4a7c15ULL);
    const auto& load = scenario.load;
    OrderPlan plan;
    plan.index = index;
    char number[16];
    std::snprintf(number, sizeof(number), "%06d", index);
    plan.key = "scn-" + run_tag + "-" + number;
    plan.customer_id = "scenario-customer-" + std::to_string(random.Between(1, 50));

    std::vector<std::string> pool = load.skus;
    if (pool.empty()) {
        for (const auto& item : scenario.catalog) pool.push_back(item.sku);
    }
    double total = 0;
    for (double weight : load.items_weights) total += weight;
    double pick = random.Unit() * total;
    std::size_t count = 1;
    for (std::size_t i = 0; i < load.items_weights.size(); ++i) {
        if (pick < load.items_weights[i]) {
            count = i + 1;
            break;
        }
        pick -= load.items_weights[i];
        count = i + 1;
    }
    count = std::min(count, pool.size());
    for (std::size_t i = 0; i < count; ++i) {  // partial Fisher-Yates: distinct SKUs
        std::size_t j = i + random.Next() % (pool.size() - i);
        std::swap(pool[i], pool[j]);
        plan.items[pool[i]] = random.Between(load.min_quantity, load.max_quantity);
    }
    json::array items;
    for (const auto& [sku, quantity] : plan.items) items.push_back(json::object{{"sku", sku}, {"quantity", quantity}});
    plan.body = json::serialize(json::object{{"customer_id", plan.customer_id}, {"items", items}});

    double followup = random.Unit();
    if (followup < load.ship_share)
        plan.followup = Followup::kShip;
    else if (followup < load.ship_share + load.cancel_share)
        plan.followup = Followup::kCancel;
    plan.followup_delay_ms = random.Between(load.followup_min_ms, load.followup_max_ms);
    return plan;
}

/// The client side of a run, on one thread: the schedule, every order's coroutine, the connection limit.
class LoadDriver::Impl {
  public:
    explicit Impl(LoadDriver& driver)
        : driver_(driver),
          scenario_(driver.scenario_),
          policy_(driver.scenario_.client),
          client_(io_, ClientConfigOf(driver), clock_),
          free_slots_(std::max(1, driver.scenario_.load.concurrency)) {}

    /// Runs until every order and follow-up is done; rethrows the first unexpected exception of a coroutine.
    void Run() {
        start_ = Clock::now();
        end_ = start_ + std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double>(scenario_.load.duration_s));
        Spawn(Schedule());
        io_.run();
        client_.Close();
        driver_.max_in_flight_ = max_in_flight_;
        if (failure_) std::rethrow_exception(failure_);
    }

  private:
    struct Outcome {
        int status = 0;
        std::string text;
        int attempts = 0;
        json::object body;
        bool replayed = false;
        std::string last_error;
    };

    static http::ClientConfig ClientConfigOf(const LoadDriver& driver) {
        http::ClientConfig config;
        config.host = driver.order_.host;
        config.port = static_cast<unsigned short>(driver.order_.port);
        config.max_connections = static_cast<std::size_t>(std::max(1, driver.scenario_.load.concurrency));
        config.connect_timeout = std::chrono::milliseconds(std::min(driver.scenario_.client.request_timeout_ms, 3000));
        config.propagate_deadline = false;  // a public client: the service keeps its own budgets
        return config;
    }

    void Spawn(asio::awaitable<void> work) {
        asio::co_spawn(io_, std::move(work), [this](std::exception_ptr error) {
            if (error && !failure_) failure_ = error;
        });
    }

    double Since(SteadyTime time) const { return std::chrono::duration<double>(time - driver_.epoch_).count(); }

    asio::awaitable<void> SleepUntil(SteadyTime when) {
        asio::steady_timer timer(io_, when);
        boost::system::error_code ignored;
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    }

    // At most `concurrency` requests on the wire; the others wait here, first come first served.
    asio::awaitable<void> AcquireSlot() {
        max_in_flight_ = std::max(max_in_flight_, ++in_flight_);
        if (free_slots_ > 0) {
            --free_slots_;
            co_return;
        }
        asio::steady_timer handed_over(io_, SteadyTime::max());
        waiting_.push_back(&handed_over);
        boost::system::error_code ignored;
        co_await handed_over.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    }
    void ReleaseSlot() {
        --in_flight_;
        if (waiting_.empty()) {
            ++free_slots_;
            return;
        }
        waiting_.front()->cancel();  // the slot passes to the longest waiter
        waiting_.pop_front();
    }

    asio::awaitable<void> Schedule() {
        const auto& load = scenario_.load;
        if (load.rate > 0) {
            for (int index = 0;; ++index) {
                auto due = start_ + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(index / load.rate));
                if (due >= end_ || driver_.stop_creating_) break;
                if (due > Clock::now()) co_await SleepUntil(due);
                if (driver_.stop_creating_) break;
                Spawn(PlaceOrder(index, due));
            }
            co_return;
        }
        for (int client = 0; client < std::max(1, load.concurrency); ++client) Spawn(ClosedLoopClient());
    }

    asio::awaitable<void> ClosedLoopClient() {
        while (Clock::now() < end_ && !driver_.stop_creating_) co_await PlaceOrder(next_index_++, Clock::now());
    }

    // Creates order `index` (due at `due`), then schedules its follow-up on its own.
    asio::awaitable<void> PlaceOrder(int index, SteadyTime due) {
        auto owned = std::make_unique<OrderRecord>();
        owned->plan = PlanOrder(scenario_, driver_.seed_, index, driver_.run_tag_);
        OrderRecord& record = *owned;
        driver_.records_.push_back(std::move(owned));
        driver_.creating_window_s_ =
            std::max(driver_.creating_window_s_, std::chrono::duration<double>(Clock::now() - start_).count());
        bool answered = co_await Create(record, due);
        if (answered && record.plan.followup != Followup::kNone && record.known_status != "REJECTED") {
            Spawn(RunFollowup(record));
        }
    }

    // Arguments by reference to lvalues of the caller's frame (g++ 12 mishandles temporaries in co_await operands).
    asio::awaitable<Outcome> Send(OrderRecord& record, const std::string& op, const std::string& method,
                                  const std::string& target, const std::string& body, bool with_key) {
        const auto first = Clock::now();
        SplitMix jitter(driver_.seed_ ^ std::hash<std::string>{}(record.plan.key + op));
        Outcome outcome;
        for (int attempt = 1;; ++attempt) {
            Exchange exchange;
            exchange.op = op;
            exchange.method = method;
            exchange.target = target;
            exchange.key = record.plan.key;
            exchange.order_id = record.order_id;
            exchange.attempt = attempt;
            // Unique per request and traceable: inventory logs each chaos injection with the id order-service passed.
            exchange.request_id = record.plan.key + "-" + op + "-" + std::to_string(record.exchanges.size() + 1);
            http::ClientRequest request;
            request.method = method;
            request.target = target;
            request.body = body;
            request.headers.emplace_back("X-Request-Id", exchange.request_id);
            if (with_key) request.headers.emplace_back("Idempotency-Key", record.plan.key);

            co_await AcquireSlot();
            const auto sent = Clock::now();
            exchange.t_s = Since(sent);
            auto deadline = core::Deadline::After(clock_, std::chrono::milliseconds(policy_.request_timeout_ms));
            auto result = co_await client_.Send(std::move(request), deadline);
            ReleaseSlot();
            exchange.latency_ms = std::chrono::duration<double, std::milli>(Clock::now() - sent).count();

            bool retry = false;
            if (result) {
                const http::ClientResponse& response = *result;
                exchange.status = response.status;
                exchange.body = response.body.substr(0, kLoggedBodyLimit);
                exchange.replayed = response.Header("idempotent-replayed") == "true";
                json::object parsed = ParseBody(response.body);
                exchange.code = StringOf(parsed, "code");
                exchange.order_status = StringOf(parsed, "status");
                if (exchange.order_id.empty()) exchange.order_id = OrderIdOf(parsed);
                outcome.status = response.status;
                outcome.text = response.body;
                outcome.body = std::move(parsed);
                outcome.replayed = exchange.replayed;
                retry =
                    response.status >= 500 || (response.status == 409 && exchange.code == "idempotency_key_in_flight");
                if (retry) outcome.last_error = std::to_string(response.status) + " " + exchange.code;
            } else {
                exchange.error = std::string(http::ToString(result.error().kind)) + ": " + result.error().message;
                outcome.status = 0;
                outcome.last_error = exchange.error;
                retry = true;
            }
            driver_.log_.Append(exchange);
            record.exchanges.push_back(exchange);
            record.exchanges.back().body.clear();  // the log has it; keep the record small
            outcome.attempts = attempt;
            if (!retry) co_return outcome;
            auto elapsed = Clock::now() - first;
            if (attempt >= policy_.max_attempts || elapsed >= std::chrono::milliseconds(policy_.give_up_after_ms)) {
                co_return outcome;
            }
            // Capped exponential backoff with full jitter.
            double cap = std::min<double>(policy_.backoff_cap_ms, policy_.backoff_base_ms * std::pow(2.0, attempt - 1));
            co_await SleepUntil(Clock::now() +
                                std::chrono::milliseconds(static_cast<long long>(jitter.Unit() * cap) + 1));
        }
    }

    /// True when the create got an answer naming its order (a follow-up may act on it).
    asio::awaitable<bool> Create(OrderRecord& record, SteadyTime due) {
        record.created_t_s = Since(due);
        Outcome outcome = co_await Send(record, kCreate, kPost, kOrders, record.plan.body, true);
        record.create_latency_s = std::chrono::duration<double>(Clock::now() - due).count();
        record.create_attempts = outcome.attempts;
        record.create_status = outcome.status;
        record.create_code = StringOf(outcome.body, "code");
        record.create_order_status = StringOf(outcome.body, "status");
        record.create_replayed = outcome.replayed;
        record.create_body = outcome.text;
        for (const auto& exchange : record.exchanges) {
            if (exchange.status != 0 && !exchange.order_id.empty()) record.told_ids.insert(exchange.order_id);
            if (exchange.code == "idempotency_key_reused") {
                record.unexpected.push_back("create attempt " + std::to_string(exchange.attempt) +
                                            " answered 422 idempotency_key_reused to a retry with the same body");
            }
        }
        std::string id = OrderIdOf(outcome.body);
        const int status = outcome.status;
        if (status == 201 || status == 202 || status == 200) {
            record.order_id = id;
            if (status == 200) {
                // DESIGN.md §4 answers a create 201, 202, 409 or 422; a stored answer replays as it was first given.
                record.unexpected.push_back("create answered 200 " + record.create_order_status +
                                            " (DESIGN.md §4: 201 CONFIRMED, 202 PENDING, 409 or 422; the key's stored "
                                            "answer is something else)");
            }
            record.known_status = record.create_order_status;
            if (status == 201) {
                record.promised = "CONFIRMED";
                record.promised_by = "create answered 201";
            } else if (status == 202) {
                record.promised = "ACCEPTED";
                record.promised_by = "create answered 202 " + record.create_order_status;
            }
        } else if (status == 409 && record.create_code == "insufficient_stock") {
            record.order_id = id;
            record.known_status = "REJECTED";
            record.promised = "REJECTED";
            record.promised_by = "create answered 409 insufficient_stock";
        } else if (status == 0 || status >= 500 ||
                   (status == 409 && record.create_code == "idempotency_key_in_flight")) {
            co_return false;  // gave up without a final answer; the report lists it
        } else {
            record.order_id = id;
            record.unexpected.push_back("create answered " + std::to_string(status) + " " + record.create_code);
            co_return false;
        }
        if (id.empty()) {
            record.unexpected.push_back("create answered " + std::to_string(status) + " without an order id");
            co_return false;
        }
        co_return true;
    }

    asio::awaitable<void> RunFollowup(OrderRecord& record) {
        const auto first_due = Clock::now() + std::chrono::milliseconds(record.plan.followup_delay_ms);
        co_await SleepUntil(first_due);
        const std::string base = "/api/v1/orders/" + record.order_id;
        if (record.plan.followup == Followup::kCancel) {
            const std::string target = base + "/cancel";
            Outcome outcome = co_await SendFollowup(record, kCancel, target);
            if (JudgeFollowup(record, outcome, kCancel, "CANCELLED", "cancelled")) co_return;
            std::string status = StringOf(outcome.body, "current_status");
            std::string code = StringOf(outcome.body, "code");
            if (outcome.status == 409 && code == "invalid_transition") {
                record.followup_outcome = "cancel refused: 409 invalid_transition (order was " + status + ")";
            } else {
                record.followup_outcome = "cancel answered " + std::to_string(outcome.status) + " " + code + status;
                record.unexpected.push_back("cancel answered " + std::to_string(outcome.status) + " " + code + status);
            }
            co_return;
        }

        // Ship: a real client ships what is confirmed; a PENDING order is polled until the reconciler decides it,
        // every 0.5 s at first, then less often (up to every 4 s), as a polite client backs off a slow answer.
        auto poll_every = std::chrono::milliseconds(500);
        while (record.known_status != "CONFIRMED") {
            ++record.followup_polls;
            Outcome got = co_await Send(record, kPoll, kGet, base, kNoBody, false);
            if (got.status == 200) {
                record.known_status = StringOf(got.body, "status");
                // What a GET shows is as good as an answer: a CONFIRMED (or REJECTED) seen must not be taken back.
                if ((record.known_status == "CONFIRMED" || record.known_status == "REJECTED") &&
                    (record.promised.empty() || record.promised == "ACCEPTED")) {
                    record.promised = record.known_status;
                    record.promised_by = "GET answered " + record.known_status;
                }
            }
            if (got.status == 404) {
                record.unexpected.push_back("GET of order " + record.order_id + " answered 404 although it was created");
                record.followup_outcome = "not shipped: the order was not found";
                co_return;
            }
            if (got.status == 200 && record.known_status != "PENDING") {
                if (record.known_status == "CONFIRMED") break;
                record.followup_outcome = "not shipped: order is " + record.known_status;
                co_return;
            }
            if (Clock::now() - first_due >= std::chrono::milliseconds(policy_.confirm_wait_ms)) {
                record.followup_outcome = "not shipped: still " + record.known_status + " after waiting " +
                                          std::to_string(policy_.confirm_wait_ms) + " ms";
                co_return;
            }
            co_await SleepUntil(Clock::now() + poll_every);
            poll_every = std::min<std::chrono::milliseconds>(poll_every * 2, 4s);
        }
        const std::string target = base + "/ship";
        Outcome outcome = co_await SendFollowup(record, kShip, target);
        if (JudgeFollowup(record, outcome, kShip, "SHIPPED", "shipped")) co_return;
        std::string status = StringOf(outcome.body, "status");
        std::string code = StringOf(outcome.body, "code");
        if (outcome.status == 202) {
            record.known_status = status;
            record.followup_outcome = "ship accepted (202 " + status + ")";
            if (status == "SHIPPING") {  // accepted: it ships, later
                record.promised = "SHIPPED";
                record.promised_by = "ship answered 202 SHIPPING";
            }
        } else {
            record.followup_outcome = "ship answered " + std::to_string(outcome.status) + " " + code + status;
            record.unexpected.push_back("ship of a CONFIRMED order answered " + std::to_string(outcome.status) + " " +
                                        code + status);
        }
    }

    // Sends the ship or cancel of `record` and notes what it cost; the caller judges the answer.
    asio::awaitable<Outcome> SendFollowup(OrderRecord& record, const std::string& op, const std::string& target) {
        const auto started = Clock::now();
        Outcome outcome = co_await Send(record, op, kPost, target, kNoBody, false);
        record.followup_latency_s = std::chrono::duration<double>(Clock::now() - started).count();
        record.followup_attempts = outcome.attempts;
        co_return outcome;
    }

    // The answers every follow-up treats alike: done (200 with the `done` status) or none after all retries. False
    // for any other answer, which the caller judges.
    static bool JudgeFollowup(OrderRecord& record, const Outcome& outcome, const std::string& op,
                              const std::string& done, const std::string& done_text) {
        if (outcome.status == 200 && StringOf(outcome.body, "status") == done) {
            record.known_status = done;
            record.promised = done;
            record.promised_by = op + " answered 200";
            record.followup_outcome = done_text + " (200 " + done + ")";
            return true;
        }
        if (outcome.status == 0 || outcome.status >= 500) {
            record.followup_outcome =
                op + " gave up after " + std::to_string(outcome.attempts) + " attempts: " + outcome.last_error;
            return true;
        }
        return false;
    }

    LoadDriver& driver_;
    const Scenario& scenario_;
    const ClientPolicy& policy_;
    asio::io_context io_{1};
    core::SteadyClock clock_;
    http::Client client_;
    SteadyTime start_{}, end_{};
    int next_index_ = 0;
    int free_slots_;
    int in_flight_ = 0, max_in_flight_ = 0;
    std::deque<asio::steady_timer*> waiting_;
    std::exception_ptr failure_;
};

LoadDriver::LoadDriver(const Scenario& scenario, std::uint64_t seed, Endpoint order, SteadyTime epoch, RequestLog& log,
                       std::string run_tag)
    : scenario_(scenario),
      seed_(seed),
      order_(std::move(order)),
      epoch_(epoch),
      log_(log),
      run_tag_(std::move(run_tag)) {}

LoadDriver::~LoadDriver() {
    stop_creating_ = true;
    try {
        Join();
    } catch (const std::exception& error) {
        std::fprintf(stderr, "valerix-scenario: the load driver failed: %s\n", error.what());
    }
}

void LoadDriver::Start() {
    thread_ = std::thread([this] {
        try {
            Impl(*this).Run();
        } catch (...) {
            failure_ = std::current_exception();
        }
    });
}

void LoadDriver::Join() {
    if (thread_.joinable()) thread_.join();
    if (failure_) std::rethrow_exception(std::exchange(failure_, nullptr));
}

std::vector<const OrderRecord*> LoadDriver::Records() const {
    std::vector<const OrderRecord*> out;
    for (const auto& record : records_) out.push_back(record.get());
    std::sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->plan.index < b->plan.index; });
    return out;
}

Percentiles ComputePercentiles(std::vector<double> values) {
    Percentiles out;
    out.n = values.size();
    if (values.empty()) return out;
    std::sort(values.begin(), values.end());
    auto at = [&](double q) {
        auto index = static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size()))) - 1;
        return values[std::min(index, values.size() - 1)];
    };
    out.p50 = at(0.50);
    out.p90 = at(0.90);
    out.p99 = at(0.99);
    out.max = values.back();
    return out;
}

}  // namespace valerix::scenario
