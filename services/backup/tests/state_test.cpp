#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "state/state_store.hpp"

namespace valerix::backup {
namespace {

class StateStoreTest : public ::testing::Test {
protected:
    void SetUp() override {
        char pattern[] = "/tmp/valerix-backup-state-XXXXXX";
        dir_ = ::mkdtemp(pattern);
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }
    std::string dir_;
};

TEST_F(StateStoreTest, RoundTripsAndMarksUnfinishedJobsInterrupted) {
    StateStore store(dir_);
    PersistentState state = store.Load();
    EXPECT_TRUE(state.jobs.empty());
    Job done;
    done.id = "a";
    done.kind = "backup";
    done.type = "full";
    done.stanzas = {"order"};
    done.status = "succeeded";
    done.queued_at = 1;
    done.finished_at = 2;
    Job running = done;
    running.id = "b";
    running.status = "running";
    running.started_at = 3;
    state.jobs = {done, running};
    state.quota = SyncQuota{20000, 1};
    state.synced_files["archive/x"] = "1:2";
    state.last_sync_success_at = 1234;
    store.Save(state);

    auto loaded = StateStore(dir_).Load();
    ASSERT_EQ(loaded.jobs.size(), 2u);
    EXPECT_EQ(loaded.jobs[0].status, "succeeded");
    EXPECT_EQ(loaded.jobs[1].status, "interrupted");
    EXPECT_EQ(loaded.backup_failures.at("order"), 3);  // counts as a failure: retried after the back-off
    EXPECT_EQ(loaded.quota.day, 20000);
    EXPECT_EQ(loaded.quota.calls, 1);
    EXPECT_EQ(loaded.synced_files.at("archive/x"), "1:2");
    EXPECT_EQ(loaded.last_sync_success_at, 1234);
    EXPECT_FALSE(std::filesystem::exists(dir_ + "/state.json.tmp"));
}

TEST(JobTest, TheApiGivesTimesAsUtcTextAndTheStateFileAsUnixSeconds) {
    Job job;
    job.id = "j";
    job.kind = "backup";
    job.queued_at = 1'795'628'160.25;
    job.started_at = 1'795'628'161.5;
    job.finished_at = 1'795'628'165.2504;
    auto api = job.ToApiJson();
    EXPECT_EQ(api.at("queued_at").as_string(), "2026-11-25T17:36:00Z");
    EXPECT_EQ(api.at("started_at").as_string(), "2026-11-25T17:36:01Z");
    EXPECT_EQ(api.at("finished_at").as_string(), "2026-11-25T17:36:05Z");
    EXPECT_DOUBLE_EQ(api.at("duration_s").as_double(), 3.75);
    EXPECT_EQ(Job::FromJson(job.ToJson()).started_at, job.started_at) << "the state file keeps the fractions";

    Job queued;
    queued.queued_at = 1'795'628'160;
    auto waiting = queued.ToApiJson();
    EXPECT_TRUE(waiting.at("started_at").is_null());
    EXPECT_TRUE(waiting.at("finished_at").is_null());
    EXPECT_TRUE(waiting.at("duration_s").is_null());
}

TEST_F(StateStoreTest, ASyncInterruptedAfterItStartedIsReportedAsFailed) {
    StateStore store(dir_);
    PersistentState state;
    Job waiting;
    waiting.id = "never-started";
    waiting.kind = "external_sync";
    waiting.status = "queued";
    waiting.queued_at = 5;
    state.jobs = {waiting};
    state.last_sync_result = boost::json::object{{"status", "succeeded"}, {"job_id", "earlier"}};
    store.Save(state);
    auto loaded = StateStore(dir_).Load();
    EXPECT_EQ(loaded.jobs[0].status, "interrupted");
    EXPECT_EQ(loaded.last_sync_result.at("job_id").as_string(), "earlier") << "it never called: nothing to report";

    Job calling = waiting;
    calling.id = "cut-off";
    calling.status = "running";
    calling.started_at = 1'800'000'000;
    state.jobs = {calling};
    store.Save(state);
    loaded = StateStore(dir_).Load();
    EXPECT_EQ(loaded.last_sync_result.at("status").as_string(), "failed") << "not the earlier success";
    EXPECT_EQ(loaded.last_sync_result.at("job_id").as_string(), "cut-off");
    EXPECT_NE(std::string(loaded.last_sync_result.at("error").as_string()).find("interrupted"), std::string::npos);
}

TEST_F(StateStoreTest, RefusesACorruptFileInsteadOfForgettingTheQuota) {
    std::ofstream(dir_ + "/state.json") << "{not json";
    StateStore store(dir_);
    EXPECT_THROW(store.Load(), std::runtime_error);
}

}  // namespace
}  // namespace valerix::backup
