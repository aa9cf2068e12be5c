#include "jobs/backup_engine.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>

#include <boost/json/serialize.hpp>

#include <valerix/core/utc_time.hpp>

#include "drill/blocking_pg.hpp"

namespace valerix::backup {
namespace json = boost::json;
namespace fs = std::filesystem;
namespace {

std::int64_t NowSeconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

double NowPrecise() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

json::value UtcOrNull(std::optional<std::int64_t> t) { return t ? json::value(core::FormatUtc(*t)) : json::value(nullptr); }

json::object Counts(const std::map<std::string, long long>& counts) {
    json::object o;
    for (const auto& [k, v] : counts) o[k] = v;
    return o;
}

std::map<std::string, long long> CountsFrom(const json::object& step, std::string_view key) {
    std::map<std::string, long long> out;
    if (auto* v = step.if_contains(key); v != nullptr && v->is_object()) {
        for (const auto& [k, n] : v->as_object()) {
            if (n.is_int64()) out[std::string(k)] = n.as_int64();
        }
    }
    return out;
}

const BackupEntry* Newest(const StanzaInfo& info, std::string_view type = {}) {
    const BackupEntry* newest = nullptr;
    for (const auto& b : info.backups) {
        if (!type.empty() && b.type != type) continue;
        if (newest == nullptr || b.finished_at >= newest->finished_at) newest = &b;
    }
    return newest;
}

}  // namespace

BackupEngine::BackupEngine(EngineConfig config, StateStore& store, metrics::Registry& registry, core::Logger& logger,
                           core::Random& random)
    : config_(std::move(config)),
      store_(store),
      logger_(logger),
      random_(random),
      worker_pgbackrest_(config_.repo.config_path),
      monitor_pgbackrest_(config_.repo.config_path),
      last_success_(registry.AddGauge("valerix_backup_last_success_timestamp_seconds",
                                      "Unix time of the end of the newest backup of this stanza and type in the "
                                      "repository; 0 until the first success",
                                      {"stanza", "type"})),
      runs_(registry.AddCounter("valerix_backup_runs_total", "Backup runs finished, by outcome (success|failure)",
                                {"stanza", "type", "outcome"})),
      last_duration_(registry.AddGauge("valerix_backup_last_duration_seconds",
                                       "Duration of the last successful backup of this stanza and type",
                                       {"stanza", "type"})),
      last_size_(registry.AddGauge("valerix_backup_last_size_bytes",
                                   "What the last successful backup of this stanza and type added to the repository "
                                   "(compressed, encrypted)",
                                   {"stanza", "type"})),
      sync_last_success_(registry
                             .AddGauge("valerix_external_sync_last_success_timestamp_seconds",
                                       "Unix time of the last successful sync of the backup repository to external "
                                       "storage; 0 until the first success")
                             .WithLabels({})),
      sync_runs_(registry.AddCounter("valerix_external_sync_runs_total",
                                     "External sync calls finished, by outcome (success|failure)", {"outcome"})),
      sync_quota_left_(registry
                           .AddGauge("valerix_external_sync_quota_remaining",
                                     "External sync calls still allowed in the current (UTC) day")
                           .WithLabels({})),
      sync_last_bytes_(registry
                           .AddGauge("valerix_external_sync_last_bundle_bytes",
                                     "Size of the bundle sent by the last successful external sync")
                           .WithLabels({})),
      drill_ok_(registry.AddGauge("valerix_restore_drill_last_success",
                                  "1 when the latest restore drill of this stanza passed every check, else 0",
                                  {"stanza"})),
      drill_recovery_(registry.AddGauge("valerix_restore_drill_recovery_seconds",
                                        "Recovery time of the latest restore drill of this stanza (restore until "
                                        "the copy accepts connections)",
                                        {"stanza"})),
      drill_at_(registry.AddGauge("valerix_restore_drill_last_run_timestamp_seconds",
                                  "Unix time of the latest restore drill of this stanza", {"stanza"})),
      queued_(registry.AddGauge("valerix_backup_jobs_queued", "Jobs waiting for the backup worker").WithLabels({})),
      stanza_ok_(registry.AddGauge("valerix_backup_stanza_check_ok",
                                   "1 when the last `pgbackrest check` of this stanza passed, else 0", {"stanza"})) {
    for (const auto& stanza : config_.repo.stanzas) {
        stanza_names_.push_back(stanza.name);
        for (const char* type : {"full", "diff", "incr"}) {
            last_success_.WithLabels({stanza.name, type}).Set(0);
            last_duration_.WithLabels({stanza.name, type});
            last_size_.WithLabels({stanza.name, type});
        }
        for (const char* type : {"full", "incr"}) {
            for (const char* outcome : {"success", "failure"}) runs_.WithLabels({stanza.name, type, outcome});
        }
        stanza_ok_.WithLabels({stanza.name}).Set(0);
    }
    for (const char* outcome : {"success", "failure"}) sync_runs_.WithLabels({outcome});
}

BackupEngine::~BackupEngine() { Stop(); }

void BackupEngine::CleanScratch() {
    // Left by a process that was killed (its clean-up never ran): a drill's scratch cluster still running, a bundle
    // and the upload's config file, which holds the target URL with its credentials.
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(config_.drill.scratch_dir, ec)) {
        const auto name = entry.path().filename().string();
        if (name.starts_with("drill-")) {
            const auto pgdata = (entry.path() / "data").string();
            if (fs::exists(pgdata + "/postmaster.pid", ec)) {
                ProcessOptions unstoppable;
                unstoppable.timeout = std::chrono::seconds(90);
                unstoppable.stoppable = false;
                auto stopped = RunProcess(
                    {config_.drill.pg_bin + "/pg_ctl", "-D", pgdata, "-m", "immediate", "-w", "-t", "60", "stop"},
                    unstoppable);
                // pg_ctl also fails for a cluster that is not running (a stale postmaster.pid): removable then.
                bool running = !stopped.Ok() && RunProcess({config_.drill.pg_bin + "/pg_ctl", "-D", pgdata, "status"},
                                                           unstoppable).exit_code == 0;
                logger_.Warn("stopped a drill's scratch cluster left running by an earlier process",
                             {{"data", pgdata}, {"result", stopped.Summary()}});
                if (running) continue;  // never remove the data of a cluster still running
            }
        } else if (name != "sync") {
            continue;
        }
        std::error_code removed;
        fs::remove_all(entry.path(), removed);
        if (removed) {
            logger_.Warn("cannot remove scratch files", {{"path", entry.path().string()}, {"error", removed.message()}});
        }
    }
}

void BackupEngine::Start() {
    std::lock_guard lock(mutex_);
    state_ = store_.Load();
    SaveLocked();  // interrupted jobs are recorded as such right away
    if (state_.last_sync_success_at) sync_last_success_.Set(static_cast<double>(*state_.last_sync_success_at));
    sync_quota_left_.Set(config_.policy.syncs_per_day - CallsToday(state_.quota, NowSeconds(), config_.policy));
    if (auto* reports = state_.last_drill.if_contains("stanzas"); reports != nullptr && reports->is_array()) {
        for (const auto& r : reports->as_array()) {
            const auto& o = r.as_object();
            std::string stanza(o.at("stanza").as_string());
            drill_ok_.WithLabels({stanza}).Set(o.contains("ok") && o.at("ok").is_bool() && o.at("ok").as_bool() ? 1 : 0);
            if (auto* s = o.if_contains("recovery_seconds"); s != nullptr && s->is_double()) {
                drill_recovery_.WithLabels({stanza}).Set(s->as_double());
            }
            if (state_.last_drill_at) drill_at_.WithLabels({stanza}).Set(static_cast<double>(*state_.last_drill_at));
        }
    }
    worker_ = std::thread([this] { WorkerLoop(); });
    monitor_ = std::thread([this] { MonitorLoop(); });
}

void BackupEngine::Stop() {
    {
        std::lock_guard lock(mutex_);
        if (stopping_ && !worker_.joinable() && !monitor_.joinable()) return;
        stopping_ = true;
    }
    wake_.notify_all();
    // Ends the running child (pgBackRest, tar, curl, pg_ctl) and refuses new ones, so the worker finishes its job as
    // failed ("stopped") and records it, and nothing outlives the service. A drill's cleanup still runs.
    StopProcesses();
    if (worker_.joinable()) worker_.join();
    if (monitor_.joinable()) monitor_.join();
}

// ----------------------------------------------------------------------------------------------------------- submit

bool BackupEngine::PendingLocked(const std::string& kind, const std::string& stanza) const {
    for (const auto& job : state_.jobs) {
        if (job.kind != kind || job.Finished()) continue;
        if (stanza.empty() || std::find(job.stanzas.begin(), job.stanzas.end(), stanza) != job.stanzas.end()) return true;
    }
    return false;
}

Job BackupEngine::Enqueue(std::string kind, std::string type, std::vector<std::string> stanzas, std::string trigger) {
    Job job;
    job.kind = std::move(kind);
    job.type = std::move(type);
    job.stanzas = std::move(stanzas);
    job.trigger = std::move(trigger);
    job.id = core::RandomUuid(random_);
    job.status = "queued";
    job.queued_at = NowPrecise();
    state_.jobs.push_back(job);
    if (state_.jobs.size() > PersistentState::kMaxJobs + 50) {
        // Drop the oldest finished jobs; unfinished ones always stay.
        std::size_t drop = state_.jobs.size() - PersistentState::kMaxJobs;
        std::vector<Job> kept;
        for (auto& j : state_.jobs) {
            if (drop > 0 && j.Finished()) {
                --drop;
                continue;
            }
            kept.push_back(std::move(j));
        }
        state_.jobs = std::move(kept);
    }
    queue_.push_back(job.id);
    queued_.Set(static_cast<double>(queue_.size()));
    SaveLocked();
    wake_.notify_all();
    logger_.Info("job queued", {{"job_id", job.id}, {"kind", job.kind}, {"type", job.type}, {"trigger", job.trigger}});
    return job;
}

std::variant<Job, Refusal> BackupEngine::SubmitBackup(const std::string& type, std::vector<std::string> stanzas,
                                                      const std::string& trigger) {
    if (type != "full" && type != "incr") {
        return Refusal{422, "invalid_backup_type", "type must be \"full\" or \"incr\", not \"" + type + "\""};
    }
    if (stanzas.empty()) stanzas = stanza_names_;
    for (const auto& s : stanzas) {
        if (std::find(stanza_names_.begin(), stanza_names_.end(), s) == stanza_names_.end()) {
            return Refusal{422, "unknown_stanza", "no stanza \"" + s + "\" in the pgBackRest configuration"};
        }
    }
    std::lock_guard lock(mutex_);
    if (stopping_) return Refusal{503, "shutting_down", "the backup service is stopping"};
    for (const auto& job : state_.jobs) {
        if (job.kind == "backup" && job.status == "queued" && job.type == type && job.stanzas == stanzas) return job;
    }
    return Enqueue("backup", type, std::move(stanzas), trigger);
}

std::variant<Job, Refusal> BackupEngine::SubmitExternalSync(const std::string& trigger) {
    std::lock_guard lock(mutex_);
    if (stopping_) return Refusal{503, "shutting_down", "the backup service is stopping"};
    // One waiting sync at most: the quota is spent when it starts (see WorkerLoop), so a second one queued behind it
    // would be a second call.
    for (const auto& job : state_.jobs) {
        if (job.kind == "external_sync" && job.status == "queued") return job;
    }
    auto now = NowSeconds();
    if (!QuotaAvailable(state_.quota, now, config_.policy)) {
        auto next = NextAllowedAt(state_.quota, now, config_.policy);
        return Refusal{429, "daily_quota_used",
                       "the external sync is limited to " + std::to_string(config_.policy.syncs_per_day) +
                           " call per day; the next is allowed at " + core::FormatUtc(next),
                       next};
    }
    return EnqueueExternalSync(trigger);
}

Job BackupEngine::EnqueueExternalSync(const std::string& trigger) {
    // The quota is spent when the sync starts, on the day the call is made (WorkerLoop): charged when queued, a sync
    // that waited past midnight behind a long backup counted for the day before, and the new day allowed another.
    return Enqueue("external_sync", "", stanza_names_, trigger);
}

std::variant<Job, Refusal> BackupEngine::SubmitRestoreDrill(const std::string& trigger) {
    std::lock_guard lock(mutex_);
    if (stopping_) return Refusal{503, "shutting_down", "the backup service is stopping"};
    for (const auto& job : state_.jobs) {
        if (job.kind == "restore_drill" && job.status == "queued") return job;
    }
    return Enqueue("restore_drill", "", stanza_names_, trigger);
}

// ----------------------------------------------------------------------------------------------------------- read

std::optional<Job> BackupEngine::FindJob(const std::string& id) const {
    std::lock_guard lock(mutex_);
    for (const auto& job : state_.jobs) {
        if (job.id == id) return job;
    }
    return std::nullopt;
}

std::vector<Job> BackupEngine::RecentJobs(std::size_t limit) const {
    std::lock_guard lock(mutex_);
    std::vector<Job> out;
    for (auto it = state_.jobs.rbegin(); it != state_.jobs.rend() && out.size() < limit; ++it) out.push_back(*it);
    return out;
}

json::object BackupEngine::Backups() const {
    std::lock_guard lock(mutex_);
    json::array stanzas;
    for (const auto& name : stanza_names_) {
        json::array backups;
        json::object entry{{"name", name}};
        if (auto it = info_.find(name); it != info_.end()) {
            for (const auto& b : it->second.backups) {
                backups.push_back(json::object{{"label", b.label},
                                               {"type", b.type},
                                               {"started_at", core::FormatUtc(b.started_at)},
                                               {"finished_at", core::FormatUtc(b.finished_at)},
                                               {"size_bytes", b.size_bytes},
                                               {"repo_size_bytes", b.repo_size_bytes}});
            }
            entry["status"] = it->second.status_message;
            entry["wal_archive"] = json::object{{"min", it->second.archive_min}, {"max", it->second.archive_max}};
        } else {
            entry["status"] = info_error_.empty() ? "not listed yet" : info_error_;
        }
        entry["backups"] = std::move(backups);
        stanzas.push_back(std::move(entry));
    }
    return json::object{{"stanzas", std::move(stanzas)},
                        {"listed_at", info_at_ > 0 ? json::value(core::FormatUtc(info_at_)) : json::value(nullptr)}};
}

json::object BackupEngine::ExternalSyncStatus() const {
    std::lock_guard lock(mutex_);
    auto now = NowSeconds();
    auto calls = CallsToday(state_.quota, now, config_.policy);
    bool pending = PendingLocked("external_sync");
    return json::object{{"last_sync_at", UtcOrNull(state_.last_sync_success_at)},
                        {"next_allowed_at", core::FormatUtc(NextAllowedAt(state_.quota, now, config_.policy))},
                        {"calls_today", calls},
                        {"calls_per_day", config_.policy.syncs_per_day},
                        {"in_progress", pending},
                        {"target", config_.external.Describe()},
                        {"last_result", state_.last_sync_result.empty() ? json::value(nullptr)
                                                                        : json::value(state_.last_sync_result)}};
}

std::optional<json::object> BackupEngine::LatestDrill() const {
    std::lock_guard lock(mutex_);
    if (state_.last_drill.empty()) return std::nullopt;
    return state_.last_drill;
}

json::object BackupEngine::Health() const {
    std::lock_guard lock(mutex_);
    json::object checks;
    bool ok = true;
    for (const auto& name : stanza_names_) {
        auto it = check_errors_.find(name);
        std::string value = it == check_errors_.end() ? "not checked yet" : it->second.empty() ? "ok" : it->second;
        ok = ok && value == "ok";
        checks["pgbackrest_check:" + name] = value;
    }
    std::string repo = info_at_ == 0 ? "not checked yet" : repo_error_.empty() ? "ok" : repo_error_;
    ok = ok && repo == "ok";
    checks["repository_writable"] = repo;
    return json::object{{"ok", ok}, {"checks", std::move(checks)}};
}

// ----------------------------------------------------------------------------------------------------------- worker

void BackupEngine::SaveLocked() {
    try {
        store_.Save(state_);
    } catch (const std::exception& error) {
        logger_.Error("cannot save the backup state", {{"error", error.what()}});
    }
}

void BackupEngine::UpdateJob(const Job& job) {
    std::lock_guard lock(mutex_);
    for (auto& j : state_.jobs) {
        if (j.id == job.id) j = job;
    }
    SaveLocked();
}

void BackupEngine::ScheduleDueJobs(std::int64_t now) {
    bool have_backups = false;
    for (const auto& name : stanza_names_) {
        if (unlisted_.contains(name)) continue;
        StanzaScheduleView view;
        if (auto it = info_.find(name); it != info_.end()) {
            if (const auto* full = Newest(it->second, "full")) view.last_full_at = full->finished_at;
            if (const auto* any = Newest(it->second)) {
                view.last_backup_at = any->finished_at;
                have_backups = true;
            }
        }
        if (auto f = state_.backup_failures.find(name); f != state_.backup_failures.end()) view.last_failure_at = f->second;
        view.backup_pending = PendingLocked("backup", name);
        if (auto type = DueBackupType(view, now, config_.policy)) {
            Enqueue("backup", *type, {name}, "schedule");
        }
    }
    if (SyncDue(state_.quota, now, config_.policy, have_backups, PendingLocked("external_sync"),
                state_.last_sync_success_at)) {
        EnqueueExternalSync("schedule");
    }
    if (DrillDue(state_.last_drill_at, now, config_.policy, have_backups, PendingLocked("restore_drill"))) {
        Enqueue("restore_drill", "", stanza_names_, "schedule");
    }
}

void BackupEngine::WorkerLoop() {
    // Here, not in Start(): stopping a leftover cluster may take a while, and the API should answer meanwhile. No job
    // runs before it is done (this thread runs them all).
    CleanScratch();
    // Stanzas first, so `pgbackrest check` (health) can pass before the first backup; a failure here is retried
    // before that stanza's first backup.
    for (const auto& name : stanza_names_) {
        auto created = worker_pgbackrest_.StanzaCreate(name);
        if (created.Ok()) {
            stanzas_created_.insert(name);
        } else {
            logger_.Warn("stanza-create failed; retried before the first backup",
                         {{"stanza", name}, {"error", created.Summary()}});
        }
    }
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        const bool info_fresh = info_changes_ == repo_changes_;
        if (queue_.empty() && config_.schedule_enabled && info_fresh) ScheduleDueJobs(NowSeconds());
        if (queue_.empty()) {
            wake_.wait_for(lock, config_.tick);
            continue;
        }
        std::string id = queue_.front();
        queue_.pop_front();
        queued_.Set(static_cast<double>(queue_.size()));
        Job job;
        bool found = false;
        bool refused = false;
        for (auto& j : state_.jobs) {
            if (j.id == id && j.status == "queued") {
                j.status = "running";
                j.started_at = NowPrecise();
                if (j.kind == "external_sync") refused = !SpendSyncQuota(j);
                job = j;
                found = true;
            }
        }
        if (!found) continue;
        SaveLocked();  // with the quota spent: a crash during the call does not buy a second call that day
        if (refused) continue;
        lock.unlock();
        logger_.Info("job started", {{"job_id", job.id}, {"kind", job.kind}, {"type", job.type}});
        try {
            RunJob(job);
        } catch (const std::exception& error) {
            job.status = "failed";
            job.error = std::string("internal error: ") + error.what();
        }
        job.finished_at = NowPrecise();
        if (job.status == "running") job.status = job.error.empty() ? "succeeded" : "failed";
        logger_.Log(job.status == "succeeded" ? core::LogLevel::kInfo : core::LogLevel::kError, "job finished",
                    {{"job_id", job.id},
                     {"kind", job.kind},
                     {"status", job.status},
                     {"seconds", job.finished_at - job.started_at},
                     {"error", job.error}});
        lock.lock();
        for (auto& j : state_.jobs) {
            if (j.id == job.id) j = job;
        }
        SaveLocked();
    }
}

void BackupEngine::RunJob(Job& job) {
    if (job.kind == "backup") RunBackup(job);
    else if (job.kind == "external_sync") RunExternalSync(job);
    else if (job.kind == "restore_drill") RunDrill(job);
    else job.error = "unknown job kind " + job.kind;
}

std::string BackupEngine::SourceHost(const StanzaSettings& stanza) const {
    return !stanza.pg_host.empty() ? stanza.pg_host : stanza.pg_socket_path;
}

std::map<std::string, long long> BackupEngine::CountSource(const StanzaSettings& stanza, std::string& error) const {
    auto db_it = config_.databases.find(stanza.name);
    auto tables_it = config_.count_tables.find(stanza.name);
    if (db_it == config_.databases.end() || tables_it == config_.count_tables.end()) return {};
    BlockingPg db(ConnInfo(SourceHost(stanza), stanza.pg_port, stanza.pg_user, db_it->second));
    if (!db.Ok()) {
        error = db.Error();
        return {};
    }
    return db.CountRows(tables_it->second);
}

void BackupEngine::RunBackup(Job& job) {
    std::vector<std::string> errors;
    for (const auto& name : job.stanzas) {
        const auto& stanza = *std::find_if(config_.repo.stanzas.begin(), config_.repo.stanzas.end(),
                                           [&](const auto& s) { return s.name == name; });
        json::object step{{"stanza", name}, {"requested_type", job.type}};
        auto fail = [&](const std::string& error) {
            step["status"] = "failed";
            step["error"] = error;
            errors.push_back(name + ": " + error);
            runs_.WithLabels({name, job.type, "failure"}).Inc();
            std::lock_guard lock(mutex_);
            state_.backup_failures[name] = NowSeconds();
        };
        if (!stanzas_created_.contains(name)) {
            auto created = worker_pgbackrest_.StanzaCreate(name);
            if (!created.Ok()) {
                fail("stanza-create: " + created.Summary());
                job.steps.push_back(step);
                UpdateJob(job);
                continue;
            }
            stanzas_created_.insert(name);
        }
        std::string count_error;
        auto before = CountSource(stanza, count_error);
        auto t0 = std::chrono::steady_clock::now();
        const std::int64_t began_at = NowSeconds();
        auto result = worker_pgbackrest_.Backup(name, job.type);
        {
            std::lock_guard lock(mutex_);  // the repository changed (a failed run may have expired or written too)
            ++repo_changes_;
        }
        double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        auto after = CountSource(stanza, count_error);
        step["duration_seconds"] = seconds;
        step["counts_before"] = Counts(before);
        step["counts_after"] = Counts(after);
        if (!count_error.empty()) step["counts_error"] = count_error;
        if (!result.Ok()) {
            fail("pgbackrest backup: " + result.Summary());
        } else {
            // The step names the backup from a listing made after it. A listing that failed, or one that does not
            // show it yet, would name the previous backup (and a drill would then check this job's row counts
            // against that one): retried twice, then the step says it could not be listed instead.
            bool listed = RefreshInfo(worker_pgbackrest_);
            for (int retry = 0; !listed && retry < 2; ++retry) {
                std::this_thread::sleep_for(std::chrono::seconds(1));
                listed = RefreshInfo(worker_pgbackrest_);
            }
            std::lock_guard lock(mutex_);
            const BackupEntry* newest = nullptr;
            if (auto it = info_.find(name); listed && !unlisted_.contains(name) && it != info_.end()) {
                newest = Newest(it->second);
                if (newest != nullptr && newest->started_at + 1 < began_at) newest = nullptr;  // an older one
            }
            step["status"] = "succeeded";
            if (newest != nullptr) {
                step["label"] = newest->label;
                step["type"] = newest->type;
                step["size_bytes"] = newest->size_bytes;
                step["repo_size_bytes"] = newest->repo_size_bytes;
            } else {
                step["listing_error"] = "pgbackrest reported success, but no listing shows this backup yet";
            }
            runs_.WithLabels({name, newest != nullptr ? newest->type : job.type, "success"}).Inc();
            state_.backup_failures.erase(name);
        }
        job.steps.push_back(step);
        UpdateJob(job);
    }
    if (!errors.empty()) {
        job.status = "failed";
        job.error = errors.front() + (errors.size() > 1 ? " (and " + std::to_string(errors.size() - 1) + " more)" : "");
    }
}

bool BackupEngine::SpendSyncQuota(Job& job) {
    auto now = NowSeconds();
    if (!QuotaAvailable(state_.quota, now, config_.policy)) {
        // Not reached through the API (one waiting sync at most, refused when the day's call is spent); kept so no
        // path makes a second call in a day.
        job.status = "failed";
        job.error = "daily_quota_used: this day's external sync call was already made";
        job.finished_at = job.started_at;
        return false;
    }
    ConsumeQuota(state_.quota, now, config_.policy);
    sync_quota_left_.Set(config_.policy.syncs_per_day - CallsToday(state_.quota, now, config_.policy));
    return true;
}

void BackupEngine::RunExternalSync(Job& job) {
    std::map<std::string, std::string> synced;
    std::optional<std::int64_t> previous;
    {
        std::lock_guard lock(mutex_);
        synced = state_.synced_files;
        previous = state_.last_sync_success_at;
    }
    auto now = NowSeconds();
    auto current = ScanRepository(config_.repo.repo_path);
    auto files = FilesToSync(current, synced);
    std::string name = "valerix-repo-" + core::FormatUtc(now, "%Y%m%dT%H%M%SZ") + ".tar";
    json::array stanza_list;
    for (const auto& s : stanza_names_) stanza_list.emplace_back(s);
    json::object manifest{{"format", "valerix-backup-bundle/1"},
                          {"created_at", core::FormatUtc(now)},
                          {"job_id", job.id},
                          {"files", files.size()},
                          {"stanzas", stanza_list},
                          {"previous_sync_at", UtcOrNull(previous)},
                          {"restore",
                           "Extract every bundle, oldest first, into one empty folder: that folder is the pgBackRest "
                           "repository (encrypted; the passphrase is not in the bundle). See docs/backups.md."}};
    std::int64_t bytes = 0;
    for (const auto& f : files) bytes += std::stoll(current[f].substr(0, current[f].find(':')));
    auto bundle = BuildBundle(config_.repo.repo_path, files, config_.drill.scratch_dir + "/sync", name,
                              json::serialize(manifest));
    std::string error = bundle.ok ? DeliverBundle(bundle, config_.external) : bundle.error;
    std::error_code ec;
    if (!bundle.path.empty()) fs::remove(bundle.path, ec);

    json::object result{{"status", error.empty() ? "succeeded" : "failed"},
                        {"at", core::FormatUtc(now)},
                        {"job_id", job.id},
                        {"bundle", name},
                        {"files", files.size()},
                        {"bytes", bundle.bytes},
                        {"repository_bytes", bytes},
                        {"target", config_.external.Describe()},
                        {"error", error.empty() ? json::value(nullptr) : json::value(error)}};
    job.result = result;
    std::lock_guard lock(mutex_);
    state_.last_sync_result = result;
    if (error.empty()) {
        // What is off-site now, limited to files the repository still holds (expired backups and WAL drop out), so
        // the record does not grow for ever.
        std::map<std::string, std::string> sent;
        for (const auto& [path, signature] : current) {
            auto it = synced.find(path);
            if (it != synced.end() && it->second == signature) sent[path] = signature;
        }
        for (const auto& f : files) sent[f] = current[f];
        state_.synced_files = std::move(sent);
        state_.last_sync_success_at = now;
        sync_last_success_.Set(static_cast<double>(now));
        sync_last_bytes_.Set(static_cast<double>(bundle.bytes));
        sync_runs_.WithLabels({"success"}).Inc();
    } else {
        job.status = "failed";
        job.error = error;
        sync_runs_.WithLabels({"failure"}).Inc();
    }
}

void BackupEngine::RunDrill(Job& job) {
    RefreshInfo(worker_pgbackrest_);
    json::array reports;
    std::vector<std::string> failed;
    for (const auto& name : job.stanzas) {
        std::optional<BackupEntry> latest;
        DrillSpec spec;
        spec.stanza = name;
        if (auto it = config_.databases.find(name); it != config_.databases.end()) spec.database = it->second;
        else spec.database = "postgres";
        if (auto it = config_.count_tables.find(name); it != config_.count_tables.end()) spec.tables = it->second;
        {
            std::lock_guard lock(mutex_);
            if (auto it = info_.find(name); it != info_.end()) {
                if (const auto* newest = Newest(it->second)) latest = *newest;
            }
            if (latest) {
                for (const auto& j : state_.jobs) {
                    for (const auto& s : j.steps) {
                        const auto& step = s.as_object();
                        auto* label = step.if_contains("label");
                        if (label == nullptr || !label->is_string() || label->as_string() != latest->label) continue;
                        spec.counts_before = CountsFrom(step, "counts_before");
                        spec.counts_after = CountsFrom(step, "counts_after");
                    }
                }
            }
        }
        json::object report;
        if (!latest) {
            report = json::object{{"stanza", name}, {"ok", false}, {"error", "no backup to restore"}};
        } else {
            logger_.Info("restore drill: restoring", {{"stanza", name}, {"label", latest->label}});
            report = RunRestoreDrill(worker_pgbackrest_, *latest, spec, config_.drill);
        }
        bool ok = report.contains("ok") && report.at("ok").as_bool();
        if (!ok) failed.push_back(name + ": " + (report.contains("error") ? std::string(report.at("error").as_string()) : ""));
        drill_ok_.WithLabels({name}).Set(ok ? 1 : 0);
        if (auto* s = report.if_contains("recovery_seconds"); s != nullptr && s->is_double()) {
            drill_recovery_.WithLabels({name}).Set(s->as_double());
        }
        drill_at_.WithLabels({name}).Set(static_cast<double>(NowSeconds()));
        reports.push_back(report);
        job.steps.push_back(report);
        UpdateJob(job);
    }
    if (!failed.empty()) {
        job.status = "failed";
        job.error = failed.front();
    }
    auto now = NowSeconds();
    std::lock_guard lock(mutex_);
    state_.last_drill_at = now;
    state_.last_drill = json::object{{"job_id", job.id},
                                     {"finished_at", core::FormatUtc(now)},
                                     {"ok", failed.empty()},
                                     {"trigger", job.trigger},
                                     {"stanzas", reports}};
}

// ----------------------------------------------------------------------------------------------------------- monitor

bool BackupEngine::RefreshInfo(const PgBackRest& pgbackrest) {
    std::uint64_t changes_before = 0;
    {
        std::lock_guard lock(mutex_);
        changes_before = repo_changes_;
    }
    auto result = pgbackrest.Info();
    std::string error;
    std::optional<std::vector<StanzaInfo>> parsed;
    if (result.out_truncated) {
        error = "pgbackrest info: the listing is larger than " + std::to_string(kListingCap) + " bytes";
    } else if (result.Ok()) {
        parsed = ParseInfoJson(result.out, error);
    } else {
        error = "pgbackrest info: " + result.Summary();
    }
    std::lock_guard lock(mutex_);
    info_at_ = NowSeconds();
    if (!parsed) {
        if (error != info_error_) {
            logger_.Warn("cannot list the backups; the schedule waits for a listing", {{"error", error}});
        }
        info_error_ = error;
        return false;
    }
    // Begun before a backup ended, it may not show that backup; the worker lists again after each one.
    if (changes_before != repo_changes_) return false;
    info_changes_ = changes_before;
    info_error_.clear();
    auto previous = std::move(info_);
    info_.clear();
    std::set<std::string> unlisted;
    for (auto& s : *parsed) {
        if (s.status_code == kInfoStatusOther) {
            if (!unlisted_.contains(s.name)) {
                logger_.Warn("pgbackrest cannot list this stanza's backups; nothing is scheduled for it until it can",
                             {{"stanza", s.name}, {"status", s.status_message}});
            }
            unlisted.insert(s.name);
            if (auto kept = previous.find(s.name); kept != previous.end()) {
                info_[s.name] = std::move(kept->second);
                continue;
            }
        }
        info_[s.name] = std::move(s);
    }
    unlisted_ = std::move(unlisted);
    PublishBackupMetrics();
    return true;
}

void BackupEngine::PublishBackupMetrics() {
    for (const auto& name : stanza_names_) {
        auto it = info_.find(name);
        if (it == info_.end()) continue;
        for (const char* type : {"full", "diff", "incr"}) {
            // From the repository, so the figures survive a restart of the service.
            if (const auto* b = Newest(it->second, type)) {
                last_success_.WithLabels({name, type}).Set(static_cast<double>(b->finished_at));
                last_duration_.WithLabels({name, type}).Set(static_cast<double>(b->finished_at - b->started_at));
                last_size_.WithLabels({name, type}).Set(static_cast<double>(b->repo_size_bytes));
            }
        }
    }
}

void BackupEngine::MonitorLoop() {
    using Clock = std::chrono::steady_clock;
    auto next_info = Clock::now();
    auto next_check = Clock::now();
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        auto now = Clock::now();
        if (now >= next_info) {
            lock.unlock();
            RefreshInfo(monitor_pgbackrest_);
            std::string repo_error;
            std::string probe = config_.repo.repo_path + "/.valerix-write-probe-" + std::to_string(::getpid());
            {
                std::ofstream out(probe);
                out << "probe\n";
                if (!out.good()) repo_error = "cannot write into " + config_.repo.repo_path;
            }
            std::error_code ec;
            fs::remove(probe, ec);
            lock.lock();
            repo_error_ = repo_error;
            sync_quota_left_.Set(config_.policy.syncs_per_day - CallsToday(state_.quota, NowSeconds(), config_.policy));
            next_info = Clock::now() + config_.info_interval;
            continue;
        }
        if (now >= next_check) {
            lock.unlock();
            std::map<std::string, std::string> errors;
            for (const auto& name : stanza_names_) {
                auto result = monitor_pgbackrest_.Check(name);
                errors[name] = result.Ok() ? std::string() : "pgbackrest check: " + result.Summary();
                stanza_ok_.WithLabels({name}).Set(result.Ok() ? 1 : 0);
            }
            lock.lock();
            bool all_ok = true;
            for (const auto& [name, error] : errors) {
                check_errors_[name] = error;
                all_ok = all_ok && error.empty();
            }
            check_at_ = NowSeconds();
            // A failing check is retried soon (a fresh stanza is created by the first backup); a passing one rarely.
            next_check = Clock::now() + (all_ok ? config_.check_interval
                                                : std::min<std::chrono::seconds>(config_.check_interval,
                                                                                 std::chrono::seconds(30)));
            continue;
        }
        wake_.wait_until(lock, std::min(next_info, next_check));
    }
}

}  // namespace valerix::backup
