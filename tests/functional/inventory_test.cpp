// Functional tests of inventory-service: the real binary, over HTTP, against a real PostgreSQL server.
#include <algorithm>
#include <csignal>
#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <valerix/testing/files.hpp>

#include "service_fixture.hpp"

namespace valerix::functional {
namespace {

using namespace std::chrono_literals;
using Headers = std::vector<std::pair<std::string, std::string>>;

const Headers kAdmin = {{"Authorization", std::string("Bearer ") + kAdminToken}};

class InventoryTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        postgres_ = testing::PostgresServer::Start().release();
        postgres_->CreateDatabase("inventory_db", "inventory_svc");
        service_ = StartInventory(*postgres_, "inventory").release();
    }
    static void TearDownTestSuite() {
        delete service_;
        delete postgres_;
    }
    void TearDown() override {
        EXPECT_EQ(InventoryViolations(*postgres_, "inventory_db"), "") << "inventory invariants must hold";
        EXPECT_TRUE(service_->Process().Running()) << service_->Process().Log();
    }

    /// Creates (or resets) a product with this stock through the admin API.
    void PutProduct(const std::string& sku, int on_hand, long long price_cents = 1000) {
        auto client = service_->Client();
        auto response = client.Request("PUT", "/api/v1/products/" + sku,
                                       R"({"name":"Test product","price_cents":)" + std::to_string(price_cents) +
                                           R"(,"on_hand":)" + std::to_string(on_hand) + "}",
                                       kAdmin);
        ASSERT_TRUE(response.status == 200 || response.status == 201) << response.body;
    }

    boost::json::object Product(const std::string& sku) {
        auto response = service_->Client().Request("GET", "/api/v1/products/" + sku);
        EXPECT_EQ(response.status, 200) << response.body;
        return ParseObject(response.body);
    }

    /// valerix_chaos_injections_total of injected delays, as /metrics reports it now.
    long long InjectedDelays() {
        const std::string name = R"(valerix_chaos_injections_total{kind="latency",action="delay"} )";
        auto body = service_->Client().Request("GET", "/metrics").body;
        auto at = body.find(name);
        return at == std::string::npos ? 0 : std::stoll(body.substr(at + name.size()));
    }

    static testing::PostgresServer* postgres_;
    static ServiceProcess* service_;
};
testing::PostgresServer* InventoryTest::postgres_ = nullptr;
ServiceProcess* InventoryTest::service_ = nullptr;

TEST_F(InventoryTest, SeedsTheCatalogOnFirstStart) {
    auto response = service_->Client().Request("GET", "/api/v1/products");
    ASSERT_EQ(response.status, 200);
    EXPECT_EQ(response.Header("content-type"), "application/json");
    EXPECT_FALSE(response.Header("x-request-id").empty());
    auto products = ParseObject(response.body).at("products").as_array();
    EXPECT_GE(products.size(), 20u);
    auto first = products[0].as_object();
    for (const char* key : {"sku", "name", "price_cents", "available", "on_hand"}) {
        EXPECT_TRUE(first.contains(key)) << key;
    }
    auto missing = service_->Client().Request("GET", "/api/v1/products/NO-SUCH-SKU");
    EXPECT_EQ(missing.status, 404);
    EXPECT_EQ(ParseObject(missing.body).at("code").as_string(), "product_not_found");
}

TEST_F(InventoryTest, FortyConcurrentReservationsOfSevenUnitsNeverOversell) {
    PutProduct("HOT-7", 7);
    std::atomic<int> created{0}, refused{0}, other{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 40; ++i) {
        threads.emplace_back([&] {
            auto client = service_->Client();
            auto response = client.Request("POST", "/api/v1/reservations", ReservationBody(NewUuid(), "HOT-7", 1));
            if (response.status == 201) ++created;
            else if (response.status == 409 && ParseObject(response.body).at("code").as_string() == "insufficient_stock") ++refused;
            else ++other;
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(created, 7);
    EXPECT_EQ(refused, 33);
    EXPECT_EQ(other, 0);
    auto product = Product("HOT-7");
    EXPECT_EQ(product.at("available").as_int64(), 0);
    EXPECT_EQ(product.at("on_hand").as_int64(), 7);
}

TEST_F(InventoryTest, InsufficientStockNamesSkuRequestedAndAvailable) {
    PutProduct("SCARCE-2", 2);
    auto response = service_->Client().Request("POST", "/api/v1/reservations", ReservationBody(NewUuid(), "SCARCE-2", 3));
    ASSERT_EQ(response.status, 409);
    EXPECT_EQ(response.Header("content-type"), "application/problem+json");
    auto problem = ParseObject(response.body);
    EXPECT_EQ(problem.at("code").as_string(), "insufficient_stock");
    EXPECT_EQ(problem.at("sku").as_string(), "SCARCE-2");
    EXPECT_EQ(problem.at("requested").as_int64(), 3);
    EXPECT_EQ(problem.at("available").as_int64(), 2);
    EXPECT_EQ(Product("SCARCE-2").at("available").as_int64(), 2) << "a refused reservation takes nothing";
}

TEST_F(InventoryTest, IdenticalReplayAnswersTheSameAndDeductsOnce) {
    PutProduct("REPLAY-1", 10, 250);
    auto client = service_->Client();
    auto id = NewUuid();
    auto first = client.Request("POST", "/api/v1/reservations", ReservationBody(id, "REPLAY-1", 3));
    ASSERT_EQ(first.status, 201) << first.body;
    auto body = ParseObject(first.body);
    EXPECT_EQ(body.at("reservation_id").as_string(), id);
    EXPECT_EQ(body.at("status").as_string(), "RESERVED");
    EXPECT_EQ(body.at("total_cents").as_int64(), 750);
    EXPECT_EQ(body.at("items").as_array()[0].at("unit_price_cents").as_int64(), 250);

    auto replay = client.Request("POST", "/api/v1/reservations", ReservationBody(id, "REPLAY-1", 3));
    EXPECT_EQ(replay.status, 200);
    EXPECT_EQ(replay.body, first.body) << "a replay answers exactly what the first call answered";
    EXPECT_EQ(Product("REPLAY-1").at("available").as_int64(), 7);

    auto mismatch = client.Request("POST", "/api/v1/reservations", ReservationBody(id, "REPLAY-1", 4));
    EXPECT_EQ(mismatch.status, 422);
    EXPECT_EQ(ParseObject(mismatch.body).at("code").as_string(), "reservation_mismatch");
    EXPECT_EQ(Product("REPLAY-1").at("available").as_int64(), 7);

    auto fetched = client.Request("GET", "/api/v1/reservations/" + id);
    EXPECT_EQ(fetched.status, 200);
    EXPECT_EQ(fetched.body, first.body);
}

TEST_F(InventoryTest, ConcurrentDuplicatesOfOneReservationDeductOnce) {
    PutProduct("DUP-1", 100);
    auto id = NewUuid();
    std::atomic<int> created{0}, replayed{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 16; ++i) {
        threads.emplace_back([&] {
            auto response = service_->Client().Request("POST", "/api/v1/reservations", ReservationBody(id, "DUP-1", 5));
            if (response.status == 201) ++created;
            if (response.status == 200) ++replayed;
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(created, 1);
    EXPECT_EQ(replayed, 15);
    EXPECT_EQ(Product("DUP-1").at("available").as_int64(), 95);
}

TEST_F(InventoryTest, ReleaseBeforeReserveLeavesATombstone) {
    PutProduct("TOMB-1", 5);
    auto client = service_->Client();
    auto id = NewUuid();
    auto released = client.Request("POST", "/api/v1/reservations/" + id + "/release");
    ASSERT_EQ(released.status, 200) << released.body;
    EXPECT_EQ(ParseObject(released.body).at("status").as_string(), "RELEASED");

    auto late = client.Request("POST", "/api/v1/reservations", ReservationBody(id, "TOMB-1", 2));
    EXPECT_EQ(late.status, 409);
    EXPECT_EQ(ParseObject(late.body).at("code").as_string(), "reservation_released");
    EXPECT_EQ(Product("TOMB-1").at("available").as_int64(), 5) << "a late reserve takes no stock";
    EXPECT_EQ(client.Request("POST", "/api/v1/reservations/" + id + "/release").status, 200) << "idempotent";
}

TEST_F(InventoryTest, CommitAndReleaseTransitions) {
    PutProduct("FLOW-1", 10);
    auto client = service_->Client();

    auto shipped = NewUuid();
    ASSERT_EQ(client.Request("POST", "/api/v1/reservations", ReservationBody(shipped, "FLOW-1", 4)).status, 201);
    auto committed = client.Request("POST", "/api/v1/reservations/" + shipped + "/commit");
    ASSERT_EQ(committed.status, 200) << committed.body;
    EXPECT_EQ(ParseObject(committed.body).at("status").as_string(), "COMMITTED");
    auto product = Product("FLOW-1");
    EXPECT_EQ(product.at("on_hand").as_int64(), 6) << "committed stock leaves the warehouse";
    EXPECT_EQ(product.at("available").as_int64(), 6);
    EXPECT_EQ(client.Request("POST", "/api/v1/reservations/" + shipped + "/commit").status, 200) << "idempotent";
    EXPECT_EQ(Product("FLOW-1").at("on_hand").as_int64(), 6) << "a repeated commit deducts nothing";
    auto bad_release = client.Request("POST", "/api/v1/reservations/" + shipped + "/release");
    EXPECT_EQ(bad_release.status, 409);
    EXPECT_EQ(ParseObject(bad_release.body).at("code").as_string(), "invalid_transition");
    EXPECT_EQ(ParseObject(bad_release.body).at("status").as_int64(), 409) << "RFC 9457: the HTTP status";
    EXPECT_EQ(ParseObject(bad_release.body).at("current_status").as_string(), "COMMITTED");

    auto cancelled = NewUuid();
    ASSERT_EQ(client.Request("POST", "/api/v1/reservations", ReservationBody(cancelled, "FLOW-1", 2)).status, 201);
    EXPECT_EQ(Product("FLOW-1").at("available").as_int64(), 4);
    auto released = client.Request("POST", "/api/v1/reservations/" + cancelled + "/release");
    ASSERT_EQ(released.status, 200);
    EXPECT_EQ(ParseObject(released.body).at("status").as_string(), "RELEASED");
    EXPECT_EQ(Product("FLOW-1").at("available").as_int64(), 6) << "released stock is available again";
    EXPECT_EQ(client.Request("POST", "/api/v1/reservations/" + cancelled + "/release").status, 200);
    EXPECT_EQ(Product("FLOW-1").at("available").as_int64(), 6) << "a repeated release adds nothing";
    auto bad_commit = client.Request("POST", "/api/v1/reservations/" + cancelled + "/commit");
    EXPECT_EQ(bad_commit.status, 409);

    EXPECT_EQ(client.Request("POST", "/api/v1/reservations/" + NewUuid() + "/commit").status, 404);
    EXPECT_EQ(client.Request("GET", "/api/v1/reservations/" + NewUuid()).status, 404);
}

TEST_F(InventoryTest, AdminEndpointsNeedTheToken) {
    auto client = service_->Client();
    auto body = R"({"name":"x","price_cents":1,"on_hand":1})";
    EXPECT_EQ(client.Request("PUT", "/api/v1/products/ADMIN-1", body).status, 401);
    EXPECT_EQ(client.Request("PUT", "/api/v1/products/ADMIN-1", body, {{"Authorization", "Bearer wrong"}}).status, 401);
    EXPECT_EQ(client.Request("POST", "/api/v1/products/ADMIN-1/restock", R"({"quantity":1})").status, 401);
    EXPECT_EQ(client.Request("PUT", "/api/v1/products/ADMIN-1", body, kAdmin).status, 201);
    EXPECT_EQ(client.Request("PUT", "/api/v1/products/ADMIN-1", body, kAdmin).status, 200);
    auto restocked = client.Request("POST", "/api/v1/products/ADMIN-1/restock", R"({"quantity":9})", kAdmin);
    ASSERT_EQ(restocked.status, 200);
    EXPECT_EQ(ParseObject(restocked.body).at("on_hand").as_int64(), 10);
    EXPECT_EQ(client.Request("POST", "/api/v1/products/NOPE/restock", R"({"quantity":9})", kAdmin).status, 404);
}

TEST_F(InventoryTest, OnHandMayNotDropBelowReserved) {
    PutProduct("RES-5", 5);
    auto client = service_->Client();
    ASSERT_EQ(client.Request("POST", "/api/v1/reservations", ReservationBody(NewUuid(), "RES-5", 3)).status, 201);
    auto below = client.Request("PUT", "/api/v1/products/RES-5", R"({"name":"x","price_cents":1,"on_hand":2})", kAdmin);
    EXPECT_EQ(below.status, 409);
    EXPECT_EQ(ParseObject(below.body).at("code").as_string(), "on_hand_below_reserved");
    auto exact = client.Request("PUT", "/api/v1/products/RES-5", R"({"name":"x","price_cents":1,"on_hand":3})", kAdmin);
    ASSERT_EQ(exact.status, 200);
    EXPECT_EQ(ParseObject(exact.body).at("available").as_int64(), 0);
}

TEST_F(InventoryTest, RestockStopsAtTheOnHandLimitAndLargeStocksStayEditable) {
    PutProduct("BIG-1", 999'000'000);
    auto client = service_->Client();
    ASSERT_EQ(client.Request("POST", "/api/v1/reservations", ReservationBody(NewUuid(), "BIG-1", 1000)).status, 201);
    auto restock = [&](int quantity) {
        return client.Request("POST", "/api/v1/products/BIG-1/restock", R"({"quantity":)" + std::to_string(quantity) + "}",
                              kAdmin);
    };
    auto to_limit = restock(1'000'000);
    ASSERT_EQ(to_limit.status, 200) << to_limit.body;
    EXPECT_EQ(ParseObject(to_limit.body).at("on_hand").as_int64(), 1'000'000'000);
    auto past = restock(1);
    ASSERT_EQ(past.status, 409) << past.body;
    EXPECT_EQ(ParseObject(past.body).at("code").as_string(), "on_hand_above_limit");
    EXPECT_EQ(Product("BIG-1").at("on_hand").as_int64(), 1'000'000'000) << "a refused restock adds nothing";
    auto unknown = client.Request("POST", "/api/v1/products/NO-SUCH-SKU/restock", R"({"quantity":1})", kAdmin);
    EXPECT_EQ(unknown.status, 404) << unknown.body;
    // At the limit a PUT still works: available moves by the change without summing two large numbers.
    auto edit = client.Request("PUT", "/api/v1/products/BIG-1",
                               R"({"name":"renamed","price_cents":5,"on_hand":1000000000})", kAdmin);
    ASSERT_EQ(edit.status, 200) << edit.body;
    EXPECT_EQ(ParseObject(edit.body).at("available").as_int64(), 1'000'000'000 - 1000);
}

struct BadInput {
    const char* name;
    std::string method;
    std::string target;
    std::string body;
    Headers headers;
    int status;
    const char* code;
    const char* field;
};

TEST_F(InventoryTest, BadInputsGetTheRightProblemAndTheServiceKeepsServing) {
    auto id = NewUuid();
    auto reserve = [&](const std::string& items) {
        return R"({"reservation_id":")" + id + R"(","items":)" + items + "}";
    };
    std::vector<BadInput> cases = {
        {"malformed JSON", "POST", "/api/v1/reservations", R"({"reservation_id": )", {}, 400, "malformed_json", ""},
        {"not JSON at all", "POST", "/api/v1/reservations", "hello", {}, 400, "malformed_json", ""},
        {"wrong media type", "POST", "/api/v1/reservations", reserve(R"([{"sku":"A","quantity":1}])"),
         {{"Content-Type", "text/plain"}}, 415, "unsupported_media_type", ""},
        {"body is an array", "POST", "/api/v1/reservations", "[]", {}, 422, "validation_failed", "body"},
        {"missing reservation_id", "POST", "/api/v1/reservations", R"({"items":[{"sku":"A","quantity":1}]})", {}, 422,
         "validation_failed", "reservation_id"},
        {"non-UUID id", "POST", "/api/v1/reservations",
         R"({"reservation_id":"order-1","items":[{"sku":"A","quantity":1}]})", {}, 422, "validation_failed",
         "reservation_id"},
        {"missing items", "POST", "/api/v1/reservations", R"({"reservation_id":")" + id + R"("})", {}, 422,
         "validation_failed", "items"},
        {"empty items", "POST", "/api/v1/reservations", reserve("[]"), {}, 422, "validation_failed", "items"},
        {"quantity as string", "POST", "/api/v1/reservations", reserve(R"([{"sku":"KB-MECH-001","quantity":"1"}])"), {},
         422, "validation_failed", "items[0].quantity"},
        {"negative quantity", "POST", "/api/v1/reservations", reserve(R"([{"sku":"KB-MECH-001","quantity":-1}])"), {},
         422, "validation_failed", "items[0].quantity"},
        {"huge quantity", "POST", "/api/v1/reservations",
         reserve(R"([{"sku":"KB-MECH-001","quantity":99999999999999999999}])"), {}, 422, "validation_failed",
         "items[0].quantity"},
        {"fractional quantity", "POST", "/api/v1/reservations", reserve(R"([{"sku":"KB-MECH-001","quantity":1.5}])"),
         {}, 422, "validation_failed", "items[0].quantity"},
        {"sku as number", "POST", "/api/v1/reservations", reserve(R"([{"sku":7,"quantity":1}])"), {}, 422,
         "validation_failed", "items[0].sku"},
        {"duplicate sku", "POST", "/api/v1/reservations",
         reserve(R"([{"sku":"KB-MECH-001","quantity":1},{"sku":"KB-MECH-001","quantity":1}])"), {}, 422,
         "validation_failed", "items[1].sku"},
        {"unknown sku", "POST", "/api/v1/reservations", reserve(R"([{"sku":"NO-SUCH-SKU","quantity":1}])"), {}, 422,
         "unknown_sku", ""},
        {"oversized body", "POST", "/api/v1/reservations", std::string(70 * 1024, ' '), {}, 413, "body_too_large", ""},
        {"negative restock", "POST", "/api/v1/products/KB-MECH-001/restock", R"({"quantity":-5})", kAdmin, 422,
         "validation_failed", "quantity"},
        {"price as string", "PUT", "/api/v1/products/NEW-1", R"({"name":"x","price_cents":"1","on_hand":1})", kAdmin,
         422, "validation_failed", "price_cents"},
        {"unknown route", "GET", "/api/v1/nothing", "", {}, 404, "not_found", ""},
        {"wrong method", "DELETE", "/api/v1/products", "", {}, 405, "method_not_allowed", ""},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        auto client = service_->Client();
        auto response = client.Request(c.method, c.target, c.body, c.headers);
        EXPECT_EQ(response.status, c.status) << response.body;
        EXPECT_EQ(response.Header("content-type"), "application/problem+json");
        auto problem = ParseObject(response.body);
        EXPECT_EQ(problem.at("code").as_string(), c.code);
        EXPECT_EQ(problem.at("status").as_int64(), c.status);
        EXPECT_TRUE(problem.contains("title") && problem.contains("detail") && problem.contains("type"));
        if (*c.field) {
            EXPECT_EQ(problem.at("field").as_string(), c.field) << response.body;
        }
    }
    auto raw = service_->Client().SendRaw("POST /api/v1/reservations HTTP/1.1\r\nContent-Length: nope\r\n\r\n");
    EXPECT_EQ(raw.status, 400);
    EXPECT_EQ(service_->Client().Request("GET", "/live").status, 200);
    EXPECT_EQ(Product("KB-MECH-001").at("available").as_int64(), Product("KB-MECH-001").at("on_hand").as_int64())
        << "no bad request took stock";
}

TEST_F(InventoryTest, ASkuPathThatNoSkuCanHaveIsNotFound) {
    // SKUs are printable ASCII. A path segment decoding to invalid UTF-8 was a PostgreSQL error (500), and one with
    // a NUL was cut short there (SKU-NUL%00junk answered as SKU-NUL).
    PutProduct("SKU-NUL", 5);
    auto client = service_->Client();
    EXPECT_EQ(client.Request("GET", "/api/v1/products/SKU-NUL").status, 200);
    for (const char* target : {"/api/v1/products/%FF", "/api/v1/products/SKU-NUL%00junk", "/api/v1/products/a%20b"}) {
        auto response = client.Request("GET", target);
        EXPECT_EQ(response.status, 404) << target << ": " << response.body;
        auto restock = client.Request("POST", std::string(target) + "/restock", R"({"quantity":1})", kAdmin);
        EXPECT_EQ(restock.status, 404) << target << ": " << restock.body;
    }
    EXPECT_EQ(Product("SKU-NUL").at("on_hand").as_int64(), 5);
}

TEST_F(InventoryTest, HealthLiveAndMetrics) {
    auto client = service_->Client();
    auto health = client.Request("GET", "/health");
    ASSERT_EQ(health.status, 200) << health.body;
    auto body = ParseObject(health.body);
    EXPECT_EQ(body.at("status").as_string(), "ok");
    EXPECT_EQ(body.at("checks").at("database").at("status").as_string(), "ok");
    EXPECT_EQ(client.Request("GET", "/live").status, 200);
    ASSERT_EQ(client.Request("POST", "/api/v1/reservations", ReservationBody(NewUuid(), "KB-MECH-001", 1)).status, 201);
    auto metrics = client.Request("GET", "/metrics");
    ASSERT_EQ(metrics.status, 200);
    EXPECT_NE(metrics.Header("content-type").find("text/plain"), std::string::npos);
    EXPECT_NE(metrics.body.find(R"(valerix_inventory_operations_total{operation="reserve",outcome="created"})"),
              std::string::npos);
    EXPECT_NE(metrics.body.find(R"(http_server_request_duration_seconds_bucket{route="/api/v1/reservations",method="POST",status="201")"),
              std::string::npos);
    EXPECT_NE(metrics.body.find("valerix_db_pool_open_connections"), std::string::npos);
}

TEST_F(InventoryTest, ExpiredPropagatedDeadlineStartsNoWork) {
    PutProduct("LATE-1", 5);
    auto response = service_->Client().Request("POST", "/api/v1/reservations", ReservationBody(NewUuid(), "LATE-1", 1),
                                               {{"X-Valerix-Deadline-Ms", "0"}});
    EXPECT_EQ(response.status, 504);
    EXPECT_EQ(ParseObject(response.body).at("code").as_string(), "deadline_exceeded");
    EXPECT_EQ(Product("LATE-1").at("available").as_int64(), 5);
}

TEST_F(InventoryTest, SigtermDuringLoadLosesNoCommittedReservation) {
    PutProduct("DRAIN-1", 100000);
    auto draining_process = StartInventory(*postgres_, "inventory-drain");
    auto& draining = *draining_process;
    std::mutex mutex;
    std::set<std::string> acknowledged;
    std::atomic<bool> stop{false};
    std::atomic<int> requests{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&] {
            auto client = draining.Client();
            while (!stop) {
                auto id = NewUuid();
                try {
                    auto response = client.Request("POST", "/api/v1/reservations", ReservationBody(id, "DRAIN-1", 1),
                                                   {}, 5s);
                    ++requests;
                    if (response.status == 201) {
                        std::lock_guard lock(mutex);
                        acknowledged.insert(id);
                    }
                } catch (const std::exception&) {
                    return;  // the server has stopped accepting: this client is done
                }
            }
        });
    }
    while (requests < 200) std::this_thread::sleep_for(5ms);
    draining.Process().Signal(SIGTERM);
    EXPECT_EQ(draining.Process().Wait(20s), 0) << "a graceful stop exits 0\n" << draining.Process().Log();
    stop = true;
    for (auto& thread : threads) thread.join();

    ASSERT_GT(acknowledged.size(), 100u);
    auto stored = postgres_->Query("inventory_db",
                                   "SELECT r.id FROM reservations r JOIN reservation_items i ON i.reservation_id = r.id "
                                   "WHERE i.sku = 'DRAIN-1' AND r.status = 'RESERVED'");
    std::set<std::string> in_db;
    for (const auto& row : stored) in_db.insert(row[0]);
    for (const auto& id : acknowledged) EXPECT_TRUE(in_db.contains(id)) << "acknowledged but lost: " << id;
    EXPECT_NE(draining.Process().Log().find("all connections drained"), std::string::npos);
}

TEST_F(InventoryTest, ChaosConfigIsAdminOnlyValidatedAndReplacedWhole) {
    auto client = service_->Client();
    EXPECT_EQ(client.Request("GET", "/admin/chaos").status, 401);
    EXPECT_EQ(client.Request("PUT", "/admin/chaos", "{}").status, 401);
    auto set = client.Request("PUT", "/admin/chaos",
                              R"({"latency":{"mode":"every_nth","every_nth":5,"delay_ms":20},"seed":7})", kAdmin);
    ASSERT_EQ(set.status, 200) << set.body;
    auto bad = client.Request("PUT", "/admin/chaos", R"({"crash":{"mode":"every_nth"}})", kAdmin);
    EXPECT_EQ(bad.status, 422);
    EXPECT_EQ(ParseObject(bad.body).at("field").as_string(), "crash.every_nth");
    auto current = ParseObject(client.Request("GET", "/admin/chaos", "", kAdmin).body);
    EXPECT_EQ(current.at("latency").at("mode").as_string(), "every_nth") << "a bad config leaves the old one in place";
    EXPECT_EQ(current.at("latency").at("delay_ms").as_int64(), 20);
    EXPECT_EQ(current.at("crash").at("mode").as_string(), "off");
    EXPECT_EQ(current.at("seed").as_int64(), 7);
    // Numbers read as DESIGN.md §5 writes them ("probability": 0.0), not Boost.JSON's own "0E0".
    auto text = client.Request("GET", "/admin/chaos", "", kAdmin).body;
    EXPECT_NE(text.find(R"("probability":0.0,)"), std::string::npos) << text;
    EXPECT_EQ(text.find("E0"), std::string::npos) << text;
    ASSERT_EQ(client.Request("PUT", "/admin/chaos", "{}", kAdmin).status, 200);
    EXPECT_EQ(ParseObject(client.Request("GET", "/admin/chaos", "", kAdmin).body).at("latency").at("mode").as_string(),
              "off") << "PUT replaces the whole configuration";
}

TEST_F(InventoryTest, ChaosSetAtRunTimeSurvivesARestartWithAChaosFile) {
    // Under a supervisor the crash simulator's exit restarts the service; with VALERIX_CHAOS_FILE the configuration
    // set through the API comes back with it instead of silently turning off.
    std::string file = postgres_->Dir() + "/chaos.json";
    auto with_file = StartInventory(*postgres_, "inventory-chaos-file", {{"VALERIX_CHAOS_FILE", file}});
    auto set = with_file->Client().Request(
        "PUT", "/admin/chaos", R"({"crash":{"mode":"probability","probability":0.25,"point":"after_commit"},"seed":9})",
        kAdmin);
    ASSERT_EQ(set.status, 200) << set.body;
    with_file->Kill();
    with_file->Start();
    auto current = ParseObject(with_file->Client().Request("GET", "/admin/chaos", "", kAdmin).body);
    EXPECT_EQ(current.at("crash").at("mode").as_string(), "probability");
    EXPECT_EQ(current.at("seed").as_int64(), 9);
    EXPECT_EQ(current.at("crash").at("probability").as_double(), 0.25);
    EXPECT_NE(testing::ReadFile(file).find(R"("probability":0.25,)"), std::string::npos) << testing::ReadFile(file);
    ASSERT_EQ(with_file->Client().Request("PUT", "/admin/chaos", "{}", kAdmin).status, 200);
    with_file->Kill();
    with_file->Start();
    current = ParseObject(with_file->Client().Request("GET", "/admin/chaos", "", kAdmin).body);
    EXPECT_EQ(current.at("crash").at("mode").as_string(), "off") << "turning chaos off is kept too";
}

TEST_F(InventoryTest, LatencyGremlinDelaysEveryNthReservationCallOnly) {
    PutProduct("GREMLIN-1", 100);
    auto client = service_->Client();
    ASSERT_EQ(client.Request("PUT", "/admin/chaos", R"({"latency":{"mode":"every_nth","every_nth":3,"delay_ms":400}})",
                             kAdmin).status, 200);
    std::string pattern;
    for (int i = 0; i < 6; ++i) {
        auto started = std::chrono::steady_clock::now();
        ASSERT_EQ(client.Request("POST", "/api/v1/reservations", ReservationBody(NewUuid(), "GREMLIN-1", 1)).status, 201);
        pattern += std::chrono::steady_clock::now() - started >= 400ms ? 'D' : '.';
        EXPECT_EQ(client.Request("GET", "/api/v1/products/GREMLIN-1").status, 200) << "product reads are never delayed";
    }
    EXPECT_EQ(pattern, "..D..D");
    ASSERT_EQ(client.Request("PUT", "/admin/chaos", "{}", kAdmin).status, 200);
    EXPECT_NE(client.Request("GET", "/metrics").body.find(R"(valerix_chaos_injections_total{kind="latency",action="delay"} 2)"),
              std::string::npos);
}

TEST_F(InventoryTest, LatencyGremlinLimitedToCommitsLeavesReservesAndReleasesFast) {
    PutProduct("GREMLIN-2", 100);
    auto client = service_->Client();
    auto put = client.Request("PUT", "/admin/chaos",
                              R"({"latency":{"mode":"every_nth","every_nth":1,"delay_ms":400,"routes":["commit"]}})", kAdmin);
    ASSERT_EQ(put.status, 200) << put.body;
    EXPECT_EQ(boost::json::serialize(ParseObject(put.body).at("latency").at("routes")), R"(["commit"])");
    auto timed = [&](const std::string& path, const std::string& body, int status) {
        auto started = std::chrono::steady_clock::now();
        auto reply = client.Request("POST", path, body);
        EXPECT_EQ(reply.status, status) << path << ": " << reply.body;
        return std::chrono::steady_clock::now() - started >= 400ms ? 'D' : '.';
    };
    std::string pattern;
    for (int i = 0; i < 2; ++i) {
        auto committed = NewUuid(), released = NewUuid();
        pattern += timed("/api/v1/reservations", ReservationBody(committed, "GREMLIN-2", 1), 201);
        pattern += timed("/api/v1/reservations/" + committed + "/commit", "", 200);
        pattern += timed("/api/v1/reservations", ReservationBody(released, "GREMLIN-2", 1), 201);
        pattern += timed("/api/v1/reservations/" + released + "/release", "", 200);
    }
    EXPECT_EQ(pattern, ".D...D..");
    auto bad = client.Request("PUT", "/admin/chaos", R"({"latency":{"routes":["ship"]}})", kAdmin);
    EXPECT_EQ(bad.status, 422) << bad.body;
    EXPECT_EQ(ParseObject(bad.body).at("field").as_string(), "latency.routes");
    ASSERT_EQ(client.Request("PUT", "/admin/chaos", "{}", kAdmin).status, 200);
}

TEST_F(InventoryTest, LatencyGremlinAnswersAtTheCallersDeadlineNotAtTheEndOfItsDelay) {
    PutProduct("GREMLIN-2", 100);
    auto client = service_->Client();
    ASSERT_EQ(client.Request("PUT", "/admin/chaos", R"({"latency":{"mode":"every_nth","every_nth":1,"delay_ms":3000}})",
                             kAdmin).status, 200);
    auto started = std::chrono::steady_clock::now();
    auto response = client.Request("POST", "/api/v1/reservations", ReservationBody(NewUuid(), "GREMLIN-2", 1),
                                   {{"X-Valerix-Deadline-Ms", "300"}});
    auto took = std::chrono::steady_clock::now() - started;
    ASSERT_EQ(client.Request("PUT", "/admin/chaos", "{}", kAdmin).status, 200);
    EXPECT_EQ(response.status, 504) << response.body;
    EXPECT_GE(took, 250ms);
    EXPECT_LT(took, 2s) << "answered at the deadline (300 ms), not after the 3 s delay";
    EXPECT_EQ(Product("GREMLIN-2").at("available").as_int64(), 100) << "a call delayed past its deadline takes nothing";
}

TEST_F(InventoryTest, ReplacingTheChaosConfigurationEndsTheDelaysInProgress) {
    PutProduct("GREMLIN-OFF", 10);
    auto client = service_->Client();
    ASSERT_EQ(client.Request("PUT", "/admin/chaos", R"({"latency":{"mode":"every_nth","every_nth":1,"delay_ms":20000}})",
                             kAdmin).status, 200);
    const auto delayed_before = InjectedDelays();
    testing::HttpResponse answer;
    std::chrono::steady_clock::time_point answered_at;
    std::thread call([&] {
        answer = service_->Client().Request("POST", "/api/v1/reservations", ReservationBody(NewUuid(), "GREMLIN-OFF", 1),
                                            {}, 30s);
        answered_at = std::chrono::steady_clock::now();
    });
    for (int i = 0; i < 100 && InjectedDelays() == delayed_before; ++i) std::this_thread::sleep_for(50ms);
    const auto off_at = std::chrono::steady_clock::now();
    ASSERT_EQ(client.Request("PUT", "/admin/chaos", "{}", kAdmin).status, 200);
    call.join();
    EXPECT_EQ(answer.status, 201) << "the delayed call goes on and does its work: " << answer.body;
    EXPECT_LT(answered_at - off_at, 5s) << "it did not wait out its 20 s";
    EXPECT_EQ(Product("GREMLIN-OFF").at("available").as_int64(), 9);
}

TEST_F(InventoryTest, SigtermEndsTheGremlinsDelaysAndStopsAtOnce) {
    // A call the gremlin delays by a minute, with no propagated deadline to end it sooner. A SIGTERM must not wait
    // for it: the delay ends, the call answers 503 with nothing done, and the service exits.
    PutProduct("GREMLIN-STOP", 10);
    const std::string minute = R"({"latency":{"mode":"every_nth","every_nth":1,"delay_ms":60000}})";
    auto delaying = StartInventory(*postgres_, "inventory-gremlin-stop", {{"VALERIX_CHAOS", minute}});
    testing::HttpResponse answer;
    std::string call_error;
    std::thread call([&] {
        try {
            answer = delaying->Client().Request("POST", "/api/v1/reservations",
                                                ReservationBody(NewUuid(), "GREMLIN-STOP", 1), {}, 90s);
        } catch (const std::exception& error) {
            call_error = error.what();  // closed unanswered: what a drain that waits out its grace does
        }
    });
    const std::string delayed = R"(valerix_chaos_injections_total{kind="latency",action="delay"} 1)";
    for (int i = 0; i < 100 && delaying->Client().Request("GET", "/metrics").body.find(delayed) == std::string::npos;
         ++i) {
        std::this_thread::sleep_for(50ms);
    }
    const auto signalled = std::chrono::steady_clock::now();
    delaying->Process().Signal(SIGTERM);
    const int status = delaying->Process().Wait(30s);
    const auto took = std::chrono::steady_clock::now() - signalled;
    call.join();
    EXPECT_LT(took, 5s) << "exit " << status;
    EXPECT_EQ(status, 0) << delaying->Process().Log();
    EXPECT_EQ(answer.status, 503) << answer.body << call_error;
    EXPECT_EQ(Product("GREMLIN-STOP").at("available").as_int64(), 10) << "the delayed call did nothing";
}

TEST_F(InventoryTest, CrashAfterCommitExitsWithTheWorkDoneAndAReplayFindsIt) {
    PutProduct("SCHRODINGER", 10);
    auto crashing = StartInventory(*postgres_, "inventory-crash",
                                   {{"VALERIX_CHAOS", R"({"crash":{"mode":"every_nth","every_nth":1,"point":"after_commit","action":"exit"}})"}});
    auto id = NewUuid();
    EXPECT_ANY_THROW(crashing->Client().Request("POST", "/api/v1/reservations", ReservationBody(id, "SCHRODINGER", 4), {}, 5s))
        << "the reply never comes";
    EXPECT_NE(crashing->Process().Wait(10s), 0) << "the process really died";
    EXPECT_EQ(Product("SCHRODINGER").at("available").as_int64(), 6) << "the work was committed before the crash";
    auto replay = service_->Client().Request("POST", "/api/v1/reservations", ReservationBody(id, "SCHRODINGER", 4));
    EXPECT_EQ(replay.status, 200) << "a retry finds the committed reservation";
    EXPECT_EQ(Product("SCHRODINGER").at("available").as_int64(), 6);
}

TEST_F(InventoryTest, CrashesThatRestartTheServiceFollowTheSeedsOneSequence) {
    // With a chaos file the process restarted after a simulated exit goes on with the seeded draws where the crashed
    // one stopped: the calls that crash are those that answer 500 with error_500 (no restart) under the same seed.
    // Drawn from the seed again at each start, every restart would crash at the same call: a period.
    PutProduct("DICE-1", 1000);
    std::string file = postgres_->Dir() + "/chaos-dice.json";
    auto dice = StartInventory(*postgres_, "inventory-dice", {{"VALERIX_CHAOS_FILE", file}});
    auto configure = [&](const std::string& action) {
        auto put = dice->Client().Request(
            "PUT", "/admin/chaos",
            R"({"crash":{"mode":"probability","probability":0.3,"point":"before_commit","action":")" + action +
                R"("},"seed":11})",
            kAdmin);
        ASSERT_EQ(put.status, 200) << put.body;
    };
    constexpr int kCalls = 24;
    configure("error_500");
    std::string answered;
    for (int i = 0; i < kCalls; ++i) {
        auto reply = dice->Client().Request("POST", "/api/v1/reservations", ReservationBody(NewUuid(), "DICE-1", 1));
        answered += reply.status == 500 ? 'X' : reply.status == 201 ? '.' : '?';
    }
    ASSERT_GE(std::count(answered.begin(), answered.end(), 'X'), 4) << answered << ": pick a seed that crashes more";
    configure("exit");
    std::string exited;
    for (int i = 0; i < kCalls; ++i) {
        try {
            auto reply = dice->Client().Request("POST", "/api/v1/reservations", ReservationBody(NewUuid(), "DICE-1", 1),
                                                {}, 5s);
            exited += reply.status == 201 ? '.' : '?';
        } catch (const std::exception&) {
            exited += 'X';
            ASSERT_NE(dice->Process().Wait(10s), 0) << "the process really died";
            dice->Start();
        }
    }
    EXPECT_EQ(exited, answered);
}

TEST_F(InventoryTest, CrashBeforeCommitTakesNoStock) {
    PutProduct("BEFORE-1", 10);
    auto crashing = StartInventory(*postgres_, "inventory-crash-before",
                                   {{"VALERIX_CHAOS", R"({"crash":{"mode":"every_nth","every_nth":1,"point":"before_commit","action":"error_500"}})"}});
    auto response = crashing->Client().Request("POST", "/api/v1/reservations", ReservationBody(NewUuid(), "BEFORE-1", 4));
    EXPECT_EQ(response.status, 500);
    EXPECT_EQ(ParseObject(response.body).at("code").as_string(), "chaos_injected");
    EXPECT_EQ(Product("BEFORE-1").at("available").as_int64(), 10);
}

std::string BatchEntry(const std::string& id, const std::string& sku, int quantity) {
    return R"({"reservation_id":")" + id + R"(","items":[{"sku":")" + sku + R"(","quantity":)" +
           std::to_string(quantity) + "}]}";
}

std::string BatchBody(const std::vector<std::string>& entries) {
    std::string body = R"({"reservations":[)";
    for (std::size_t i = 0; i < entries.size(); ++i) body += (i ? "," : "") + entries[i];
    return body + "]}";
}

TEST_F(InventoryTest, BatchOfNewReservationsTakesStockForEachAndAnswersEachAsAlone) {
    PutProduct("BATCH-A", 100, 300);
    PutProduct("BATCH-B", 100, 500);
    auto client = service_->Client();
    std::vector<std::string> ids, entries;
    for (int i = 0; i < 20; ++i) {
        ids.push_back(NewUuid());
        entries.push_back(R"({"reservation_id":")" + ids.back() +
                          R"(","items":[{"sku":"BATCH-B","quantity":2},{"sku":"BATCH-A","quantity":1}]})");
    }
    auto response = client.Request("POST", "/api/v1/reservations/batch", BatchBody(entries));
    ASSERT_EQ(response.status, 200) << response.body;
    auto results = ParseObject(response.body).at("results").as_array();
    ASSERT_EQ(results.size(), 20u);
    for (std::size_t i = 0; i < results.size(); ++i) {
        const auto& result = results[i].as_object();
        EXPECT_EQ(result.at("reservation_id").as_string(), ids[i]) << "results come in request order";
        EXPECT_EQ(result.at("status").as_int64(), 201);
        EXPECT_EQ(result.at("body").at("total_cents").as_int64(), 1300);
        EXPECT_EQ(result.at("body").at("status").as_string(), "RESERVED");
        // What the batch answered is what the reservation answers on its own afterwards.
        auto fetched = client.Request("GET", "/api/v1/reservations/" + ids[i]);
        EXPECT_EQ(ParseObject(fetched.body), result.at("body").as_object());
    }
    EXPECT_EQ(Product("BATCH-A").at("available").as_int64(), 80);
    EXPECT_EQ(Product("BATCH-B").at("available").as_int64(), 60);

    // The same batch again is a replay of each: nothing more is taken.
    auto replay = client.Request("POST", "/api/v1/reservations/batch", BatchBody(entries));
    ASSERT_EQ(replay.status, 200);
    auto replayed = ParseObject(replay.body);
    for (const auto& result : replayed.at("results").as_array()) EXPECT_EQ(result.at("status").as_int64(), 200);
    EXPECT_EQ(Product("BATCH-A").at("available").as_int64(), 80);
}

TEST_F(InventoryTest, BatchWithRefusalsDecidesEachInOrderAsSingleCallsWould) {
    PutProduct("BATCH-SCARCE", 5);
    PutProduct("BATCH-OTHER", 50);
    auto client = service_->Client();
    auto released = NewUuid();
    ASSERT_EQ(client.Request("POST", "/api/v1/reservations/" + released + "/release").status, 200);
    auto existing = NewUuid();
    ASSERT_EQ(client.Request("POST", "/api/v1/reservations", ReservationBody(existing, "BATCH-OTHER", 1)).status, 201);
    auto first = NewUuid(), second = NewUuid(), third = NewUuid(), duplicate = NewUuid();
    auto response = client.Request(
        "POST", "/api/v1/reservations/batch",
        BatchBody({BatchEntry(first, "BATCH-SCARCE", 3),        // fits: 5 -> 2
                   BatchEntry(second, "BATCH-SCARCE", 3),       // 2 left: refused
                   BatchEntry(third, "BATCH-SCARCE", 2),        // fits: 2 -> 0
                   BatchEntry(NewUuid(), "NO-SUCH-SKU", 1),     // unknown
                   BatchEntry(released, "BATCH-OTHER", 1),      // tombstone
                   BatchEntry(existing, "BATCH-OTHER", 2),      // same id, other items
                   BatchEntry(duplicate, "BATCH-OTHER", 1),     // new ...
                   BatchEntry(duplicate, "BATCH-OTHER", 1)}));  // ... and its replay in the same batch
    ASSERT_EQ(response.status, 200) << response.body;
    auto results = ParseObject(response.body).at("results").as_array();
    ASSERT_EQ(results.size(), 8u);
    auto status = [&](std::size_t i) { return results[i].at("status").as_int64(); };
    auto code = [&](std::size_t i) { return std::string(results[i].at("body").at("code").as_string()); };
    EXPECT_EQ(status(0), 201);
    EXPECT_EQ(status(1), 409);
    EXPECT_EQ(code(1), "insufficient_stock");
    EXPECT_EQ(results[1].at("body").at("available").as_int64(), 2);
    EXPECT_EQ(status(2), 201);
    EXPECT_EQ(status(3), 422);
    EXPECT_EQ(code(3), "unknown_sku");
    EXPECT_EQ(status(4), 409);
    EXPECT_EQ(code(4), "reservation_released");
    EXPECT_EQ(status(5), 422);
    EXPECT_EQ(code(5), "reservation_mismatch");
    EXPECT_EQ(status(6), 201);
    EXPECT_EQ(status(7), 200);
    EXPECT_EQ(Product("BATCH-SCARCE").at("available").as_int64(), 0);
    EXPECT_EQ(Product("BATCH-OTHER").at("available").as_int64(), 48);
    EXPECT_EQ(client.Request("GET", "/api/v1/reservations/" + second).status, 404) << "a refusal stores nothing";
}

// Without a repeated id or an unknown sku the batch is decided in memory (migration 0004): the same outcomes, bodies
// and stock as reserve_stock called for each entry in turn.
TEST_F(InventoryTest, BatchWithRefusalsButNoUnknownSkuDecidesInMemoryAsSingleCallsWould) {
    PutProduct("MEM-A", 5, 100);
    PutProduct("MEM-B", 3, 1000);
    auto client = service_->Client();
    auto released = NewUuid();
    ASSERT_EQ(client.Request("POST", "/api/v1/reservations/" + released + "/release").status, 200);
    auto existing = NewUuid();
    ASSERT_EQ(client.Request("POST", "/api/v1/reservations", ReservationBody(existing, "MEM-B", 1)).status, 201);
    auto both = [](const std::string& id, int a, int b) {
        return R"({"reservation_id":")" + id + R"(","items":[{"sku":"MEM-B","quantity":)" + std::to_string(b) +
               R"(},{"sku":"MEM-A","quantity":)" + std::to_string(a) + "}]}";
    };
    std::vector<std::string> ids;
    for (int i = 0; i < 6; ++i) ids.push_back(NewUuid());
    auto response = client.Request("POST", "/api/v1/reservations/batch",
                                   BatchBody({both(ids[0], 2, 1),                // A 5 -> 3, B 2 -> 1
                                              both(ids[1], 4, 2),                // A and B short: A named first
                                              BatchEntry(ids[2], "MEM-B", 2),    // B short (1 left)
                                              BatchEntry(released, "MEM-A", 1),  // tombstone
                                              BatchEntry(existing, "MEM-B", 1),  // replay of the same items
                                              both(ids[3], 3, 1),                // fits exactly: A 3 -> 0, B 1 -> 0
                                              BatchEntry(ids[4], "MEM-A", 1),    // nothing left of A
                                              BatchEntry(ids[5], "MEM-B", 1)}));  // nothing left of B
    ASSERT_EQ(response.status, 200) << response.body;
    auto results = ParseObject(response.body).at("results").as_array();
    ASSERT_EQ(results.size(), 8u);
    auto status = [&](std::size_t i) { return results[i].at("status").as_int64(); };
    auto body = [&](std::size_t i) { return results[i].at("body").as_object(); };
    EXPECT_EQ(status(0), 201);
    EXPECT_EQ(body(0).at("total_cents").as_int64(), 1200);
    EXPECT_EQ(status(1), 409);
    EXPECT_EQ(body(1).at("code").as_string(), "insufficient_stock");
    EXPECT_EQ(body(1).at("sku").as_string(), "MEM-A") << "the first short item in sku order";
    EXPECT_EQ(body(1).at("requested").as_int64(), 4);
    EXPECT_EQ(body(1).at("available").as_int64(), 3) << "what the earlier entries left";
    EXPECT_EQ(status(2), 409);
    EXPECT_EQ(body(2).at("sku").as_string(), "MEM-B");
    EXPECT_EQ(body(2).at("available").as_int64(), 1);
    EXPECT_EQ(status(3), 409);
    EXPECT_EQ(body(3).at("code").as_string(), "reservation_released");
    EXPECT_EQ(status(4), 200) << "a replay of the existing reservation";
    EXPECT_EQ(status(5), 201) << "refused entries took nothing";
    EXPECT_EQ(body(5).at("total_cents").as_int64(), 1300);
    EXPECT_EQ(status(6), 409);
    EXPECT_EQ(body(6).at("available").as_int64(), 0);
    EXPECT_EQ(status(7), 409);
    EXPECT_EQ(Product("MEM-A").at("available").as_int64(), 0);
    EXPECT_EQ(Product("MEM-B").at("available").as_int64(), 0);
    for (std::size_t i : {0u, 5u}) {
        auto id = std::string(results[i].at("reservation_id").as_string());
        auto fetched = client.Request("GET", "/api/v1/reservations/" + id);
        EXPECT_EQ(ParseObject(fetched.body), body(i)) << "the batch answered what the reservation answers alone";
    }
    for (std::size_t i : {1u, 2u, 6u, 7u}) {
        auto id = std::string(results[i].at("reservation_id").as_string());
        EXPECT_EQ(client.Request("GET", "/api/v1/reservations/" + id).status, 404) << "a refusal stores nothing";
    }
}

// DESIGN §2: a cancel's release may arrive before its reservation, and leaves a tombstone. The release of an unknown
// id locks no product, so it can write that tombstone while a batch naming the id is between reading the
// reservations and inserting its own (0004 then failed the whole batch on the unique key: a 500 for every order in
// it). Here the release's transaction is held open across that moment: the batch waits for it, then answers the
// released id as a single reserve would and decides the others again without it.
TEST_F(InventoryTest, BatchYieldsToAReleaseThatTombstonesOneOfItsIdsMidway) {
    PutProduct("RACE-4", 4);
    auto client = service_->Client();
    const auto released = NewUuid(), second = NewUuid(), third = NewUuid();
    std::thread release([&] {
        postgres_->Query("inventory_db", "BEGIN; SELECT * FROM release_reservation('" + released +
                                             "'); SELECT pg_sleep(2); COMMIT");
    });
    auto sleeping = [&] {
        return postgres_->Query("inventory_db",
                                "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'")[0][0] == "1";
    };
    for (int i = 0; i < 200 && !sleeping(); ++i) std::this_thread::sleep_for(10ms);
    const auto sent = std::chrono::steady_clock::now();
    auto response = client.Request("POST", "/api/v1/reservations/batch",
                                   BatchBody({BatchEntry(released, "RACE-4", 2),     // tombstoned meanwhile
                                              BatchEntry(second, "RACE-4", 2),       // 4 -> 2
                                              BatchEntry(third, "RACE-4", 2)}));     // 2 -> 0
    const auto waited = std::chrono::steady_clock::now() - sent;
    release.join();
    EXPECT_GE(waited, 1s) << "the batch must have met the open tombstone (else this test proves nothing)";
    ASSERT_EQ(response.status, 200) << response.body;
    auto results = ParseObject(response.body).at("results").as_array();
    ASSERT_EQ(results.size(), 3u);
    EXPECT_EQ(results[0].at("status").as_int64(), 409) << results[0];
    EXPECT_EQ(results[0].at("body").at("code").as_string(), "reservation_released");
    EXPECT_EQ(results[1].at("status").as_int64(), 201) << results[1];
    EXPECT_EQ(results[2].at("status").as_int64(), 201) << "decided without the released entry's stock: "
                                                       << results[2];
    EXPECT_EQ(Product("RACE-4").at("available").as_int64(), 0);
    EXPECT_EQ(client.Request("GET", "/api/v1/reservations/" + released).body.find("RESERVED"), std::string::npos);
}

TEST_F(InventoryTest, ConcurrentBatchesOverSharedSkusNeverOversellNorDeadlock) {
    std::vector<std::string> skus = {"BATCH-C1", "BATCH-C2", "BATCH-C3", "BATCH-C4"};
    for (const auto& sku : skus) PutProduct(sku, 60);
    std::atomic<int> created{0}, refused{0}, failed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&, t] {
            auto client = service_->Client();
            for (int round = 0; round < 4; ++round) {
                std::vector<std::string> entries;
                for (int i = 0; i < 6; ++i) {
                    // Items in opposite orders across threads: locks must still be taken in one order.
                    const auto& a = skus[static_cast<std::size_t>((t + i) % 4)];
                    const auto& b = skus[static_cast<std::size_t>((t + i + 1) % 4)];
                    entries.push_back(R"({"reservation_id":")" + NewUuid() + R"(","items":[{"sku":")" +
                                      (t % 2 ? a : b) + R"(","quantity":1},{"sku":")" + (t % 2 ? b : a) +
                                      R"(","quantity":2}]})");
                }
                auto response = client.Request("POST", "/api/v1/reservations/batch", BatchBody(entries));
                if (response.status != 200) {
                    ++failed;
                    continue;
                }
                auto answered = ParseObject(response.body);
                for (const auto& result : answered.at("results").as_array()) {
                    if (result.at("status").as_int64() == 201) ++created;
                    else ++refused;
                }
            }
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(failed, 0) << "no batch may fail (a deadlock would answer 503)";
    EXPECT_EQ(created + refused, 8 * 4 * 6);
    long long taken = 0;
    for (const auto& sku : skus) taken += 60 - Product(sku).at("available").as_int64();
    EXPECT_EQ(taken, created * 3) << "each created reservation took exactly its 3 units";
    EXPECT_LE(taken, 240);
}

TEST_F(InventoryTest, BatchValidationNamesTheEntryAndTakesNothing) {
    PutProduct("BATCH-V", 10);
    auto client = service_->Client();
    auto bad = client.Request("POST", "/api/v1/reservations/batch",
                              BatchBody({BatchEntry(NewUuid(), "BATCH-V", 1), BatchEntry(NewUuid(), "BATCH-V", 0)}));
    EXPECT_EQ(bad.status, 422);
    EXPECT_EQ(ParseObject(bad.body).at("field").as_string(), "reservations[1].items[0].quantity");
    EXPECT_EQ(Product("BATCH-V").at("available").as_int64(), 10) << "a refused batch takes nothing";
    EXPECT_EQ(client.Request("POST", "/api/v1/reservations/batch", R"({"reservations":[]})").status, 422);
    EXPECT_EQ(client.Request("POST", "/api/v1/reservations/batch", R"({"reservations":{}})").status, 422);
    EXPECT_EQ(client.Request("POST", "/api/v1/reservations/batch", R"({"reservations":[)").status, 400);
    std::vector<std::string> too_many(257, BatchEntry(NewUuid(), "BATCH-V", 1));
    EXPECT_EQ(client.Request("POST", "/api/v1/reservations/batch", BatchBody(too_many)).status, 422);
}

TEST_F(InventoryTest, CrashAfterCommitOfABatchKeepsEveryReservationOfIt) {
    PutProduct("BATCH-CRASH", 10);
    auto crashing = StartInventory(*postgres_, "inventory-batch-crash",
                                   {{"VALERIX_CHAOS", R"({"crash":{"mode":"every_nth","every_nth":1,"point":"after_commit","action":"exit"}})"}});
    std::vector<std::string> entries = {BatchEntry(NewUuid(), "BATCH-CRASH", 2), BatchEntry(NewUuid(), "BATCH-CRASH", 3)};
    EXPECT_ANY_THROW(crashing->Client().Request("POST", "/api/v1/reservations/batch", BatchBody(entries), {}, 5s));
    EXPECT_NE(crashing->Process().Wait(10s), 0);
    EXPECT_EQ(Product("BATCH-CRASH").at("available").as_int64(), 5) << "the whole batch was committed";
    auto replay = service_->Client().Request("POST", "/api/v1/reservations/batch", BatchBody(entries));
    ASSERT_EQ(replay.status, 200);
    auto replayed = ParseObject(replay.body);
    for (const auto& result : replayed.at("results").as_array()) {
        EXPECT_EQ(result.at("status").as_int64(), 200) << "a retry of the batch finds each reservation";
    }
    EXPECT_EQ(Product("BATCH-CRASH").at("available").as_int64(), 5);
}

TEST_F(InventoryTest, BatchFindsRowsByIndexWithPlansMadeOnASmallCatalog) {
    // PL/pgSQL keeps generic plans, made the first time a session runs the batch. On a fresh stack the catalog has a
    // few dozen products, and the plans made then read `products` whole for the unknown-sku check and the stock
    // update: harmless for 50 products, a full scan per batch once the catalog has grown.
    constexpr int kEntries = 24;
    constexpr int kItems = 2 * kEntries;
    auto rows = ScansWithPlansMadeOnFreshTables(
        *postgres_, "inventory_db", {"products", "reservations", "reservation_items"},
        "INSERT INTO products (sku, name, price_cents, on_hand, available) "
        "SELECT 'PLAN-' || n, 'Plan product', 100, 1000, 1000 FROM generate_series(1, 50) AS n",
        "CREATE TEMP TABLE g AS SELECT n, gen_random_uuid() AS id FROM generate_series(1, " +
            std::to_string(kEntries) + ") AS n; "
        "CREATE TEMP TABLE r AS SELECT * FROM reserve_stock_batch("
        "  (SELECT array_agg(id ORDER BY n) FROM g), (SELECT array_agg(2) FROM g), "
        "  (SELECT array_agg(s ORDER BY n, s) FROM g, LATERAL (VALUES ('PLAN-' || n), ('PLAN-' || n + 25)) AS v(s)), "
        "  (SELECT array_agg(1) FROM g, generate_series(1, 2)))",
        "(SELECT count(*) FROM r WHERE outcome = 'created'), (SELECT sum(1000 - available) FROM pg_temp.products)");
    ASSERT_EQ(rows.size(), 3u);
    for (const auto& row : rows) {
        SCOPED_TRACE(row[0]);
        EXPECT_EQ(row[3], std::to_string(kEntries)) << "created";
        EXPECT_EQ(row[4], std::to_string(kItems)) << "units taken";
        EXPECT_EQ(row[1], "0") << "sequential scans";
        // `sku = ANY (array)` probes the index once per element: five statements find each item's product.
        EXPECT_LE(std::stoi(row[2]), 6 * kItems) << "index scans: a few per item, not one per pair of items";
    }
}

TEST_F(InventoryTest, EveryFunctionKeepsGenericPlansWithoutSequentialScans) {
    // Custom plans made on every call cost a fifth of the database's CPU; a sequential scan kept in a generic plan
    // made on small tables costs a full scan per call once they grow.
    EXPECT_EQ(FunctionsWithoutPlanSettings(*postgres_, "inventory_db"), "");
}

class InventoryWithoutDatabaseTest : public ::testing::Test {};

TEST_F(InventoryWithoutDatabaseTest, HealthNamesTheFailingDatabaseWhileLiveStaysUp) {
    auto postgres = testing::PostgresServer::Start();
    postgres->CreateDatabase("inventory_db", "inventory_svc");
    auto service = StartInventory(*postgres, "inventory-nodb");
    auto client = service->Client();
    ASSERT_EQ(client.Request("GET", "/health").status, 200);
    std::string dir = postgres->Dir();
    postgres.reset();  // the database goes away under the running service
    auto health = client.Request("GET", "/health", "", {}, 10s);
    EXPECT_EQ(health.status, 503) << health.body;
    auto body = ParseObject(health.body);
    EXPECT_EQ(body.at("status").as_string(), "fail");
    EXPECT_EQ(body.at("checks").at("database").at("status").as_string(), "fail");
    EXPECT_EQ(client.Request("GET", "/live").status, 200);
    auto reserve = client.Request("POST", "/api/v1/reservations", ReservationBody(NewUuid(), "KB-MECH-001", 1));
    EXPECT_EQ(reserve.status, 503);
    EXPECT_EQ(ParseObject(reserve.body).at("code").as_string(), "database_unavailable");
}

}  // namespace
}  // namespace valerix::functional
