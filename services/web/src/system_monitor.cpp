#include "system_monitor.hpp"

#include <chrono>
#include <cmath>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>

#include <valerix/core/json_text.hpp>
#include <valerix/core/utc_time.hpp>

namespace valerix::web {
namespace {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

boost::json::value ParseOrNull(const std::string& text) {
    boost::system::error_code ec;
    auto value = boost::json::parse(text, ec);
    return ec ? boost::json::value() : value;
}

const boost::json::value* Find(const boost::json::value& value, std::initializer_list<std::string_view> path) {
    const boost::json::value* at = &value;
    for (auto key : path) {
        if (!at->is_object()) return nullptr;
        auto it = at->get_object().find(key);
        if (it == at->get_object().end()) return nullptr;
        at = &it->value();
    }
    return at;
}

std::string StringAt(const boost::json::value& value, std::initializer_list<std::string_view> path,
                     std::string fallback) {
    auto* found = Find(value, path);
    return found && found->is_string() ? std::string(found->get_string()) : fallback;
}

/// ok / degraded / fail (answered, unhealthy) / down (unreachable) from a deep /health answer. Degraded: its own
/// database is fine and only a check of a service behind it fails — order-service with inventory down keeps taking
/// orders (202, finished later), which "fail" would deny.
boost::json::object HealthOf(const std::string& name, const Upstream::Fetched& fetched) {
    boost::json::object component{{"name", name}};
    if (fetched.status == 0) {
        component["status"] = "down";
        component["detail"] = fetched.error;
    } else {
        component["status"] = fetched.status == 200 ? "ok" : "fail";
        auto body = ParseOrNull(fetched.body);
        if (auto* checks = Find(body, {"checks"}); checks && checks->is_object()) {
            component["checks"] = *checks;
            std::string failing;
            for (const auto& [check, result] : checks->get_object()) {
                if (StringAt(result, {"status"}, "ok") == "ok") continue;
                failing += (failing.empty() ? "" : "; ") + std::string(check) + ": " +
                           StringAt(result, {"error"}, "failing");
            }
            if (!failing.empty()) component["detail"] = failing;
            const auto* database = checks->get_object().if_contains("database");
            if (fetched.status != 200 && !failing.empty() && database != nullptr &&
                StringAt(*database, {"status"}, "") == "ok") {
                component["status"] = "degraded";
            }
        }
    }
    return component;
}

/// A database component from the owning service's health checks.
boost::json::object DatabaseOf(const std::string& name, const Upstream::Fetched& owner_health) {
    boost::json::object component{{"name", name}};
    auto body = ParseOrNull(owner_health.body);
    auto status = StringAt(body, {"checks", "database", "status"}, "");
    if (owner_health.status == 0 || status.empty()) {
        component["status"] = "unknown";
        component["detail"] = "its service is not reachable";
    } else {
        component["status"] = status == "ok" ? "ok" : "fail";
        if (status != "ok") component["detail"] = StringAt(body, {"checks", "database", "error"}, "");
    }
    return component;
}

std::string UtcNow() { return core::FormatUtc(std::chrono::system_clock::to_time_t(std::chrono::system_clock::now())); }

asio::awaitable<Upstream::Fetched> Unconfigured() { co_return Upstream::Fetched{0, "", "not configured"}; }

// The control room's backup panel: per stanza the newest full and newest backup, and the latest restore drill.
boost::json::value BackupSummary(const Upstream::Fetched& backups, const Upstream::Fetched& drill) {
    auto listing = ParseOrNull(backups.status == 200 ? backups.body : "");
    auto* stanzas = Find(listing, {"stanzas"});
    if (!stanzas || !stanzas->is_array()) {
        return boost::json::object{{"status", backups.status == 0 ? "unreachable" : "unavailable"}};
    }
    boost::json::array rows;
    for (const auto& stanza : stanzas->get_array()) {
        boost::json::object row{{"stanza", StringAt(stanza, {"name"}, "")}, {"status", StringAt(stanza, {"status"}, "")}};
        const boost::json::value* newest = nullptr;
        const boost::json::value* newest_full = nullptr;
        std::size_t count = 0;
        if (auto* list = Find(stanza, {"backups"}); list && list->is_array()) {
            count = list->get_array().size();
            for (const auto& b : list->get_array()) {
                newest = &b;  // oldest first
                if (StringAt(b, {"type"}, "") == "full") newest_full = &b;
            }
        }
        row["backups"] = count;
        row["last_full_at"] = newest_full ? boost::json::value(StringAt(*newest_full, {"finished_at"}, "")) : nullptr;
        row["last_backup_at"] = newest ? boost::json::value(StringAt(*newest, {"finished_at"}, "")) : nullptr;
        row["last_type"] = newest ? boost::json::value(StringAt(*newest, {"type"}, "")) : nullptr;
        rows.push_back(std::move(row));
    }
    boost::json::object summary{{"stanzas", std::move(rows)}};
    auto latest = ParseOrNull(drill.status == 200 ? drill.body : "");
    if (latest.is_object()) {
        boost::json::object recovery;
        if (auto* reports = Find(latest, {"stanzas"}); reports && reports->is_array()) {
            for (const auto& r : reports->get_array()) {
                if (auto* seconds = Find(r, {"recovery_seconds"}); seconds && seconds->is_number()) {
                    recovery[StringAt(r, {"stanza"}, "")] = std::round(seconds->to_number<double>() * 10) / 10;
                }
            }
        }
        auto* ok = Find(latest, {"ok"});
        summary["restore_drill"] = boost::json::object{{"ok", ok && ok->is_bool() && ok->get_bool()},
                                                       {"finished_at", StringAt(latest, {"finished_at"}, "")},
                                                       {"recovery_seconds", std::move(recovery)}};
    } else {
        summary["restore_drill"] = nullptr;
    }
    return summary;
}

}  // namespace

SystemMonitor::SystemMonitor(asio::io_context& io, Upstream& order, Upstream& inventory, Upstream* backup,
                             Upstream* prometheus, MonitorConfig config, const core::Clock& clock,
                             core::Logger& logger)
    : io_(io),
      order_(order),
      inventory_(inventory),
      backup_(backup),
      prometheus_(prometheus),
      config_(std::move(config)),
      clock_(clock),
      logger_(logger),
      tick_(io) {}

void SystemMonitor::Start() {
    asio::co_spawn(io_, Run(), [this](std::exception_ptr error) {
        if (!error) return;
        try {
            std::rethrow_exception(error);
        } catch (const std::exception& e) {
            logger_.Error("system monitor stopped unexpectedly", {{"error", e.what()}});
        }
    });
}

void SystemMonitor::Stop() {
    stopping_ = true;
    tick_.cancel();
    for (auto* waiter : waiters_) waiter->cancel();
}

asio::awaitable<void> SystemMonitor::Run() {
    while (!stopping_) {
        // The next snapshot is due one interval after this one began, not after it ended: while an upstream hangs,
        // a refresh takes a whole probe timeout, and the stream must still carry a snapshot every interval.
        const auto began = std::chrono::steady_clock::now();
        try {
            co_await Refresh();
        } catch (const std::exception& error) {  // one odd answer must not end the snapshots for good
            logger_.Error("system snapshot failed", {{"error", error.what()}});
        }
        tick_.expires_at(began + config_.interval);
        boost::system::error_code ignored;
        co_await tick_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    }
}

asio::awaitable<void> SystemMonitor::Refresh() {
    auto timeout = config_.probe_timeout;
    http::Headers admin;
    if (!config_.admin_token.empty()) admin.emplace_back("authorization", "Bearer " + config_.admin_token);
    std::string health = "/health", resilience = "/api/v1/resilience", chaos = "/admin/chaos";
    std::string ready = "/-/ready", alerts_target = "/api/v1/alerts";
    std::string backups = "/api/v1/backups", external_sync = "/api/v1/external-sync";
    std::string drill = "/api/v1/restore-drills/latest";
    // Started together and awaited together: one slow upstream costs one probe timeout, not the sum.
    auto order_health_probe = order_.Get(health, timeout);
    auto order_resilience_probe = order_.Get(resilience, timeout);
    auto inventory_health_probe = inventory_.Get(health, timeout);
    auto inventory_chaos_probe = inventory_.Get(chaos, timeout, admin);
    auto backup_probe = backup_ ? backup_->Get(health, timeout) : Unconfigured();
    auto backups_probe = backup_ ? backup_->Get(backups, timeout) : Unconfigured();
    auto sync_probe = backup_ ? backup_->Get(external_sync, timeout) : Unconfigured();
    auto drill_probe = backup_ ? backup_->Get(drill, timeout) : Unconfigured();
    auto ready_probe = prometheus_ ? prometheus_->Get(ready, timeout) : Unconfigured();
    auto alerts_probe = prometheus_ ? prometheus_->Get(alerts_target, timeout) : Unconfigured();
    auto [order_health, order_resilience, inventory_health, inventory_chaos, backup_health, backup_list, backup_sync,
          backup_drill, prometheus_ready, prometheus_alerts] =
        co_await (std::move(order_health_probe) && std::move(order_resilience_probe) &&
                  std::move(inventory_health_probe) && std::move(inventory_chaos_probe) && std::move(backup_probe) &&
                  std::move(backups_probe) && std::move(sync_probe) && std::move(drill_probe) &&
                  std::move(ready_probe) && std::move(alerts_probe));

    boost::json::array components;
    components.push_back({{"name", "web"}, {"status", "ok"}});
    components.push_back(HealthOf("order", order_health));
    components.push_back(HealthOf("inventory", inventory_health));
    components.push_back(DatabaseOf("order_db", order_health));
    components.push_back(DatabaseOf("inventory_db", inventory_health));
    if (backup_) {
        components.push_back(HealthOf("backup", backup_health));
    } else {
        components.push_back({{"name", "backup"}, {"status", "unknown"}, {"detail", "not configured"}});
    }
    boost::json::object prometheus{{"name", "prometheus"}};
    if (!prometheus_) {
        prometheus["status"] = "unknown";
        prometheus["detail"] = "not configured";
    } else {
        prometheus["status"] = prometheus_ready.status == 200 ? "ok" : (prometheus_ready.status == 0 ? "down" : "fail");
    }
    components.push_back(prometheus);

    boost::json::object snapshot{{"generated_at", UtcNow()}, {"components", components}};
    auto resilience_body = ParseOrNull(order_resilience.status == 200 ? order_resilience.body : "");
    if (auto* latency = Find(resilience_body, {"latency_30s"}); latency && latency->is_object()) {
        boost::json::object tile = latency->get_object();
        double average = tile.contains("average_ms") && tile["average_ms"].is_number()
                             ? tile["average_ms"].to_number<double>()
                             : 0;
        tile.erase("healthy");
        tile["state"] = average > config_.slow_average_ms ? "red" : "green";
        snapshot["order_latency"] = tile;
    } else {
        snapshot["order_latency"] = nullptr;
    }
    const boost::json::value* dependency = nullptr;
    if (auto* dependencies = Find(resilience_body, {"dependencies"});
        dependencies && dependencies->is_array() && !dependencies->get_array().empty()) {
        dependency = &dependencies->get_array()[0];
    }
    auto* breaker = dependency ? Find(*dependency, {"breaker"}) : nullptr;
    snapshot["breaker"] = breaker ? *breaker : boost::json::value();
    auto* budget = dependency ? Find(*dependency, {"retry_budget"}) : nullptr;
    snapshot["retry_budget"] = budget ? *budget : boost::json::value();
    auto* reconciler = Find(resilience_body, {"reconciler"});
    snapshot["reconciler"] = reconciler ? *reconciler : boost::json::value();
    snapshot["chaos"] = inventory_chaos.status == 200 ? ParseOrNull(inventory_chaos.body) : boost::json::value();
    if (backup_) {
        snapshot["backups"] = BackupSummary(backup_list, backup_drill);
        auto sync = ParseOrNull(backup_sync.status == 200 ? backup_sync.body : "");
        if (auto* result = Find(sync, {"last_result"}); result && result->is_object()) {
            // The panel shows the outcome, not the whole job record.
            sync.get_object()["last_result"] = boost::json::object{{"status", StringAt(*result, {"status"}, "")},
                                                                   {"at", StringAt(*result, {"at"}, "")},
                                                                   {"error", StringAt(*result, {"error"}, "")}};
        }
        snapshot["external_sync"] =
            sync.is_object() ? sync : boost::json::value(boost::json::object{{"status", "unavailable"}});
    } else {
        snapshot["backups"] = nullptr;
        snapshot["external_sync"] = nullptr;
    }

    boost::json::array firing;
    auto alerts_body = ParseOrNull(prometheus_alerts.status == 200 ? prometheus_alerts.body : "");
    if (auto* alerts = Find(alerts_body, {"data", "alerts"}); alerts && alerts->is_array()) {
        for (const auto& alert : alerts->get_array()) {
            if (StringAt(alert, {"state"}, "") != "firing") continue;
            firing.push_back({{"name", StringAt(alert, {"labels", "alertname"}, "")},
                              {"severity", StringAt(alert, {"labels", "severity"}, "")},
                              {"summary", StringAt(alert, {"annotations", "summary"}, "")}});
        }
    }
    snapshot["alerts"] = firing;

    snapshot_ = core::SerializeJson(snapshot);
    ++version_;
    for (auto* waiter : waiters_) waiter->cancel();
}

asio::awaitable<std::string> SystemMonitor::Latest() {
    // Before the first snapshot: wait for the refresh the monitor started at once (WaitNewer refreshes itself if
    // none came), rather than run a second one beside it.
    if (version_ == 0) co_return (co_await WaitNewer(0)).second;
    co_return snapshot_;
}

asio::awaitable<std::pair<std::uint64_t, std::string>> SystemMonitor::WaitNewer(std::uint64_t version) {
    if (version_ <= version && !stopping_) {
        asio::steady_timer waiter(io_, config_.interval * 2);
        auto position = waiters_.insert(waiters_.end(), &waiter);
        boost::system::error_code ignored;
        co_await waiter.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
        waiters_.erase(position);
    }
    if (version_ == 0) co_await Refresh();
    co_return std::make_pair(version_, snapshot_);
}

asio::awaitable<std::optional<std::string>> SystemEventStream::Next() {
    std::string prefix;
    if (first_) {
        first_ = false;
        prefix = "retry: 2000\n";
        auto snapshot = co_await monitor_.Latest();
        version_ = monitor_.Version();  // the next event waits for a newer one, not this one again
        co_return prefix + "event: system\ndata: " + snapshot + "\n\n";
    }
    auto [version, snapshot] = co_await monitor_.WaitNewer(version_);
    version_ = version;
    co_return "event: system\ndata: " + snapshot + "\n\n";
}

}  // namespace valerix::web
