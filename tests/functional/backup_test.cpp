// Functional tests of backup-service with real PostgreSQL clusters and real pgBackRest: full then incremental
// backups with data written between, restore drills into scratch clusters, encrypted repository files, the daily
// external-sync quota across restarts, restoring from the external copy alone, and clear failures.
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <map>
#include <fstream>
#include <sstream>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <valerix/testing/child_process.hpp>
#include <valerix/testing/files.hpp>
#include <valerix/testing/free_port.hpp>

#include "service_fixture.hpp"

namespace valerix::functional {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using Headers = std::vector<std::pair<std::string, std::string>>;
const Headers kAdmin = {{"Authorization", std::string("Bearer ") + kAdminToken}};
constexpr const char* kPassphrase = "functional-test-passphrase-0123456789";
constexpr const char* kPlaintextProbe = "VALERIX-PLAINTEXT-PROBE-7f3a";

bool AsRoot() { return ::geteuid() == 0; }

void ChownToPostgres(const std::string& path) {
    if (AsRoot()) {
        auto result = std::system(("chown -R postgres:postgres '" + path + "'").c_str());
        ASSERT_EQ(result, 0) << "chown " << path;
    }
}

/// Runs a command as the PostgreSQL OS user; returns its exit status and appends its output to `log`.
int RunAsPostgres(const std::vector<std::string>& command, const std::string& log) {
    std::vector<std::string> args;
    std::string program = command[0];
    if (AsRoot()) {
        args = {"--reuid=postgres", "--regid=postgres", "--init-groups", "--"};
        args.insert(args.end(), command.begin(), command.end());
        program = "setpriv";
    } else {
        args.assign(command.begin() + 1, command.end());
    }
    testing::ChildProcess child(program, args, {}, log, "/");
    return child.Wait(std::chrono::minutes(5));
}

/// Two clusters with WAL archiving into one encrypted pgBackRest repository (stanzas "order" and "inventory"), the
/// real inventory and order services on them, and backup-service running as the postgres user.
class BackupTest : public ::testing::Test {
protected:
    void SetUp() override {
        char pattern[] = "/tmp/valerix-backup-test-XXXXXX";
        ASSERT_NE(::mkdtemp(pattern), nullptr);
        dir_ = pattern;
        for (const char* sub : {"repo", "log", "lock", "spool", "state", "external"}) fs::create_directories(dir_ + "/" + sub);
        order_pg_ = testing::PostgresServer::Start();
        inventory_pg_ = testing::PostgresServer::Start();
        WriteConfig(dir_ + "/pgbackrest.conf", dir_ + "/repo");
        ChownToPostgres(dir_);
        for (auto [pg, stanza] : {std::pair{order_pg_.get(), "order"}, std::pair{inventory_pg_.get(), "inventory"}}) {
            pg->Query("postgres", "ALTER SYSTEM SET archive_mode = 'on'");
            pg->Query("postgres", "ALTER SYSTEM SET archive_command = 'pgbackrest --config=" + dir_ +
                                      "/pgbackrest.conf --stanza=" + stanza + " archive-push %p'");
            pg->Restart();
        }
        // A wrapper that drops root (pgBackRest's files and restored clusters belong to postgres); exec keeps the PID.
        wrapper_ = dir_ + "/valerix-backup.sh";
        std::ofstream(wrapper_) << "#!/bin/sh\nexec "
                                << (AsRoot() ? "setpriv --reuid=postgres --regid=postgres --init-groups -- " : "")
                                << VALERIX_BACKUP_BINARY << "\n";
        fs::permissions(wrapper_, fs::perms::owner_all | fs::perms::group_read | fs::perms::others_read |
                                      fs::perms::group_exec | fs::perms::others_exec);
    }

    void TearDown() override {
        backup_.reset();
        order_.reset();
        inventory_.reset();
        order_pg_.reset();
        inventory_pg_.reset();
        if (!HasFailure()) fs::remove_all(dir_);
        else std::printf("kept %s for inspection\n", dir_.c_str());
    }

    void WriteConfig(const std::string& path, const std::string& repo) {
        std::ofstream conf(path);
        conf << "[global]\nrepo1-path=" << repo << "\nrepo1-cipher-type=aes-256-cbc\nrepo1-cipher-pass=" << kPassphrase
             << "\nrepo1-retention-full=2\ncompress-type=zst\nstart-fast=y\narchive-async=n\nlog-path=" << dir_
             << "/log\nlock-path=" << dir_ << "/lock\nspool-path=" << dir_ << "/spool\nlog-level-file=detail\n\n";
        conf << "[order]\npg1-path=" << order_pg_->Dir() << "/data\npg1-port=" << order_pg_->Port()
             << "\npg1-socket-path=" << order_pg_->Dir() << "\n\n";
        conf << "[inventory]\npg1-path=" << inventory_pg_->Dir() << "/data\npg1-port=" << inventory_pg_->Port()
             << "\npg1-socket-path=" << inventory_pg_->Dir() << "\n";
        conf.close();
        ::chmod(path.c_str(), 0640);
    }

    void StartApps() {
        inventory_ = StartInventory(*inventory_pg_, "inventory");
        order_ = StartOrder(*order_pg_, "order", inventory_->Port());
    }

    void StartBackup(Env extra = {}) {
        Env env{{"VALERIX_BACKUP_PGBACKREST_CONFIG", dir_ + "/pgbackrest.conf"},
                {"VALERIX_BACKUP_STATE_DIR", dir_ + "/state"},
                {"VALERIX_BACKUP_EXTERNAL_DIR", dir_ + "/external"},
                {"VALERIX_BACKUP_SCHEDULE", "false"},
                {"VALERIX_BACKUP_INFO_INTERVAL_S", "1"},
                {"VALERIX_BACKUP_CHECK_INTERVAL_S", "5"},
                {"VALERIX_BACKUP_TICK_MS", "200"}};
        for (auto& e : extra) env.push_back(e);
        backup_ = std::make_unique<ServiceProcess>(wrapper_, "backup", dir_, env);
    }

    testing::HttpResponse Post(const std::string& path, const std::string& body = "", const Headers& headers = kAdmin) {
        return backup_->Client().Request("POST", path, body, headers);
    }
    testing::HttpResponse Get(const std::string& path) { return backup_->Client().Request("GET", path); }

    /// Waits for a job to finish and returns it.
    json::object WaitForJob(const std::string& id, std::chrono::seconds timeout = 180s) {
        auto until = std::chrono::steady_clock::now() + timeout;
        json::object job;
        while (std::chrono::steady_clock::now() < until) {
            auto response = Get("/api/v1/backups/jobs/" + id);
            EXPECT_EQ(response.status, 200) << response.body;
            job = ParseObject(response.body);
            auto status = job.at("status").as_string();
            if (status != "queued" && status != "running") return job;
            std::this_thread::sleep_for(200ms);
        }
        ADD_FAILURE() << "job " << id << " did not finish: " << json::serialize(job);
        return job;
    }

    json::object RunJob(const std::string& path, const std::string& body = "") {
        auto response = Post(path, body);
        EXPECT_EQ(response.status, 202) << response.body;
        auto location = response.Header("Location");
        EXPECT_FALSE(location.empty());
        return WaitForJob(std::string(ParseObject(response.body).at("job_id").as_string()));
    }

    void PlaceOrders(int n) {
        auto put = inventory_->Client().Request("PUT", "/api/v1/products/BK-1",
                                                R"({"name":"Backup test","price_cents":100,"on_hand":100000})", kAdmin);
        ASSERT_TRUE(put.status == 200 || put.status == 201) << put.body;
        for (int i = 0; i < n; ++i) {
            auto response = order_->Client().Request(
                "POST", "/api/v1/orders", R"({"customer_id":"c1","items":[{"sku":"BK-1","quantity":1}]})",
                {{"Idempotency-Key", NewUuid()}});
            ASSERT_EQ(response.status, 201) << response.body;
        }
    }

    long long OrderCount() { return std::stoll(order_pg_->Query("order_db", "SELECT count(*) FROM orders")[0][0]); }

    std::string dir_, wrapper_;
    std::unique_ptr<testing::PostgresServer> order_pg_, inventory_pg_;
    std::unique_ptr<ServiceProcess> inventory_, order_, backup_;
};

std::string JsonText(const json::value& v) { return json::serialize(v); }

TEST_F(BackupTest, FullThenIncrementalThenARestoreDrillThatMatchesTheSource) {
    StartApps();
    PlaceOrders(20);
    order_pg_->Query("order_db", std::string("CREATE TABLE plaintext_probe (t text); INSERT INTO plaintext_probe "
                                             "SELECT '") + kPlaintextProbe + "' || g FROM generate_series(1, 2000) g");
    StartBackup();

    auto full = RunJob("/api/v1/backups", R"({"type":"full"})");
    ASSERT_EQ(full.at("status").as_string(), "succeeded") << JsonText(full);
    ASSERT_EQ(full.at("steps").as_array().size(), 2u);
    for (const auto& step : full.at("steps").as_array()) {
        EXPECT_EQ(step.at("type").as_string(), "full") << JsonText(step);
        EXPECT_GT(step.at("repo_size_bytes").as_int64(), 0);
    }
    EXPECT_EQ(full.at("steps").as_array()[0].at("counts_after").at("orders").as_int64(), 20);

    PlaceOrders(15);  // written between the two backups
    auto incr = RunJob("/api/v1/backups", R"({"type":"incr"})");
    ASSERT_EQ(incr.at("status").as_string(), "succeeded") << JsonText(incr);
    for (const auto& step : incr.at("steps").as_array()) EXPECT_EQ(step.at("type").as_string(), "incr");

    auto listing = ParseObject(Get("/api/v1/backups").body);
    ASSERT_EQ(listing.at("stanzas").as_array().size(), 2u) << JsonText(listing);
    for (const auto& stanza : listing.at("stanzas").as_array()) {
        const auto& backups = stanza.at("backups").as_array();
        ASSERT_EQ(backups.size(), 2u) << JsonText(stanza);
        EXPECT_EQ(backups[0].at("type").as_string(), "full");
        EXPECT_EQ(backups[1].at("type").as_string(), "incr");
        for (const char* key : {"label", "started_at", "finished_at", "size_bytes", "repo_size_bytes"}) {
            EXPECT_TRUE(backups[1].as_object().contains(key)) << key;
        }
    }

    // The drill restores the incremental (the latest) and must see all 35 orders, the stock invariants holding.
    auto drill = RunJob("/api/v1/restore-drills");
    EXPECT_EQ(drill.at("status").as_string(), "succeeded") << JsonText(drill);
    // Times as every other answer of the service gives them (RFC 3339 UTC), not Unix seconds.
    for (const char* key : {"queued_at", "started_at", "finished_at"}) {
        ASSERT_TRUE(drill.at(key).is_string()) << key << ": " << JsonText(drill);
        EXPECT_EQ(drill.at(key).as_string().size(), 20u) << drill.at(key).as_string();
    }
    EXPECT_GT(drill.at("duration_s").as_double(), 0.0);
    auto latest = ParseObject(Get("/api/v1/restore-drills/latest").body);
    EXPECT_TRUE(latest.at("ok").as_bool()) << JsonText(latest);
    for (const auto& report : latest.at("stanzas").as_array()) {
        EXPECT_TRUE(report.at("backup_finished_at").is_string()) << JsonText(report);
        EXPECT_GT(report.at("recovery_seconds").as_double(), 0.0);
        bool saw_rows = false;
        for (const auto& check : report.at("checks").as_array()) {
            EXPECT_TRUE(check.at("ok").as_bool()) << JsonText(check);
            std::string name(check.at("name").as_string());
            if (name == "rows:orders") {
                saw_rows = true;
                EXPECT_EQ(std::string(check.at("detail").as_string()).rfind("35 rows", 0), 0u) << JsonText(check);
            }
            if (report.at("stanza").as_string() == "inventory") {
                saw_rows = saw_rows || name == "stock invariants";
            }
        }
        EXPECT_TRUE(saw_rows) << JsonText(report);
    }
    // Scratch clusters are gone.
    EXPECT_TRUE(fs::is_empty(dir_ + "/state/scratch") || !fs::exists(dir_ + "/state/scratch"));

    // Every repository file is encrypted (OpenSSL's "Salted__" header) and no table data is readable in any of them.
    int files = 0;
    for (const auto& entry : fs::recursive_directory_iterator(dir_ + "/repo")) {
        if (!entry.is_regular_file()) continue;
        ++files;
        std::string content = testing::ReadFile(entry.path().string());
        EXPECT_EQ(content.substr(0, 8), "Salted__") << entry.path();
        EXPECT_EQ(content.find(kPlaintextProbe), std::string::npos) << entry.path();
        EXPECT_EQ(content.find("CREATE TABLE"), std::string::npos) << entry.path();
    }
    EXPECT_GT(files, 50);

    auto metrics = Get("/metrics").body;
    EXPECT_NE(metrics.find("valerix_backup_last_success_timestamp_seconds{stanza=\"order\",type=\"incr\"} 1"),
              std::string::npos)
        << metrics;
    EXPECT_NE(metrics.find("valerix_restore_drill_last_success{stanza=\"inventory\"} 1"), std::string::npos);
}

TEST_F(BackupTest, ExternalSyncOncePerDayEvenAcrossRestartsAndItsCopyRestoresAlone) {
    order_pg_->CreateDatabase("order_db", "order_svc");
    order_pg_->Query("order_db", "CREATE TABLE orders (id int); INSERT INTO orders SELECT generate_series(1, 500)");
    StartBackup();
    auto full = RunJob("/api/v1/backups", R"({"type":"full"})");
    ASSERT_EQ(full.at("status").as_string(), "succeeded") << JsonText(full);

    auto sync = RunJob("/api/v1/external-sync");
    ASSERT_EQ(sync.at("status").as_string(), "succeeded") << JsonText(sync);
    EXPECT_GT(sync.at("result").at("files").as_int64(), 10);
    auto status = ParseObject(Get("/api/v1/external-sync").body);
    EXPECT_EQ(status.at("calls_today").as_int64(), 1) << JsonText(status);
    EXPECT_FALSE(status.at("last_sync_at").is_null());
    EXPECT_EQ(status.at("last_result").at("status").as_string(), "succeeded");

    auto second = Post("/api/v1/external-sync");
    EXPECT_EQ(second.status, 429) << second.body;
    EXPECT_EQ(ParseObject(second.body).at("code").as_string(), "daily_quota_used");
    EXPECT_FALSE(second.Header("Retry-After").empty());

    backup_.reset();  // SIGTERM, wait
    StartBackup();
    auto after_restart = Post("/api/v1/external-sync");
    EXPECT_EQ(after_restart.status, 429) << "the quota must survive a restart: " << after_restart.body;

    // Restore from the external copy alone: unpack the bundles into an empty folder, point a pgBackRest
    // configuration at it (same passphrase), restore into a new data folder, start it, read the data.
    std::vector<std::string> bundles;
    for (const auto& entry : fs::directory_iterator(dir_ + "/external")) bundles.push_back(entry.path().string());
    ASSERT_EQ(bundles.size(), 1u);
    std::string offsite = dir_ + "/offsite-repo";
    fs::create_directories(offsite);
    ChownToPostgres(offsite);
    std::string log = dir_ + "/offsite-restore.log";
    ASSERT_EQ(RunAsPostgres({"tar", "-xf", bundles[0], "-C", offsite}, log), 0) << testing::ReadFile(log);
    EXPECT_TRUE(fs::exists(offsite + "/VALERIX-BUNDLE.json"));
    WriteConfig(dir_ + "/offsite.conf", offsite);
    ChownToPostgres(dir_ + "/offsite.conf");
    std::string pgdata = dir_ + "/offsite-data";
    fs::create_directories(pgdata);
    ::chmod(pgdata.c_str(), 0700);
    ChownToPostgres(pgdata);
    ASSERT_EQ(RunAsPostgres({"pgbackrest", "--config=" + dir_ + "/offsite.conf", "--stanza=order",
                             "--pg1-path=" + pgdata, "--type=immediate", "--target-action=promote",
                             "--archive-mode=off", "restore"},
                            log),
              0)
        << testing::ReadFile(log);
    int port = testing::FreePort();
    std::ofstream(pgdata + "/postgresql.auto.conf", std::ios::app)
        << "\nport = " << port << "\nunix_socket_directories = '" << dir_ << "'\narchive_mode = off\n";
    ASSERT_EQ(RunAsPostgres({"/usr/lib/postgresql/15/bin/pg_ctl", "-D", pgdata, "-l", dir_ + "/offsite-pg.log", "-w",
                             "-t", "120", "start"},
                            log),
              0)
        << testing::ReadFile(log) << testing::ReadFile(dir_ + "/offsite-pg.log");
    std::ofstream(log, std::ios::app) << "\n--- count\n";
    std::string out = dir_ + "/offsite-count.txt";
    int psql = RunAsPostgres({"psql", "-X", "-A", "-t", "-h", dir_, "-p", std::to_string(port), "-d", "order_db", "-c",
                              "SELECT count(*) FROM orders"},
                             out);
    RunAsPostgres({"/usr/lib/postgresql/15/bin/pg_ctl", "-D", pgdata, "-m", "immediate", "stop"}, log);
    ASSERT_EQ(psql, 0) << testing::ReadFile(out);
    EXPECT_EQ(testing::ReadFile(out), "500\n");
}

TEST_F(BackupTest, AFailedSyncIsReportedAndTheNextDayCarriesEverything) {
    // A 4-second "day" and an unreachable provider: the failed call spends the day's quota and is reported.
    Env short_day{{"VALERIX_BACKUP_SYNC_DAY_S", "4"}, {"VALERIX_BACKUP_SYNC_OFFSET_S", "0"},
                  {"VALERIX_BACKUP_SYNC_AUTO", "false"}};
    Env unreachable = short_day;
    unreachable.emplace_back("VALERIX_BACKUP_EXTERNAL_URL", "http://127.0.0.1:" + std::to_string(testing::FreePort()) + "/");
    StartBackup(unreachable);
    auto full = RunJob("/api/v1/backups", R"({"type":"full","stanza":"order"})");
    ASSERT_EQ(full.at("status").as_string(), "succeeded") << JsonText(full);
    auto failed = RunJob("/api/v1/external-sync");
    EXPECT_EQ(failed.at("status").as_string(), "failed");
    EXPECT_NE(std::string(failed.at("error").as_string()).find("PUT http://127.0.0.1"), std::string::npos)
        << JsonText(failed);
    auto status = ParseObject(Get("/api/v1/external-sync").body);
    EXPECT_EQ(status.at("last_result").at("status").as_string(), "failed");
    EXPECT_TRUE(status.at("last_sync_at").is_null());
    EXPECT_NE(Get("/metrics").body.find("valerix_external_sync_runs_total{outcome=\"failure\"} 1"), std::string::npos);

    // Next "day", with the folder target: the bundle carries every file of the repository, none was lost.
    backup_.reset();
    StartBackup(short_day);
    std::this_thread::sleep_for(4s);
    auto ok = RunJob("/api/v1/external-sync");
    ASSERT_EQ(ok.at("status").as_string(), "succeeded") << JsonText(ok);
    int repo_files = 0;
    for (const auto& entry : fs::recursive_directory_iterator(dir_ + "/repo")) repo_files += entry.is_regular_file();
    EXPECT_GE(ok.at("result").at("files").as_int64(), repo_files - 2) << JsonText(ok);  // WAL may have grown since
}

/// The command line of process `pid` (arguments separated by NULs), or "" when it is gone.
std::string CommandLine(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

/// PIDs of the children of `parent` whose command line contains `needle`.
std::vector<pid_t> ChildrenWith(pid_t parent, const std::string& needle) {
    std::vector<pid_t> found;
    for (const auto& entry : fs::directory_iterator("/proc")) {
        const std::string name = entry.path().filename();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream stat(entry.path() / "stat");
        std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
        auto after_name = text.rfind(')');  // "pid (comm) state ppid ..."
        if (after_name == std::string::npos) continue;
        std::istringstream fields(text.substr(after_name + 1));
        std::string state;
        pid_t ppid = 0;
        fields >> state >> ppid;
        if (ppid == parent && CommandLine(std::stoi(name)).find(needle) != std::string::npos) {
            found.push_back(std::stoi(name));
        }
    }
    return found;
}

TEST_F(BackupTest, ShutdownDuringASyncEndsItsUploadAndReportsTheFailure) {
    // A provider that accepts the connection and never answers: the upload (curl) would wait its whole timeout.
    // SIGTERM to the service must end it — no child outlives the service — and the spent call is reported failed.
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor silent(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    const std::string url = "http://127.0.0.1:" + std::to_string(silent.local_endpoint().port()) + "/";
    Env hanging{{"VALERIX_BACKUP_EXTERNAL_URL", url}};
    StartBackup(hanging);
    auto full = RunJob("/api/v1/backups", R"({"type":"full","stanza":"order"})");
    ASSERT_EQ(full.at("status").as_string(), "succeeded") << JsonText(full);
    auto accepted = Post("/api/v1/external-sync");
    ASSERT_EQ(accepted.status, 202) << accepted.body;
    const std::string job_id(ParseObject(accepted.body).at("job_id").as_string());
    std::vector<pid_t> uploads;
    for (int i = 0; i < 300 && uploads.empty(); ++i) {
        std::this_thread::sleep_for(100ms);
        uploads = ChildrenWith(backup_->Process().Pid(), "--upload-file");
    }
    ASSERT_EQ(uploads.size(), 1u) << "the upload never started";
    EXPECT_EQ(CommandLine(uploads[0]).find(std::to_string(silent.local_endpoint().port())), std::string::npos)
        << "the target URL (it may hold credentials) is not on curl's command line, which ps shows";

    const auto signalled = std::chrono::steady_clock::now();
    backup_->Process().Signal(SIGTERM);
    int status = backup_->Process().Wait(30s);
    EXPECT_LT(std::chrono::steady_clock::now() - signalled, 15s) << "exit " << status;
    EXPECT_EQ(status, 0) << backup_->Process().Log();
    auto upload_running = [&] { return CommandLine(uploads[0]).find("--upload-file") != std::string::npos; };
    for (int i = 0; i < 20 && upload_running(); ++i) std::this_thread::sleep_for(100ms);
    EXPECT_FALSE(upload_running()) << "the upload outlived the service";

    backup_.reset();
    StartBackup(hanging);
    auto job = ParseObject(Get("/api/v1/backups/jobs/" + job_id).body);
    EXPECT_EQ(job.at("status").as_string(), "failed") << JsonText(job);
    EXPECT_NE(JsonText(job).find("shutting down"), std::string::npos) << JsonText(job);
    auto sync = ParseObject(Get("/api/v1/external-sync").body);
    EXPECT_EQ(sync.at("last_result").at("status").as_string(), "failed") << JsonText(sync);
}

TEST_F(BackupTest, AKilledServiceLeavesNoUploadRunningAndNoCredentialsBehind) {
    // SIGKILL (a crash, an OOM kill) runs no clean-up: the upload went on as an orphan, and the bundle and the
    // upload's config file (the target URL with its password) stayed in the scratch folder for good.
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor silent(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    const std::string url = "http://user:s3cret@127.0.0.1:" + std::to_string(silent.local_endpoint().port()) + "/";
    Env hanging{{"VALERIX_BACKUP_EXTERNAL_URL", url}, {"VALERIX_BACKUP_SYNC_AUTO", "false"}};
    StartBackup(hanging);
    auto full = RunJob("/api/v1/backups", R"({"type":"full","stanza":"order"})");
    ASSERT_EQ(full.at("status").as_string(), "succeeded") << JsonText(full);
    ASSERT_EQ(Post("/api/v1/external-sync").status, 202);
    std::vector<pid_t> uploads;
    for (int i = 0; i < 300 && uploads.empty(); ++i) {
        std::this_thread::sleep_for(100ms);
        uploads = ChildrenWith(backup_->Process().Pid(), "--upload-file");
    }
    ASSERT_EQ(uploads.size(), 1u) << "the upload never started";
    const std::string scratch = dir_ + "/state/scratch";
    fs::create_directories(scratch + "/drill-order-1-2/data");  // as a killed drill leaves its folder, and owned
    struct stat owner {};                                         // by the service's user, as that one is
    ASSERT_EQ(::stat(scratch.c_str(), &owner), 0);
    for (const auto& folder : {scratch + "/drill-order-1-2", scratch + "/drill-order-1-2/data"}) {
        ASSERT_EQ(::chown(folder.c_str(), owner.st_uid, owner.st_gid), 0) << std::strerror(errno);
    }
    backup_->Kill();
    auto upload_running = [&] { return CommandLine(uploads[0]).find("--upload-file") != std::string::npos; };
    for (int i = 0; i < 30 && upload_running(); ++i) std::this_thread::sleep_for(100ms);
    EXPECT_FALSE(upload_running()) << "the upload outlived the killed service";

    StartBackup(hanging);
    std::vector<std::string> left;
    for (int i = 0; i < 50; ++i) {  // cleaned up by the worker thread, just after start-up
        left.clear();
        for (const auto& entry : fs::recursive_directory_iterator(scratch)) left.push_back(entry.path().string());
        if (left.empty()) break;
        std::this_thread::sleep_for(100ms);
    }
    EXPECT_TRUE(left.empty()) << left.size() << " left, e.g. " << left.front();
    auto sync = ParseObject(Get("/api/v1/external-sync").body);
    EXPECT_EQ(sync.at("last_result").at("status").as_string(), "failed") << JsonText(sync);
    EXPECT_NE(JsonText(sync).find("interrupted"), std::string::npos) << JsonText(sync);
    EXPECT_EQ(JsonText(sync).find("s3cret"), std::string::npos);
}

TEST_F(BackupTest, ADrillClusterLeftRunningByAKilledServiceIsStoppedThenRemoved) {
    // A drill's restored cluster is started by pg_ctl and outlives a killed service (its postmaster is not the
    // service's child). The next start must stop it before removing its folder: removing a running cluster's data
    // would leave a server running without files, holding its memory and socket.
    const std::string drill = dir_ + "/state/scratch/drill-order-9-9";
    const std::string pgdata = drill + "/data";
    const std::string log = dir_ + "/leftover.log";
    fs::create_directories(drill);
    ChownToPostgres(dir_ + "/state");
    ASSERT_EQ(RunAsPostgres({"/usr/lib/postgresql/15/bin/initdb", "-D", pgdata, "-A", "trust", "-U", "postgres"}, log),
              0)
        << testing::ReadFile(log);
    std::ofstream(pgdata + "/postgresql.auto.conf", std::ios::app)
        << "\nlisten_addresses = ''\nunix_socket_directories = '" << drill << "'\n";
    const std::string server_log = dir_ + "/leftover-postgres.log";  // outside the folder the service removes
    ASSERT_EQ(RunAsPostgres({"/usr/lib/postgresql/15/bin/pg_ctl", "-D", pgdata, "-l", server_log, "-w", "-t", "60",
                             "start"},
                            log),
              0)
        << testing::ReadFile(log);
    const pid_t postmaster = std::stoi(testing::ReadFile(pgdata + "/postmaster.pid"));
    ASSERT_GT(postmaster, 1);
    struct StopIfLeft {  // the test started it, so the test stops it if the service did not
        pid_t pid;
        ~StopIfLeft() {
            if (::kill(pid, 0) == 0) ::kill(pid, SIGQUIT);
        }
    } guard{postmaster};

    StartBackup();
    bool gone = false;
    for (int i = 0; i < 300 && !gone; ++i) {  // the worker thread stops it (immediate mode), then removes the folder
        gone = ::kill(postmaster, 0) != 0 && !fs::exists(drill);
        if (!gone) std::this_thread::sleep_for(100ms);
    }
    EXPECT_NE(::kill(postmaster, 0), 0) << "the leftover cluster still runs (pid " << postmaster << ")";
    EXPECT_FALSE(fs::exists(drill)) << "its folder is still there";
    // Stopped by the service, not ended by PostgreSQL itself finding its files gone (which it also does, later).
    EXPECT_NE(testing::ReadFile(server_log).find("received immediate shutdown request"), std::string::npos)
        << testing::ReadFile(server_log);
    EXPECT_NE(backup_->Process().Log().find("stopped a drill's scratch cluster left running"), std::string::npos)
        << backup_->Process().Log();
    EXPECT_EQ(Get("/live").status, 200);
}

// Backups of each stanza per type, from GET /api/v1/backups.
std::map<std::string, int> CountBackups(const json::object& listing) {
    std::map<std::string, int> counts;
    for (const auto& stanza : listing.at("stanzas").as_array()) {
        for (const auto& b : stanza.at("backups").as_array()) {
            ++counts[std::string(stanza.at("name").as_string()) + ":" + std::string(b.at("type").as_string())];
        }
    }
    return counts;
}

TEST_F(BackupTest, ASyncThatNeverStartedSpendsNoCallOfTheDay) {
    // A sync queued behind a slow backup when the service stops never called the target. Its call used to be spent
    // when it was queued: after the restart the day's sync was refused (429) though none had been made.
    const std::string bin = dir_ + "/bin";
    fs::create_directories(bin);
    std::ofstream(bin + "/pgbackrest") << "#!/bin/sh\nfor a in \"$@\"; do\n  [ \"$a\" = backup ] && sleep 8\ndone\n"
                                       << "exec /usr/bin/pgbackrest \"$@\"\n";
    fs::permissions(bin + "/pgbackrest", fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                             fs::perms::others_read | fs::perms::others_exec);
    StartBackup({{"PATH", bin + ":" + std::getenv("PATH")}, {"VALERIX_BACKUP_SYNC_AUTO", "false"}});
    ASSERT_EQ(Post("/api/v1/backups", R"({"type":"full","stanza":"order"})").status, 202);
    std::this_thread::sleep_for(1s);  // the backup runs; the sync waits behind it
    auto queued = Post("/api/v1/external-sync");
    ASSERT_EQ(queued.status, 202) << queued.body;
    EXPECT_EQ(ParseObject(Post("/api/v1/external-sync").body).at("job_id"), ParseObject(queued.body).at("job_id"))
        << "one waiting sync at most: asked again, the same job";
    backup_.reset();  // SIGTERM: the backup is ended, the sync never starts
    StartBackup({{"VALERIX_BACKUP_SYNC_AUTO", "false"}});
    auto status = ParseObject(Get("/api/v1/external-sync").body);
    EXPECT_EQ(status.at("calls_today").as_int64(), 0) << JsonText(status);
    auto again = Post("/api/v1/external-sync");
    EXPECT_EQ(again.status, 202) << again.body;
}

TEST_F(BackupTest, ABackupThatCannotBeListedAfterwardsIsNotNamedAfterThePreviousOne) {
    // pgbackrest info failing right after a backup left the old listing in place, and the job's step took its
    // newest backup - the previous one - for this one: its label, type and size, and a drill would later check this
    // job's row counts against that older backup.
    const std::string bin = dir_ + "/bin", arm = bin + "/arm", broken = bin + "/info-broken";
    fs::create_directories(bin);
    fs::permissions(bin, fs::perms::all);  // the service's user writes the flag
    std::ofstream(bin + "/pgbackrest")
        << "#!/bin/sh\nfor a in \"$@\"; do\n  if [ \"$a\" = info ] && [ -e '" << broken << "' ]; then\n"
        << "    echo 'simulated: repository listing unavailable' >&2; exit 49\n  fi\ndone\n"
        << "/usr/bin/pgbackrest \"$@\"; rc=$?\n"
        << "for a in \"$@\"; do [ \"$a\" = backup ] && [ -e '" << arm << "' ] && touch '" << broken << "'; done\n"
        << "exit $rc\n";
    fs::permissions(bin + "/pgbackrest", fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                             fs::perms::others_read | fs::perms::others_exec);
    StartBackup({{"PATH", bin + ":" + std::getenv("PATH")}});
    auto first = RunJob("/api/v1/backups", R"({"type":"full","stanza":"order"})");
    ASSERT_EQ(first.at("status").as_string(), "succeeded") << JsonText(first);
    const auto first_label = first.at("steps").at(0).at("label");
    std::ofstream(arm) << "1\n";
    auto second = RunJob("/api/v1/backups", R"({"type":"incr","stanza":"order"})");
    ASSERT_EQ(second.at("status").as_string(), "succeeded") << JsonText(second);
    const auto& step = second.at("steps").at(0).as_object();
    EXPECT_FALSE(step.contains("label") && step.at("label") == first_label) << JsonText(step);
    EXPECT_TRUE(step.contains("listing_error")) << JsonText(step);
    fs::remove(broken);
}

TEST_F(BackupTest, AStanzaPgBackRestCannotListGetsNoScheduledFull) {
    // `pgbackrest info` answers with status 99 and no backups for a stanza whose backup.info it cannot read. Taken
    // as "no full yet", that scheduled a full backup, which would expire the oldest kept full early.
    StartBackup();
    auto full = RunJob("/api/v1/backups", R"({"type":"full"})");
    ASSERT_EQ(full.at("status").as_string(), "succeeded") << JsonText(full);
    backup_.reset();
    Env schedule{{"VALERIX_BACKUP_SCHEDULE", "true"}, {"VALERIX_BACKUP_DRILL_INTERVAL_S", "0"},
                 {"VALERIX_BACKUP_SYNC_AUTO", "false"}};
    const std::string info = dir_ + "/repo/backup/order/backup.info";
    for (const auto& file : {info, info + ".copy"}) fs::permissions(file, fs::perms::none);
    StartBackup(schedule);
    std::this_thread::sleep_for(6s);
    auto jobs = ParseObject(Get("/api/v1/backups/jobs").body).at("jobs").as_array();
    for (const auto& job : jobs) EXPECT_NE(job.at("trigger").as_string(), "schedule") << JsonText(job);
    for (const auto& file : {info, info + ".copy"}) {
        fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
    }
}

TEST_F(BackupTest, TheScheduleSurvivesRestartsWithoutDoubleOrMissedRuns) {
    // Incrementals every 20 s; drills and the sync off so only backups run.
    Env schedule{{"VALERIX_BACKUP_SCHEDULE", "true"}, {"VALERIX_BACKUP_INCR_INTERVAL_S", "20"},
                 {"VALERIX_BACKUP_DRILL_INTERVAL_S", "0"}, {"VALERIX_BACKUP_SYNC_AUTO", "false"}};
    StartBackup(schedule);
    auto listing = [&] { return CountBackups(ParseObject(Get("/api/v1/backups").body)); };
    auto until = std::chrono::steady_clock::now() + 90s;
    while (!(listing()["order:full"] == 1 && listing()["inventory:full"] == 1) &&
           std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(300ms);
    }
    ASSERT_EQ(listing()["order:full"], 1) << "first run: a full backup of each stanza";
    ASSERT_EQ(listing()["inventory:full"], 1);

    // A restart while `pgbackrest info` fails: without a listing the schedule cannot know what the repository holds,
    // so it waits (a stale or empty listing would run a full of every stanza again). Then the listing comes back,
    // and nothing is due, so nothing runs again.
    auto job_count = [&] { return ParseObject(Get("/api/v1/backups/jobs").body).at("jobs").as_array().size(); };
    const auto jobs_before = job_count();
    const std::string fail_flag = dir_ + "/fail-info", bin = dir_ + "/bin";
    fs::create_directories(bin);
    std::ofstream(bin + "/pgbackrest")
        << "#!/bin/sh\nfor a in \"$@\"; do\n  if [ \"$a\" = info ] && [ -e '" << fail_flag << "' ]; then\n"
        << "    echo 'simulated: repository storage unavailable' >&2; exit 49\n  fi\ndone\n"
        << "exec /usr/bin/pgbackrest \"$@\"\n";
    fs::permissions(bin + "/pgbackrest", fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                             fs::perms::others_read | fs::perms::others_exec);
    std::ofstream(fail_flag) << "1\n";
    Env failing_info = schedule;
    failing_info.emplace_back("PATH", bin + ":" + std::getenv("PATH"));
    backup_.reset();
    StartBackup(failing_info);
    std::this_thread::sleep_for(4s);
    EXPECT_NE(Get("/api/v1/backups").body.find("simulated: repository storage unavailable"), std::string::npos)
        << Get("/api/v1/backups").body;
    EXPECT_EQ(job_count(), jobs_before) << "nothing is scheduled without a listing";
    fs::remove(fail_flag);
    std::this_thread::sleep_for(4s);
    auto after_restart = listing();
    EXPECT_EQ(after_restart["order:full"], 1);
    EXPECT_EQ(after_restart["order:incr"], 0);
    EXPECT_EQ(after_restart["inventory:incr"], 0);

    // Down past the interval: the overdue incremental runs as soon as the service is back, once per stanza.
    backup_.reset();
    std::this_thread::sleep_for(21s);
    StartBackup(schedule);
    until = std::chrono::steady_clock::now() + 60s;
    while (!(listing()["order:incr"] >= 1 && listing()["inventory:incr"] >= 1) &&
           std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(300ms);
    }
    auto caught_up = listing();
    EXPECT_EQ(caught_up["order:incr"], 1);
    EXPECT_EQ(caught_up["inventory:incr"], 1);
    EXPECT_EQ(caught_up["order:full"], 1);
    // Every scheduled job is on record with its trigger.
    auto jobs = ParseObject(Get("/api/v1/backups/jobs").body).at("jobs").as_array();
    int scheduled = 0;
    for (const auto& job : jobs) scheduled += job.at("trigger").as_string() == "schedule";
    EXPECT_GE(scheduled, 4);
}

TEST_F(BackupTest, BadRequestsAreRefusedClearly) {
    StartBackup();
    EXPECT_EQ(Post("/api/v1/backups", R"({"type":"full"})", {}).status, 401);
    EXPECT_EQ(Post("/api/v1/backups", R"({"type":"full"})", {{"Authorization", "Bearer wrong"}}).status, 401);
    EXPECT_EQ(Post("/api/v1/external-sync", "", {}).status, 401);
    EXPECT_EQ(Post("/api/v1/restore-drills", "", {}).status, 401);
    auto weekly = Post("/api/v1/backups", R"({"type":"weekly"})");
    EXPECT_EQ(weekly.status, 422) << weekly.body;
    EXPECT_EQ(ParseObject(weekly.body).at("code").as_string(), "invalid_backup_type");
    EXPECT_EQ(Post("/api/v1/backups", R"({})").status, 422);
    EXPECT_EQ(Post("/api/v1/backups", R"({"type":"full","extra":1})").status, 422);
    EXPECT_EQ(ParseObject(Post("/api/v1/backups", R"({"type":"full","stanza":"billing"})").body).at("code").as_string(),
              "unknown_stanza");
    EXPECT_EQ(Post("/api/v1/backups", "not json").status, 400);
    EXPECT_EQ(Get("/api/v1/backups/jobs/no-such-job").status, 404);
    EXPECT_EQ(Get("/api/v1/restore-drills/latest").status, 404);
    EXPECT_EQ(Get("/live").status, 200);
}

TEST_F(BackupTest, AFailingPgBackRestIsAFailedJobWithItsErrorAndTheServiceKeepsRunning) {
    StartBackup();
    auto health = [&] { return Get("/health"); };
    auto wait_healthy = [&] {
        auto until = std::chrono::steady_clock::now() + 60s;
        while (health().status != 200 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(300ms);
        return health();
    };
    // Stanzas are created at start-up, so `pgbackrest check` passes before any backup.
    ASSERT_EQ(wait_healthy().status, 200) << health().body;
    // The repository becomes unwritable for the postgres user.
    ASSERT_EQ(std::system(("chmod -R u-w '" + dir_ + "/repo'").c_str()), 0);
    auto job = RunJob("/api/v1/backups", R"({"type":"full","stanza":"order"})");
    ASSERT_EQ(std::system(("chmod -R u+w '" + dir_ + "/repo'").c_str()), 0);
    EXPECT_EQ(job.at("status").as_string(), "failed");
    std::string error(job.at("error").as_string());
    EXPECT_NE(error.find("order: "), std::string::npos) << error;
    EXPECT_NE(error.find("exit "), std::string::npos) << error;
    EXPECT_NE(Get("/metrics").body.find(
                  "valerix_backup_runs_total{stanza=\"order\",type=\"full\",outcome=\"failure\"} 1"),
              std::string::npos);
    EXPECT_EQ(Get("/live").status, 200);
    // Writable again: the next backup works.
    auto retry = RunJob("/api/v1/backups", R"({"type":"full","stanza":"order"})");
    EXPECT_EQ(retry.at("status").as_string(), "succeeded") << JsonText(retry);
    EXPECT_EQ(wait_healthy().status, 200) << health().body;
}

}  // namespace
}  // namespace valerix::functional
