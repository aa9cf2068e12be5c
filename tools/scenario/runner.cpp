#include "runner.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <sstream>
#include <unordered_map>
#include <valerix/core/json_text.hpp>
#include <valerix/core/random.hpp>
#include <valerix/testing/files.hpp>
#include <valerix/testing/http_client.hpp>

#include "injection_metrics.hpp"
#include "invariants.hpp"
#include "load.hpp"
#include "report.hpp"
#include "stack.hpp"

namespace valerix::scenario {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr char kUnit = '\x1f';    // separates sku and quantity in aggregated rows
constexpr char kRecord = '\x1e';  // separates items

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

double Round(double value, int digits) {
    double scale = std::pow(10.0, digits);
    return std::round(value * scale) / scale;
}

std::string Fixed(double value, int digits) {
    char buffer[64];
    std::snprintf(buffer, sizeof(buffer), "%.*f", digits, value);
    return buffer;
}

// Progress lines go to stderr, so stdout carries only the report.
class Progress {
  public:
    explicit Progress(SteadyTime epoch) : epoch_(epoch) {}
    void operator()(const std::string& line) {
        std::lock_guard lock(mutex_);
        std::fprintf(stderr, "[%7.2f s] %s\n", Seconds(Clock::now() - epoch_), line.c_str());
    }

  private:
    SteadyTime epoch_;
    std::mutex mutex_;
};

Items ParseItems(const std::string& text) {
    Items items;
    std::size_t begin = 0;
    while (begin < text.size()) {
        std::size_t end = text.find(kRecord, begin);
        if (end == std::string::npos) end = text.size();
        std::string entry = text.substr(begin, end - begin);
        std::size_t split = entry.find(kUnit);
        if (split != std::string::npos) items[entry.substr(0, split)] += std::stoll(entry.substr(split + 1));
        begin = end + 1;
    }
    return items;
}

std::string Ordinal(const std::string& number);

std::string ChaosSummary(const json::object& chaos) {
    auto section = [&](const char* name) -> const json::object* {
        auto it = chaos.find(name);
        return it != chaos.end() && it->value().is_object() ? &it->value().get_object() : nullptr;
    };
    auto text = [](const json::object* object, const char* key, const char* fallback) {
        if (object == nullptr) return std::string(fallback);
        auto it = object->find(key);
        if (it == object->end() || it->value().is_null()) return std::string(fallback);
        if (it->value().is_string()) return std::string(it->value().get_string());
        if (it->value().is_number()) {
            char buffer[32];
            std::snprintf(buffer, sizeof(buffer), "%g", it->value().to_number<double>());
            return std::string(buffer);
        }
        return json::serialize(it->value());
    };
    auto schedule = [&](const json::object* object) {
        std::string mode = text(object, "mode", "off");
        if (mode == "every_nth") return "every " + Ordinal(text(object, "every_nth", "?")) + " call";
        if (mode == "probability") return "with probability " + text(object, "probability", "?");
        return mode;
    };
    const json::object* latency = section("latency");
    const json::object* crash = section("crash");
    std::string out;
    std::string latency_mode = text(latency, "mode", "off");
    if (latency_mode == "off")
        out += "latency off";
    else
        out += "latency +" + text(latency, "delay_ms", "3000") + " ms " + schedule(latency) +
               (latency->contains("routes") ? " on " + text(latency, "routes", "") : "");
    std::string crash_mode = text(crash, "mode", "off");
    if (crash_mode == "off")
        out += "; crash off";
    else
        out += "; crash " + text(crash, "action", "exit") + " " + text(crash, "point", "after_commit") + " " +
               schedule(crash);
    return out;
}

// One chaos injection as inventory logged it.
struct LoggedInjection {
    std::string kind;  // latency, crash
    std::string operation;
    std::string detail;  // "3000 ms", "exit after_commit"
    std::string request_id;
    std::string key;  // the client key, when order-service passed the client's request id on
    std::string op;   // the client operation (create, ship, cancel)
};

std::vector<LoggedInjection> ReadInjections(const std::vector<std::string>& logs, const std::string& key_prefix) {
    std::vector<LoggedInjection> out;
    for (const auto& path : logs) {
        std::ifstream in(path);
        std::string line;
        while (std::getline(in, line)) {
            if (line.find("chaos: injecting") == std::string::npos) continue;
            boost::system::error_code ec;
            auto value = json::parse(line, ec);
            if (ec || !value.is_object()) continue;
            const auto& object = value.get_object();
            auto str = [&](const char* key) {
                auto it = object.find(key);
                if (it == object.end()) return std::string();
                return it->value().is_string() ? std::string(it->value().get_string()) : json::serialize(it->value());
            };
            LoggedInjection injection;
            std::string message = str("msg");
            injection.kind = message.find("latency") != std::string::npos ? "latency" : "crash";
            injection.operation = str("operation");
            injection.detail =
                injection.kind == "latency" ? str("delay_ms") + " ms" : str("action") + " " + str("point");
            injection.request_id = str("request_id");
            if (injection.request_id.rfind(key_prefix, 0) == 0) {
                // request id = <key>-<op>-<n>, key = scn-<tag>-<index>
                auto rest = injection.request_id.substr(key_prefix.size());
                auto dash = rest.find('-');
                injection.key = key_prefix + rest.substr(0, dash);
                if (dash != std::string::npos) {
                    auto op = rest.substr(dash + 1);
                    injection.op = op.substr(0, op.find('-'));
                }
            }
            out.push_back(std::move(injection));
        }
    }
    return out;
}

struct IntentFacts {
    std::string state;
    int attempts = 0;
    std::string last_error;
    double finished_after_s = 0;  // updated_at - order created_at
};

struct OrderFacts {
    std::string status;
    std::string status_reason;
    std::string reservation_status;
    std::map<std::string, IntentFacts> intents;  // by kind
};

struct OrderSummary;
struct InjectionLog;

class Runner {
  public:
    explicit Runner(const RunOptions& options) : options_(options), epoch_(Clock::now()), progress_(epoch_) {}

    int Run();

  private:
    void PrepareWorkDir();
    void SetCatalog();
    void TakeBaseline();
    bool PutChaos(const json::object& chaos, std::string& detail, std::chrono::milliseconds patience);
    testing::HttpResponse InventoryMetrics(std::chrono::milliseconds timeout);
    void ScrapeMetrics();
    long long Backlog();
    using Action = std::pair<double, std::function<void()>>;
    struct Actions {
        std::vector<Action> at_start;  // at 0 s: before the first order
        std::vector<Action> later;     // seconds after the load started
    };
    void CreateStack();
    Actions TimelineActions();
    void ExecuteTimeline(std::vector<Action> actions, SteadyTime load_start);
    void WaitForBacklog();
    std::vector<ClientClaim> Claims(const std::vector<const OrderRecord*>& records);
    json::array CheckExpectations(std::size_t orders, const OrderSummary& summary, const InjectionLog& injections,
                                  bool& met);
    void Heal();
    void FinalApiChecks(const std::vector<const OrderRecord*>& records);
    void Corrupt(bool before_api_checks);
    Snapshot TakeSnapshot();
    void Timeline(std::string what, std::string detail = {});

    const RunOptions& options_;
    Scenario scenario_;
    std::uint64_t seed_ = 0;
    std::string run_tag_;
    SteadyTime epoch_;
    Progress progress_;
    std::unique_ptr<Stack> stack_;
    std::string admin_token_;
    std::string work_dir_;
    bool created_work_dir_ = false;
    std::map<std::string, std::pair<long long, long long>> baseline_;  // sku -> (on_hand, committed)
    InjectionMetrics metrics_;
    std::mutex mutex_;
    json::array timeline_;
    json::array backlog_samples_;
    long long max_backlog_ = 0;
    std::vector<std::string> run_errors_;
    // Final API observations by key.
    std::unordered_map<std::string, std::pair<int, std::string>> api_status_;
    std::unordered_map<std::string, std::string> replayed_id_;
    std::unordered_map<std::string, std::pair<int, std::string>> replay_answer_;
    std::unordered_map<std::string, std::vector<std::string>> replay_anomalies_;
    double drain_s_ = -1;
    long long backlog_after_clients_ = -1;
    bool drained_ = false;
    std::string corruption_;
};

void Runner::Timeline(std::string what, std::string detail) {
    double t = Seconds(Clock::now() - epoch_);
    progress_(what + (detail.empty() ? "" : " — " + detail));
    std::lock_guard lock(mutex_);
    timeline_.push_back(json::object{{"t_s", Round(t, 3)}, {"event", what}, {"detail", detail}});
}

void Runner::PrepareWorkDir() {
    if (!options_.work_dir.empty()) {
        work_dir_ = options_.work_dir;
        std::filesystem::create_directories(work_dir_);
        return;
    }
    std::string dir = "/tmp/valerix-scenario-XXXXXX";
    if (::mkdtemp(dir.data()) == nullptr) throw std::runtime_error("cannot create a work directory in /tmp");
    work_dir_ = dir;
    created_work_dir_ = true;
}

void Runner::SetCatalog() {
    testing::HttpClient client(stack_->Inventory().host, stack_->Inventory().port);
    for (const auto& item : scenario_.catalog) {
        json::object body{{"name", item.name}, {"price_cents", item.price_cents}, {"on_hand", item.on_hand}};
        auto response = client.Request("PUT", "/api/v1/products/" + item.sku, json::serialize(body),
                                       {{"Authorization", "Bearer " + admin_token_}});
        if (response.status != 200 && response.status != 201) {
            throw std::runtime_error("PUT /api/v1/products/" + item.sku + " answered " +
                                     std::to_string(response.status) + ": " + response.body);
        }
    }
}

void Runner::TakeBaseline() {
    for (const auto& row : stack_->Query("inventory_db", "SELECT sku, on_hand FROM products")) {
        baseline_[row[0]] = {std::stoll(row[1]), 0};
    }
    for (const auto& row : stack_->Query("inventory_db",
                                         "SELECT i.sku, sum(i.quantity) FROM reservation_items i JOIN reservations r "
                                         "ON r.id = i.reservation_id WHERE r.status = 'COMMITTED' GROUP BY i.sku")) {
        baseline_[row[0]].second = std::stoll(row[1]);
    }
    // An external stack's inventory may have injected before (earlier runs): count only this run's injections.
    auto response = InventoryMetrics(2s);
    if (response.status != 200) {
        throw ScenarioError("GET /metrics on inventory answered " + std::to_string(response.status));
    }
    metrics_.SetBaseline(response.body);
}

bool Runner::PutChaos(const json::object& chaos, std::string& detail, std::chrono::milliseconds patience) {
    const auto deadline = Clock::now() + patience;
    testing::HttpClient client(stack_->Inventory().host, stack_->Inventory().port);
    while (true) {
        try {
            auto response = client.Request("PUT", "/admin/chaos", json::serialize(chaos),
                                           {{"Authorization", "Bearer " + admin_token_}}, 2s);
            if (response.status == 200) return true;
            detail = "PUT /admin/chaos answered " + std::to_string(response.status) + ": " + response.body;
            if (response.status < 500) return false;
        } catch (const std::exception& error) {
            detail = error.what();
        }
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(100ms);
    }
}

testing::HttpResponse Runner::InventoryMetrics(std::chrono::milliseconds timeout) {
    testing::HttpClient client(stack_->Inventory().host, stack_->Inventory().port);
    return client.Request("GET", "/metrics", "", {}, timeout);
}

void Runner::ScrapeMetrics() {
    try {
        // Counters restart at 0 with each inventory incarnation; a scrape that straddles a restart is dropped.
        int incarnation = stack_->InventoryIncarnation();
        auto response = InventoryMetrics(1s);
        if (response.status == 200 && incarnation == stack_->InventoryIncarnation()) {
            metrics_.Observe(incarnation, response.body);
        }
    } catch (const std::exception&) {
        // Down or restarting: the next scrape catches up.
    }
}

long long Runner::Backlog() {
    auto rows = stack_->Query("order_db", "SELECT count(*) FROM inventory_intents WHERE state = 'pending'");
    return std::stoll(rows.at(0).at(0));
}

void Runner::ExecuteTimeline(std::vector<Action> actions, SteadyTime load_start) {
    std::stable_sort(actions.begin(), actions.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& [at, action] : actions) {
        std::this_thread::sleep_until(load_start +
                                      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(at)));
        action();
    }
}

void Runner::Heal() {
    stack_->SetStartupChaos("{}");
    bool up = stack_->EnsureUp(60s);
    std::string detail;
    bool chaos_off = PutChaos(json::object{}, detail, 30s);
    if (!chaos_off) run_errors_.push_back("healing: could not turn chaos off: " + detail);
    if (!up) run_errors_.push_back("healing: the services did not come up within 60 s");
    Timeline("heal", std::string("chaos off") + (chaos_off ? "" : " FAILED (" + detail + ")") +
                         (up ? ", both services live" : ", services NOT live"));
}

void Runner::FinalApiChecks(const std::vector<const OrderRecord*>& records) {
    std::atomic<std::size_t> next{0};
    std::vector<std::thread> threads;
    int count = std::max(1, std::min(scenario_.load.concurrency, 8));
    for (int t = 0; t < count; ++t) {
        threads.emplace_back([&] {
            testing::HttpClient client(stack_->Order().host, stack_->Order().port);
            while (true) {
                std::size_t index = next++;
                if (index >= records.size()) return;
                const OrderRecord& record = *records[index];
                if (record.order_id.empty()) continue;
                std::pair<int, std::string> api{0, ""};
                std::string replayed;
                std::pair<int, std::string> replay_answer{0, ""};
                std::vector<std::string> anomalies;
                std::string get_error = "no error", replay_failure = "no error";
                for (int attempt = 0; attempt < 5; ++attempt) {
                    try {
                        auto response = client.Request("GET", "/api/v1/orders/" + record.order_id, "",
                                                       {{"X-Request-Id", record.plan.key + "-final-get"}}, 10s);
                        boost::system::error_code ec;
                        auto body = json::parse(response.body, ec);
                        std::string status;
                        if (!ec && body.is_object() && body.get_object().contains("status") &&
                            body.get_object().at("status").is_string()) {
                            status = std::string(body.get_object().at("status").get_string());
                        }
                        api = {response.status, status};
                        if (response.status < 500) break;
                        std::this_thread::sleep_for(200ms);
                    } catch (const std::exception& error) {
                        get_error = error.what();
                        std::this_thread::sleep_for(200ms);
                    }
                }
                // A check that could not be made is reported, never skipped: after healing the order must be
                // readable and its key replayable.
                if (api.first == 0) {
                    anomalies.push_back("GET of order " + record.order_id + " after healing got no answer in 5 tries (" +
                                        get_error + ")");
                }
                for (int attempt = 0; attempt < 5; ++attempt) {
                    try {
                        auto response = client.Request(
                            "POST", "/api/v1/orders", record.plan.body,
                            {{"Idempotency-Key", record.plan.key}, {"X-Request-Id", record.plan.key + "-final-replay"}},
                            10s);
                        if (response.status >= 500) {
                            replay_failure = "last answer " + std::to_string(response.status) + " " +
                                             response.body.substr(0, 200);
                            std::this_thread::sleep_for(200ms);
                            continue;
                        }
                        replay_answer = {response.status, response.body};
                        boost::system::error_code ec;
                        auto body = json::parse(response.body, ec);
                        if (!ec && body.is_object()) {
                            const auto& object = body.get_object();
                            for (const char* key : {"id", "order_id"}) {
                                if (object.contains(key) && object.at(key).is_string()) {
                                    replayed = std::string(object.at(key).get_string());
                                    break;
                                }
                            }
                        }
                        if (response.Header("idempotent-replayed") != "true") {
                            anomalies.push_back("the replay after healing answered " + std::to_string(response.status) +
                                                " without Idempotent-Replayed: true");
                        }
                        break;
                    } catch (const std::exception& error) {
                        replay_failure = error.what();
                        std::this_thread::sleep_for(200ms);
                    }
                }
                if (replay_answer.first == 0) {
                    anomalies.push_back("the replay of key " + record.plan.key +
                                        " after healing got no answer below 500 in 5 tries (" + replay_failure + ")");
                }
                std::lock_guard lock(mutex_);
                api_status_[record.plan.key] = api;
                if (!replayed.empty()) replayed_id_[record.plan.key] = replayed;
                replay_answer_[record.plan.key] = replay_answer;
                if (!anomalies.empty()) replay_anomalies_[record.plan.key] = anomalies;
            }
        });
    }
    for (auto& thread : threads) thread.join();
}

// Each kind breaks the invariants it names in the throwaway databases, as a bug would; scenario.detects-corruption
// requires every one of them in the report. Kinds pick their rows from different statuses or ends of the table; where
// two still meet on one order (a run with few of them), each still breaks what it names when applied in the order
// that test lists them.
struct Corruption {
    const char* kind;
    const char* db;
    const char* sql;  // returns one row describing what it did, or none when it found nothing to break
    bool before_api_checks;  // acts before the checks that read the API after healing (the others after them)
};

const std::vector<Corruption>& Corruptions() {
    static const std::vector<Corruption> kCorruptions{
        // order-service can no longer read stored keys: every replay of a key answers 500.
        {"replays", "order_db",
         "REVOKE SELECT ON idempotency_keys FROM order_svc; "
         "SELECT 'order_svc may no longer read idempotency_keys (replays answer 500)'",
         true},
        {"stock", "inventory_db",
         "UPDATE products SET available = available - 1 WHERE sku = (SELECT sku FROM products WHERE available > 0 "
         "ORDER BY sku LIMIT 1) RETURNING 'products.available - 1 for ' || sku",
         false},
        // The last product, not the stock kind's first: on_hand and available both grow, so only the committed
        // count disagrees.
        {"on-hand", "inventory_db",
         "UPDATE products SET on_hand = on_hand + 1, available = available + 1 WHERE sku = (SELECT sku FROM products "
         "ORDER BY sku DESC LIMIT 1) RETURNING 'products.on_hand and available + 1 for ' || sku",
         false},
        {"orphan-reservation", "inventory_db",
         "INSERT INTO reservations (id, status) VALUES (gen_random_uuid(), 'RELEASED') "
         "RETURNING 'reservations: ' || id || ' (RELEASED) inserted for no order'",
         false},
        {"order-status", "order_db",
         "UPDATE orders SET status = 'CANCELLED' WHERE id = (SELECT id FROM orders WHERE status IN "
         "('CONFIRMED', 'SHIPPED') ORDER BY id LIMIT 1) RETURNING 'orders.status := CANCELLED for ' || id",
         false},
        {"order-items", "order_db",
         "UPDATE orders SET items = jsonb_set(items, '{0,quantity}', to_jsonb((items->0->>'quantity')::int + 1)) "
         "WHERE id = (SELECT id FROM orders WHERE status = 'CONFIRMED' ORDER BY id DESC LIMIT 1) "
         "RETURNING 'orders.items[0].quantity + 1 for ' || id",
         false},
        // A forward step no reconciler will finish: the order never settles.
        {"order-unsettled", "order_db",
         "UPDATE orders SET status = 'SHIPPING' WHERE id = (SELECT id FROM orders WHERE status = 'CONFIRMED' "
         "ORDER BY id LIMIT 1) RETURNING 'orders.status := SHIPPING for ' || id",
         false},
        {"failed-intent", "order_db",
         "UPDATE inventory_intents SET state = 'failed', last_error = 'deliberate corruption' WHERE (order_id, kind) = "
         "(SELECT order_id, kind FROM inventory_intents WHERE state = 'done' ORDER BY order_id, kind LIMIT 1) "
         "RETURNING 'inventory_intents.state := failed for the ' || kind || ' intent of ' || order_id",
         false},
        {"idempotency-key", "order_db",
         "WITH k AS (SELECT key, order_id FROM idempotency_keys ORDER BY key LIMIT 2) "
         "UPDATE idempotency_keys SET order_id = (SELECT order_id FROM k ORDER BY key DESC LIMIT 1) "
         "WHERE key = (SELECT min(key) FROM k) AND (SELECT count(*) FROM k) = 2 "
         "RETURNING 'idempotency_keys.order_id of ' || key || ' := ' || order_id",
         false},
    };
    return kCorruptions;
}

const Corruption* FindCorruption(const std::string& kind) {
    auto found = std::find_if(Corruptions().begin(), Corruptions().end(),
                              [&](const Corruption& known) { return kind == known.kind; });
    return found == Corruptions().end() ? nullptr : &*found;
}

void Runner::Corrupt(bool before_api_checks) {
    if (options_.corrupt.empty()) return;
    std::stringstream kinds(options_.corrupt);
    std::string kind;
    while (std::getline(kinds, kind, ',')) {
        const Corruption* corruption = FindCorruption(kind);
        if (corruption == nullptr) {
            throw ScenarioError("--corrupt takes " + CorruptionKinds() + " (comma-separated)");
        }
        if (corruption->before_api_checks != before_api_checks) continue;
        auto rows = stack_->Query(corruption->db, corruption->sql);
        std::string done = rows.empty() ? kind + ": nothing to corrupt" : rows[0][0];
        corruption_ += (corruption_.empty() ? "" : "; ") + done;
        Timeline("deliberate corruption (--corrupt " + kind + ")", done);
    }
}

Snapshot Runner::TakeSnapshot() {
    Snapshot snapshot;
    const std::string unit = "chr(31)", record = "chr(30)";
    // Products and reservations in one statement, so one snapshot: a write landing between two reads (a request
    // still under way when chaos was turned off) would otherwise show stock and reservations that never coexisted.
    for (const auto& row : stack_->Query(
             "inventory_db",
             "SELECT 'p', sku, on_hand::text, available::text, '' FROM products UNION ALL "
             "SELECT 'r', r.id::text, r.status, CASE WHEN r.tombstone THEN 't' ELSE 'f' END, COALESCE(string_agg(i.sku "
             "|| " + unit + " || i.quantity, " + record + "), '') FROM reservations r "
             "LEFT JOIN reservation_items i ON i.reservation_id = r.id GROUP BY r.id ORDER BY 1, 2")) {
        if (row[0] == "r") {
            snapshot.reservations.push_back(ReservationRow{row[1], row[2], row[3] == "t", ParseItems(row[4])});
            continue;
        }
        ProductRow product;
        product.sku = row[1];
        product.on_hand = std::stoll(row[2]);
        product.available = std::stoll(row[3]);
        auto base = baseline_.find(product.sku);
        if (base != baseline_.end()) {
            product.initial_on_hand = base->second.first;
            product.initial_committed = base->second.second;
        }  // a product created during the run starts at 0 (the runner creates none)
        snapshot.products.push_back(std::move(product));
    }
    for (const auto& row : stack_->Query(
             "order_db", "SELECT id, status, COALESCE(status_reason, ''), COALESCE((SELECT string_agg((e->>'sku') || " +
                             unit + " || (e->>'quantity'), " + record +
                             ") FROM jsonb_array_elements(items) e), '') FROM orders")) {
        snapshot.orders.push_back(OrderRow{row[0], row[1], ParseItems(row[3]), row[2]});
    }
    for (const auto& row :
         stack_->Query("order_db", "SELECT key, order_id, COALESCE(response_status::text, '') FROM idempotency_keys")) {
        KeyRow key{row[0], row[1], std::nullopt};
        if (!row[2].empty()) key.response_status = std::stoi(row[2]);
        snapshot.keys.push_back(std::move(key));
    }
    for (const auto& row : stack_->Query("order_db",
                                         "SELECT order_id, kind, state, attempts, COALESCE(last_error, '') "
                                         "FROM inventory_intents")) {
        snapshot.intents.push_back(IntentRow{row[0], row[1], row[2], std::stoi(row[3]), row[4]});
    }
    snapshot.backlog_drained = drained_;
    return snapshot;
}

// "#1 no answer (Connection refused) in 0.00 s; #2-#4 409 idempotency_key_in_flight; #5 201 CONFIRMED (replayed)":
// consecutive attempts with the same outcome are folded into one range.
std::string StoryOfAttempts(const OrderRecord& record, const std::string& op) {
    struct Step {
        int first, last;
        std::string outcome;
        double latency_s;
    };
    std::vector<Step> steps;
    for (const auto& exchange : record.exchanges) {
        if (exchange.op != op) continue;
        std::string outcome;
        if (exchange.status == 0) {
            outcome = "no answer (" + exchange.error + ")";
        } else {
            outcome = std::to_string(exchange.status);
            if (!exchange.order_status.empty())
                outcome += " " + exchange.order_status;
            else if (!exchange.code.empty())
                outcome += " " + exchange.code;
            if (exchange.replayed) outcome += " (replayed)";
        }
        if (!steps.empty() && steps.back().outcome == outcome) {
            steps.back().last = exchange.attempt;
            steps.back().latency_s = std::max(steps.back().latency_s, exchange.latency_ms / 1000);
        } else {
            steps.push_back(Step{exchange.attempt, exchange.attempt, outcome, exchange.latency_ms / 1000});
        }
    }
    std::string out;
    for (const auto& step : steps) {
        if (!out.empty()) out += "; ";
        out += "#" + std::to_string(step.first) + (step.last != step.first ? "-#" + std::to_string(step.last) : "") +
               " " + step.outcome + (step.latency_s >= 0.1 ? " in " + Fixed(step.latency_s, 2) + " s" : "");
    }
    return out;
}

std::string Ordinal(const std::string& number) {
    if (number.empty() || number.find_first_not_of("0123456789") != std::string::npos) return number + "th";
    int n = std::stoi(number);
    if (n % 100 >= 11 && n % 100 <= 13) return number + "th";
    switch (n % 10) {
        case 1:
            return number + "st";
        case 2:
            return number + "nd";
        case 3:
            return number + "rd";
        default:
            return number + "th";
    }
}

// The client-side facts about every order, folded for the report.
struct OrderSummary {
    std::map<std::string, long long> by_status;
    std::map<std::string, long long> final_answers;  // "create 201" -> n
    json::array orders;
    json::array affected;
    std::vector<double> create_attempt_ms, create_final_ms, ship_ms, cancel_ms;
    long long no_final_answer = 0;
    long long replayed_answers = 0;
};

// Injections as inventory logged them, attributed to client keys where possible.
struct InjectionLog {
    std::map<std::string, long long> totals;  // "latency/delay", "crash/exit", ...
    long long on_reconciler_calls = 0;
    std::unordered_map<std::string, std::vector<LoggedInjection>> by_key;
};

InjectionLog SummarizeInjections(const std::vector<std::string>& logs, const std::string& key_prefix) {
    InjectionLog log;
    for (auto& injection : ReadInjections(logs, key_prefix)) {
        std::string action =
            injection.kind == "latency" ? "delay" : injection.detail.substr(0, injection.detail.find(' '));
        log.totals[injection.kind + "/" + action]++;
        if (injection.key.empty())
            ++log.on_reconciler_calls;
        else
            log.by_key[injection.key].push_back(std::move(injection));
    }
    return log;
}

std::unordered_map<std::string, OrderFacts> CollectFacts(const Snapshot& snapshot, Stack& stack) {
    std::unordered_map<std::string, OrderFacts> facts;
    for (const auto& order : snapshot.orders) {
        facts[order.id].status = order.status;
        facts[order.id].status_reason = order.status_reason;
    }
    for (const auto& reservation : snapshot.reservations) {
        facts[reservation.id].reservation_status = reservation.status + (reservation.tombstone ? " (tombstone)" : "");
    }
    for (const auto& row : stack.Query("order_db",
                                       "SELECT i.order_id, i.kind, i.state, i.attempts, COALESCE(i.last_error, ''), "
                                       "extract(epoch FROM i.updated_at - o.created_at)::float8 "
                                       "FROM inventory_intents i JOIN orders o ON o.id = i.order_id")) {
        facts[row[0]].intents[row[1]] = IntentFacts{row[2], std::stoi(row[3]), row[4], std::stod(row[5])};
    }
    return facts;
}

// What happened to one order, in words: a headline and the evidence.
struct OrderStory {
    bool affected = false;
    std::string headline;
    std::vector<std::string> details;
};

OrderStory TellStory(const OrderRecord& record, const OrderFacts* fact,
                     const std::vector<LoggedInjection>* injections) {
    OrderStory story;
    const int status = record.create_status;
    story.headline = status == 0
                         ? "no final answer"
                         : "answered " + std::to_string(status) + " " +
                               (record.create_order_status.empty() ? record.create_code : record.create_order_status);
    story.headline += " after " + Fixed(record.create_latency_s, 2) + " s";
    if (record.create_attempts > 1) {
        story.affected = true;
        story.headline += " and " + std::to_string(record.create_attempts) + " attempts";
    }
    if (record.create_attempts > 1 || status == 0) {
        story.details.push_back("create: " + StoryOfAttempts(record, "create"));
    }
    if (status == 202 || status == 0) story.affected = true;

    const IntentFacts* reserve = nullptr;
    if (fact) {
        if (auto it = fact->intents.find("reserve"); it != fact->intents.end()) reserve = &it->second;
    }
    if (reserve && reserve->attempts > 0) {
        story.affected = true;
        if (reserve->state == "done") {
            std::string decided = fact->status == "REJECTED"  ? "rejected by the reconciler"
                                  : fact->status == "PENDING" ? "decided by the reconciler"
                                  : record.plan.followup == Followup::kCancel && fact->status == "CANCELLED"
                                      ? "reserved by the reconciler"
                                      : "confirmed by the reconciler";
            story.headline += ", " + decided + " " + Fixed(reserve->finished_after_s, 1) + " s after it was created";
        } else {
            story.headline += ", reserve intent " + reserve->state;
        }
        story.details.push_back("reserve intent " + reserve->state + " after " + std::to_string(reserve->attempts) +
                                " reconciler attempt(s)" +
                                (reserve->last_error.empty() ? "" : "; last error: " + reserve->last_error));
    }
    if (injections != nullptr && !injections->empty()) {
        story.affected = true;
        std::map<std::string, int> counts;
        for (const LoggedInjection& injection : *injections) {
            counts[injection.kind == "latency" ? "latency +" + injection.detail + " on its " + injection.operation
                                               : "crash (" + injection.detail + ") on its " + injection.operation]++;
        }
        std::string text;
        for (const auto& [what, n] : counts) {
            text += (text.empty() ? "" : ", ") + what + (n > 1 ? " ×" + std::to_string(n) : "");
        }
        story.details.push_back("inventory injected " + text + " (while serving this client's request)");
    }
    if (!record.followup_outcome.empty()) {
        story.headline += "; " + record.followup_outcome;
        std::string op = record.plan.followup == Followup::kShip ? "ship" : "cancel";
        if (record.followup_polls > 0) {
            story.affected = true;
            story.details.push_back(op + ": polled the PENDING order " + std::to_string(record.followup_polls) +
                                    " time(s) until the reconciler decided it");
        }
        if (record.followup_attempts > 1) {
            story.affected = true;
            story.details.push_back(op + ": " + StoryOfAttempts(record, op));
        }
        if (record.followup_outcome.find("202") != std::string::npos) story.affected = true;
        for (const char* kind : {"commit", "release"}) {
            if (!fact) break;
            auto it = fact->intents.find(kind);
            if (it == fact->intents.end() || it->second.attempts == 0) continue;
            story.affected = true;
            story.headline += ", " + std::string(kind) + " " +
                              (it->second.state == "done" ? "finished" : "left " + it->second.state) +
                              " by the reconciler " + Fixed(it->second.finished_after_s, 1) + " s after creation";
            story.details.push_back(std::string(kind) + " intent " + it->second.state + " after " +
                                    std::to_string(it->second.attempts) + " reconciler attempt(s)" +
                                    (it->second.last_error.empty() ? "" : "; last error: " + it->second.last_error));
        }
    }
    if (!record.unexpected.empty()) story.affected = true;
    for (const auto& text : record.unexpected) story.details.push_back("UNEXPECTED: " + text);
    return story;
}

OrderSummary Summarize(const std::vector<const OrderRecord*>& records, const Snapshot& snapshot,
                       const std::unordered_map<std::string, OrderFacts>& facts, const InjectionLog& injections) {
    OrderSummary summary;
    std::unordered_map<std::string, std::string> order_of_key;
    for (const auto& key : snapshot.keys) order_of_key[key.key] = key.order_id;
    for (const OrderRecord* record : records) {
        for (const auto& exchange : record->exchanges) {
            if (exchange.op == "create") summary.create_attempt_ms.push_back(exchange.latency_ms);
            if (exchange.replayed) ++summary.replayed_answers;
            if (exchange.op == "ship" || exchange.op == "cancel") {
                summary.final_answers[exchange.op + " " +
                                      (exchange.status == 0 ? std::string("no answer")
                                                            : std::to_string(exchange.status))]++;
            }
        }
        if (record->create_status != 0) summary.create_final_ms.push_back(record->create_latency_s * 1000);
        summary.final_answers["create " + (record->create_status == 0 ? std::string("no answer")
                                                                      : std::to_string(record->create_status))]++;
        if (record->followup_attempts > 0) {
            (record->plan.followup == Followup::kShip ? summary.ship_ms : summary.cancel_ms)
                .push_back(record->followup_latency_s * 1000);
        }

        const OrderFacts* fact = nullptr;
        if (auto it = facts.find(record->order_id); it != facts.end()) fact = &it->second;
        std::string final_status = fact ? fact->status : (record->order_id.empty() ? "NO ANSWER" : "MISSING");
        if (record->order_id.empty()) {
            // The client never learned an id: the order may exist all the same.
            ++summary.no_final_answer;
            if (auto key = order_of_key.find(record->plan.key); key != order_of_key.end()) {
                auto it = facts.find(key->second);
                final_status = it != facts.end() ? it->second.status + " (never told to the client)" : "MISSING";
            }
        }
        summary.by_status[final_status.substr(0, final_status.find(' '))]++;

        auto injected = injections.by_key.find(record->plan.key);
        OrderStory story = TellStory(*record, fact, injected == injections.by_key.end() ? nullptr : &injected->second);
        std::string status_reason = fact ? fact->status_reason : "";
        std::string reservation = fact ? fact->reservation_status : "";
        summary.orders.push_back(json::object{{"key", record->plan.key},
                                              {"order_id", record->order_id},
                                              {"items", ItemsText(record->plan.items)},
                                              {"create_status", record->create_status},
                                              {"create_attempts", record->create_attempts},
                                              {"create_latency_s", Round(record->create_latency_s, 3)},
                                              {"followup", record->plan.followup == Followup::kShip     ? "ship"
                                                           : record->plan.followup == Followup::kCancel ? "cancel"
                                                                                                        : ""},
                                              {"followup_outcome", record->followup_outcome},
                                              {"final_status", final_status},
                                              {"status_reason", status_reason},
                                              {"reservation", reservation},
                                              {"affected", story.affected}});
        if (story.affected) {
            json::array details;
            for (auto& line : story.details) details.emplace_back(line);
            summary.affected.push_back(json::object{{"key", record->plan.key},
                                                    {"order_id", record->order_id},
                                                    {"final_status", final_status},
                                                    {"status_reason", status_reason},
                                                    {"reservation", reservation},
                                                    {"what_happened", story.headline},
                                                    {"details", details}});
        }
    }
    return summary;
}

json::object PercentilesJson(std::vector<double> values) {
    auto p = ComputePercentiles(std::move(values));
    return json::object{{"n", p.n},
                        {"p50", Round(p.p50, 1)},
                        {"p90", Round(p.p90, 1)},
                        {"p99", Round(p.p99, 1)},
                        {"max", Round(p.max, 1)}};
}

json::object CountsJson(const std::map<std::string, long long>& counts) {
    json::object out;
    for (const auto& [label, n] : counts) out[label] = n;
    return out;
}

void Runner::CreateStack() {
    if (options_.external) {
        admin_token_ = options_.admin_token;
        stack_ = std::make_unique<ExternalStack>(options_.order, options_.inventory, options_.order_db,
                                                 options_.inventory_db, options_.ctl, work_dir_);
        return;
    }
    admin_token_ = "valerix-scenario-" + run_tag_;
    StackConfig config;
    config.inventory_binary = options_.inventory_binary;
    config.order_binary = options_.order_binary;
    config.work_dir = work_dir_;
    config.admin_token = admin_token_;
    config.restart_delay_ms = scenario_.supervisor_restart_delay_ms;
    for (const auto& [name, value] : scenario_.inventory_env) config.inventory_env.emplace_back(name, value);
    for (const auto& [name, value] : scenario_.order_env) config.order_env.emplace_back(name, value);
    stack_ = std::make_unique<EphemeralStack>(config, epoch_);
}

Runner::Actions Runner::TimelineActions() {
    Actions actions;
    for (const auto& event : scenario_.timeline) {
        auto& list = event.at_s <= 0 ? actions.at_start : actions.later;
        std::string note = event.note.empty() ? "" : " (" + event.note + ")";
        switch (event.kind) {
            case EventKind::kChaos:
                list.emplace_back(event.at_s, [this, event, note] {
                    stack_->SetStartupChaos(json::serialize(event.chaos));
                    std::string detail;
                    bool ok = PutChaos(event.chaos, detail, 15s);
                    if (!ok) run_errors_.push_back("chaos at " + Fixed(event.at_s, 1) + " s not applied: " + detail);
                    Timeline("chaos set" + note, ChaosSummary(event.chaos) + (ok ? "" : " — NOT APPLIED: " + detail));
                });
                break;
            case EventKind::kKill:
                list.emplace_back(event.at_s, [this, event, note] {
                    Timeline("kill -9 " + std::string(ToString(event.service)) + note,
                             "restart after " + Fixed(event.restart_after_s, 1) + " s");
                    stack_->KillService(event.service);
                });
                actions.later.emplace_back(event.at_s + event.restart_after_s, [this, event] {
                    stack_->ReviveService(event.service);
                    Timeline(std::string(ToString(event.service)) + " started again by the runner");
                });
                break;
            case EventKind::kRestartPostgres:
                list.emplace_back(event.at_s, [this, event, note] {
                    Timeline(std::string(event.immediate ? "crash PostgreSQL (immediate shutdown), restart"
                                                         : "restart PostgreSQL") +
                             note);
                    try {
                        stack_->RestartPostgres(event.immediate);
                    } catch (const std::exception& error) {
                        run_errors_.push_back(std::string("PostgreSQL restart failed: ") + error.what());
                    }
                    Timeline("PostgreSQL accepting connections again");
                });
                break;
        }
    }
    return actions;
}

void Runner::WaitForBacklog() {
    const auto started = Clock::now();
    const auto deadline =
        started + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(scenario_.heal_timeout_s));
    long long backlog = -1;
    while (true) {
        try {
            backlog = Backlog();
        } catch (const std::exception&) {
            backlog = -1;
        }
        if (backlog_after_clients_ < 0) backlog_after_clients_ = backlog;
        if (backlog == 0 || Clock::now() >= deadline) break;
        std::this_thread::sleep_for(100ms);
    }
    drained_ = backlog == 0;
    drain_s_ = Seconds(Clock::now() - started);
    Timeline(drained_ ? "reconciler backlog is 0" : "reconciler backlog did NOT drain",
             "after " + Fixed(drain_s_, 1) + " s" + (drained_ ? "" : " (" + std::to_string(backlog) + " pending)"));
}

std::vector<ClientClaim> Runner::Claims(const std::vector<const OrderRecord*>& records) {
    std::vector<ClientClaim> claims;
    for (const OrderRecord* record : records) {
        ClientClaim claim;
        claim.key = record->plan.key;
        claim.told_order_ids = record->told_ids;
        claim.planned = record->plan.items;
        claim.promised = record->promised;
        claim.promised_by = record->promised_by;
        // Whether it was sent: a follow-up is planned for every order but sent only once the create was answered.
        if (record->followup_attempts > 0) {
            claim.requested = record->plan.followup == Followup::kShip     ? "ship"
                              : record->plan.followup == Followup::kCancel ? "cancel"
                                                                           : "";
        }
        claim.unexpected_answers = record->unexpected;
        claim.answer_status = record->create_status;
        claim.answer_body = record->create_body;
        if (auto it = api_status_.find(claim.key); it != api_status_.end()) {
            claim.api_http_status = it->second.first;
            claim.api_status = it->second.second;
        }
        if (auto it = replayed_id_.find(claim.key); it != replayed_id_.end()) claim.replayed_order_id = it->second;
        if (auto it = replay_answer_.find(claim.key); it != replay_answer_.end()) {
            claim.replay_status = it->second.first;
            claim.replay_body = it->second.second;
        }
        if (auto it = replay_anomalies_.find(claim.key); it != replay_anomalies_.end()) {
            claim.unexpected_answers.insert(claim.unexpected_answers.end(), it->second.begin(), it->second.end());
        }
        claims.push_back(std::move(claim));
    }
    return claims;
}

json::array Runner::CheckExpectations(std::size_t orders, const OrderSummary& summary, const InjectionLog& injections,
                                      bool& met) {
    const auto& expect = scenario_.expect;
    auto metric_totals = metrics_.Totals();
    long long latency = std::max(metric_totals["latency/delay"],
                                 injections.totals.count("latency/delay") ? injections.totals.at("latency/delay") : 0);
    long long logged_crashes = 0, metric_crashes = 0;
    for (const auto& [label, n] : injections.totals) {
        if (label.rfind("crash/", 0) == 0) logged_crashes += n;
    }
    for (const auto& [label, n] : metric_totals) {
        if (label.rfind("crash/", 0) == 0) metric_crashes += n;
    }
    // An exit kills the process before its counter can be scraped: count the exits the runner saw instead.
    long long crashes = std::max(logged_crashes, metric_crashes + stack_->ChaosExits());
    long long restarts = stack_->UnplannedExits(Service::kInventory) + stack_->UnplannedExits(Service::kOrder);
    json::array out;
    met = true;
    auto expectation = [&](const std::string& what, long long actual, long long minimum) {
        bool ok = actual >= minimum;
        out.push_back(json::object{{"what", what}, {"min", minimum}, {"actual", actual}, {"met", ok}});
        met = met && ok;
    };
    expectation("orders placed", static_cast<long long>(orders), expect.min_orders);
    expectation("affected orders", static_cast<long long>(summary.affected.size()), expect.min_affected_orders);
    expectation("latency injections", latency, expect.min_latency_injections);
    expectation("crash injections", crashes, expect.min_crash_injections);
    expectation(stack_->OwnsProcesses() ? "unplanned exits restarted by the runner"
                                        : "unplanned restarts by the stack's supervisor",
                restarts, expect.min_supervisor_restarts);
    for (const auto& [status, minimum] : expect.min_status) {
        auto it = summary.by_status.find(status);
        expectation("orders ending " + status, it == summary.by_status.end() ? 0 : it->second, minimum);
    }
    return out;
}

int Runner::Run() {
    scenario_ = LoadScenario(options_.scenario_path, options_.short_variant);
    if (options_.duration_s) scenario_.load.duration_s = *options_.duration_s;
    if (options_.rate) scenario_.load.rate = *options_.rate;
    seed_ = options_.seed.value_or(scenario_.seed);
    if (options_.external) {
        for (const auto& event : scenario_.timeline) {
            if (event.kind != EventKind::kChaos && options_.ctl.empty()) {
                throw ScenarioError(
                    "the timeline kills or restarts processes, which only an ephemeral stack allows "
                    "(the runner does not own the processes of an external stack) or --ctl with the command of "
                    "the external stack's supervisor");
            }
        }
        if (!options_.corrupt.empty()) throw ScenarioError("--corrupt is refused on an external stack");
    }
    {
        core::SeededRandom random(core::EntropySeed());
        run_tag_ = core::RandomHex(random, 3);
    }
    PrepareWorkDir();
    std::string requests_path = options_.requests_path;
    if (requests_path.empty()) {
        requests_path =
            options_.report_path.empty() ? work_dir_ + "/requests.jsonl" : options_.report_path + ".requests.jsonl";
    }
    RequestLog log(requests_path);
    progress_("scenario " + scenario_.name + (options_.short_variant ? " (short variant)" : "") + ", seed " +
              std::to_string(seed_) + ", work dir " + work_dir_);

    CreateStack();
    try {
        stack_->Start();
        SetCatalog();
        TakeBaseline();
    } catch (const std::exception& error) {
        std::fprintf(stderr, "valerix-scenario: the stack could not be started: %s\n", error.what());
        std::fprintf(stderr, "logs are kept in %s\n", work_dir_.c_str());
        return kRunFailed;
    }
    progress_("stack up: " + stack_->Describe());

    // Background: /metrics of inventory and the reconciler backlog, twice a second.
    std::atomic<bool> sampling{true};
    std::thread sampler([&] {
        while (sampling) {
            ScrapeMetrics();
            try {
                long long backlog = Backlog();
                std::lock_guard lock(mutex_);
                max_backlog_ = std::max(max_backlog_, backlog);
                backlog_samples_.push_back(json::array{Round(Seconds(Clock::now() - epoch_), 2), backlog});
            } catch (const std::exception&) {
                // PostgreSQL restarting: the next sample catches up.
            }
            for (int i = 0; i < 5 && sampling; ++i) std::this_thread::sleep_for(100ms);
        }
    });
    // Should anything below throw (the load driver rethrows its failure), the sampler must be joined first: a
    // joinable thread destroyed during unwinding is std::terminate, and then nothing would stop the stack.
    struct JoinSampler {
        std::atomic<bool>& sampling;
        std::thread& thread;
        ~JoinSampler() {
            sampling = false;
            if (thread.joinable()) thread.join();
        }
    } join_sampler{sampling, sampler};

    // Load and timeline; events at 0 s happen before the first order.
    Actions actions = TimelineActions();
    for (auto& [at, action] : actions.at_start) action();
    LoadDriver driver(scenario_, seed_, stack_->Order(), epoch_, log, run_tag_);
    const auto load_start = Clock::now();
    Timeline("load started", (scenario_.load.rate > 0 ? Fixed(scenario_.load.rate, 1) + " orders/s" : "closed loop") +
                                 " for " + Fixed(scenario_.load.duration_s, 1) + " s, " +
                                 (scenario_.load.rate > 0
                                      ? "at most " + std::to_string(scenario_.load.concurrency) + " requests in flight"
                                      : std::to_string(scenario_.load.concurrency) + " clients"));
    driver.Start();
    ExecuteTimeline(std::move(actions.later), load_start);
    std::this_thread::sleep_until(load_start + std::chrono::duration_cast<Clock::duration>(
                                                   std::chrono::duration<double>(scenario_.load.duration_s)));
    Timeline("load window over", "clients finish their retries and follow-ups");

    // Heal, let the clients finish against a healthy system, wait for the reconciler.
    Heal();
    driver.Join();
    auto records = driver.Records();
    // Creates finally answered before the load window closed: what the system sustained, as opposed to what was offered.
    const double window_end_s = Seconds(load_start - epoch_) + scenario_.load.duration_s;
    std::size_t answered_in_window = 0;
    for (const OrderRecord* record : records) {
        if (record->create_status != 0 && record->created_t_s + record->create_latency_s <= window_end_s) {
            ++answered_in_window;
        }
    }
    Timeline("clients done", std::to_string(records.size()) + " orders placed");
    WaitForBacklog();
    sampling = false;
    sampler.join();
    ScrapeMetrics();

    // Check.
    Corrupt(true);
    FinalApiChecks(records);
    Corrupt(false);
    Snapshot snapshot = TakeSnapshot();
    snapshot.claims = Claims(records);
    std::vector<Violation> violations = CheckInvariants(snapshot);
    InjectionLog injections = SummarizeInjections(stack_->InventoryLogs(), "scn-" + run_tag_ + "-");
    OrderSummary summary = Summarize(records, snapshot, CollectFacts(snapshot, *stack_), injections);
    bool expectations_met = true;
    json::array expectations = CheckExpectations(records.size(), summary, injections, expectations_met);
    for (const auto& exit : stack_->UnexpectedExits()) run_errors_.push_back(exit);
    bool pass = violations.empty() && expectations_met && run_errors_.empty();

    // Report.
    json::object report;
    report["scenario"] = json::object{{"name", scenario_.name},
                                      {"description", scenario_.description},
                                      {"file", options_.scenario_path},
                                      {"short_variant", options_.short_variant},
                                      {"seed", seed_},
                                      {"run_tag", run_tag_}};
    report["result"] = pass ? "pass" : "fail";
    bool keep = options_.keep_work_dir || !pass || !created_work_dir_;
    report["stack"] = json::object{{"kind", stack_->OwnsProcesses() ? "ephemeral" : "external"},
                                   {"description", stack_->Describe()},
                                   {"inventory", stack_->Inventory().Text()},
                                   {"order", stack_->Order().Text()},
                                   {"work_dir", work_dir_},
                                   {"work_dir_kept", keep},
                                   {"requests_log", log.Path()}};
    report["load"] =
        json::object{{"rate", scenario_.load.rate},
                     {"concurrency", scenario_.load.concurrency},
                     {"duration_s", scenario_.load.duration_s},
                     {"orders", records.size()},
                     {"requests", log.Count()},
                     {"achieved_rate", Round(static_cast<double>(records.size()) / scenario_.load.duration_s, 2)},
                     {"answered_in_window", answered_in_window},
                     {"answered_rate", Round(static_cast<double>(answered_in_window) / scenario_.load.duration_s, 2)},
                     {"max_in_flight", driver.MaxInFlight()},
                     {"no_final_answer", summary.no_final_answer},
                     {"answers", CountsJson(summary.final_answers)},
                     {"replayed_answers", summary.replayed_answers}};
    report["timeline"] = timeline_;
    json::array process_events;
    for (const auto& event : stack_->Events()) {
        process_events.push_back(json::object{
            {"t_s", Round(event.t_s, 3)}, {"service", event.service}, {"what", event.what}, {"detail", event.detail}});
    }
    report["process_events"] = process_events;
    report["orders_by_status"] = CountsJson(summary.by_status);
    report["injections"] = json::object{{"metrics", CountsJson(metrics_.Totals())},
                                        {"logged", CountsJson(injections.totals)},
                                        {"logged_on_reconciler_calls", injections.on_reconciler_calls},
                                        {"inventory_chaos_exits", stack_->ChaosExits()},
                                        {"inventory_incarnations", stack_->InventoryIncarnation()}};
    report["latency_ms"] = json::object{{"create_attempt", PercentilesJson(summary.create_attempt_ms)},
                                        {"create_until_answered", PercentilesJson(summary.create_final_ms)},
                                        {"ship", PercentilesJson(summary.ship_ms)},
                                        {"cancel", PercentilesJson(summary.cancel_ms)}};
    report["reconciler"] = json::object{{"max_backlog_seen", max_backlog_},
                                        {"backlog_when_clients_finished", backlog_after_clients_},
                                        {"drained", drained_},
                                        {"drain_s", Round(drain_s_, 2)},
                                        {"heal_timeout_s", scenario_.heal_timeout_s},
                                        {"backlog_samples", backlog_samples_}};
    json::array checked;
    for (const auto& [name, statement] : InvariantCatalog()) {
        checked.push_back(json::object{{"name", name}, {"statement", statement}});
    }
    report["invariants_checked"] = checked;
    json::array violations_json;
    for (const auto& violation : violations) {
        violations_json.push_back(
            json::object{{"invariant", violation.invariant}, {"message", violation.message}, {"rows", violation.rows}});
    }
    report["violations"] = violations_json;
    report["expectations"] = expectations;
    json::array errors;
    for (const auto& error : run_errors_) errors.emplace_back(error);
    report["run_errors"] = errors;
    if (!corruption_.empty()) report["deliberate_corruption"] = corruption_;
    report["affected_orders"] = summary.affected;
    report["orders"] = summary.orders;

    std::cout << RenderText(report, options_.verbose) << std::flush;
    if (!options_.report_path.empty()) {
        std::ofstream out(options_.report_path, std::ios::trunc);
        out << core::SerializeJson(report) << '\n';
        if (!out) std::fprintf(stderr, "valerix-scenario: cannot write %s\n", options_.report_path.c_str());
    }

    stack_->PreserveLogs(work_dir_);
    stack_->Stop();
    stack_.reset();
    if (!keep) {
        std::error_code ec;
        std::filesystem::remove_all(work_dir_, ec);
    }
    return pass ? kPass : kViolations;
}

}  // namespace

int RunScenario(const RunOptions& options) {
    // An exception leaves through here (main reports it): the runner's destructor stops the stack on the way out.
    Runner runner(options);
    return runner.Run();
}

std::string CorruptionKinds() {
    std::string kinds;
    for (const auto& corruption : Corruptions()) kinds += (kinds.empty() ? "" : ", ") + std::string(corruption.kind);
    return kinds;
}

bool IsCorruptionKind(const std::string& kind) { return FindCorruption(kind) != nullptr; }

}  // namespace valerix::scenario
