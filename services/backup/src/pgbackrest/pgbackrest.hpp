#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "process/run.hpp"

namespace valerix::backup {

/// The parts of a pgbackrest.conf this service needs. The file stays the single source of truth for pgBackRest
/// (PostgreSQL's archive_command names the same file); the service only reads it, and never reads the cipher
/// passphrase out of it.
struct StanzaSettings {
    std::string name;
    std::string pg_path;         ///< pg1-path (data folder of the cluster)
    std::string pg_host;         ///< pg1-host (empty: local)
    std::string pg_socket_path;  ///< pg1-socket-path
    int pg_port = 5432;          ///< pg1-port
    std::string pg_user = "postgres";
};

struct RepoSettings {
    std::string config_path;
    std::string repo_path;  ///< repo1-path
    bool encrypted = false; ///< repo1-cipher-type is not "none"
    std::vector<StanzaSettings> stanzas;
};

/// Parses pgbackrest.conf text (INI: [global], [global:COMMAND], [STANZA], [STANZA:COMMAND]). Problems (no
/// repo1-path, no stanza, a bad port) are returned in `problems`.
RepoSettings ParsePgBackRestConfig(const std::string& text, const std::string& path, std::vector<std::string>& problems);

/// One backup as `pgbackrest info` reports it.
struct BackupEntry {
    std::string label;
    std::string type;  ///< full | diff | incr
    std::int64_t started_at = 0;  ///< Unix seconds
    std::int64_t finished_at = 0;
    std::int64_t size_bytes = 0;       ///< database size at backup time
    std::int64_t repo_size_bytes = 0;  ///< what this backup added to the repository (compressed, encrypted)
    std::string wal_start, wal_stop;
};

/// pgBackRest's stanza status for an error it has no code of its own for (e.g. backup.info it cannot read).
inline constexpr int kInfoStatusOther = 99;

struct StanzaInfo {
    std::string name;
    int status_code = -1;  ///< pgBackRest's: 0 ok, 1 missing stanza path, 2 no valid backups, ...
    std::string status_message;
    std::vector<BackupEntry> backups;  ///< oldest first
    std::string archive_min, archive_max;
};

/// Parses `pgbackrest info --output=json`. Returns nullopt (and sets `error`) on malformed output.
std::optional<std::vector<StanzaInfo>> ParseInfoJson(const std::string& json, std::string& error);

/// Runs pgBackRest commands for one repository configuration. Every call blocks (a backup takes minutes): use it
/// from the job worker thread only. Thread-safe (holds no mutable state).
/// How much of `pgbackrest info --output=json` is kept: all of it, for any repository this service keeps (about
/// 170 backups per stanza at one incremental every 4 h and four weekly fulls retained, each entry with the labels
/// it depends on — hundreds of kB, past the 256 kB kept of other commands' output).
inline constexpr std::size_t kListingCap = 64 * 1024 * 1024;

class PgBackRest {
public:
    explicit PgBackRest(std::string config_path, std::string binary = "pgbackrest")
        : config_path_(std::move(config_path)), binary_(std::move(binary)) {}

    ProcessResult StanzaCreate(const std::string& stanza) const;
    ProcessResult Check(const std::string& stanza) const;
    ProcessResult Backup(const std::string& stanza, const std::string& type) const;
    ProcessResult Info(const std::string& stanza = {}) const;
    /// Restores backup `label` of `stanza` into the empty folder `pg_path`, recovering to the end of that backup
    /// (`--type=immediate`, then promote), with archiving off in the copy.
    ProcessResult RestoreImmediate(const std::string& stanza, const std::string& label, const std::string& pg_path) const;

    const std::string& ConfigPath() const { return config_path_; }

private:
    ProcessResult Run(const std::string& stanza, std::vector<std::string> args, std::chrono::milliseconds timeout,
                      std::size_t output_cap = ProcessOptions{}.output_cap) const;

    std::string config_path_;
    std::string binary_;
};

}  // namespace valerix::backup
