#include <gtest/gtest.h>

#include "jobs/policy.hpp"

namespace valerix::backup {
namespace {

constexpr std::int64_t kHour = 3600;
constexpr std::int64_t kDay = 24 * kHour;
constexpr std::int64_t kNow = 1'795'000'000;  // an arbitrary time in 2026

StanzaScheduleView View(std::optional<std::int64_t> full, std::optional<std::int64_t> any,
                        std::optional<std::int64_t> failure = std::nullopt, bool pending = false) {
    StanzaScheduleView view;
    view.last_full_at = full;
    view.last_backup_at = any;
    view.last_failure_at = failure;
    view.backup_pending = pending;
    return view;
}

TEST(DueBackupType, FirstRunIsFull) {
    SchedulePolicy policy;
    EXPECT_EQ(DueBackupType({}, kNow, policy), "full");
}

TEST(DueBackupType, IncrementalEveryFourHoursAfterTheNewestBackup) {
    SchedulePolicy policy;
    auto view = View(kNow - 10 * kHour, kNow - 4 * kHour + 1);
    EXPECT_EQ(DueBackupType(view, kNow, policy), std::nullopt);
    view.last_backup_at = kNow - 4 * kHour;
    EXPECT_EQ(DueBackupType(view, kNow, policy), "incr");
}

TEST(DueBackupType, WeeklyFullWinsOverIncremental) {
    SchedulePolicy policy;
    auto view = View(kNow - 7 * kDay, kNow - 5 * kHour);
    EXPECT_EQ(DueBackupType(view, kNow, policy), "full");
}

TEST(DueBackupType, NothingWhileABackupIsPendingOrRightAfterAFailure) {
    SchedulePolicy policy;
    auto view = View(std::nullopt, std::nullopt, std::nullopt, true);
    EXPECT_EQ(DueBackupType(view, kNow, policy), std::nullopt);
    view = View(std::nullopt, std::nullopt, kNow - policy.retry_after_failure_s + 1);
    EXPECT_EQ(DueBackupType(view, kNow, policy), std::nullopt);
    view.last_failure_at = kNow - policy.retry_after_failure_s;
    EXPECT_EQ(DueBackupType(view, kNow, policy), "full");
}

TEST(DueBackupType, OverdueAfterARestartRunsAtOnceAndOnlyOnce) {
    // The schedule is derived from the repository, not from a timer: a service that was down for a day finds the
    // newest backup 28 h old and runs one incremental now; once it is listed, nothing more is due.
    SchedulePolicy policy;
    auto view = View(kNow - 2 * kDay, kNow - 28 * kHour);
    EXPECT_EQ(DueBackupType(view, kNow, policy), "incr");
    view.last_backup_at = kNow;
    EXPECT_EQ(DueBackupType(view, kNow + 60, policy), std::nullopt);
}

TEST(SyncQuota, OneCallPerUtcDay) {
    SchedulePolicy policy;
    SyncQuota quota;
    std::int64_t day_start = (kNow / kDay) * kDay;
    EXPECT_TRUE(QuotaAvailable(quota, day_start + 10, policy));
    ConsumeQuota(quota, day_start + 10, policy);
    EXPECT_FALSE(QuotaAvailable(quota, day_start + kDay - 1, policy));
    EXPECT_EQ(CallsToday(quota, day_start + kDay - 1, policy), 1);
    EXPECT_EQ(NextAllowedAt(quota, day_start + 100, policy), day_start + kDay);
    EXPECT_TRUE(QuotaAvailable(quota, day_start + kDay, policy));
    EXPECT_EQ(CallsToday(quota, day_start + kDay, policy), 0);
    EXPECT_EQ(NextAllowedAt(quota, day_start + kDay + 5, policy), day_start + kDay + 5);
}

TEST(SyncQuota, AClockSetBackAcrossMidnightDoesNotBuyASecondCall) {
    // The day's call made at 03:00 by a clock running ahead; corrected, the clock reads 23:00 the day before. That is
    // still the day the call was made in: no second call until the day after it.
    SchedulePolicy policy;
    std::int64_t day_start = (kNow / kDay) * kDay;
    SyncQuota quota;
    ConsumeQuota(quota, day_start + 3 * kHour, policy);
    const std::int64_t set_back = day_start - kHour;
    EXPECT_EQ(CallsToday(quota, set_back, policy), 1);
    EXPECT_FALSE(QuotaAvailable(quota, set_back, policy));
    EXPECT_FALSE(SyncDue(quota, set_back, policy, true, false));
    EXPECT_EQ(NextAllowedAt(quota, set_back, policy), day_start + kDay);
    EXPECT_TRUE(QuotaAvailable(quota, day_start + kDay, policy));
    // A day allowing two calls keeps counting on the recorded day meanwhile.
    policy.syncs_per_day = 2;
    ConsumeQuota(quota, set_back, policy);
    EXPECT_EQ(quota.day, DayIndex(day_start, policy));
    EXPECT_EQ(CallsToday(quota, day_start + 5 * kHour, policy), 2);
}

TEST(SyncQuota, ShortDaysForTests) {
    SchedulePolicy policy;
    policy.day_s = 10;
    SyncQuota quota;
    ConsumeQuota(quota, 100, policy);
    EXPECT_FALSE(QuotaAvailable(quota, 109, policy));
    EXPECT_TRUE(QuotaAvailable(quota, 110, policy));
}

TEST(SyncDue, AfterTheOffsetOnlyWithBackupsAndQuota) {
    SchedulePolicy policy;
    std::int64_t day_start = (kNow / kDay) * kDay;
    SyncQuota quota;
    EXPECT_FALSE(SyncDue(quota, day_start + 2 * kHour, policy, true, false));  // before 03:00
    EXPECT_TRUE(SyncDue(quota, day_start + 3 * kHour, policy, true, false));
    EXPECT_TRUE(SyncDue(quota, day_start + 23 * kHour, policy, true, false));  // started late: still that day
    EXPECT_FALSE(SyncDue(quota, day_start + 3 * kHour, policy, false, false));  // nothing to send
    EXPECT_FALSE(SyncDue(quota, day_start + 3 * kHour, policy, true, true));    // one already queued
    ConsumeQuota(quota, day_start + 3 * kHour, policy);
    EXPECT_FALSE(SyncDue(quota, day_start + 4 * kHour, policy, true, false));
    policy.auto_sync = false;
    EXPECT_FALSE(SyncDue(SyncQuota{}, day_start + 4 * kHour, policy, true, false));
}

TEST(SyncDue, ADayAfterTheLastSuccessAsSoonAsTheQuotaAllows) {
    // A manual sync at 00:30 spent that day's call. The next day the sync is due at 00:30 (a day after it), not at
    // 03:00: two working syncs are never more than a day apart, so ExternalSyncStale (26 h) stays quiet.
    SchedulePolicy policy;
    std::int64_t day_start = (kNow / kDay) * kDay;
    SyncQuota quota;
    const std::int64_t manual = day_start + kHour / 2;
    ConsumeQuota(quota, manual, policy);
    EXPECT_FALSE(SyncDue(quota, day_start + 5 * kHour, policy, true, false, manual)) << "that day's call is spent";
    EXPECT_FALSE(SyncDue(quota, day_start + kDay + kHour / 4, policy, true, false, manual)) << "not yet a day";
    EXPECT_TRUE(SyncDue(quota, manual + kDay, policy, true, false, manual));
    // The usual day: synced at 03:00, due again at 03:00, not at midnight.
    SyncQuota daily;
    const std::int64_t at_three = day_start + 3 * kHour;
    ConsumeQuota(daily, at_three, policy);
    EXPECT_FALSE(SyncDue(daily, day_start + kDay + kHour, policy, true, false, at_three));
    EXPECT_TRUE(SyncDue(daily, day_start + kDay + 3 * kHour, policy, true, false, at_three));
}

TEST(DrillDue, DailyAndOnlyWithBackups) {
    SchedulePolicy policy;
    EXPECT_TRUE(DrillDue(std::nullopt, kNow, policy, true, false));
    EXPECT_FALSE(DrillDue(std::nullopt, kNow, policy, false, false));
    EXPECT_FALSE(DrillDue(kNow - kDay + 1, kNow, policy, true, false));
    EXPECT_TRUE(DrillDue(kNow - kDay, kNow, policy, true, false));
    policy.drill_interval_s = 0;
    EXPECT_FALSE(DrillDue(std::nullopt, kNow, policy, true, false));
}

}  // namespace
}  // namespace valerix::backup
