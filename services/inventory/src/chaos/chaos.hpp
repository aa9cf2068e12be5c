#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <random>
#include <string>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <valerix/core/json_fields.hpp>
#include <valerix/core/logging.hpp>
#include <valerix/metrics/registry.hpp>

namespace valerix::inventory {

enum class ChaosMode { kOff, kEveryNth, kProbability };
enum class CrashPoint { kBeforeCommit, kAfterCommit };
enum class CrashAction { kExit, kError500, kDropConnection };

/// The reservation routes chaos can act on; a reserve is a single or a batch reservation.
enum class ChaosRoute { kReserve, kCommit, kRelease };
inline constexpr std::size_t kChaosRoutes = 3;

/// The latency gremlin: delays a call on one of `routes` by delay_ms (+ up to jitter_ms). Calls on other routes are
/// neither delayed nor counted towards every_nth.
struct LatencyChaos {
    ChaosMode mode = ChaosMode::kOff;
    int every_nth = 0;
    double probability = 0;
    int delay_ms = 3000;
    int jitter_ms = 0;
    std::array<bool, kChaosRoutes> routes{true, true, true};  ///< indexed by ChaosRoute
};

/// The crash simulator: before or after the database work commits, the process exits, answers 500, or drops the
/// connection without a reply.
struct CrashChaos {
    ChaosMode mode = ChaosMode::kOff;
    int every_nth = 0;
    double probability = 0;
    CrashPoint point = CrashPoint::kAfterCommit;
    CrashAction action = CrashAction::kExit;
};

/// DESIGN.md §5. The JSON shape of GET|PUT /admin/chaos.
struct ChaosConfig {
    LatencyChaos latency;
    CrashChaos crash;
    std::uint64_t seed = 42;
};

/// Parses a whole configuration; missing fields take their defaults. A mode that needs every_nth or probability
/// without a usable value is an error naming the field.
core::Validated<ChaosConfig> ParseChaosConfig(const boost::json::value& body);
boost::json::object ToJson(const ChaosConfig& config);

/// What to do to one reservation call.
struct ChaosDecision {
    std::chrono::milliseconds delay{0};
    std::optional<CrashAction> crash;
    CrashPoint point = CrashPoint::kAfterCommit;
};

/// Decides, per reservation call, whether to inject latency and whether to crash. `every_nth` is a deterministic
/// count of calls since the configuration was set; `probability` draws from a generator seeded with `seed`, so a run
/// reproduces. Thread-safe. Every injection is counted and logged with the request id.
class Chaos {
public:
    Chaos(ChaosConfig config, metrics::Registry& registry, core::Logger& logger);

    /// Replaces the whole configuration and restarts the counters and the generator.
    void Configure(const ChaosConfig& config);
    ChaosConfig Current() const;

    /// Where the counters and the generator stand: {"latency_calls", "crash_calls", "random"}. Saved before a
    /// simulated crash exits, so the restarted process goes on with the same sequence instead of drawing it again
    /// from the start (with the same seed, every restart would crash at the same call: a period, not a probability).
    boost::json::object Progress() const;
    /// Goes on from an earlier process's Progress() under the same configuration; false, with nothing changed, when
    /// it cannot be read.
    bool Resume(const boost::json::object& progress);

    /// Decides for one call on `route`. Nothing is counted yet: see RecordDelay and RecordCrash.
    ChaosDecision Decide(ChaosRoute route);
    /// Counts and logs a delay when it begins, `served` being how long it will hold the call (less than decided
    /// when the caller's deadline comes first). A delay skipped because the service is stopping is not counted.
    void RecordDelay(const ChaosDecision& decision, ChaosRoute route, const std::string& request_id,
                     std::chrono::milliseconds served);
    /// Counts and logs a crash when it is actually carried out (a call whose deadline ran out during an injected
    /// delay is answered 504 before it reaches its crash point).
    void RecordCrash(const ChaosDecision& decision, ChaosRoute route, const std::string& request_id);

private:
    bool Fires(ChaosMode mode, int every_nth, double probability, std::uint64_t& calls);

    mutable std::mutex mutex_;
    ChaosConfig config_;
    std::mt19937_64 random_;
    std::uint64_t latency_calls_ = 0;
    std::uint64_t crash_calls_ = 0;
    core::Logger& logger_;
    metrics::Family<metrics::Counter>& injections_;
};

/// Where a crash that exits saves the chaos progress: beside VALERIX_CHAOS_FILE. The next start resumes from it only
/// under the same configuration, and removes it, so a later ordinary restart starts the sequence afresh.
inline std::string ChaosProgressFile(const std::string& chaos_file) { return chaos_file + ".progress"; }

std::string_view ToString(ChaosRoute route);
std::string_view ToString(CrashAction action);
std::string_view ToString(CrashPoint point);

}  // namespace valerix::inventory
