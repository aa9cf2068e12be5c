#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>

#include <valerix/core/random.hpp>
#include <valerix/testing/child_process.hpp>
#include <valerix/testing/http_client.hpp>
#include <valerix/testing/postgres_server.hpp>

namespace valerix::functional {

inline constexpr const char* kAdminToken = "functional-test-token";

using Env = std::vector<std::pair<std::string, std::string>>;

/// A real service binary on a free loopback port, started and stopped (by PID) by the test.
class ServiceProcess {
public:
    ServiceProcess(std::string binary, std::string name, std::string log_dir, Env env);
    ~ServiceProcess();

    int Port() const { return port_; }
    testing::ChildProcess& Process() { return *process_; }
    testing::HttpClient Client() const { return testing::HttpClient("127.0.0.1", port_); }

    /// SIGKILL, and wait for it to be gone.
    void Kill();
    /// Starts the same binary again on the same port with the same environment, and waits until it is live.
    void Start();

private:
    std::string binary_, name_, log_dir_;
    Env env_;
    int port_;
    int starts_ = 0;
    std::unique_ptr<testing::ChildProcess> process_;
};

/// inventory-service against database inventory_db (created if missing) of `postgres`.
std::unique_ptr<ServiceProcess> StartInventory(testing::PostgresServer& postgres, const std::string& name,
                                               Env extra = {});
/// order-service against database order_db (created if missing) of `postgres`, calling inventory on that port,
/// with test-friendly (short) resilience settings unless `extra` overrides them.
std::unique_ptr<ServiceProcess> StartOrder(testing::PostgresServer& postgres, const std::string& name,
                                           int inventory_port, Env extra = {});

/// The web gateway in front of those two services, serving the UI from `web_root`.
std::unique_ptr<ServiceProcess> StartWeb(const std::string& log_dir, const std::string& name, int order_port,
                                         int inventory_port, const std::string& web_root, Env extra = {});

/// A fresh UUID per call.
std::string NewUuid();

/// The body of a single-item reservation.
std::string ReservationBody(const std::string& id, const std::string& sku, int quantity);

boost::json::object ParseObject(const std::string& body);

/// Rows breaking an inventory invariant of DESIGN.md §3, as text; empty when all hold.
std::string InventoryViolations(testing::PostgresServer& postgres, const std::string& db);

/// Violations of the cross-service invariants of DESIGN.md §3 (orders vs reservations), as text.
std::string CrossServiceViolations(testing::PostgresServer& postgres);

/// Table scans made by `work` with the plans a PL/pgSQL function would keep from a fresh stack. In one transaction,
/// empty, never-analyzed temporary copies of `tables` come first in the search path, `fill` (if any) puts rows in them, every
/// plan is generic (`force_generic_plan`), and then `work` runs; the transaction's own statistics count its scans.
/// One row per table, by name: {name, sequential scans, index scans, then the columns of `checks`}, a SELECT list
/// evaluated after the work (e.g. counts of a temporary table the work filled).
std::vector<std::vector<std::string>> ScansWithPlansMadeOnFreshTables(testing::PostgresServer& postgres,
                                                                      const std::string& db,
                                                                      const std::vector<std::string>& tables,
                                                                      const std::string& fill, const std::string& work,
                                                                      const std::string& checks);

/// The PL/pgSQL functions of `db` that do not carry both `plan_cache_mode = force_generic_plan` and
/// `enable_seqscan = off` (order_db 0009, inventory_db 0007), one name per line; empty when all do. CREATE OR REPLACE
/// FUNCTION without a SET clause drops a function's settings, which is what this catches.
std::string FunctionsWithoutPlanSettings(testing::PostgresServer& postgres, const std::string& db);

}  // namespace valerix::functional
