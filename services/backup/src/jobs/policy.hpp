#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace valerix::backup {

/// When backups, the external sync and restore drills are due. All times are Unix seconds.
struct SchedulePolicy {
    std::int64_t full_interval_s = 7 * 24 * 3600;   ///< a full backup at least this often (and on first run)
    std::int64_t incr_interval_s = 4 * 3600;        ///< an incremental when the newest backup is this old
    std::int64_t retry_after_failure_s = 15 * 60;   ///< wait after a failed scheduled backup before trying again
    std::int64_t drill_interval_s = 24 * 3600;      ///< a restore drill at least this often; 0 = on demand only
    bool auto_sync = true;                          ///< the service makes the day's external sync itself
    std::int64_t sync_offset_s = 3 * 3600;          ///< ... at this offset into the (UTC) day, or later that day
    std::int64_t day_s = 24 * 3600;                 ///< length of a quota "day" (tests shorten it)
    int syncs_per_day = 1;
};

/// What the scheduler knows about one stanza.
struct StanzaScheduleView {
    std::optional<std::int64_t> last_full_at;    ///< end of the newest full backup in the repository
    std::optional<std::int64_t> last_backup_at;  ///< end of the newest backup of any type
    std::optional<std::int64_t> last_failure_at; ///< a failed backup attempt since the newest success
    bool backup_pending = false;                 ///< a backup job of this stanza is queued or running
};

/// "full", "incr", or nullopt when nothing is due.
std::optional<std::string> DueBackupType(const StanzaScheduleView& view, std::int64_t now, const SchedulePolicy& policy);

/// The external-sync quota: calls made in quota day `day` (day index = floor(time / day_s)).
struct SyncQuota {
    std::int64_t day = -1;
    int calls = 0;
};

std::int64_t DayIndex(std::int64_t now, const SchedulePolicy& policy);
int CallsToday(const SyncQuota& quota, std::int64_t now, const SchedulePolicy& policy);
bool QuotaAvailable(const SyncQuota& quota, std::int64_t now, const SchedulePolicy& policy);
/// Now when a call is allowed, else the start of the quota day after the one the calls were counted on. A clock set
/// back before that day counts as still in it (see CallsToday).
std::int64_t NextAllowedAt(const SyncQuota& quota, std::int64_t now, const SchedulePolicy& policy);
/// Records one call at `now` (the caller checked QuotaAvailable).
void ConsumeQuota(SyncQuota& quota, std::int64_t now, const SchedulePolicy& policy);

/// The automatic daily sync is due: enabled, quota left today, past the day's offset, something to send, and no
/// sync queued or running.
bool SyncDue(const SyncQuota& quota, std::int64_t now, const SchedulePolicy& policy, bool have_backups, bool pending,
             std::optional<std::int64_t> last_success_at = std::nullopt);

/// A scheduled restore drill is due.
bool DrillDue(std::optional<std::int64_t> last_drill_at, std::int64_t now, const SchedulePolicy& policy,
              bool have_backups, bool pending);

}  // namespace valerix::backup
