#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "scenario.hpp"
#include "stack.hpp"

namespace valerix::scenario {

/// How to run one scenario (command-line flags).
struct RunOptions {
    std::string scenario_path;
    std::string report_path;    // JSON report; empty: none
    std::string requests_path;  // JSON lines of every request; empty: <report>.requests.jsonl or in the work dir
    std::optional<std::uint64_t> seed;
    bool short_variant = false;
    std::optional<double> duration_s;
    std::optional<double> rate;
    std::string inventory_binary;
    std::string order_binary;
    std::string work_dir;  // empty: a fresh /tmp/valerix-scenario-XXXXXX
    bool keep_work_dir = false;
    /// Deliberately breaks invariants in the throwaway databases before checking (proves the checker can fail):
    /// comma-separated kinds of CorruptionKinds().
    std::string corrupt;
    bool verbose = false;
    /// Run against a stack someone else runs (e.g. `./valerix up`) instead of a throwaway one: only chaos events,
    /// no --corrupt. Databases are reached with the given libpq connection strings.
    bool external = false;
    Endpoint order{"127.0.0.1", 3001};
    Endpoint inventory{"127.0.0.1", 3002};
    std::string order_db;
    std::string inventory_db;
    std::string admin_token;
    /// With an external stack: a command that controls its supervisor (e.g. "./valerix ctl"); the runner appends
    /// supervisorctl arguments ("signal KILL inventory", "stop inventory", "start inventory", "restart order-db").
    /// Lets process faults run against the local stack. Empty: process faults are refused.
    std::string ctl;
};

/// The kinds --corrupt takes, comma-separated ("replays, stock, ...").
std::string CorruptionKinds();
bool IsCorruptionKind(const std::string& kind);

/// Exit codes of valerix-scenario.
enum ExitCode : int { kPass = 0, kViolations = 1, kUsage = 2, kRunFailed = 3 };

/// Runs the scenario end to end (stack, load, timeline, heal, checks), prints the readable report to stdout, writes
/// the JSON report, and returns the exit code: kPass, kViolations (any violation or missed expectation), or
/// kRunFailed (the stack could not be started). Throws ScenarioError on an invalid scenario.
int RunScenario(const RunOptions& options);

}  // namespace valerix::scenario
