// Functional tests of the web gateway: real gateway, order and inventory binaries, real PostgreSQL.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "service_fixture.hpp"

namespace valerix::functional {
namespace {

using namespace std::chrono_literals;
const std::vector<std::pair<std::string, std::string>> kAdmin = {{"Authorization", std::string("Bearer ") + kAdminToken}};

/// Reads a streaming response for `duration` over a raw socket (the test HTTP client waits for whole bodies).
std::string ReadStream(int port, const std::string& target, std::chrono::milliseconds duration) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        ::close(fd);
        return "";
    }
    std::string request = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n";
    ::send(fd, request.data(), request.size(), 0);
    timeval tv{0, 100000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string received;
    auto until = std::chrono::steady_clock::now() + duration;
    char buffer[8192];
    while (std::chrono::steady_clock::now() < until) {
        auto n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n > 0) received.append(buffer, static_cast<std::size_t>(n));
        if (n == 0) break;
    }
    ::close(fd);
    return received;
}

std::size_t Count(const std::string& text, const std::string& needle) {
    std::size_t count = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++count;
    return count;
}

class WebTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        postgres_ = testing::PostgresServer::Start().release();
        web_root_ = postgres_->Dir() + "/ui";
        std::filesystem::create_directories(web_root_ + "/assets");
        std::ofstream(web_root_ + "/index.html") << "<!doctype html><title>Valerix test UI</title>";
        inventory_ = StartInventory(*postgres_, "inventory").release();
        order_ = StartOrder(*postgres_, "order", inventory_->Port()).release();
        web_ = StartWeb(postgres_->Dir(), "web", order_->Port(), inventory_->Port(), web_root_).release();
    }
    static void TearDownTestSuite() {
        delete web_;
        delete order_;
        delete inventory_;
        delete postgres_;
    }
    void SetUp() override {
        if (!inventory_->Process().Running()) inventory_->Start();
    }

    static testing::PostgresServer* postgres_;
    static ServiceProcess* inventory_;
    static ServiceProcess* order_;
    static ServiceProcess* web_;
    static std::string web_root_;
};
testing::PostgresServer* WebTest::postgres_ = nullptr;
ServiceProcess* WebTest::inventory_ = nullptr;
ServiceProcess* WebTest::order_ = nullptr;
ServiceProcess* WebTest::web_ = nullptr;
std::string WebTest::web_root_;

TEST_F(WebTest, ProxiesTheApiUnchanged) {
    auto client = web_->Client();
    auto products = client.Request("GET", "/api/v1/products", "", {{"X-Request-Id", "web-test-1"}});
    ASSERT_EQ(products.status, 200) << products.body;
    EXPECT_EQ(products.Header("x-request-id"), "web-test-1");
    EXPECT_GE(ParseObject(products.body).at("products").as_array().size(), 20u);

    auto key = NewUuid();
    std::string body = R"({"customer_id":"web","items":[{"sku":"KB-MECH-001","quantity":1}]})";
    auto created = client.Request("POST", "/api/v1/orders", body, {{"Idempotency-Key", key}});
    ASSERT_EQ(created.status, 201) << created.body;
    EXPECT_FALSE(created.Header("location").empty());
    auto replay = client.Request("POST", "/api/v1/orders", body, {{"Idempotency-Key", key}});
    EXPECT_EQ(replay.status, 201);
    EXPECT_EQ(replay.Header("idempotent-replayed"), "true");
    EXPECT_EQ(replay.body, created.body);

    auto missing_key = client.Request("POST", "/api/v1/orders", body);
    EXPECT_EQ(missing_key.status, 400);
    EXPECT_EQ(missing_key.Header("content-type"), "application/problem+json");
    // Headers reach the service as they came: both of two keys (refused there), and the body's coding.
    auto two_keys = client.Request("POST", "/api/v1/orders", body,
                                   {{"Idempotency-Key", NewUuid()}, {"Idempotency-Key", NewUuid()}});
    EXPECT_EQ(two_keys.status, 400) << two_keys.body;
    auto coded = client.Request("POST", "/api/v1/orders", body,
                                {{"Idempotency-Key", NewUuid()}, {"Content-Encoding", "gzip"}});
    EXPECT_EQ(coded.status, 415) << coded.body;
    // A SKU holding '/' is one path segment when it comes percent-encoded.
    auto slashed = client.Request("PUT", "/api/v1/products/WEB%2FSLASH",
                                  R"({"name":"Slash","price_cents":100,"on_hand":5})", kAdmin);
    EXPECT_EQ(slashed.status, 201) << slashed.body;
    auto fetched = client.Request("GET", "/api/v1/products/WEB%2FSLASH");
    ASSERT_EQ(fetched.status, 200) << fetched.body;
    EXPECT_EQ(ParseObject(fetched.body).at("sku").as_string(), "WEB/SLASH");

    EXPECT_EQ(client.Request("GET", "/api/v1/resilience").status, 200);
    EXPECT_EQ(client.Request("GET", "/api/v1/nothing").status, 404);
    for (const char* backup_route : {"/api/v1/backups", "/api/v1/backups/jobs", "/api/v1/backups/jobs/x",
                                     "/api/v1/external-sync", "/api/v1/restore-drills/latest"}) {
        EXPECT_EQ(client.Request("GET", backup_route).status, 503) << backup_route << ": routed, not configured";
    }
}

TEST_F(WebTest, ChaosIsProxiedToInventoryWithTheAdminToken) {
    auto client = web_->Client();
    EXPECT_EQ(client.Request("GET", "/api/v1/chaos").status, 401);
    auto set = client.Request("PUT", "/api/v1/chaos", R"({"latency":{"mode":"every_nth","every_nth":9}})", kAdmin);
    ASSERT_EQ(set.status, 200) << set.body;
    auto got = ParseObject(client.Request("GET", "/api/v1/chaos", "", kAdmin).body);
    EXPECT_EQ(got.at("latency").at("every_nth").as_int64(), 9);
    EXPECT_EQ(client.Request("PUT", "/api/v1/chaos", "{}", kAdmin).status, 200);
}

TEST_F(WebTest, SystemSnapshotCoversEveryComponent) {
    auto snapshot = ParseObject(web_->Client().Request("GET", "/api/v1/system").body);
    std::map<std::string, std::string> status;
    for (const auto& component : snapshot.at("components").as_array()) {
        status[std::string(component.at("name").as_string())] = std::string(component.at("status").as_string());
    }
    EXPECT_EQ(status["web"], "ok");
    EXPECT_EQ(status["order"], "ok");
    EXPECT_EQ(status["inventory"], "ok");
    EXPECT_EQ(status["order_db"], "ok");
    EXPECT_EQ(status["inventory_db"], "ok");
    EXPECT_EQ(status["backup"], "unknown");
    EXPECT_EQ(status["prometheus"], "unknown");
    EXPECT_EQ(snapshot.at("breaker").at("state").as_string(), "closed");
    EXPECT_TRUE(snapshot.at("order_latency").as_object().contains("state"));
    EXPECT_TRUE(snapshot.at("chaos").is_object()) << "the gateway reads chaos with its admin token";
    EXPECT_TRUE(snapshot.at("reconciler").is_object());
    EXPECT_TRUE(snapshot.at("alerts").is_array());
}

TEST_F(WebTest, EventsStreamTheSnapshotRepeatedly) {
    auto stream = ReadStream(web_->Port(), "/api/v1/events", 1500ms);
    EXPECT_NE(stream.find("text/event-stream"), std::string::npos) << stream.substr(0, 300);
    EXPECT_GE(Count(stream, "event: system\ndata: {"), 3u) << "snapshots every 300 ms for 1.5 s";
}

TEST_F(WebTest, EventsSendTheFirstSnapshotOnce) {
    // The first event is the latest snapshot; the next waits for a newer one (it was sent a second time at once).
    auto web = StartWeb(postgres_->Dir(), "web-events-once", order_->Port(), inventory_->Port(), web_root_,
                        {{"VALERIX_SNAPSHOT_INTERVAL_MS", "3000"}});
    auto stream = ReadStream(web->Port(), "/api/v1/events", 1500ms);
    EXPECT_EQ(Count(stream, "event: system\ndata: {"), 1u) << stream.size();
}

TEST_F(WebTest, HeadHasTheLengthOfItsGet) {
    auto get = web_->Client().Request("GET", "/");
    auto head = web_->Client().Request("HEAD", "/");
    ASSERT_EQ(get.status, 200);
    ASSERT_EQ(head.status, 200);
    EXPECT_EQ(head.Header("content-length"), std::to_string(get.body.size()));
    EXPECT_TRUE(head.body.empty());
    EXPECT_EQ(web_->Client().Request("HEAD", "/api/v1/system").status, 200) << "HEAD is allowed wherever GET is";
    // Proxied: asked upstream as a GET, so the length is the body's, not 0.
    auto product = web_->Client().Request("GET", "/api/v1/products/KB-MECH-001");
    auto product_head = web_->Client().Request("HEAD", "/api/v1/products/KB-MECH-001");
    ASSERT_EQ(product_head.status, 200);
    EXPECT_EQ(product_head.Header("content-length"), std::to_string(product.body.size()));
}

TEST_F(WebTest, EventsKeepTheirIntervalWhileAnUpstreamHangs) {
    // DESIGN §4: a snapshot at least once a second. An upstream that accepts and never answers makes every refresh
    // wait a whole probe timeout (800 ms); the next snapshot is still due one interval (1 s) after the last began,
    // not after it ended (which made it 1.8 s, exactly when the control room matters).
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor silent(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    const std::string hanging = "http://127.0.0.1:" + std::to_string(silent.local_endpoint().port());
    auto web = StartWeb(postgres_->Dir(), "web-hanging-upstream", order_->Port(), inventory_->Port(), web_root_,
                        {{"VALERIX_SNAPSHOT_INTERVAL_MS", "1000"}, {"VALERIX_PROMETHEUS_URL", hanging}});
    auto stream = ReadStream(web->Port(), "/api/v1/events", 6500ms);
    // One event at once, then one per second: 7 in 6.5 s (6 or more allowing for a slow start); one per 1.8 s: 5.
    EXPECT_GE(Count(stream, "event: system\ndata: {"), 6u) << stream.size();
    EXPECT_NE(stream.find("\"prometheus\""), std::string::npos);
}

TEST_F(WebTest, TheSnapshotProbesDoNotQueueBehindProxiedTraffic) {
    // 70 creates held for seconds each fill the gateway's 64 connections to order-service. The snapshot's probes
    // of that service have connections of their own: it still reads "ok", not "down" (a probe that waited 800 ms for
    // one of the 64 failed, and a busy service showed as gone).
    auto slow_order = StartOrder(*postgres_, "order-slow", inventory_->Port(),
                                 {{"VALERIX_INVENTORY_DEADLINE_MS", "5000"},
                                  {"VALERIX_INVENTORY_TRY_TIMEOUT_MS", "5000"},
                                  {"VALERIX_INTENT_LEASE_MS", "10000"},
                                  {"VALERIX_RECONCILER_INTERVAL_MS", "60000"}});
    auto web = StartWeb(postgres_->Dir(), "web-busy", slow_order->Port(), inventory_->Port(), web_root_);
    ASSERT_EQ(inventory_->Client()
                  .Request("PUT", "/admin/chaos", R"({"latency":{"mode":"every_nth","every_nth":1,"delay_ms":3000}})",
                           kAdmin)
                  .status,
              200);
    std::vector<std::thread> creates;
    for (int i = 0; i < 70; ++i) {
        creates.emplace_back([&] {
            web->Client().Request("POST", "/api/v1/orders",
                                  R"({"customer_id":"busy","items":[{"sku":"KB-MECH-001","quantity":1}]})",
                                  {{"Idempotency-Key", NewUuid()}}, 15s);
        });
    }
    std::this_thread::sleep_for(2000ms);  // every proxy connection busy, a few refreshes since
    auto snapshot = ParseObject(web->Client().Request("GET", "/api/v1/system").body);
    for (auto& thread : creates) thread.join();
    ASSERT_EQ(inventory_->Client().Request("PUT", "/admin/chaos", "{}", kAdmin).status, 200);
    std::map<std::string, std::string> status;
    for (const auto& component : snapshot.at("components").as_array()) {
        status[std::string(component.at("name").as_string())] = std::string(component.at("status").as_string());
    }
    EXPECT_EQ(status["order"], "ok") << boost::json::serialize(snapshot);
    EXPECT_TRUE(snapshot.at("order_latency").is_object()) << "the latency tile stays, it does not vanish";
}

TEST_F(WebTest, ServesTheUiAndItsRoutes) {
    auto client = web_->Client();
    auto index = client.Request("GET", "/");
    EXPECT_EQ(index.status, 200);
    EXPECT_NE(index.body.find("Valerix test UI"), std::string::npos);
    EXPECT_EQ(index.Header("content-type"), "text/html; charset=utf-8");
    EXPECT_EQ(client.Request("GET", "/control-room").status, 200);
    EXPECT_EQ(client.Request("GET", "/assets/nope.js").status, 404);
    EXPECT_EQ(client.Request("GET", "/../../etc/passwd").status, 404);
}

TEST_F(WebTest, HealthChecksBackupServiceWhenOneIsConfigured) {
    // DESIGN.md §4: /health is deep, checking the services behind the gateway; backup-service is one of them.
    auto health = ParseObject(web_->Client().Request("GET", "/health").body);
    EXPECT_FALSE(health.at("checks").as_object().contains("backup")) << "none configured here";
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor closed(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    const std::string nobody = "http://127.0.0.1:" + std::to_string(closed.local_endpoint().port());
    closed.close();
    auto web = StartWeb(postgres_->Dir(), "web-backup-down", order_->Port(), inventory_->Port(), web_root_,
                        {{"VALERIX_BACKUP_URL", nobody}});
    auto answer = web->Client().Request("GET", "/health");
    EXPECT_EQ(answer.status, 503) << answer.body;
    auto checks = ParseObject(answer.body).at("checks").as_object();
    EXPECT_EQ(checks.at("backup").at("status").as_string(), "fail") << answer.body;
    EXPECT_EQ(checks.at("order").at("status").as_string(), "ok") << answer.body;
    EXPECT_EQ(web->Client().Request("GET", "/ready").status, 200) << "backup-service is not on the request path";
}

TEST_F(WebTest, ADownServiceIsAFast503AndShowsInTheSnapshot) {
    inventory_->Kill();
    auto started = std::chrono::steady_clock::now();
    auto products = web_->Client().Request("GET", "/api/v1/products");
    EXPECT_LT(std::chrono::steady_clock::now() - started, 2s) << "never a hang";
    EXPECT_EQ(products.status, 503);
    EXPECT_EQ(ParseObject(products.body).at("code").as_string(), "service_unavailable");
    std::this_thread::sleep_for(700ms);
    auto snapshot = ParseObject(web_->Client().Request("GET", "/api/v1/system").body);
    std::map<std::string, std::string> statuses;
    for (const auto& component : snapshot.at("components").as_array()) {
        statuses[std::string(component.at("name").as_string())] = std::string(component.at("status").as_string());
    }
    EXPECT_EQ(statuses["inventory"], "down");
    // Its /health fails on inventory alone while its database is fine: it keeps taking orders (202), so the snapshot
    // says degraded, not fail.
    EXPECT_EQ(statuses["order"], "degraded") << boost::json::serialize(snapshot);
    EXPECT_EQ(statuses["order_db"], "ok");
    EXPECT_EQ(web_->Client().Request("GET", "/health").status, 503);
    auto ready = web_->Client().Request("GET", "/ready");
    EXPECT_EQ(ready.status, 200) << "the control room stays reachable to show the outage: " << ready.body;
    inventory_->Start();
}

}  // namespace
}  // namespace valerix::functional
