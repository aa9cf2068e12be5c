#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace valerix::scenario {

/// A scenario file that cannot be run; the message names the offending field (e.g. "timeline[2].at_s").
class ScenarioError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// One product the runner creates (or resets) through the admin API before the load starts.
struct CatalogItem {
    std::string sku;
    std::string name;
    long long price_cents = 1000;
    int on_hand = 100;
};

/// What the simulated clients do.
struct LoadShape {
    /// Orders per second across all clients (open loop, paced); 0 means closed loop: each client places its next
    /// order as soon as the previous one is answered.
    double rate = 10;
    /// With a rate: requests in flight at most (one keep-alive connection each; orders still start on time, their
    /// requests wait for a connection). Without: clients, each placing its next order once the last is answered.
    int concurrency = 4;
    double duration_s = 10;
    /// Weight of orders with 1, 2, 3 items (distinct SKUs; never more than the SKUs in use).
    std::vector<double> items_weights = {0.6, 0.3, 0.1};
    int min_quantity = 1;
    int max_quantity = 3;
    /// Shares of answered orders the client later ships or cancels (the rest are left CONFIRMED).
    double ship_share = 0.2;
    double cancel_share = 0.1;
    /// A follow-up (ship or cancel) happens this long after the create was answered.
    int followup_min_ms = 200;
    int followup_max_ms = 2000;
    /// SKUs orders draw from; empty means every catalog SKU.
    std::vector<std::string> skus;
};

/// How a client treats failures: the same Idempotency-Key (or the same ship/cancel) is sent again after a connection
/// error, a timeout, a 5xx or a 409 idempotency_key_in_flight, with capped exponential backoff and full jitter,
/// until an answer, `max_attempts`, or `give_up_after_ms` since the first attempt.
struct ClientPolicy {
    int request_timeout_ms = 10000;
    int max_attempts = 50;
    int give_up_after_ms = 60000;
    int backoff_base_ms = 100;
    int backoff_cap_ms = 2000;
    /// A ship waits for a PENDING order to be confirmed this long at most (polling GET), then gives up.
    int confirm_wait_ms = 30000;
};

enum class EventKind { kChaos, kKill, kRestartPostgres };
enum class Service { kInventory, kOrder };

/// One entry of the timeline, `at_s` seconds after the load started.
struct TimelineEvent {
    double at_s = 0;
    EventKind kind = EventKind::kChaos;
    /// kChaos: the body of PUT /admin/chaos (DESIGN.md §5); inventory validates it.
    boost::json::object chaos;
    /// kKill: which process gets SIGKILL, and after how long the runner starts it again.
    Service service = Service::kInventory;
    double restart_after_s = 1;
    /// kRestartPostgres: stop in immediate mode, a crash (WAL not yet written is lost, recovery runs at start),
    /// instead of fast.
    bool immediate = false;
    std::string note;
};

/// Lower bounds that prove a run exercised what it claims to (a chaos scenario in which no fault fired proves
/// nothing). A missed expectation fails the run like a violation does.
struct Expectations {
    int min_orders = 1;
    int min_affected_orders = 0;
    int min_latency_injections = 0;
    /// Crash injections seen in /metrics plus inventory exits with the chaos exit status.
    int min_crash_injections = 0;
    /// Unplanned process exits the runner (as supervisor) restarted.
    int min_supervisor_restarts = 0;
    /// Orders that must end in each status, at least.
    std::map<std::string, int> min_status;
};

struct Scenario {
    std::string name;
    std::string description;
    std::uint64_t seed = 1;
    std::vector<CatalogItem> catalog;
    LoadShape load;
    ClientPolicy client;
    std::vector<TimelineEvent> timeline;
    /// Extra environment of the services (e.g. shorter resilience settings); the runner owns ports, DB URLs, tokens.
    std::map<std::string, std::string> order_env;
    std::map<std::string, std::string> inventory_env;
    /// After the load: how long the reconciler backlog may take to reach 0.
    double heal_timeout_s = 60;
    /// How long the runner, as supervisor, waits before starting a process that exited on its own.
    int supervisor_restart_delay_ms = 300;
    Expectations expect;
};

/// Parses a scenario document. With `short_variant`, the members of its "short" object replace the top-level ones
/// first ("load" and "client" are merged member by member, everything else is replaced), so one file describes both
/// the full run and the CI variant. Throws ScenarioError naming the field on any invalid or unknown member.
Scenario ParseScenario(const boost::json::value& document, bool short_variant);

/// Reads and parses a scenario file; the name defaults to the file's stem.
Scenario LoadScenario(const std::string& path, bool short_variant);

std::string_view ToString(Service service);

}  // namespace valerix::scenario
