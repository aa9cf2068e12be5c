#include "inventory_fixture.hpp"

#include <csignal>
#include <stdexcept>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <valerix/testing/free_port.hpp>

namespace valerix::functional {

InventoryProcess::InventoryProcess(testing::PostgresServer& postgres, const std::string& name)
    : port_(testing::FreePort()) {
    std::string log = postgres.Dir() + "/" + name + ".log";
    process_ = std::make_unique<testing::ChildProcess>(
        VALERIX_INVENTORY_BINARY, std::vector<std::string>{},
        std::vector<std::pair<std::string, std::string>>{
            {"VALERIX_HTTP_HOST", "127.0.0.1"},
            {"VALERIX_HTTP_PORT", std::to_string(port_)},
            {"VALERIX_DB_URL", postgres.ConnInfo("inventory_db", "inventory_svc")},
            {"VALERIX_ADMIN_TOKEN", kAdminToken},
            {"VALERIX_LOG_LEVEL", "info"},
        },
        log);
    if (!testing::WaitUntilLive("127.0.0.1", port_, "/live", std::chrono::seconds(30))) {
        throw std::runtime_error("inventory did not become live; log:\n" + process_->Log());
    }
}

InventoryProcess::~InventoryProcess() {
    if (process_->Running()) {
        process_->Signal(SIGTERM);
        process_->Wait(std::chrono::seconds(15));
    }
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

}  // namespace valerix::functional
