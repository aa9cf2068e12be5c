#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "pgbackrest/pgbackrest.hpp"

namespace valerix::backup {

/// What a drill checks in a restored database and what it compares against.
struct DrillSpec {
    std::string stanza;
    std::string database;             ///< the application database inside the cluster
    std::vector<std::string> tables;  ///< row counts compared with what the backup's time implies
    /// Row counts of `tables` in the source right before and right after the backup (from its job record); a
    /// restored count must lie between them. Empty when the backup was not made by this service.
    std::map<std::string, long long> counts_before, counts_after;
};

struct DrillSettings {
    std::string scratch_dir;  ///< restores go into fresh folders under here, removed afterwards
    std::string pg_bin = "/usr/lib/postgresql/15/bin";
    std::chrono::seconds start_timeout{600};
};

/// Restores `backup` of the stanza into a scratch cluster, starts it (Unix socket only, archiving off), runs the
/// checks, stops it and removes it. Blocks for the whole drill: worker thread only. The report (backup_finished_at
/// in RFC 3339 UTC):
/// {"stanza","label","backup_finished_at","ok","restore_seconds","start_seconds","check_seconds",
///  "recovery_seconds","checks":[{"name","ok","detail"}],"error"}.
boost::json::object RunRestoreDrill(const PgBackRest& pgbackrest, const BackupEntry& backup, const DrillSpec& spec,
                                    const DrillSettings& settings);

/// SQL returning one row per violation of DESIGN.md §3 stock invariants in an inventory database.
extern const char* const kInventoryInvariantSql;

}  // namespace valerix::backup
