#include "jobs/policy.hpp"

#include <algorithm>

namespace valerix::backup {

std::optional<std::string> DueBackupType(const StanzaScheduleView& view, std::int64_t now, const SchedulePolicy& policy) {
    if (view.backup_pending) return std::nullopt;
    if (view.last_failure_at && now - *view.last_failure_at < policy.retry_after_failure_s) return std::nullopt;
    if (!view.last_full_at || now - *view.last_full_at >= policy.full_interval_s) return "full";
    if (!view.last_backup_at || now - *view.last_backup_at >= policy.incr_interval_s) return "incr";
    return std::nullopt;
}

std::int64_t DayIndex(std::int64_t now, const SchedulePolicy& policy) {
    return now >= 0 ? now / policy.day_s : (now - policy.day_s + 1) / policy.day_s;
}

// A clock set back across midnight (one that ran ahead at boot, then corrected) puts `now` before the day the calls
// were counted on. That time belongs to the counted day: otherwise it would read as a fresh day, and a second call
// would be made within one real day.
int CallsToday(const SyncQuota& quota, std::int64_t now, const SchedulePolicy& policy) {
    return DayIndex(now, policy) <= quota.day ? quota.calls : 0;
}

bool QuotaAvailable(const SyncQuota& quota, std::int64_t now, const SchedulePolicy& policy) {
    return CallsToday(quota, now, policy) < policy.syncs_per_day;
}

std::int64_t NextAllowedAt(const SyncQuota& quota, std::int64_t now, const SchedulePolicy& policy) {
    return QuotaAvailable(quota, now, policy) ? now : (std::max(DayIndex(now, policy), quota.day) + 1) * policy.day_s;
}

void ConsumeQuota(SyncQuota& quota, std::int64_t now, const SchedulePolicy& policy) {
    auto today = DayIndex(now, policy);
    if (today > quota.day) quota = SyncQuota{today, 0};
    ++quota.calls;
}

bool SyncDue(const SyncQuota& quota, std::int64_t now, const SchedulePolicy& policy, bool have_backups, bool pending,
             std::optional<std::int64_t> last_success_at) {
    if (!policy.auto_sync || !have_backups || pending || !QuotaAvailable(quota, now, policy)) return false;
    // A day after the last successful sync it is due as soon as the day's quota allows, whatever the hour: a manual
    // sync at 00:30 spends that day's call, and waiting for the next 03:00 would leave 26.5 h between two working
    // syncs — past ExternalSyncStale's 26 h.
    if (last_success_at && now - *last_success_at >= policy.day_s) return true;
    return now - DayIndex(now, policy) * policy.day_s >= policy.sync_offset_s;
}

bool DrillDue(std::optional<std::int64_t> last_drill_at, std::int64_t now, const SchedulePolicy& policy,
              bool have_backups, bool pending) {
    if (policy.drill_interval_s <= 0 || !have_backups || pending) return false;
    return !last_drill_at || now - *last_drill_at >= policy.drill_interval_s;
}

}  // namespace valerix::backup
