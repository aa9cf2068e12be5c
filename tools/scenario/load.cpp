#include "load.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/system/system_error.hpp>
#include <cmath>

#include "report.hpp"

namespace valerix::scenario {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kLoggedBodyLimit = 2048;

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
    std::string text = ToJsonText(line);
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
    Join();
}

double LoadDriver::Since(SteadyTime time) const { return std::chrono::duration<double>(time - epoch_).count(); }

void LoadDriver::Start() {
    start_ = Clock::now();
    for (int i = 0; i < scenario_.load.concurrency; ++i) threads_.emplace_back([this, i] { Worker(i); });
}

void LoadDriver::Join() {
    for (auto& thread : threads_) {
        if (thread.joinable()) thread.join();
    }
    threads_.clear();
}

std::vector<const OrderRecord*> LoadDriver::Records() const {
    std::lock_guard lock(mutex_);
    std::vector<const OrderRecord*> out;
    for (const auto& record : records_) out.push_back(record.get());
    std::sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->plan.index < b->plan.index; });
    return out;
}

int LoadDriver::FollowupsPending() {
    std::lock_guard lock(mutex_);
    return static_cast<int>(followups_.size());
}

void LoadDriver::Schedule(OrderRecord* record, SteadyTime due, SteadyTime first_due) {
    {
        std::lock_guard lock(mutex_);
        followups_.push(Pending{due, record, first_due});
    }
    wake_.notify_all();
}

void LoadDriver::Worker(int worker) {
    testing::HttpClient client(order_.host, order_.port);
    const auto& load = scenario_.load;
    const auto end =
        start_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(load.duration_s));
    while (true) {
        std::optional<Pending> due;
        bool create = false;
        {
            std::unique_lock lock(mutex_);
            if (!followups_.empty() && followups_.top().due <= Clock::now()) {
                due = followups_.top();
                followups_.pop();
                ++active_;
            } else if (!creating_done_ && !stop_creating_ && Clock::now() < end) {
                create = true;
                ++active_;
            } else {
                creating_done_ = true;
                if (followups_.empty() && active_ == 0) {
                    wake_.notify_all();
                    return;
                }
                auto until =
                    followups_.empty() ? Clock::now() + 50ms : std::min(followups_.top().due, Clock::now() + 50ms);
                wake_.wait_until(lock, until);
                continue;
            }
        }
        if (due) {
            RunFollowup(*due, client);
        } else if (create) {
            int index = next_index_++;
            if (load.rate > 0) {
                auto slot = start_ + std::chrono::duration_cast<Clock::duration>(
                                         std::chrono::duration<double>(index / load.rate));
                if (slot >= end || stop_creating_) {
                    std::lock_guard lock(mutex_);
                    creating_done_ = true;
                    --active_;
                    wake_.notify_all();
                    continue;
                }
                std::this_thread::sleep_until(slot);
            }
            auto record = std::make_unique<OrderRecord>();
            record->plan = PlanOrder(scenario_, seed_, index, run_tag_);
            OrderRecord* raw = record.get();
            {
                std::lock_guard lock(mutex_);
                records_.push_back(std::move(record));
                creating_window_s_ =
                    std::max(creating_window_s_, std::chrono::duration<double>(Clock::now() - start_).count());
            }
            Create(*raw, client);
        }
        {
            std::lock_guard lock(mutex_);
            --active_;
        }
        wake_.notify_all();
    }
}

LoadDriver::Outcome LoadDriver::Send(testing::HttpClient& client, OrderRecord& record, const std::string& op,
                                     const std::string& method, const std::string& target, const std::string& body,
                                     bool with_key) {
    const auto& policy = scenario_.client;
    const auto first = Clock::now();
    SplitMix jitter(seed_ ^ std::hash<std::string>{}(record.plan.key + op));
    Outcome outcome;
    for (int attempt = 1;; ++attempt) {
        Exchange exchange;
        exchange.op = op;
        exchange.method = method;
        exchange.target = target;
        exchange.key = record.plan.key;
        exchange.order_id = record.order_id;
        exchange.attempt = attempt;
        // Unique per request and traceable: inventory logs each chaos injection with the id order-service passed on.
        exchange.request_id = record.plan.key + "-" + op + "-" + std::to_string(record.exchanges.size() + 1);
        std::vector<std::pair<std::string, std::string>> headers = {{"X-Request-Id", exchange.request_id}};
        if (with_key) headers.emplace_back("Idempotency-Key", record.plan.key);
        const auto sent = Clock::now();
        exchange.t_s = Since(sent);
        bool retry = false;
        try {
            auto response =
                client.Request(method, target, body, headers, std::chrono::milliseconds(policy.request_timeout_ms));
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
            retry = response.status >= 500 || (response.status == 409 && exchange.code == "idempotency_key_in_flight");
            if (retry) outcome.last_error = std::to_string(response.status) + " " + exchange.code;
        } catch (const boost::system::system_error& error) {
            exchange.error = error.code().message();
            outcome.status = 0;
            outcome.last_error = exchange.error;
            retry = true;
        } catch (const std::exception& error) {
            exchange.error = error.what();
            outcome.status = 0;
            outcome.last_error = exchange.error;
            retry = true;
        }
        exchange.latency_ms = std::chrono::duration<double, std::milli>(Clock::now() - sent).count();
        log_.Append(exchange);
        record.exchanges.push_back(exchange);
        record.exchanges.back().body.clear();  // the log has it; keep the record small
        outcome.attempts = attempt;
        if (!retry) return outcome;
        auto elapsed = Clock::now() - first;
        if (attempt >= policy.max_attempts || elapsed >= std::chrono::milliseconds(policy.give_up_after_ms)) {
            return outcome;
        }
        // Capped exponential backoff with full jitter.
        double cap = std::min<double>(policy.backoff_cap_ms, policy.backoff_base_ms * std::pow(2.0, attempt - 1));
        std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<long long>(jitter.Unit() * cap) + 1));
    }
}

void LoadDriver::Create(OrderRecord& record, testing::HttpClient& client) {
    const auto first = Clock::now();
    record.created_t_s = Since(first);
    Outcome outcome = Send(client, record, "create", "POST", "/api/v1/orders", record.plan.body, true);
    record.create_latency_s = std::chrono::duration<double>(Clock::now() - first).count();
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
        }
    } else if (status == 409 && record.create_code == "insufficient_stock") {
        record.order_id = id;
        record.known_status = "REJECTED";
        record.promised = "REJECTED";
        record.promised_by = "create answered 409 insufficient_stock";
    } else if (status == 0 || status >= 500 || (status == 409 && record.create_code == "idempotency_key_in_flight")) {
        return;  // gave up without a final answer; the report lists it
    } else {
        record.order_id = id;
        record.unexpected.push_back("create answered " + std::to_string(status) + " " + record.create_code);
        return;
    }
    if (id.empty()) {
        record.unexpected.push_back("create answered " + std::to_string(status) + " without an order id");
        return;
    }
    if (record.plan.followup != Followup::kNone && record.known_status != "REJECTED") {
        auto due = Clock::now() + std::chrono::milliseconds(record.plan.followup_delay_ms);
        Schedule(&record, due, due);
    }
}

void LoadDriver::RunFollowup(Pending pending, testing::HttpClient& client) {
    OrderRecord& record = *pending.record;
    const std::string base = "/api/v1/orders/" + record.order_id;
    if (record.plan.followup == Followup::kCancel) {
        const auto started = Clock::now();
        Outcome outcome = Send(client, record, "cancel", "POST", base + "/cancel", "", false);
        record.followup_latency_s = std::chrono::duration<double>(Clock::now() - started).count();
        record.followup_attempts = outcome.attempts;
        std::string status = StringOf(outcome.body, "status");
        std::string code = StringOf(outcome.body, "code");
        if (outcome.status == 200 && status == "CANCELLED") {
            record.known_status = "CANCELLED";
            record.promised = "CANCELLED";
            record.promised_by = "cancel answered 200";
            record.followup_outcome = "cancelled (200 CANCELLED)";
        } else if (outcome.status == 409 && code == "invalid_transition") {
            record.followup_outcome =
                "cancel refused: 409 invalid_transition (order was " + StringOf(outcome.body, "status") + ")";
        } else if (outcome.status == 0 || outcome.status >= 500) {
            record.followup_outcome =
                "cancel gave up after " + std::to_string(outcome.attempts) + " attempts: " + outcome.last_error;
        } else {
            record.followup_outcome = "cancel answered " + std::to_string(outcome.status) + " " + code + status;
            record.unexpected.push_back("cancel answered " + std::to_string(outcome.status) + " " + code + status);
        }
        return;
    }

    // Ship: a real client ships what is confirmed; a PENDING order is polled until the reconciler decides it.
    if (record.known_status != "CONFIRMED") {
        ++record.followup_polls;
        Outcome got = Send(client, record, "get", "GET", base, "", false);
        if (got.status == 200) record.known_status = StringOf(got.body, "status");
        if (got.status == 404) {
            record.unexpected.push_back("GET of order " + record.order_id + " answered 404 although it was created");
        }
        if (record.known_status == "PENDING" || got.status != 200) {
            auto waited = Clock::now() - pending.first_due;
            if (waited < std::chrono::milliseconds(scenario_.client.confirm_wait_ms) && got.status != 404) {
                Schedule(&record, Clock::now() + 500ms, pending.first_due);
            } else {
                record.followup_outcome = "not shipped: still " + record.known_status + " after waiting " +
                                          std::to_string(scenario_.client.confirm_wait_ms) + " ms";
            }
            return;
        }
        if (record.known_status != "CONFIRMED") {
            record.followup_outcome = "not shipped: order is " + record.known_status;
            return;
        }
    }
    const auto started = Clock::now();
    Outcome outcome = Send(client, record, "ship", "POST", base + "/ship", "", false);
    record.followup_latency_s = std::chrono::duration<double>(Clock::now() - started).count();
    record.followup_attempts = outcome.attempts;
    std::string status = StringOf(outcome.body, "status");
    std::string code = StringOf(outcome.body, "code");
    if (outcome.status == 200 && status == "SHIPPED") {
        record.known_status = "SHIPPED";
        record.promised = "SHIPPED";
        record.promised_by = "ship answered 200";
        record.followup_outcome = "shipped (200 SHIPPED)";
    } else if (outcome.status == 202) {
        record.known_status = status;
        record.followup_outcome = "ship accepted (202 " + status + ")";
    } else if (outcome.status == 0 || outcome.status >= 500) {
        record.followup_outcome =
            "ship gave up after " + std::to_string(outcome.attempts) + " attempts: " + outcome.last_error;
    } else {
        record.followup_outcome = "ship answered " + std::to_string(outcome.status) + " " + code + status;
        record.unexpected.push_back("ship of a CONFIRMED order answered " + std::to_string(outcome.status) + " " +
                                    code + status);
    }
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
