#include "service_fixture.hpp"

#include <algorithm>

#include <csignal>
#include <map>
#include <set>
#include <stdexcept>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <valerix/testing/free_port.hpp>

namespace valerix::functional {

ServiceProcess::ServiceProcess(std::string binary, std::string name, std::string log_dir, Env env)
    : binary_(std::move(binary)),
      name_(std::move(name)),
      log_dir_(std::move(log_dir)),
      env_(std::move(env)),
      port_(testing::FreePort()) {
    env_.emplace_back("VALERIX_HTTP_HOST", "127.0.0.1");
    env_.emplace_back("VALERIX_HTTP_PORT", std::to_string(port_));
    env_.emplace_back("VALERIX_ADMIN_TOKEN", kAdminToken);
    Start();
}

void ServiceProcess::Start() {
    std::string log = log_dir_ + "/" + name_ + "-" + std::to_string(++starts_) + ".log";
    // SIGKILL when the test dies, even alone (not with its tree): a service outliving its test would hold its port.
    process_ = std::make_unique<testing::ChildProcess>(binary_, std::vector<std::string>{}, env_, log, "", SIGKILL);
    // In short slices, so that a service that refused its configuration fails the test at once, not after 30 s.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!testing::WaitUntilLive("127.0.0.1", port_, "/live", std::chrono::milliseconds(250))) {
        if (!process_->Running()) {
            throw std::runtime_error(name_ + " exited with status " + std::to_string(process_->Wait({})) +
                                     " before it became live; log:\n" + process_->Log());
        }
        if (std::chrono::steady_clock::now() >= until) {
            throw std::runtime_error(name_ + " did not become live; log:\n" + process_->Log());
        }
    }
}

void ServiceProcess::Kill() {
    process_->Signal(SIGKILL);
    process_->Wait(std::chrono::seconds(10));
}

ServiceProcess::~ServiceProcess() {
    if (process_ && process_->Running()) {
        process_->Signal(SIGTERM);
        process_->Wait(std::chrono::seconds(15));
    }
}

namespace {

void EnsureDatabase(testing::PostgresServer& postgres, const std::string& db, const std::string& owner) {
    auto exists = postgres.Query("postgres", "SELECT count(*) FROM pg_database WHERE datname = '" + db + "'");
    if (exists[0][0] == "0") postgres.CreateDatabase(db, owner);
}

Env Merge(Env base, const Env& extra) {
    for (const auto& [key, value] : extra) {
        auto it = std::find_if(base.begin(), base.end(), [&](const auto& entry) { return entry.first == key; });
        if (it != base.end()) it->second = value;
        else base.emplace_back(key, value);
    }
    return base;
}

}  // namespace

std::unique_ptr<ServiceProcess> StartInventory(testing::PostgresServer& postgres, const std::string& name, Env extra) {
    EnsureDatabase(postgres, "inventory_db", "inventory_svc");
    Env env = Merge({{"VALERIX_DB_URL", postgres.ConnInfo("inventory_db", "inventory_svc")},
                     {"VALERIX_LOG_LEVEL", "info"}},
                    extra);
    return std::make_unique<ServiceProcess>(VALERIX_INVENTORY_BINARY, name, postgres.Dir(), env);
}

std::unique_ptr<ServiceProcess> StartOrder(testing::PostgresServer& postgres, const std::string& name,
                                           int inventory_port, Env extra) {
    EnsureDatabase(postgres, "order_db", "order_svc");
    Env env = Merge({{"VALERIX_DB_URL", postgres.ConnInfo("order_db", "order_svc")},
                     {"VALERIX_INVENTORY_URL", "http://127.0.0.1:" + std::to_string(inventory_port)},
                     {"VALERIX_INVENTORY_DEADLINE_MS", "1500"},
                     {"VALERIX_INVENTORY_TRY_TIMEOUT_MS", "600"},
                     {"VALERIX_INTENT_LEASE_MS", "2000"},
                     {"VALERIX_RECONCILER_INTERVAL_MS", "50"},
                     {"VALERIX_RECONCILE_BACKOFF_BASE_MS", "50"},
                     {"VALERIX_RECONCILE_BACKOFF_CAP_MS", "400"},
                     {"VALERIX_BREAKER_OPEN_MS", "1000"},
                     {"VALERIX_LOG_LEVEL", "info"}},
                    extra);
    return std::make_unique<ServiceProcess>(VALERIX_ORDER_BINARY, name, postgres.Dir(), env);
}

std::unique_ptr<ServiceProcess> StartWeb(const std::string& log_dir, const std::string& name, int order_port,
                                         int inventory_port, const std::string& web_root, Env extra) {
    Env env = Merge({{"VALERIX_ORDER_URL", "http://127.0.0.1:" + std::to_string(order_port)},
                     {"VALERIX_INVENTORY_URL", "http://127.0.0.1:" + std::to_string(inventory_port)},
                     {"VALERIX_WEB_ROOT", web_root},
                     {"VALERIX_SNAPSHOT_INTERVAL_MS", "300"},
                     {"VALERIX_LOG_LEVEL", "info"}},
                    extra);
    return std::make_unique<ServiceProcess>(VALERIX_WEB_BINARY, name, log_dir, env);
}

std::string NewUuid() {
    static core::SeededRandom random(core::EntropySeed());
    return core::RandomUuid(random);
}

std::string ReservationBody(const std::string& id, const std::string& sku, int quantity) {
    boost::json::object body{{"reservation_id", id},
                             {"items", boost::json::array{boost::json::object{{"sku", sku}, {"quantity", quantity}}}}};
    return boost::json::serialize(body);
}

boost::json::object ParseObject(const std::string& body) {
    auto value = boost::json::parse(body);
    if (!value.is_object()) throw std::runtime_error("not a JSON object: " + body);
    return value.get_object();
}

std::string InventoryViolations(testing::PostgresServer& postgres, const std::string& db) {
    auto rows = postgres.Query(db, R"sql(
        WITH held AS (
            SELECT i.sku,
                   sum(i.quantity) FILTER (WHERE r.status = 'RESERVED') AS reserved
            FROM reservation_items i JOIN reservations r ON r.id = i.reservation_id
            GROUP BY i.sku)
        SELECT p.sku, p.on_hand, p.available, COALESCE(h.reserved, 0)
        FROM products p LEFT JOIN held h ON h.sku = p.sku
        WHERE p.available < 0 OR p.on_hand < p.available
           OR p.on_hand - p.available <> COALESCE(h.reserved, 0)
        UNION ALL
        SELECT 'tombstone holding items: ' || r.id, 0, 0, count(*)
        FROM reservations r JOIN reservation_items i ON i.reservation_id = r.id
        WHERE r.tombstone GROUP BY r.id)sql");
    std::string out;
    for (const auto& row : rows) {
        out += "sku=" + row[0] + " on_hand=" + row[1] + " available=" + row[2] + " reserved=" + row[3] + "\n";
    }
    return out;
}

std::vector<std::vector<std::string>> ScansWithPlansMadeOnFreshTables(testing::PostgresServer& postgres,
                                                                      const std::string& db,
                                                                      const std::vector<std::string>& tables,
                                                                      const std::string& fill, const std::string& work,
                                                                      const std::string& checks) {
    std::string sql = "BEGIN; ";
    std::string relids;
    for (const auto& table : tables) {
        sql += "CREATE TEMP TABLE " + table + " (LIKE public." + table + " INCLUDING ALL); ";
        relids += (relids.empty() ? "'pg_temp." : ", 'pg_temp.") + table + "'::regclass";
    }
    // Building and filling the copies counts as scans: what the work does is counted from the snapshot on.
    if (!fill.empty()) sql += fill + "; ";
    sql += "SET LOCAL plan_cache_mode = force_generic_plan; "
           "CREATE TEMP TABLE scans_before AS SELECT relid, seq_scan, idx_scan FROM pg_stat_xact_user_tables; " +
           work + "; SELECT s.relname, s.seq_scan - b.seq_scan, coalesce(s.idx_scan, 0) - coalesce(b.idx_scan, 0), " +
           checks + " FROM pg_stat_xact_user_tables s JOIN scans_before b USING (relid) WHERE s.relid IN (" + relids +
           ") ORDER BY s.relname";
    return postgres.Query(db, sql);
}

std::string FunctionsWithoutPlanSettings(testing::PostgresServer& postgres, const std::string& db) {
    auto rows = postgres.Query(db, R"sql(
        SELECT p.oid::regprocedure::text
        FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
        WHERE p.pronamespace = 'public'::regnamespace AND l.lanname = 'plpgsql'
          AND NOT (coalesce(p.proconfig, '{}') @> ARRAY['plan_cache_mode=force_generic_plan', 'enable_seqscan=off'])
        ORDER BY 1)sql");
    std::string out;
    for (const auto& row : rows) out += row[0] + "\n";
    return out;
}

std::string CrossServiceViolations(testing::PostgresServer& postgres) {
    // Both databases live on the same test server; dblink is not assumed, so compare in C++.
    auto orders = postgres.Query("order_db",
                                 "SELECT id, status, (SELECT string_agg(e->>'sku' || ':' || (e->>'quantity'), ',' "
                                 "ORDER BY e->>'sku') FROM jsonb_array_elements(items) e) FROM orders");
    auto reservations = postgres.Query(
        "inventory_db",
        "SELECT r.id, r.status, r.tombstone, COALESCE((SELECT string_agg(i.sku || ':' || i.quantity, ',' ORDER BY i.sku) "
        "FROM reservation_items i WHERE i.reservation_id = r.id), '') FROM reservations r");
    std::map<std::string, std::pair<std::string, std::string>> by_order;  // id -> (status, items)
    for (const auto& row : reservations) {
        if (row[2] == "t") continue;  // tombstones hold nothing and belong to cancelled orders
        by_order[row[0]] = {row[1], row[3]};
    }
    std::set<std::string> order_ids;
    std::string out;
    for (const auto& row : orders) {
        const auto& id = row[0];
        const auto& status = row[1];
        order_ids.insert(id);
        auto it = by_order.find(id);
        bool holds = it != by_order.end() && (it->second.first == "RESERVED" || it->second.first == "COMMITTED");
        if (status == "CONFIRMED" || status == "SHIPPING" || status == "SHIPPED") {
            if (!holds) out += "order " + id + " is " + status + " without a holding reservation\n";
            else if (it->second.second != row[2]) out += "order " + id + " items differ from its reservation\n";
            if (status == "SHIPPED" && holds && it->second.first != "COMMITTED") {
                out += "order " + id + " is SHIPPED but its reservation is " + it->second.first + "\n";
            }
        }
        if ((status == "REJECTED" || status == "CANCELLED") && holds) {
            out += "order " + id + " is " + status + " but its reservation is " + it->second.first + "\n";
        }
    }
    for (const auto& [id, reservation] : by_order) {
        if (!order_ids.contains(id)) out += "reservation " + id + " belongs to no order\n";
    }
    return out;
}

}  // namespace valerix::functional
