// Composition root of the web gateway: serves the UI, proxies the public API, publishes the system snapshot.
#include <csignal>
#include <cstdio>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/url/parse.hpp>

#include <valerix/core/config.hpp>
#include <valerix/core/logging.hpp>
#include <valerix/core/random.hpp>
#include <valerix/http/server.hpp>
#include <valerix/http/service_setup.hpp>
#include <valerix/metrics/registry.hpp>

#include "gateway.hpp"

#ifndef VALERIX_DEFAULT_WEB_ROOT
#define VALERIX_DEFAULT_WEB_ROOT "web/dist"
#endif

namespace {

using namespace valerix;
namespace asio = boost::asio;

struct UpstreamSetting {
    bool configured = false;
    http::ClientConfig client;
};

struct Settings {
    http::ServerConfig server;
    UpstreamSetting order, inventory, backup, prometheus;
    std::chrono::milliseconds proxy_timeout{10000};
    std::string web_root;
    web::MonitorConfig monitor;
    core::LogLevel log_level = core::LogLevel::kInfo;
};

UpstreamSetting ReadUpstream(core::EnvReader& env, const std::string& name, const std::string& fallback) {
    UpstreamSetting setting;
    auto text = env.String(name, fallback);
    if (text.empty() || text == "none") return setting;
    auto url = boost::urls::parse_uri(text);
    if (!url || url->scheme() != "http" || !url->has_port() || url->host().empty()) {
        env.AddProblem(name + "='" + text + "' must look like http://HOST:PORT (or be empty)");
        return setting;
    }
    setting.configured = true;
    setting.client.host = std::string(url->host());
    setting.client.port = url->port_number();
    return setting;
}

Settings LoadSettings() {
    core::EnvReader env;
    Settings s;
    s.server = http::ServerConfigFromEnv(env, 8080);
    s.order = ReadUpstream(env, "VALERIX_ORDER_URL", "http://127.0.0.1:3001");
    s.inventory = ReadUpstream(env, "VALERIX_INVENTORY_URL", "http://127.0.0.1:3002");
    s.backup = ReadUpstream(env, "VALERIX_BACKUP_URL", "");
    s.prometheus = ReadUpstream(env, "VALERIX_PROMETHEUS_URL", "");
    if (!s.order.configured) env.AddProblem("VALERIX_ORDER_URL is required");
    if (!s.inventory.configured) env.AddProblem("VALERIX_INVENTORY_URL is required");
    s.proxy_timeout = env.Millis("VALERIX_PROXY_TIMEOUT_MS", 10000, 100, 600000);
    s.web_root = env.String("VALERIX_WEB_ROOT", VALERIX_DEFAULT_WEB_ROOT);
    s.monitor.interval = env.Millis("VALERIX_SNAPSHOT_INTERVAL_MS", 1000, 50, 60000);
    if (auto token = env.Secret("VALERIX_ADMIN_TOKEN")) s.monitor.admin_token = *token;
    s.log_level = http::LogLevelFromEnv(env);
    env.Check();
    return s;
}

}  // namespace

int main() {
    Settings settings;
    try {
        settings = LoadSettings();
    } catch (const core::ConfigError& error) {
        std::fprintf(stderr, "valerix-web: %s\n", error.what());
        return 2;
    }
    core::Logger logger("web", settings.log_level);
    http::RaiseOpenFileLimit(logger);
    try {
        asio::io_context io(1);
        core::SteadyClock clock;
        core::SeededRandom random(core::EntropySeed());
        metrics::Registry registry;

        web::Upstream order("order-service", io, settings.order.client, clock, settings.proxy_timeout);
        web::Upstream inventory("inventory-service", io, settings.inventory.client, clock, settings.proxy_timeout);
        std::unique_ptr<web::Upstream> backup, prometheus;
        if (settings.backup.configured) {
            backup = std::make_unique<web::Upstream>("backup-service", io, settings.backup.client, clock,
                                                     settings.proxy_timeout);
        }
        if (settings.prometheus.configured) {
            prometheus = std::make_unique<web::Upstream>("prometheus", io, settings.prometheus.client, clock,
                                                         settings.proxy_timeout);
        }
        web::StaticFiles files(settings.web_root, logger);
        if (!files.RootExists()) {
            logger.Warn("the web UI is not built: / will answer 503 until it is",
                        {{"web_root", settings.web_root}});
        }
        // The monitor's probes get connections of their own: on the proxy's (64 each) they queued behind the
        // traffic at load and timed out, and the snapshot then showed a busy service as down.
        auto probing = [](http::ClientConfig config) {
            config.max_connections = 4;  // a refresh sends at most 2 probes to one service, 4 to backup-service
            return config;
        };
        web::Upstream order_probes("order-service", io, probing(settings.order.client), clock, settings.proxy_timeout);
        web::Upstream inventory_probes("inventory-service", io, probing(settings.inventory.client), clock,
                                       settings.proxy_timeout);
        std::unique_ptr<web::Upstream> backup_probes;
        if (settings.backup.configured) {
            backup_probes = std::make_unique<web::Upstream>("backup-service", io, probing(settings.backup.client),
                                                            clock, settings.proxy_timeout);
        }
        web::SystemMonitor monitor(io, order_probes, inventory_probes, backup_probes.get(), prometheus.get(),
                                   settings.monitor, clock, logger);
        web::Gateway gateway(order, inventory, backup.get(), monitor, files);
        http::Router router;
        gateway.Register(router, registry);
        http::Server server(io, settings.server, router, logger, registry, random, clock);
        server.Start();
        monitor.Start();

        asio::signal_set signals(io, SIGTERM, SIGINT);
        signals.async_wait([&](boost::system::error_code ec, int signal) {
            if (ec) return;
            logger.Info("signal received: stopping", {{"signal", signal}});
            monitor.Stop();
            server.Shutdown([&] {
                for (web::Upstream* upstream : {&order, &inventory, &order_probes, &inventory_probes}) {
                    upstream->Close();
                }
                if (backup) backup->Close();
                if (backup_probes) backup_probes->Close();
                if (prometheus) prometheus->Close();
                io.stop();
            });
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
