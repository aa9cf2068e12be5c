#include <thread>

#include <gtest/gtest.h>

#include "pgbackrest/pgbackrest.hpp"
#include "process/run.hpp"
#include "sync/external_sync.hpp"

namespace valerix::backup {
namespace {

TEST(PgBackRestConfig, ReadsRepositoryAndStanzas) {
    std::vector<std::string> problems;
    auto settings = ParsePgBackRestConfig(R"(
# comment
[global]
repo1-path=/var/lib/valerix/backup-storage
repo1-cipher-type = aes-256-cbc
repo1-cipher-pass=never-read-by-the-service

[global:archive-push]
compress-level=3

[order]
pg1-path=/data/order
pg1-port=5432
pg1-socket-path=/run/valerix

[inventory]
pg1-path=/data/inventory
pg1-port=5433
pg1-host=inventory-db
pg1-user=backup
)",
                                          "test.conf", problems);
    EXPECT_TRUE(problems.empty()) << problems.front();
    EXPECT_EQ(settings.repo_path, "/var/lib/valerix/backup-storage");
    EXPECT_TRUE(settings.encrypted);
    ASSERT_EQ(settings.stanzas.size(), 2u);
    EXPECT_EQ(settings.stanzas[0].name, "order");
    EXPECT_EQ(settings.stanzas[0].pg_port, 5432);
    EXPECT_EQ(settings.stanzas[0].pg_socket_path, "/run/valerix");
    EXPECT_EQ(settings.stanzas[0].pg_user, "postgres");
    EXPECT_EQ(settings.stanzas[1].name, "inventory");
    EXPECT_EQ(settings.stanzas[1].pg_host, "inventory-db");
    EXPECT_EQ(settings.stanzas[1].pg_user, "backup");
}

TEST(PgBackRestConfig, ReportsEveryProblem) {
    std::vector<std::string> problems;
    ParsePgBackRestConfig("[global]\nnot a key value\n[order]\npg1-port=99999\n", "bad.conf", problems);
    ASSERT_EQ(problems.size(), 4u);
    EXPECT_NE(problems[0].find("key=value"), std::string::npos);
    EXPECT_NE(problems[1].find("repo1-path"), std::string::npos);
    EXPECT_NE(problems[2].find("pg1-port"), std::string::npos);
    EXPECT_NE(problems[3].find("pg1-path"), std::string::npos);
}

TEST(PgBackRestInfo, ParsesBackupsOfEachStanza) {
    std::string error;
    auto info = ParseInfoJson(R"([{"name":"order","status":{"code":0,"message":"ok"},
        "archive":[{"min":"000000010000000000000001","max":"000000010000000000000004"}],
        "backup":[{"label":"20261125-173602F","type":"full","timestamp":{"start":1795628162,"stop":1795628165},
                   "info":{"size":23697173,"delta":23697173,"repository":{"size":2886368,"delta":2886368}},
                   "archive":{"start":"000000010000000000000002","stop":"000000010000000000000002"}},
                  {"label":"20261125-173602F_20261125-173606I","type":"incr",
                   "timestamp":{"start":1795628166,"stop":1795628169},
                   "info":{"size":23697173,"delta":8458,"repository":{"size":2886368,"delta":464}}}]},
        {"name":"inventory","status":{"code":1,"message":"missing stanza path"},"backup":[]}])",
                              error);
    ASSERT_TRUE(info) << error;
    ASSERT_EQ(info->size(), 2u);
    const auto& order = (*info)[0];
    EXPECT_EQ(order.status_code, 0);
    ASSERT_EQ(order.backups.size(), 2u);
    EXPECT_EQ(order.backups[0].type, "full");
    EXPECT_EQ(order.backups[0].finished_at, 1795628165);
    EXPECT_EQ(order.backups[0].repo_size_bytes, 2886368);
    EXPECT_EQ(order.backups[1].type, "incr");
    EXPECT_EQ(order.backups[1].repo_size_bytes, 464);
    EXPECT_EQ(order.archive_max, "000000010000000000000004");
    EXPECT_EQ((*info)[1].status_message, "missing stanza path");
    EXPECT_FALSE(ParseInfoJson("not json", error));
}

TEST(RunProcess, CapturesOutputAndExitCode) {
    auto r = RunProcess({"sh", "-c", "echo out; echo err >&2; exit 3"});
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_EQ(r.out, "out\n");
    EXPECT_EQ(r.err, "err\n");
    EXPECT_EQ(r.Summary(), "exit 3: err");
}

TEST(RunProcess, SummaryNamesTheErrorNotTheHintBelowIt) {
    // What pgBackRest writes when its database is down: the hint alone would send the reader to look for recovery.
    auto r = RunProcess({"sh", "-c",
                         "echo 'P00   INFO: backup command begin' >&2; "
                         "echo 'ERROR: [056]: unable to find primary cluster - cannot proceed' >&2; "
                         "echo '       HINT: are all available clusters in recovery?' >&2; exit 56"});
    EXPECT_EQ(r.Summary(),
              "exit 56: ERROR: [056]: unable to find primary cluster - cannot proceed HINT: are all available "
              "clusters in recovery?");
    auto plain = RunProcess({"sh", "-c", "echo first >&2; echo 'no error word here' >&2; exit 1"});
    EXPECT_EQ(plain.Summary(), "exit 1: no error word here");
}

TEST(RunProcess, KeepsTheEndOfLongOutputAndSaysWhenItCutStdout) {
    // 400 kB on stdout: past the default cap only its end is kept, and the result says so; with room for it (a JSON
    // listing parsed whole, kListingCap) all of it.
    const std::vector<std::string> argv{"sh", "-c", "head -c 400000 /dev/zero | tr '\\0' x; echo end"};
    auto cut = RunProcess(argv);
    EXPECT_TRUE(cut.Ok());
    EXPECT_TRUE(cut.out_truncated);
    EXPECT_EQ(cut.out.size(), ProcessOptions{}.output_cap);
    EXPECT_TRUE(cut.out.ends_with("xend\n"));
    ProcessOptions roomy;
    roomy.output_cap = kListingCap;
    auto whole = RunProcess(argv, roomy);
    EXPECT_FALSE(whole.out_truncated);
    EXPECT_EQ(whole.out.size(), 400000u + 4u);
    EXPECT_FALSE(RunProcess({"sh", "-c", "echo short"}).out_truncated);
}

TEST(RunProcess, ReportsAMissingProgramAndTimeouts) {
    auto missing = RunProcess({"valerix-no-such-program"});
    EXPECT_EQ(missing.exit_code, -1);
    EXPECT_NE(missing.err.find("No such file"), std::string::npos);
    ProcessOptions options;
    options.timeout = std::chrono::milliseconds(200);
    auto slow = RunProcess({"sleep", "30"}, options);
    EXPECT_TRUE(slow.timed_out);
    EXPECT_FALSE(slow.Ok());
}

TEST(RunProcess, StopProcessesEndsRunningChildrenAndStartsNoNewOnesButACleanup) {
    ProcessResult slow;
    std::thread running([&] { slow = RunProcess({"sh", "-c", "sleep 30"}); });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const auto stopped_at = std::chrono::steady_clock::now();
    StopProcesses();
    running.join();
    EXPECT_LT(std::chrono::steady_clock::now() - stopped_at, std::chrono::seconds(3));
    EXPECT_TRUE(slow.stopped);
    EXPECT_FALSE(slow.Ok());
    EXPECT_NE(slow.Summary().find("shutting down"), std::string::npos) << slow.Summary();
    auto refused = RunProcess({"true"});
    EXPECT_TRUE(refused.stopped);
    EXPECT_EQ(refused.exit_code, -1);
    ProcessOptions cleanup;
    cleanup.stoppable = false;
    EXPECT_TRUE(RunProcess({"sh", "-c", "sleep 1.2; exit 0"}, cleanup).Ok()) << "a cleanup still runs to its end";
    AllowProcesses();
    EXPECT_TRUE(RunProcess({"true"}).Ok());
}

TEST(ExternalSync, TheTargetUrlIsShownWithoutItsCredentials) {
    EXPECT_EQ(RedactedUrl("https://key:secret@backups.example.com/valerix/?X-Amz-Signature=abc&x=1"),
              "https://***@backups.example.com/valerix/?***");
    EXPECT_EQ(RedactedUrl("http://127.0.0.1:8000/bundles/"), "http://127.0.0.1:8000/bundles/");
    EXPECT_EQ(RedactedUrl("https://host/path/with@sign"), "https://host/path/with@sign");
    EXPECT_EQ(RedactedUrl("https://user@host"), "https://***@host");
    // Unencoded '/' or '?' in a secret (AWS-style keys have '/') must not end what is hidden.
    EXPECT_EQ(RedactedUrl("https://AKIAEXAMPLE:wJalrXUt/K7MDENG@s3.example.com/bucket/"),
              "https://***@s3.example.com/bucket/");
    EXPECT_EQ(RedactedUrl("https://key:pa?ss@host/?sig=1"), "https://***@host/?***");
    EXPECT_EQ(RedactedUrl("https://key:pa#ss@host/x"), "https://***@host/x");
    EXPECT_EQ(RedactedUrl("https://TOKEN@host/up?owner=me@x.com"), "https://***@host/up?***");
    EXPECT_EQ(RedactedUrl("https://user:p@ss@host/x@y"), "https://***@host/x@y");
    ExternalTarget target;
    target.url = "https://key:secret@backups.example.com/?token=t0p";
    EXPECT_EQ(target.Describe(), "PUT https://***@backups.example.com/?***");
}

TEST(ExternalSync, SendsOnlyNewOrChangedFiles) {
    std::map<std::string, std::string> synced{{"archive/order/a.zst", "10:1"}, {"backup/order/backup.info", "5:1"}};
    std::map<std::string, std::string> current{{"archive/order/a.zst", "10:1"},
                                               {"archive/order/b.zst", "12:2"},
                                               {"backup/order/backup.info", "6:3"}};
    EXPECT_EQ(FilesToSync(current, synced),
              (std::vector<std::string>{"archive/order/b.zst", "backup/order/backup.info"}));
}

}  // namespace
}  // namespace valerix::backup
