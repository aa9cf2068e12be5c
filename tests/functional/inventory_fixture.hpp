#pragma once

#include <memory>
#include <string>

#include <boost/json/value.hpp>

#include <valerix/core/random.hpp>
#include <valerix/testing/child_process.hpp>
#include <valerix/testing/http_client.hpp>
#include <valerix/testing/postgres_server.hpp>

namespace valerix::functional {

inline constexpr const char* kAdminToken = "functional-test-token";

/// A real inventory-service process on a free port, against its own database on a real PostgreSQL server.
class InventoryProcess {
public:
    InventoryProcess(testing::PostgresServer& postgres, const std::string& name);
    ~InventoryProcess();

    int Port() const { return port_; }
    testing::ChildProcess& Process() { return *process_; }
    testing::HttpClient Client() const { return testing::HttpClient("127.0.0.1", port_); }

private:
    int port_;
    std::unique_ptr<testing::ChildProcess> process_;
};

/// A fresh UUID per call (tests run in one process; seeded from entropy).
std::string NewUuid();

/// The body of a single-item reservation.
std::string ReservationBody(const std::string& id, const std::string& sku, int quantity);

boost::json::object ParseObject(const std::string& body);

/// Rows breaking an inventory invariant of DESIGN.md §3, as text; empty when all hold.
std::string InventoryViolations(testing::PostgresServer& postgres, const std::string& db);

}  // namespace valerix::functional
