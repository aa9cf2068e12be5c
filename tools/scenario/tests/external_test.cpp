// --external mode end to end: a stack the runner does not own (here: one this test starts) is driven through its
// endpoints and database connection strings, and process faults are refused.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <filesystem>
#include <fstream>
#include <valerix/testing/files.hpp>
#include <valerix/testing/http_client.hpp>
#include <vector>

#include "runner.hpp"
#include "stack.hpp"

namespace valerix::scenario {
namespace {

class ExternalModeTest : public ::testing::Test {
  protected:
    // One stack for the suite: starting PostgreSQL dominates the cost.
    static void SetUpTestSuite() {
        dir_ = std::filesystem::temp_directory_path() / ("valerix-external-test-" + std::to_string(::getpid()));
        std::filesystem::create_directories(dir_);
        StackConfig config;
        config.inventory_binary = VALERIX_INVENTORY_BINARY;
        config.order_binary = VALERIX_ORDER_BINARY;
        config.work_dir = dir_.string();
        config.admin_token = "external-test-token";
        config.order_env = {{"VALERIX_INVENTORY_DEADLINE_MS", "1500"},
                            {"VALERIX_INVENTORY_TRY_TIMEOUT_MS", "600"},
                            {"VALERIX_INTENT_LEASE_MS", "2000"},
                            {"VALERIX_RECONCILER_INTERVAL_MS", "50"}};
        stack_ = std::make_unique<EphemeralStack>(config, std::chrono::steady_clock::now());
        stack_->Start();
    }
    static void TearDownTestSuite() {
        stack_.reset();
        std::filesystem::remove_all(dir_);
    }

    static RunOptions External(const std::string& scenario_file) {
        RunOptions options;
        options.scenario_path = scenario_file;
        options.external = true;
        options.order = stack_->Order();
        options.inventory = stack_->Inventory();
        // The ephemeral server trusts local connections; an external run would pass the service roles' passwords.
        auto rows = stack_->Query("postgres", "SELECT current_setting('port')");
        options.order_db = "host=127.0.0.1 port=" + rows.at(0).at(0) + " dbname=order_db user=order_svc";
        options.inventory_db = "host=127.0.0.1 port=" + rows.at(0).at(0) + " dbname=inventory_db user=inventory_svc";
        options.admin_token = "external-test-token";
        options.work_dir = (dir_ / "run").string();
        return options;
    }

    static std::string Write(const std::string& name, const std::string& text) {
        auto path = (dir_ / name).string();
        std::ofstream(path) << text;
        return path;
    }

    static std::filesystem::path dir_;
    static std::unique_ptr<EphemeralStack> stack_;
};
std::filesystem::path ExternalModeTest::dir_;
std::unique_ptr<EphemeralStack> ExternalModeTest::stack_;

TEST_F(ExternalModeTest, DrivesAStackItDoesNotOwnWithChaosAndChecksIt) {
    auto file = Write("gremlin.json", R"({
        "name": "external-gremlin", "seed": 4,
        "catalog": [{"sku": "EXT-A", "on_hand": 500}, {"sku": "EXT-B", "on_hand": 500}],
        "load": {"rate": 10, "concurrency": 4, "duration_s": 3, "ship_share": 0.3, "cancel_share": 0.2,
                 "followup_min_ms": 100, "followup_max_ms": 500},
        "timeline": [{"at_s": 0, "chaos": {"latency": {"mode": "every_nth", "every_nth": 3, "delay_ms": 1000}}}],
        "expect": {"min_orders": 10, "min_latency_injections": 2}})");
    auto options = External(file);
    options.report_path = (dir_ / "report.json").string();
    ASSERT_EQ(RunScenario(options), kPass);
    auto report = boost::json::parse(testing::ReadFile(options.report_path)).as_object();
    EXPECT_EQ(report.at("stack").at("kind").as_string(), "external");
    EXPECT_EQ(report.at("violations").as_array().size(), 0u);
    EXPECT_GE(report.at("load").at("orders").as_int64(), 10);
    // Healing turned chaos off on the stack it was given, and left its processes alone.
    testing::HttpClient inventory(stack_->Inventory().host, stack_->Inventory().port);
    auto chaos = inventory.Request("GET", "/admin/chaos", "", {{"Authorization", "Bearer external-test-token"}});
    ASSERT_EQ(chaos.status, 200);
    EXPECT_EQ(boost::json::parse(chaos.body).at("latency").at("mode").as_string(), "off");
    EXPECT_TRUE(stack_->Events().size() == 3u) << "no process was started or killed by the run";
}

TEST(ExternalModeRefusalTest, RefusesProcessFaultsAndCorruptionBeforeTouchingAnything) {
    // Nothing listens on these: the refusal must come before any connection.
    auto dir = std::filesystem::temp_directory_path() / ("valerix-external-refusal-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    RunOptions options;
    options.external = true;
    options.order = Endpoint{"127.0.0.1", 1};
    options.inventory = Endpoint{"127.0.0.1", 1};
    options.order_db = options.inventory_db = "host=127.0.0.1 port=1 dbname=none";
    options.admin_token = "t";
    options.work_dir = (dir / "run").string();
    options.scenario_path = (dir / "kill.json").string();
    std::ofstream(options.scenario_path) << R"({"catalog": [{"sku": "EXT-A"}],
        "timeline": [{"at_s": 1, "kill": "inventory", "restart_after_s": 1}]})";
    EXPECT_THROW(RunScenario(options), ScenarioError);
    options.scenario_path = (dir / "plain.json").string();
    std::ofstream(options.scenario_path) << R"({"catalog": [{"sku": "EXT-A"}]})";
    options.corrupt = "stock";
    EXPECT_THROW(RunScenario(options), ScenarioError);
    EXPECT_FALSE(std::filesystem::exists(dir / "run")) << "nothing was started";
    std::filesystem::remove_all(dir);
}

// A stand-in for `./valerix ctl` (supervisorctl) that logs each call. `stop` models supervisord stopping the copy
// it restarted after the kill: with `stop_lost_term` the SIGTERM is lost (it reached the copy before exec), so the
// stop only ends once another `signal KILL` arrives — or after 20 s, the stand-in's `stopwaitsecs`.
class FakeCtl {
  public:
    explicit FakeCtl(const std::string& name, bool stop_lost_term)
        : dir_(std::filesystem::temp_directory_path() / (name + "-" + std::to_string(::getpid()))) {
        std::filesystem::create_directories(dir_);
        const std::string calls = (dir_ / "calls").string();
        std::ofstream(dir_ / "ctl") << "#!/bin/sh\necho \"$*\" >> " << calls << "\n"
                                    << "[ \"$1\" = stop ] && [ " << (stop_lost_term ? 1 : 0) << " = 1 ] || exit 0\n"
                                    << "for i in $(seq 200); do\n"
                                    << "  [ \"$(grep -c '^signal KILL' " << calls << ")\" -ge 2 ] && exit 0\n"
                                    << "  sleep 0.1\n"
                                    << "done\n";
        std::filesystem::permissions(dir_ / "ctl", std::filesystem::perms::owner_all);
    }
    ~FakeCtl() { std::filesystem::remove_all(dir_); }

    std::string Command() const { return (dir_ / "ctl").string(); }
    std::string Dir() const { return dir_.string(); }
    std::vector<std::string> Calls() const {
        std::vector<std::string> lines;
        std::ifstream in(dir_ / "calls");
        for (std::string line; std::getline(in, line);) lines.push_back(line);
        return lines;
    }

  private:
    std::filesystem::path dir_;
};

TEST(ExternalKillTest, KillsTheRestartedCopyWhenItsStopHangs) {
    FakeCtl ctl("valerix-external-kill", true);
    ExternalStack stack({"127.0.0.1", 1}, {"127.0.0.1", 1}, "", "", ctl.Command(), ctl.Dir());
    const auto started = std::chrono::steady_clock::now();
    stack.KillService(Service::kOrder);
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10))
        << "the kill waited for the stand-in's stopwaitsecs";
    auto calls = ctl.Calls();
    std::sort(calls.begin() + 1, calls.end());  // the stop and the second kill overlap
    EXPECT_EQ(calls, (std::vector<std::string>{"signal KILL order", "signal KILL order", "stop order"}));
}

TEST(ExternalKillTest, LeavesAPromptStopAlone) {
    FakeCtl ctl("valerix-external-kill-prompt", false);
    ExternalStack stack({"127.0.0.1", 1}, {"127.0.0.1", 1}, "", "", ctl.Command(), ctl.Dir());
    stack.KillService(Service::kInventory);
    EXPECT_EQ(ctl.Calls(), (std::vector<std::string>{"signal KILL inventory", "stop inventory"}));
}

}  // namespace
}  // namespace valerix::scenario
