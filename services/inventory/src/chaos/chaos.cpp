#include "chaos/chaos.hpp"

#include <algorithm>
#include <iterator>
#include <sstream>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

namespace valerix::inventory {
namespace {

using core::FieldError;

constexpr std::string_view kModes[] = {"off", "every_nth", "probability"};
constexpr std::string_view kPoints[] = {"before_commit", "after_commit"};
constexpr std::string_view kActions[] = {"exit", "error_500", "drop_connection"};
constexpr std::string_view kRoutes[kChaosRoutes] = {"reserve", "commit", "release"};

/// Reads an enumerated string member; absent means `fallback`.
template <class Enum, std::size_t N>
core::Validated<Enum> EnumField(const boost::json::object& object, const char* key, const std::string& field,
                                const std::string_view (&names)[N], Enum fallback) {
    auto it = object.find(key);
    if (it == object.end() || it->value().is_null()) return fallback;
    if (it->value().is_string()) {
        for (std::size_t i = 0; i < N; ++i) {
            if (it->value().get_string() == names[i]) return static_cast<Enum>(i);
        }
    }
    std::string allowed;
    for (std::size_t i = 0; i < N; ++i) allowed += (i ? ", " : "") + std::string(names[i]);
    return FieldError{field, field + " must be one of " + allowed};
}

core::Validated<long long> OptionalInt(const boost::json::object& object, const char* key, const std::string& field,
                                       long long fallback, long long min, long long max) {
    if (!object.contains(key) || object.at(key).is_null()) return fallback;
    return core::IntegerField(object, key, field, min, max);
}

core::Validated<double> OptionalProbability(const boost::json::object& object, const char* key,
                                            const std::string& field) {
    auto it = object.find(key);
    if (it == object.end() || it->value().is_null()) return 0.0;
    if (!it->value().is_number()) return FieldError{field, field + " must be a number from 0 to 1"};
    double value = it->value().to_number<double>();
    if (!(value >= 0 && value <= 1)) return FieldError{field, field + " must be a number from 0 to 1"};
    return value;
}

/// An array of route names, each at most once, at least one; absent means every route.
core::Validated<std::array<bool, kChaosRoutes>> RoutesField(const boost::json::object& object, const char* key,
                                                             const std::string& field) {
    auto it = object.find(key);
    if (it == object.end() || it->value().is_null()) return std::array<bool, kChaosRoutes>{true, true, true};
    const std::string expected = field + " must be a list of one or more of reserve, commit, release";
    if (!it->value().is_array() || it->value().get_array().empty()) return FieldError{field, expected};
    std::array<bool, kChaosRoutes> routes{};
    for (const auto& name : it->value().get_array()) {
        auto* known = name.is_string() ? std::find(std::begin(kRoutes), std::end(kRoutes), name.get_string())
                                       : std::end(kRoutes);
        if (known == std::end(kRoutes)) return FieldError{field, expected};
        auto& selected = routes[static_cast<std::size_t>(known - std::begin(kRoutes))];
        if (selected) return FieldError{field, field + " names " + std::string(*known) + " twice"};
        selected = true;
    }
    return routes;
}

core::Validated<const boost::json::object*> Section(const boost::json::object& body, const char* key) {
    static const boost::json::object kEmpty;
    auto it = body.find(key);
    if (it == body.end() || it->value().is_null()) return &kEmpty;
    if (!it->value().is_object()) return FieldError{key, std::string(key) + " must be an object"};
    return &it->value().get_object();
}

/// every_nth needs every_nth >= 1; probability needs probability > 0.
std::optional<FieldError> CheckMode(ChaosMode mode, int every_nth, double probability, const std::string& section) {
    if (mode == ChaosMode::kEveryNth && every_nth < 1) {
        return FieldError{section + ".every_nth", section + ".every_nth must be at least 1 in every_nth mode"};
    }
    if (mode == ChaosMode::kProbability && probability <= 0) {
        return FieldError{section + ".probability",
                          section + ".probability must be above 0 in probability mode"};
    }
    return std::nullopt;
}

}  // namespace

std::string_view ToString(ChaosRoute route) { return kRoutes[static_cast<int>(route)]; }
std::string_view ToString(CrashAction action) { return kActions[static_cast<int>(action)]; }
std::string_view ToString(CrashPoint point) { return kPoints[static_cast<int>(point)]; }

core::Validated<ChaosConfig> ParseChaosConfig(const boost::json::value& body) {
    if (!body.is_object()) return FieldError{"body", "the body must be a JSON object"};
    const auto& object = body.get_object();
    ChaosConfig config;

    auto latency = Section(object, "latency");
    if (!latency) return latency.error();
    auto latency_mode = EnumField(**latency, "mode", "latency.mode", kModes, ChaosMode::kOff);
    if (!latency_mode) return latency_mode.error();
    auto latency_nth = OptionalInt(**latency, "every_nth", "latency.every_nth", 0, 0, 1'000'000);
    if (!latency_nth) return latency_nth.error();
    auto latency_probability = OptionalProbability(**latency, "probability", "latency.probability");
    if (!latency_probability) return latency_probability.error();
    auto delay = OptionalInt(**latency, "delay_ms", "latency.delay_ms", 3000, 0, 600'000);
    if (!delay) return delay.error();
    auto jitter = OptionalInt(**latency, "jitter_ms", "latency.jitter_ms", 0, 0, 600'000);
    if (!jitter) return jitter.error();
    auto routes = RoutesField(**latency, "routes", "latency.routes");
    if (!routes) return routes.error();
    config.latency = {*latency_mode, static_cast<int>(*latency_nth), *latency_probability, static_cast<int>(*delay),
                      static_cast<int>(*jitter), *routes};
    if (auto problem = CheckMode(config.latency.mode, config.latency.every_nth, config.latency.probability, "latency")) {
        return *problem;
    }

    auto crash = Section(object, "crash");
    if (!crash) return crash.error();
    auto crash_mode = EnumField(**crash, "mode", "crash.mode", kModes, ChaosMode::kOff);
    if (!crash_mode) return crash_mode.error();
    auto crash_nth = OptionalInt(**crash, "every_nth", "crash.every_nth", 0, 0, 1'000'000);
    if (!crash_nth) return crash_nth.error();
    auto crash_probability = OptionalProbability(**crash, "probability", "crash.probability");
    if (!crash_probability) return crash_probability.error();
    auto point = EnumField(**crash, "point", "crash.point", kPoints, CrashPoint::kAfterCommit);
    if (!point) return point.error();
    auto action = EnumField(**crash, "action", "crash.action", kActions, CrashAction::kExit);
    if (!action) return action.error();
    config.crash = {*crash_mode, static_cast<int>(*crash_nth), *crash_probability, *point, *action};
    if (auto problem = CheckMode(config.crash.mode, config.crash.every_nth, config.crash.probability, "crash")) {
        return *problem;
    }

    auto seed = OptionalInt(object, "seed", "seed", 42, 0, std::numeric_limits<long long>::max());
    if (!seed) return seed.error();
    config.seed = static_cast<std::uint64_t>(*seed);
    return config;
}

boost::json::object ToJson(const ChaosConfig& config) {
    boost::json::array routes;
    for (std::size_t i = 0; i < kChaosRoutes; ++i) {
        if (config.latency.routes[i]) routes.emplace_back(kRoutes[i]);
    }
    return {{"latency",
             {{"mode", kModes[static_cast<int>(config.latency.mode)]},
              {"every_nth", config.latency.every_nth},
              {"probability", config.latency.probability},
              {"delay_ms", config.latency.delay_ms},
              {"jitter_ms", config.latency.jitter_ms},
              {"routes", std::move(routes)}}},
            {"crash",
             {{"mode", kModes[static_cast<int>(config.crash.mode)]},
              {"every_nth", config.crash.every_nth},
              {"probability", config.crash.probability},
              {"point", ToString(config.crash.point)},
              {"action", ToString(config.crash.action)}}},
            {"seed", static_cast<std::int64_t>(config.seed)}};
}

Chaos::Chaos(ChaosConfig config, metrics::Registry& registry, core::Logger& logger)
    : config_(config),
      random_(config.seed),
      logger_(logger),
      injections_(registry.AddCounter("valerix_chaos_injections_total", "Faults injected by the chaos controls.",
                                      {"kind", "action"})) {}

void Chaos::Configure(const ChaosConfig& config) {
    std::lock_guard lock(mutex_);
    config_ = config;
    random_.seed(config.seed);
    latency_calls_ = 0;
    crash_calls_ = 0;
}

ChaosConfig Chaos::Current() const {
    std::lock_guard lock(mutex_);
    return config_;
}

boost::json::object Chaos::Progress() const {
    std::lock_guard lock(mutex_);
    std::ostringstream random;
    random << random_;
    return {{"latency_calls", latency_calls_}, {"crash_calls", crash_calls_}, {"random", random.str()}};
}

bool Chaos::Resume(const boost::json::object& progress) {
    const auto* latency = progress.if_contains("latency_calls");
    const auto* crash = progress.if_contains("crash_calls");
    const auto* random = progress.if_contains("random");
    if (latency == nullptr || crash == nullptr || random == nullptr || !latency->is_number() || !crash->is_number() ||
        !random->is_string()) {
        return false;
    }
    boost::system::error_code ec_latency, ec_crash;
    auto latency_calls = latency->to_number<std::uint64_t>(ec_latency);
    auto crash_calls = crash->to_number<std::uint64_t>(ec_crash);
    std::mt19937_64 engine;
    std::istringstream text{std::string(random->get_string())};
    text >> engine;
    if (ec_latency || ec_crash || !text) return false;
    std::lock_guard lock(mutex_);
    random_ = engine;
    latency_calls_ = latency_calls;
    crash_calls_ = crash_calls;
    return true;
}

bool Chaos::Fires(ChaosMode mode, int every_nth, double probability, std::uint64_t& calls) {
    ++calls;
    switch (mode) {
        case ChaosMode::kOff: return false;
        case ChaosMode::kEveryNth: return every_nth > 0 && calls % static_cast<std::uint64_t>(every_nth) == 0;
        case ChaosMode::kProbability:
            return std::uniform_real_distribution<double>(0.0, 1.0)(random_) < probability;
    }
    return false;
}

ChaosDecision Chaos::Decide(ChaosRoute route) {
    ChaosDecision decision;
    {
        std::lock_guard lock(mutex_);
        const auto& latency = config_.latency;
        if (latency.routes[static_cast<std::size_t>(route)] &&
            Fires(latency.mode, latency.every_nth, latency.probability, latency_calls_)) {
            int jitter = latency.jitter_ms > 0
                             ? std::uniform_int_distribution<int>(0, latency.jitter_ms)(random_)
                             : 0;
            decision.delay = std::chrono::milliseconds(latency.delay_ms + jitter);
        }
        const auto& crash = config_.crash;
        if (Fires(crash.mode, crash.every_nth, crash.probability, crash_calls_)) {
            decision.crash = crash.action;
            decision.point = crash.point;
        }
    }
    return decision;
}

void Chaos::RecordDelay(const ChaosDecision& decision, ChaosRoute route, const std::string& request_id,
                        std::chrono::milliseconds served) {
    if (decision.delay.count() <= 0) return;
    injections_.WithLabels({"latency", "delay"}).Inc();
    if (served < decision.delay) {  // the caller's deadline comes first: the call is answered 504 then
        logger_.Warn("chaos: injecting latency", {{"request_id", request_id}, {"operation", ToString(route)},
                                                  {"delay_ms", decision.delay.count()},
                                                  {"until_deadline_ms", std::max<long long>(0, served.count())}});
    } else {
        logger_.Warn("chaos: injecting latency", {{"request_id", request_id}, {"operation", ToString(route)},
                                                  {"delay_ms", decision.delay.count()}});
    }
}

void Chaos::RecordCrash(const ChaosDecision& decision, ChaosRoute route, const std::string& request_id) {
    if (!decision.crash) return;
    injections_.WithLabels({"crash", std::string(ToString(*decision.crash))}).Inc();
    logger_.Warn("chaos: injecting a crash", {{"request_id", request_id}, {"operation", ToString(route)},
                                              {"action", ToString(*decision.crash)},
                                              {"point", ToString(decision.point)}});
}

}  // namespace valerix::inventory
