#include "gateway.hpp"

#include <optional>

#include <valerix/http/service_setup.hpp>

namespace valerix::web {
namespace {

using Awaitable = boost::asio::awaitable<http::Response>;

/// Forwards to `upstream` with the same target.
http::Handler ProxyTo(Upstream& upstream) {
    return [&upstream](const http::Request& request, http::RequestContext& context) -> Awaitable {
        co_return co_await upstream.Forward(request, context, request.target);
    };
}

http::Handler NotConfigured(std::string what) {
    return [what](const http::Request&, http::RequestContext&) -> Awaitable {
        co_return http::Problem(503, "service_unavailable", "Service unavailable", what + " is not configured",
                                {{"service", what}});
    };
}

}  // namespace

Gateway::Gateway(Upstream& order, Upstream& inventory, Upstream* backup, SystemMonitor& monitor, StaticFiles& files)
    : order_(order), inventory_(inventory), backup_(backup), monitor_(monitor), files_(files) {}

void Gateway::Register(http::Router& router, metrics::Registry& registry) {
    auto order = ProxyTo(order_);
    router.Add("POST", "/api/v1/orders", order);
    router.Add("GET", "/api/v1/orders", order);
    router.Add("GET", "/api/v1/orders/{id}", order);
    router.Add("POST", "/api/v1/orders/{id}/ship", order);
    router.Add("POST", "/api/v1/orders/{id}/cancel", order);
    router.Add("GET", "/api/v1/resilience", order);

    auto inventory = ProxyTo(inventory_);
    router.Add("GET", "/api/v1/products", inventory);
    router.Add("GET", "/api/v1/products/{sku}", inventory);
    router.Add("PUT", "/api/v1/products/{sku}", inventory);
    router.Add("POST", "/api/v1/products/{sku}/restock", inventory);
    auto chaos = [this](const http::Request& request, http::RequestContext& context) -> Awaitable {
        std::string target = "/admin/chaos";
        co_return co_await inventory_.Forward(request, context, target);
    };
    router.Add("GET", "/api/v1/chaos", chaos);
    router.Add("PUT", "/api/v1/chaos", chaos);

    auto backup = backup_ ? ProxyTo(*backup_) : NotConfigured("backup-service");
    router.Add("GET", "/api/v1/backups", backup);
    router.Add("POST", "/api/v1/backups", backup);
    router.Add("GET", "/api/v1/backups/jobs", backup);
    router.Add("GET", "/api/v1/backups/jobs/{id}", backup);
    router.Add("GET", "/api/v1/external-sync", backup);
    router.Add("POST", "/api/v1/external-sync", backup);
    router.Add("POST", "/api/v1/restore-drills", backup);
    router.Add("GET", "/api/v1/restore-drills/latest", backup);

    router.Add("GET", "/api/v1/system", [this](const http::Request&, http::RequestContext&) -> Awaitable {
        auto snapshot = co_await monitor_.Latest();
        http::Response response = http::JsonText(200, std::move(snapshot));
        response.headers.emplace_back("Cache-Control", "no-store");
        co_return response;
    });
    router.Add("GET", "/api/v1/events", [this](const http::Request&, http::RequestContext&) -> Awaitable {
        http::Response response;
        response.content_type = "text/event-stream";
        response.stream = std::make_shared<SystemEventStream>(monitor_);
        co_return response;
    });

    router.Add("GET", "/health", [this](const http::Request&, http::RequestContext&) -> Awaitable {
        // Deep (DESIGN.md §4): the gateway is healthy when it can serve the UI and reach every service it proxies
        // to: order, inventory, and backup-service when one is configured.
        std::string live = "/live";
        auto order_health = co_await order_.Get(live, std::chrono::milliseconds(800));
        auto inventory_health = co_await inventory_.Get(live, std::chrono::milliseconds(800));
        std::optional<Upstream::Fetched> backup_health;
        if (backup_) backup_health = co_await backup_->Get(live, std::chrono::milliseconds(800));
        bool ui = files_.RootExists();
        bool ok = ui && order_health.status == 200 && inventory_health.status == 200 &&
                  (!backup_health || backup_health->status == 200);
        auto check = [](const Upstream::Fetched& fetched) {
            boost::json::object result{{"status", fetched.status == 200 ? "ok" : "fail"}};
            if (fetched.status != 200) result["error"] = fetched.status ? "answered " + std::to_string(fetched.status) : fetched.error;
            return result;
        };
        boost::json::object checks{{"ui", {{"status", ui ? "ok" : "fail"}}},
                                   {"order", check(order_health)},
                                   {"inventory", check(inventory_health)}};
        if (backup_health) checks["backup"] = check(*backup_health);
        boost::json::object body{{"status", ok ? "ok" : "fail"}, {"checks", std::move(checks)}};
        co_return http::Json(ok ? 200 : 503, body);
    });
    // Whether this gateway can serve: its UI files only. An order or inventory outage is what the control room is
    // there to show, so it must not take the gateway out of a load balancer; /health still reports it.
    router.Add("GET", "/ready", [this](const http::Request&, http::RequestContext&) -> Awaitable {
        bool ui = files_.RootExists();
        boost::json::object body{{"status", ui ? "ok" : "fail"}, {"checks", {{"ui", {{"status", ui ? "ok" : "fail"}}}}}};
        co_return http::Json(ui ? 200 : 503, body);
    });
    http::AddLiveAndMetricsRoutes(router, registry);
    router.SetFallback([this](const http::Request& request, http::RequestContext&) -> Awaitable {
        if (request.path.starts_with("/api/")) {
            co_return http::Problem(404, "not_found", "Not found", "no API route at " + request.path);
        }
        co_return files_.Serve(request);
    });
}

}  // namespace valerix::web
