#include "scenario.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <cmath>
#include <filesystem>
#include <limits>
#include <set>
#include <valerix/testing/files.hpp>

namespace valerix::scenario {
namespace {

namespace json = boost::json;

// Reads the members of one JSON object, remembering which it used, so an unknown (misspelled) member is an error
// rather than a silently ignored setting.
class Fields {
  public:
    Fields(const json::value& value, std::string path) : path_(std::move(path)) {
        if (!value.is_object()) throw ScenarioError(Name() + " must be an object");
        object_ = &value.get_object();
    }

    const json::value* Find(const char* key) {
        used_.insert(key);
        auto it = object_->find(key);
        return it == object_->end() || it->value().is_null() ? nullptr : &it->value();
    }

    double Number(const char* key, double fallback, double min, double max) {
        const json::value* value = Find(key);
        if (value == nullptr) return fallback;
        if (!value->is_number()) throw ScenarioError(Path(key) + " must be a number");
        double number = value->to_number<double>();
        if (!(number >= min && number <= max)) {
            throw ScenarioError(Path(key) + " must be between " + Format(min) + " and " + Format(max));
        }
        return number;
    }

    long long Integer(const char* key, long long fallback, long long min, long long max) {
        const json::value* value = Find(key);
        if (value == nullptr) return fallback;
        if (!value->is_int64() && !value->is_uint64()) throw ScenarioError(Path(key) + " must be an integer");
        if (value->is_uint64() && value->get_uint64() > static_cast<unsigned long long>(max)) {
            throw ScenarioError(Path(key) + " must be at most " + std::to_string(max));
        }
        long long number = value->to_number<long long>();
        if (number < min || number > max) {
            throw ScenarioError(Path(key) + " must be between " + std::to_string(min) + " and " + std::to_string(max));
        }
        return number;
    }

    std::string String(const char* key, std::string fallback, bool required = false) {
        const json::value* value = Find(key);
        if (value == nullptr) {
            if (required) throw ScenarioError(Path(key) + " is required");
            return fallback;
        }
        if (!value->is_string()) throw ScenarioError(Path(key) + " must be a string");
        return std::string(value->get_string());
    }

    const json::array* Array(const char* key, bool required = false) {
        const json::value* value = Find(key);
        if (value == nullptr) {
            if (required) throw ScenarioError(Path(key) + " is required");
            return nullptr;
        }
        if (!value->is_array()) throw ScenarioError(Path(key) + " must be an array");
        return &value->get_array();
    }

    std::map<std::string, std::string> StringMap(const char* key) {
        std::map<std::string, std::string> out;
        const json::value* value = Find(key);
        if (value == nullptr) return out;
        if (!value->is_object()) throw ScenarioError(Path(key) + " must be an object of strings");
        for (const auto& member : value->get_object()) {
            std::string name(member.key());
            if (member.value().is_string())
                out[name] = std::string(member.value().get_string());
            else if (member.value().is_number())
                out[name] = Format(member.value().to_number<double>());
            else
                throw ScenarioError(Path(key) + "." + name + " must be a string or a number");
        }
        return out;
    }

    /// Fails on any member that no reader asked for.
    void RejectUnknown() const {
        for (const auto& member : *object_) {
            if (!used_.contains(std::string(member.key()))) {
                throw ScenarioError(Path(std::string(member.key()).c_str()) + " is not a known setting");
            }
        }
    }

    std::string Path(const char* key) const { return path_.empty() ? std::string(key) : path_ + "." + key; }
    std::string Name() const { return path_.empty() ? "the scenario" : path_; }

    static std::string Format(double number) {
        if (number == std::floor(number) && std::abs(number) < 1e15)
            return std::to_string(static_cast<long long>(number));
        return std::to_string(number);
    }

  private:
    std::string path_;
    const json::object* object_ = nullptr;
    std::set<std::string> used_;
};

std::vector<CatalogItem> ParseCatalog(const json::array& items) {
    std::vector<CatalogItem> catalog;
    std::set<std::string> seen;
    for (std::size_t i = 0; i < items.size(); ++i) {
        Fields fields(items[i], "catalog[" + std::to_string(i) + "]");
        CatalogItem item;
        item.sku = fields.String("sku", "", true);
        if (item.sku.empty() || item.sku.size() > 64)
            throw ScenarioError(fields.Path("sku") + " must have 1..64 bytes");
        if (!seen.insert(item.sku).second) throw ScenarioError(fields.Path("sku") + " repeats " + item.sku);
        item.name = fields.String("name", "Scenario product " + item.sku);
        item.price_cents = fields.Integer("price_cents", 1000, 0, 100'000'000);
        item.on_hand = static_cast<int>(fields.Integer("on_hand", 100, 0, 1'000'000'000));
        fields.RejectUnknown();
        catalog.push_back(std::move(item));
    }
    return catalog;
}

LoadShape ParseLoad(const json::value& value) {
    Fields fields(value, "load");
    LoadShape load;
    load.rate = fields.Number("rate", load.rate, 0, 100000);
    load.concurrency = static_cast<int>(fields.Integer("concurrency", load.concurrency, 1, 4096));
    load.duration_s = fields.Number("duration_s", load.duration_s, 0.1, 86400);
    if (const json::array* weights = fields.Array("items_weights")) {
        if (weights->empty() || weights->size() > 3) {
            throw ScenarioError("load.items_weights must list the weights of 1, 2 (and 3) item orders");
        }
        load.items_weights.clear();
        double total = 0;
        for (const auto& weight : *weights) {
            if (!weight.is_number() || weight.to_number<double>() < 0) {
                throw ScenarioError("load.items_weights must hold non-negative numbers");
            }
            load.items_weights.push_back(weight.to_number<double>());
            total += load.items_weights.back();
        }
        if (total <= 0) throw ScenarioError("load.items_weights must not all be 0");
    }
    load.min_quantity = static_cast<int>(fields.Integer("min_quantity", load.min_quantity, 1, 1000));
    load.max_quantity = static_cast<int>(fields.Integer("max_quantity", load.max_quantity, 1, 1000));
    if (load.max_quantity < load.min_quantity) throw ScenarioError("load.max_quantity must be >= load.min_quantity");
    load.ship_share = fields.Number("ship_share", load.ship_share, 0, 1);
    load.cancel_share = fields.Number("cancel_share", load.cancel_share, 0, 1);
    if (load.ship_share + load.cancel_share > 1 + 1e-9) {
        throw ScenarioError("load.ship_share + load.cancel_share must not exceed 1");
    }
    load.followup_min_ms = static_cast<int>(fields.Integer("followup_min_ms", load.followup_min_ms, 0, 3'600'000));
    load.followup_max_ms = static_cast<int>(fields.Integer("followup_max_ms", load.followup_max_ms, 0, 3'600'000));
    if (load.followup_max_ms < load.followup_min_ms) {
        throw ScenarioError("load.followup_max_ms must be >= load.followup_min_ms");
    }
    if (const json::array* skus = fields.Array("skus")) {
        for (const auto& sku : *skus) {
            if (!sku.is_string()) throw ScenarioError("load.skus must hold strings");
            load.skus.emplace_back(sku.get_string());
        }
    }
    fields.RejectUnknown();
    return load;
}

ClientPolicy ParseClient(const json::value& value) {
    Fields fields(value, "client");
    ClientPolicy client;
    client.request_timeout_ms =
        static_cast<int>(fields.Integer("request_timeout_ms", client.request_timeout_ms, 100, 600000));
    client.max_attempts = static_cast<int>(fields.Integer("max_attempts", client.max_attempts, 1, 10000));
    client.give_up_after_ms =
        static_cast<int>(fields.Integer("give_up_after_ms", client.give_up_after_ms, 100, 3'600'000));
    client.backoff_base_ms = static_cast<int>(fields.Integer("backoff_base_ms", client.backoff_base_ms, 1, 600000));
    client.backoff_cap_ms = static_cast<int>(fields.Integer("backoff_cap_ms", client.backoff_cap_ms, 1, 600000));
    client.confirm_wait_ms = static_cast<int>(fields.Integer("confirm_wait_ms", client.confirm_wait_ms, 0, 3'600'000));
    fields.RejectUnknown();
    return client;
}

Service ParseService(const std::string& name, const std::string& path) {
    if (name == "inventory") return Service::kInventory;
    if (name == "order") return Service::kOrder;
    throw ScenarioError(path + " must be \"inventory\" or \"order\"");
}

std::vector<TimelineEvent> ParseTimeline(const json::array& entries) {
    std::vector<TimelineEvent> timeline;
    for (std::size_t i = 0; i < entries.size(); ++i) {
        Fields fields(entries[i], "timeline[" + std::to_string(i) + "]");
        TimelineEvent event;
        event.at_s = fields.Number("at_s", -1, 0, 86400);
        if (event.at_s < 0) throw ScenarioError(fields.Path("at_s") + " is required");
        event.note = fields.String("note", "");
        int kinds = 0;
        if (const json::value* chaos = fields.Find("chaos")) {
            if (!chaos->is_object()) throw ScenarioError(fields.Path("chaos") + " must be an object (§5 shape)");
            event.kind = EventKind::kChaos;
            event.chaos = chaos->get_object();
            ++kinds;
        }
        if (const json::value* kill = fields.Find("kill")) {
            if (!kill->is_string()) throw ScenarioError(fields.Path("kill") + " must be \"inventory\" or \"order\"");
            event.kind = EventKind::kKill;
            event.service = ParseService(std::string(kill->get_string()), fields.Path("kill"));
            event.restart_after_s = fields.Number("restart_after_s", 1, 0, 3600);
            ++kinds;
        }
        if (const json::value* restart = fields.Find("restart")) {
            if (!restart->is_string() || restart->get_string() != "postgres") {
                throw ScenarioError(fields.Path("restart") + " must be \"postgres\"");
            }
            event.kind = EventKind::kRestartPostgres;
            const std::string shutdown = fields.String("shutdown", "fast");
            if (shutdown != "fast" && shutdown != "immediate") {
                throw ScenarioError(fields.Path("shutdown") + " must be \"fast\" or \"immediate\"");
            }
            event.immediate = shutdown == "immediate";
            ++kinds;
        }
        if (kinds != 1) throw ScenarioError(fields.Name() + " needs exactly one of chaos, kill, restart");
        if (event.kind != EventKind::kKill && fields.Find("restart_after_s") != nullptr) {
            throw ScenarioError(fields.Path("restart_after_s") + " only applies to kill");
        }
        if (event.kind != EventKind::kRestartPostgres && fields.Find("shutdown") != nullptr) {
            throw ScenarioError(fields.Path("shutdown") + " only applies to restart");
        }
        fields.RejectUnknown();
        timeline.push_back(std::move(event));
    }
    std::stable_sort(timeline.begin(), timeline.end(),
                     [](const TimelineEvent& a, const TimelineEvent& b) { return a.at_s < b.at_s; });
    return timeline;
}

Expectations ParseExpect(const json::value& value) {
    Fields fields(value, "expect");
    Expectations expect;
    expect.min_orders = static_cast<int>(fields.Integer("min_orders", expect.min_orders, 0, 1'000'000'000));
    expect.min_affected_orders =
        static_cast<int>(fields.Integer("min_affected_orders", expect.min_affected_orders, 0, 1'000'000'000));
    expect.min_latency_injections =
        static_cast<int>(fields.Integer("min_latency_injections", expect.min_latency_injections, 0, 1'000'000'000));
    expect.min_crash_injections =
        static_cast<int>(fields.Integer("min_crash_injections", expect.min_crash_injections, 0, 1'000'000'000));
    expect.min_supervisor_restarts =
        static_cast<int>(fields.Integer("min_supervisor_restarts", expect.min_supervisor_restarts, 0, 1'000'000'000));
    if (const json::value* statuses = fields.Find("min_status")) {
        Fields status_fields(*statuses, "expect.min_status");
        for (const char* status : {"PENDING", "CONFIRMED", "REJECTED", "SHIPPING", "SHIPPED", "CANCELLED"}) {
            if (status_fields.Find(status) != nullptr) {
                expect.min_status[status] = static_cast<int>(status_fields.Integer(status, 0, 0, 1'000'000'000));
            }
        }
        status_fields.RejectUnknown();
    }
    fields.RejectUnknown();
    return expect;
}

// The "short" object replaces top-level members; load and client are merged one level deeper (expect is replaced:
// a short run proves less).
json::object ApplyShort(const json::object& document) {
    json::object merged = document;
    merged.erase("short");
    auto it = document.find("short");
    if (it == document.end()) return merged;
    if (!it->value().is_object()) throw ScenarioError("short must be an object");
    for (const auto& member : it->value().get_object()) {
        const std::string key(member.key());
        bool nested = key == "load" || key == "client";
        if (nested && member.value().is_object() && merged.contains(key) && merged.at(key).is_object()) {
            for (const auto& inner : member.value().get_object()) merged[key].get_object()[inner.key()] = inner.value();
        } else {
            merged[key] = member.value();
        }
    }
    return merged;
}

}  // namespace

std::string_view ToString(Service service) { return service == Service::kInventory ? "inventory" : "order"; }

Scenario ParseScenario(const json::value& document, bool short_variant) {
    if (!document.is_object()) throw ScenarioError("the scenario must be a JSON object");
    json::value effective = short_variant ? json::value(ApplyShort(document.get_object())) : document;
    if (!short_variant) {
        // Validate the short variant too, so a broken CI variant is found when the full one is edited.
        ParseScenario(document, true);
    }
    Fields fields(effective, "");
    fields.Find("short");  // consumed above
    Scenario scenario;
    scenario.name = fields.String("name", "");
    scenario.description = fields.String("description", "");
    scenario.seed = static_cast<std::uint64_t>(fields.Integer("seed", 1, 0, std::numeric_limits<long long>::max()));
    scenario.catalog = ParseCatalog(*fields.Array("catalog", true));
    if (scenario.catalog.empty()) throw ScenarioError("catalog must list at least one product");
    if (const json::value* load = fields.Find("load")) scenario.load = ParseLoad(*load);
    if (const json::value* client = fields.Find("client")) scenario.client = ParseClient(*client);
    if (const json::array* timeline = fields.Array("timeline")) scenario.timeline = ParseTimeline(*timeline);
    scenario.order_env = fields.StringMap("order_env");
    scenario.inventory_env = fields.StringMap("inventory_env");
    scenario.heal_timeout_s = fields.Number("heal_timeout_s", scenario.heal_timeout_s, 1, 3600);
    scenario.supervisor_restart_delay_ms = static_cast<int>(
        fields.Integer("supervisor_restart_delay_ms", scenario.supervisor_restart_delay_ms, 0, 600000));
    if (const json::value* expect = fields.Find("expect")) scenario.expect = ParseExpect(*expect);
    fields.RejectUnknown();

    std::set<std::string> skus;
    for (const auto& item : scenario.catalog) skus.insert(item.sku);
    for (const auto& sku : scenario.load.skus) {
        if (!skus.contains(sku)) throw ScenarioError("load.skus names " + sku + ", which is not in the catalog");
    }
    for (const auto& [name, value] : scenario.order_env) {
        if (name == "VALERIX_HTTP_PORT" || name == "VALERIX_HTTP_HOST" || name == "VALERIX_DB_URL" ||
            name == "VALERIX_INVENTORY_URL" || name == "VALERIX_ADMIN_TOKEN") {
            throw ScenarioError("order_env." + name + " is set by the runner");
        }
    }
    for (const auto& [name, value] : scenario.inventory_env) {
        if (name == "VALERIX_HTTP_PORT" || name == "VALERIX_HTTP_HOST" || name == "VALERIX_DB_URL" ||
            name == "VALERIX_ADMIN_TOKEN" || name == "VALERIX_CHAOS") {
            throw ScenarioError("inventory_env." + name + " is set by the runner (use a chaos event at 0 s)");
        }
    }
    return scenario;
}

Scenario LoadScenario(const std::string& path, bool short_variant) {
    std::string text = testing::ReadFile(path);
    boost::system::error_code ec;
    json::value document = json::parse(text, ec);
    if (ec) throw ScenarioError(path + ": not valid JSON: " + ec.message());
    Scenario scenario;
    try {
        scenario = ParseScenario(document, short_variant);
    } catch (const ScenarioError& error) {
        throw ScenarioError(path + ": " + error.what());
    }
    if (scenario.name.empty()) scenario.name = std::filesystem::path(path).stem().string();
    return scenario;
}

}  // namespace valerix::scenario
