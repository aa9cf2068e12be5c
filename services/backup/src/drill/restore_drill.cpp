#include "drill/restore_drill.hpp"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <boost/json/array.hpp>

#include <valerix/core/utc_time.hpp>

#include "drill/blocking_pg.hpp"

namespace valerix::backup {
namespace fs = std::filesystem;
namespace json = boost::json;

const char* const kInventoryInvariantSql = R"sql(
    WITH held AS (
        SELECT i.sku, sum(i.quantity) FILTER (WHERE r.status = 'RESERVED') AS reserved
        FROM reservation_items i JOIN reservations r ON r.id = i.reservation_id
        GROUP BY i.sku)
    SELECT 'sku ' || p.sku || ': on_hand=' || p.on_hand || ' available=' || p.available
           || ' reserved=' || COALESCE(h.reserved, 0)
    FROM products p LEFT JOIN held h ON h.sku = p.sku
    WHERE p.available < 0 OR p.on_hand < p.available OR p.on_hand - p.available <> COALESCE(h.reserved, 0)
    UNION ALL
    SELECT 'tombstone ' || r.id || ' holds items'
    FROM reservations r JOIN reservation_items i ON i.reservation_id = r.id
    WHERE r.tombstone GROUP BY r.id
    LIMIT 20)sql";

namespace {

double Seconds(std::chrono::steady_clock::time_point from) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - from).count();
}

json::object Check(std::string name, bool ok, std::string detail) {
    return json::object{{"name", std::move(name)}, {"ok", ok}, {"detail", std::move(detail)}};
}

}  // namespace

json::object RunRestoreDrill(const PgBackRest& pgbackrest, const BackupEntry& backup, const DrillSpec& spec,
                             const DrillSettings& settings) {
    json::object report{{"stanza", spec.stanza},
                        {"label", backup.label},
                        {"backup_finished_at", core::FormatUtc(backup.finished_at)}};
    json::array checks;
    bool ok = true;
    auto fail = [&](std::string error) {
        report["ok"] = false;
        report["error"] = std::move(error);
        report["checks"] = checks;
        return report;
    };
    auto t0 = std::chrono::steady_clock::now();
    std::error_code ec;
    std::string dir = settings.scratch_dir + "/drill-" + spec.stanza + "-" + std::to_string(::getpid()) + "-" +
                      std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
    std::string pgdata = dir + "/data";
    fs::create_directories(pgdata, ec);
    if (ec) return fail("cannot create " + pgdata + ": " + ec.message());
    fs::permissions(pgdata, fs::perms::owner_all, fs::perm_options::replace, ec);
    struct Cleanup {
        std::string dir, pgdata, pg_bin;
        bool started = false;
        ~Cleanup() {
            if (started) {  // also while the service shuts down: the scratch cluster must not outlive the drill
                ProcessOptions unstoppable;
                unstoppable.timeout = std::chrono::seconds(90);
                unstoppable.stoppable = false;
                RunProcess({pg_bin + "/pg_ctl", "-D", pgdata, "-m", "immediate", "-w", "-t", "60", "stop"},
                           unstoppable);
            }
            std::error_code ignored;
            fs::remove_all(dir, ignored);
        }
    } cleanup{dir, pgdata, settings.pg_bin};

    auto restored = pgbackrest.RestoreImmediate(spec.stanza, backup.label, pgdata);
    report["restore_seconds"] = Seconds(t0);
    if (!restored.Ok()) return fail("pgbackrest restore: " + restored.Summary());

    // The copy must not touch the original: its own socket folder, no TCP, no archiving.
    {
        std::ofstream conf(pgdata + "/postgresql.auto.conf", std::ios::app);
        conf << "\n# restore drill of valerix-backup\n"
             << "listen_addresses = ''\n"
             << "unix_socket_directories = '" << dir << "'\n"
             << "port = 5432\n"
             << "archive_mode = off\n"
             << "shared_buffers = '32MB'\n"
             << "cluster_name = 'valerix-drill-" << spec.stanza << "'\n";
        if (!conf) return fail("cannot write " + pgdata + "/postgresql.auto.conf");
    }
    auto t_start = std::chrono::steady_clock::now();
    ProcessOptions start_options;
    start_options.timeout = settings.start_timeout + std::chrono::seconds(30);
    auto started = RunProcess({settings.pg_bin + "/pg_ctl", "-D", pgdata, "-l", dir + "/postgres.log", "-w", "-t",
                               std::to_string(settings.start_timeout.count()), "start"},
                              start_options);
    cleanup.started = true;
    report["start_seconds"] = Seconds(t_start);
    if (!started.Ok()) {
        std::ifstream log(dir + "/postgres.log");
        std::string line, last;
        while (std::getline(log, line)) {
            if (!line.empty()) last = line;
        }
        return fail("the restored cluster did not start: " + started.Summary() + (last.empty() ? "" : " / " + last));
    }

    // Recovery time: from "restore starts" to "the database accepts connections".
    report["recovery_seconds"] = Seconds(t0);
    auto t_check = std::chrono::steady_clock::now();
    BlockingPg db(ConnInfo(dir, 5432, "postgres", spec.database));
    if (!db.Ok()) return fail("cannot connect to the restored " + spec.database + ": " + db.Error());
    // pg_ctl returns once read-only connections are accepted; recovery ends with the promotion a moment later.
    bool promoted = false;
    auto promote_until = std::chrono::steady_clock::now() + settings.start_timeout;
    while (!promoted && std::chrono::steady_clock::now() < promote_until) {
        auto recovering = db.Query("SELECT pg_is_in_recovery()");
        if (!recovering) break;
        promoted = !recovering->empty() && (*recovering)[0][0] == "f";
        if (!promoted) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    checks.push_back(Check("promoted", promoted, promoted ? "recovery finished" : "still in recovery"));
    ok = ok && promoted;

    auto counts = db.CountRows(spec.tables);
    for (const auto& table : spec.tables) {
        auto it = counts.find(table);
        if (it == counts.end()) {
            checks.push_back(Check("rows:" + table, false, "table missing in the restored database"));
            ok = false;
            continue;
        }
        auto before = spec.counts_before.find(table);
        auto after = spec.counts_after.find(table);
        if (before == spec.counts_before.end() || after == spec.counts_after.end()) {
            checks.push_back(Check("rows:" + table, true,
                                   std::to_string(it->second) + " rows (no reference counts for this backup)"));
            continue;
        }
        long long low = std::min(before->second, after->second), high = std::max(before->second, after->second);
        bool within = it->second >= low && it->second <= high;
        checks.push_back(Check("rows:" + table, within,
                               std::to_string(it->second) + " rows; the source had " + std::to_string(before->second) +
                                   " before and " + std::to_string(after->second) + " after the backup"));
        ok = ok && within;
    }
    if (spec.stanza == "inventory" || spec.database == "inventory_db") {
        auto violations = db.Query(kInventoryInvariantSql);
        if (!violations) {
            checks.push_back(Check("stock invariants", false, "query failed: " + db.Error()));
            ok = false;
        } else {
            std::string detail;
            for (const auto& row : *violations) detail += (detail.empty() ? "" : "; ") + row[0];
            checks.push_back(Check("stock invariants", violations->empty(),
                                   violations->empty() ? "available >= 0, on_hand >= available, "
                                                         "on_hand - available = reserved, for every SKU"
                                                       : detail));
            ok = ok && violations->empty();
        }
    }
    report["check_seconds"] = Seconds(t_check);
    report["checks"] = checks;
    report["ok"] = ok;
    if (!ok) report["error"] = "a check failed";
    return report;
}

}  // namespace valerix::backup
