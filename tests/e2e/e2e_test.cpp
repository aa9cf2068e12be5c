// Starts the whole system on free ports and runs the browser tests (tests/e2e/run.mjs) against the gateway.
#include <filesystem>
#include <iostream>

#include <gtest/gtest.h>

#include "service_fixture.hpp"

namespace valerix::functional {
namespace {

TEST(BrowserTest, StorefrontAndControlRoomInRealChromium) {
    ASSERT_TRUE(std::filesystem::exists(std::string(VALERIX_WEB_DIST) + "/index.html"))
        << "the UI is not built: run ./valerix deps (npm run build in web/)";
    auto postgres = testing::PostgresServer::Start();
    auto inventory = StartInventory(*postgres, "inventory");
    auto order = StartOrder(*postgres, "order", inventory->Port(),
                            {{"VALERIX_INVENTORY_DEADLINE_MS", "5000"}, {"VALERIX_INVENTORY_TRY_TIMEOUT_MS", "2000"},
                             {"VALERIX_BREAKER_OPEN_MS", "5000"}, {"VALERIX_INTENT_LEASE_MS", "8000"}});
    auto web = StartWeb(postgres->Dir(), "web", order->Port(), inventory->Port(), VALERIX_WEB_DIST,
                        {{"VALERIX_SNAPSHOT_INTERVAL_MS", "1000"}});
    std::string log = postgres->Dir() + "/e2e.log";
    testing::ChildProcess runner("node", {VALERIX_E2E_RUNNER, "--base-url", "http://127.0.0.1:" + std::to_string(web->Port())},
                                 {{"VALERIX_ADMIN_TOKEN", kAdminToken}}, log);
    int status = runner.Wait(std::chrono::minutes(12));
    std::string output = runner.Log();
    std::cout << output;
    EXPECT_EQ(status, 0) << "browser tests failed";
    EXPECT_NE(output.find(" passed, 0 failed"), std::string::npos);
}

}  // namespace
}  // namespace valerix::functional
