#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include <boost/json/object.hpp>

#include <valerix/core/logging.hpp>
#include <valerix/core/random.hpp>
#include <valerix/metrics/registry.hpp>

#include "drill/restore_drill.hpp"
#include "jobs/policy.hpp"
#include "pgbackrest/pgbackrest.hpp"
#include "state/state_store.hpp"
#include "sync/external_sync.hpp"

namespace valerix::backup {

struct EngineConfig {
    RepoSettings repo;
    SchedulePolicy policy;
    ExternalTarget external;
    DrillSettings drill;
    std::map<std::string, std::string> databases;                  ///< stanza -> application database
    std::map<std::string, std::vector<std::string>> count_tables;  ///< stanza -> tables counted around backups
    bool schedule_enabled = true;
    std::chrono::milliseconds tick{5000};          ///< how often the scheduler looks at what is due
    std::chrono::seconds info_interval{30};        ///< refresh of the backup listing and stanza status
    std::chrono::seconds check_interval{1800};     ///< `pgbackrest check` (forces a WAL switch, so not too often)
};

/// Why a submission was refused (mapped to an HTTP problem by the API).
struct Refusal {
    int status;
    std::string code;
    std::string detail;
    std::int64_t next_allowed_at = 0;
};

/// The backup-service's core: a job queue run by one worker thread (one pgBackRest job at a time, so never two
/// backups of a stanza at once), the schedule, the persisted evidence, and a monitor thread that keeps the backup
/// listing and health fresh. Public methods are thread-safe and never block on pgBackRest: the API calls them from
/// the I/O thread.
class BackupEngine {
public:
    BackupEngine(EngineConfig config, StateStore& store, metrics::Registry& registry, core::Logger& logger,
                 core::Random& random);
    ~BackupEngine();
    BackupEngine(const BackupEngine&) = delete;
    BackupEngine& operator=(const BackupEngine&) = delete;

    /// Loads the persisted state and starts the worker and monitor threads. Throws when the state is unreadable.
    void Start();
    /// Stops both threads; a running pgBackRest process is asked to stop (SIGTERM) and its job recorded as failed.
    void Stop();

    /// Queues a backup of `stanzas` (all when empty). An identical job still queued is returned instead.
    std::variant<Job, Refusal> SubmitBackup(const std::string& type, std::vector<std::string> stanzas,
                                            const std::string& trigger);
    /// Queues the day's external sync, consuming the quota (persisted before the job runs).
    std::variant<Job, Refusal> SubmitExternalSync(const std::string& trigger);
    std::variant<Job, Refusal> SubmitRestoreDrill(const std::string& trigger);

    std::optional<Job> FindJob(const std::string& id) const;
    std::vector<Job> RecentJobs(std::size_t limit) const;
    /// {"stanzas":[{"name","status","backups":[...]}], "listed_at"}
    boost::json::object Backups() const;
    boost::json::object ExternalSyncStatus() const;
    std::optional<boost::json::object> LatestDrill() const;
    /// {"ok", "checks":{...}} for GET /health.
    boost::json::object Health() const;
    const std::vector<std::string>& StanzaNames() const { return stanza_names_; }

private:
    void WorkerLoop();
    void MonitorLoop();
    void ScheduleDueJobs(std::int64_t now);  // mutex_ held
    /// Records a new queued job, persists the state and wakes the worker. mutex_ held.
    Job Enqueue(std::string kind, std::string type, std::vector<std::string> stanzas, std::string trigger);
    /// Spends today's sync quota and queues the sync. mutex_ held; the caller checked the quota.
    Job EnqueueExternalSync(const std::string& trigger);
    void RunJob(Job& job);
    void RunBackup(Job& job);
    /// Spends the day's external-sync call for `job`, which is starting (under mutex_); false, with the job failed,
    /// when that day's call was already made.
    bool SpendSyncQuota(Job& job);
    /// First thing on the worker thread: stops drill clusters and removes scratch files an earlier, killed process
    /// left.
    void CleanScratch();
    void RunExternalSync(Job& job);
    void RunDrill(Job& job);
    bool RefreshInfo(const PgBackRest& pgbackrest);
    void UpdateJob(const Job& job);
    void SaveLocked();
    void PublishBackupMetrics();  // mutex_ held
    bool PendingLocked(const std::string& kind, const std::string& stanza = {}) const;
    std::string SourceHost(const StanzaSettings& stanza) const;
    std::map<std::string, long long> CountSource(const StanzaSettings& stanza, std::string& error) const;

    EngineConfig config_;
    StateStore& store_;
    core::Logger& logger_;
    core::Random& random_;
    std::vector<std::string> stanza_names_;
    PgBackRest worker_pgbackrest_;
    PgBackRest monitor_pgbackrest_;

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    PersistentState state_;
    std::deque<std::string> queue_;  // job ids
    std::map<std::string, StanzaInfo> info_;
    /// Stanzas pgBackRest could not list (its status 99, e.g. backup.info unreadable): their last good listing stays
    /// in info_, and nothing is scheduled for them until they list again (an empty listing would read "no full").
    std::set<std::string> unlisted_;
    std::int64_t info_at_ = 0;
    std::string info_error_;
    /// The schedule reads `info_` only when it is fresh: listed successfully, and begun after the last backup ended
    /// (`repo_changes_` counts those; `info_changes_` is that count when the listing in `info_` began). A failed
    /// listing keeps the previous one but does not make it fresh; a stale one would schedule a backup the repository
    /// already has (an empty listing: a full of every stanza).
    std::uint64_t repo_changes_ = 0;
    std::optional<std::uint64_t> info_changes_;
    std::map<std::string, std::string> check_errors_;  // stanza -> error of the last `pgbackrest check`, "" = ok
    std::int64_t check_at_ = 0;
    std::string repo_error_;
    std::set<std::string> stanzas_created_;  // worker thread only

    std::thread worker_;
    std::thread monitor_;

    // metrics
    metrics::Family<metrics::Gauge>& last_success_;
    metrics::Family<metrics::Counter>& runs_;
    metrics::Family<metrics::Gauge>& last_duration_;
    metrics::Family<metrics::Gauge>& last_size_;
    metrics::Gauge& sync_last_success_;
    metrics::Family<metrics::Counter>& sync_runs_;
    metrics::Gauge& sync_quota_left_;
    metrics::Gauge& sync_last_bytes_;
    metrics::Family<metrics::Gauge>& drill_ok_;
    metrics::Family<metrics::Gauge>& drill_recovery_;
    metrics::Family<metrics::Gauge>& drill_at_;
    metrics::Gauge& queued_;
    metrics::Family<metrics::Gauge>& stanza_ok_;
};

}  // namespace valerix::backup
