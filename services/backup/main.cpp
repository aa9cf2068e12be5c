// Composition root of backup-service: reads configuration, builds the object graph, serves until SIGTERM.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <valerix/core/config.hpp>
#include <valerix/core/logging.hpp>
#include <valerix/core/random.hpp>
#include <valerix/http/server.hpp>
#include <valerix/http/service_setup.hpp>
#include <valerix/metrics/registry.hpp>

#include "api/backup_api.hpp"
#include "jobs/backup_engine.hpp"
#include "state/state_store.hpp"

namespace {

using namespace valerix;
namespace asio = boost::asio;

struct Settings {
    http::ServerConfig server;
    backup::EngineConfig engine;
    std::string state_dir;
    std::string admin_token;
    core::LogLevel log_level = core::LogLevel::kInfo;
};

// "a=x,y;b=z" -> {a: [x, y], b: [z]}; `pair_sep` between entries, `list_sep` inside a value.
std::map<std::string, std::vector<std::string>> ParseMapping(const std::string& text, char pair_sep, char list_sep,
                                                             const std::string& name, core::EnvReader& env) {
    std::map<std::string, std::vector<std::string>> out;
    std::stringstream pairs(text);
    std::string pair;
    while (std::getline(pairs, pair, pair_sep)) {
        if (pair.empty()) continue;
        auto eq = pair.find('=');
        if (eq == std::string::npos || eq == 0) {
            env.AddProblem(name + ": expected stanza=value, got \"" + pair + "\"");
            continue;
        }
        std::vector<std::string> values;
        std::stringstream list(pair.substr(eq + 1));
        std::string value;
        while (std::getline(list, value, list_sep)) {
            if (!value.empty()) values.push_back(value);
        }
        out[pair.substr(0, eq)] = values;
    }
    return out;
}

Settings LoadSettings() {
    core::EnvReader env;
    Settings settings;
    settings.server = http::ServerConfigFromEnv(env, 3003);
    auto& engine = settings.engine;
    std::string config_path = env.String("VALERIX_BACKUP_PGBACKREST_CONFIG", "/etc/pgbackrest/pgbackrest.conf");
    std::ifstream config_file(config_path);
    if (!config_file) {
        env.AddProblem("VALERIX_BACKUP_PGBACKREST_CONFIG: cannot read " + config_path);
    } else {
        std::stringstream text;
        text << config_file.rdbuf();
        std::vector<std::string> problems;
        engine.repo = backup::ParsePgBackRestConfig(text.str(), config_path, problems);
        for (auto& p : problems) env.AddProblem("VALERIX_BACKUP_PGBACKREST_CONFIG: " + p);
    }
    settings.state_dir = env.String("VALERIX_BACKUP_STATE_DIR", "/var/lib/valerix-backup");
    engine.external.url = env.String("VALERIX_BACKUP_EXTERNAL_URL", "");
    engine.external.dir = env.String("VALERIX_BACKUP_EXTERNAL_DIR", settings.state_dir + "/external");
    engine.external.timeout = std::chrono::seconds(env.Int("VALERIX_BACKUP_EXTERNAL_TIMEOUT_S", 3600, 1, 86400));
    if (!engine.external.url.empty() && engine.external.url.rfind("http://", 0) != 0 &&
        engine.external.url.rfind("https://", 0) != 0) {
        env.AddProblem("VALERIX_BACKUP_EXTERNAL_URL: must start with http:// or https://");
    }
    engine.drill.scratch_dir = env.String("VALERIX_BACKUP_SCRATCH_DIR", settings.state_dir + "/scratch");
    engine.drill.pg_bin = env.String("VALERIX_PG_BINDIR", "/usr/lib/postgresql/15/bin");
    auto& policy = engine.policy;
    policy.full_interval_s = env.Int("VALERIX_BACKUP_FULL_INTERVAL_S", policy.full_interval_s, 1, 366LL * 86400);
    policy.incr_interval_s = env.Int("VALERIX_BACKUP_INCR_INTERVAL_S", policy.incr_interval_s, 1, 366LL * 86400);
    policy.retry_after_failure_s = env.Int("VALERIX_BACKUP_RETRY_S", policy.retry_after_failure_s, 1, 86400);
    policy.drill_interval_s = env.Int("VALERIX_BACKUP_DRILL_INTERVAL_S", policy.drill_interval_s, 0, 366LL * 86400);
    policy.auto_sync = env.Bool("VALERIX_BACKUP_SYNC_AUTO", policy.auto_sync);
    policy.day_s = env.Int("VALERIX_BACKUP_SYNC_DAY_S", policy.day_s, 1, 366LL * 86400);
    policy.sync_offset_s = env.Int("VALERIX_BACKUP_SYNC_OFFSET_S", policy.sync_offset_s, 0, 366LL * 86400);
    if (policy.sync_offset_s >= policy.day_s) env.AddProblem("VALERIX_BACKUP_SYNC_OFFSET_S: must be below the day length");
    engine.schedule_enabled = env.Bool("VALERIX_BACKUP_SCHEDULE", true);
    engine.tick = env.Millis("VALERIX_BACKUP_TICK_MS", 5000, 50, 3600000);
    engine.info_interval = std::chrono::seconds(env.Int("VALERIX_BACKUP_INFO_INTERVAL_S", 30, 1, 86400));
    engine.check_interval = std::chrono::seconds(env.Int("VALERIX_BACKUP_CHECK_INTERVAL_S", 1800, 5, 7 * 86400));
    for (auto& [stanza, values] : ParseMapping(env.String("VALERIX_BACKUP_DATABASES", "order=order_db,inventory=inventory_db"),
                                               ',', ',', "VALERIX_BACKUP_DATABASES", env)) {
        if (values.size() != 1) env.AddProblem("VALERIX_BACKUP_DATABASES: one database per stanza (" + stanza + ")");
        else engine.databases[stanza] = values[0];
    }
    engine.count_tables = ParseMapping(env.String("VALERIX_BACKUP_COUNT_TABLES", "order=orders;inventory=products,reservations"),
                                       ';', ',', "VALERIX_BACKUP_COUNT_TABLES", env);
    if (auto token = env.Secret("VALERIX_ADMIN_TOKEN")) settings.admin_token = *token;
    settings.log_level = http::LogLevelFromEnv(env);
    if (::geteuid() == 0) {
        env.AddProblem("runs as root: run valerix-backup as the PostgreSQL OS user (e.g. runuser -u postgres --), "
                       "so pgBackRest's files and the restored clusters belong to it");
    }
    env.Check();
    return settings;
}

}  // namespace

int main() {
    Settings settings;
    try {
        settings = LoadSettings();
    } catch (const core::ConfigError& error) {
        std::fprintf(stderr, "valerix-backup: %s\n", error.what());
        return 2;
    }
    core::Logger logger("backup", settings.log_level);
    http::WarnIfNoAdminToken(logger, settings.admin_token);
    try {
        asio::io_context io(1);
        core::SteadyClock clock;
        core::SeededRandom random(core::EntropySeed());
        metrics::Registry registry;

        backup::StateStore store(settings.state_dir);
        std::string stanzas;
        for (const auto& s : settings.engine.repo.stanzas) stanzas += (stanzas.empty() ? "" : ",") + s.name;
        logger.Info("starting", {{"pgbackrest_config", settings.engine.repo.config_path},
                                 {"repository", settings.engine.repo.repo_path},
                                 {"encrypted", settings.engine.repo.encrypted},
                                 {"stanzas", stanzas},
                                 {"state_dir", settings.state_dir},
                                 {"external", settings.engine.external.Describe()}});
        if (!settings.engine.repo.encrypted) {
            logger.Warn("the pgBackRest repository is not encrypted (repo1-cipher-type): backups and the external "
                        "copy are readable by whoever holds the files");
        }
        core::SeededRandom job_ids(core::EntropySeed());  // the worker thread's own: Random is not thread-safe
        backup::BackupEngine engine(settings.engine, store, registry, logger, job_ids);
        engine.Start();
        backup::BackupApi api(engine, settings.admin_token);
        http::Router router;
        api.Register(router);
        http::AddLiveAndMetricsRoutes(router, registry);
        http::Server server(io, settings.server, router, logger, registry, random, clock);
        server.Start();

        asio::signal_set signals(io, SIGTERM, SIGINT);
        signals.async_wait([&](boost::system::error_code ec, int signal) {
            if (ec) return;
            logger.Info("signal received: stopping", {{"signal", signal}});
            server.Shutdown([&] {
                engine.Stop();
                io.stop();
            });
        });
        std::signal(SIGPIPE, SIG_IGN);
        io.run();
        engine.Stop();
        logger.Info("stopped");
        return 0;
    } catch (const std::exception& error) {
        logger.Error("fatal error", {{"error", error.what()}});
        return 1;
    }
}
