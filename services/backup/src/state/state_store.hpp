#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "jobs/policy.hpp"

namespace valerix::backup {

/// One unit of work of the worker and its evidence: what was asked, by whom, when it ran, how it ended.
struct Job {
    std::string id;
    std::string kind;  ///< backup | external_sync | restore_drill
    std::string type;  ///< backups: full | incr (what was asked; each step says what pgBackRest made)
    std::vector<std::string> stanzas;
    std::string trigger;  ///< schedule | api
    std::string status = "queued";  ///< queued | running | succeeded | failed | interrupted
    double queued_at = 0, started_at = 0, finished_at = 0;  ///< Unix seconds; 0 = not yet
    std::string error;            ///< why it failed, for people
    boost::json::array steps;     ///< per stanza: what happened
    boost::json::object result;   ///< kind-specific figures (bundle size, recovery time, ...)

    bool Finished() const { return status == "succeeded" || status == "failed" || status == "interrupted"; }
    boost::json::object ToJson() const;  ///< the state file's form: times in Unix seconds
    /// The API's form: times as RFC 3339 UTC text (null until they happen) and `duration_s`, the running time.
    boost::json::object ToApiJson() const;
    static Job FromJson(const boost::json::object& o);
};

/// Everything the service must remember across restarts. Saved as one JSON file, replaced atomically (write a
/// temporary file, fsync, rename, fsync the folder), so a crash leaves either the old or the new state.
struct PersistentState {
    std::vector<Job> jobs;  ///< newest last; the oldest finished ones are dropped beyond kMaxJobs
    SyncQuota quota;
    std::optional<std::int64_t> last_sync_success_at;
    boost::json::object last_sync_result;  ///< {"status","at","bytes","files","bundle","error"}
    std::map<std::string, std::string> synced_files;  ///< repository path -> "size:mtime_ns" already sent off-site
    std::map<std::string, std::int64_t> backup_failures;  ///< stanza -> time of a failure since its last success
    std::optional<std::int64_t> last_drill_at;
    boost::json::object last_drill;  ///< the latest finished drill's report

    static constexpr std::size_t kMaxJobs = 500;
};

class StateStore {
public:
    /// Uses `dir`/state.json; creates `dir` when missing.
    explicit StateStore(std::string dir);

    /// Loads the file (an empty state when there is none). Jobs that were queued or running when the previous
    /// process stopped come back as "interrupted". Throws std::runtime_error when the file exists but is unreadable.
    PersistentState Load();
    /// Throws std::runtime_error when the state cannot be written.
    void Save(const PersistentState& state);

    const std::string& Dir() const { return dir_; }

private:
    std::string dir_;
    std::string path_;
};

}  // namespace valerix::backup
