// Composition root of inventory-service: reads configuration, builds the object graph, serves until SIGTERM.
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/json/parse.hpp>

#include <valerix/core/after_all.hpp>
#include <valerix/core/config.hpp>
#include <valerix/core/logging.hpp>
#include <valerix/core/random.hpp>
#include <valerix/http/server.hpp>
#include <valerix/http/service_setup.hpp>
#include <valerix/metrics/registry.hpp>
#include <valerix/pg/startup.hpp>

#include "api/inventory_api.hpp"
#include "monitoring/low_stock.hpp"
#include "storage/inventory_store.hpp"

namespace valerix::inventory {
const std::vector<pg::Migration>& Migrations();
}

namespace {

using namespace valerix;
namespace asio = boost::asio;

struct Settings {
    http::ServerConfig server;
    pg::PoolConfig pool;
    inventory::ApiConfig api;
    inventory::ChaosConfig chaos;
    inventory::LowStockConfig low_stock;
    core::LogLevel log_level = core::LogLevel::kInfo;
};

/// The whole text of `path`, or nothing when it cannot be opened.
std::optional<std::string> ReadText(const std::string& path) {
    std::ifstream in(path);
    if (!in) return std::nullopt;
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

/// Goes on with the seeded sequence where a crash that exited left it (ChaosProgressFile), when the configuration is
/// still the one it ran under; the file is removed either way.
void ResumeChaos(inventory::Chaos& chaos, const inventory::ChaosConfig& config, const std::string& chaos_file,
                 core::Logger& logger) {
    const auto path = inventory::ChaosProgressFile(chaos_file);
    auto text = ReadText(path);
    if (!text) return;
    std::remove(path.c_str());
    boost::system::error_code ec;
    auto saved = boost::json::parse(*text, ec);
    const auto* object = !ec && saved.is_object() ? &saved.get_object() : nullptr;
    const auto* progress = object != nullptr ? object->if_contains("progress") : nullptr;
    if (object == nullptr || !object->contains("config") || object->at("config") != inventory::ToJson(config)) {
        logger.Info("chaos: saved progress is for another configuration; counting from the start");
    } else if (progress != nullptr && progress->is_object() && chaos.Resume(progress->get_object())) {
        logger.Info("chaos: going on where the crashed process stopped");
    } else {
        logger.Warn("chaos: the saved progress cannot be read; counting from the start", {{"file", path}});
    }
}

Settings LoadSettings() {
    core::EnvReader env;
    Settings settings;
    settings.server = http::ServerConfigFromEnv(env, 3002);
    settings.pool = pg::PoolConfigFromEnv(env, "host=127.0.0.1 port=5433 dbname=inventory_db user=inventory_svc");
    settings.api.db_timeout = env.Millis("VALERIX_REQUEST_TIMEOUT_MS", 5000, 10, 600000);
    if (auto token = env.Secret("VALERIX_ADMIN_TOKEN")) settings.api.admin_token = *token;
    if (auto chaos = env.String("VALERIX_CHAOS", ""); !chaos.empty()) {
        boost::system::error_code ec;
        auto json = boost::json::parse(chaos, ec);
        auto parsed = ec ? core::Validated<inventory::ChaosConfig>(core::FieldError{"VALERIX_CHAOS", "not valid JSON"})
                         : inventory::ParseChaosConfig(json);
        if (parsed) settings.chaos = *parsed;
        else env.AddProblem("VALERIX_CHAOS: " + parsed.error().detail);
    }
    // The configuration last set at run time wins over VALERIX_CHAOS: a restart caused by the crash simulator keeps it.
    settings.api.chaos_file = env.String("VALERIX_CHAOS_FILE", "");
    if (!settings.api.chaos_file.empty()) {
        auto text = ReadText(settings.api.chaos_file);
        boost::system::error_code ec;
        auto json = text ? boost::json::parse(*text, ec) : boost::json::value();
        if (text && !ec) {
            auto parsed = inventory::ParseChaosConfig(json);
            if (parsed) settings.chaos = *parsed;
            else env.AddProblem("VALERIX_CHAOS_FILE: " + settings.api.chaos_file + ": " + parsed.error().detail);
        } else if (text) {
            env.AddProblem("VALERIX_CHAOS_FILE: " + settings.api.chaos_file + " is not valid JSON");
        }
    }
    settings.low_stock.threshold = static_cast<int>(env.Int("VALERIX_LOW_STOCK_THRESHOLD", 10, 0, 1'000'000'000));
    settings.log_level = http::LogLevelFromEnv(env);
    env.Check();
    return settings;
}

}  // namespace

int main() {
    Settings settings;
    try {
        settings = LoadSettings();
    } catch (const core::ConfigError& error) {
        std::fprintf(stderr, "valerix-inventory: %s\n", error.what());
        return 2;
    }
    core::Logger logger("inventory", settings.log_level);
    http::RaiseOpenFileLimit(logger);
    http::WarnIfNoAdminToken(logger, settings.api.admin_token);
    try {
        asio::io_context io(1);
        core::SteadyClock clock;
        core::SeededRandom random(core::EntropySeed());
        metrics::Registry registry;

        pg::PrepareSchemaBeforeServing(io, settings.pool, inventory::Migrations(), logger, clock);

        pg::Pool pool(io, settings.pool, logger, clock);
        pg::RegisterPoolMetrics(registry, pool);

        inventory::InventoryStore store(pool);
        inventory::Chaos chaos(settings.chaos, registry, logger);
        if (!settings.api.chaos_file.empty()) ResumeChaos(chaos, settings.chaos, settings.api.chaos_file, logger);
        inventory::InventoryApi api(store, chaos, settings.api, logger, registry, clock);
        http::Router router;
        api.Register(router, registry);
        http::Server server(io, settings.server, router, logger, registry, random, clock);
        server.Start();
        inventory::LowStockMonitor low_stock(io, pool, settings.low_stock, registry, logger);
        low_stock.Start();

        asio::signal_set signals(io, SIGTERM, SIGINT);
        signals.async_wait([&](boost::system::error_code ec, int signal) {
            if (ec) return;
            logger.Info("signal received: stopping", {{"signal", signal}});
            // Stop once the monitor's query and every connection are done: no coroutine may still hold a
            // pooled connection when the objects below io are destroyed.
            auto finish = core::AfterAll(2, [&] {
                pool.Close();
                io.stop();
            });
            low_stock.Stop(finish);
            api.Stop();  // the gremlin's sleeps end: their calls answer 503, so the drain need not wait for them
            server.Shutdown(finish);
        });
        std::signal(SIGPIPE, SIG_IGN);
        io.run();
        logger.Info("stopped");
        return 0;
    } catch (const std::exception& error) {
        logger.Error("fatal error", {{"error", error.what()}});
        return 1;
    }
}
