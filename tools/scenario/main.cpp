// valerix-scenario: runs a chaos scenario against a throwaway Valerix stack and checks the invariants of DESIGN.md §3.
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <valerix/testing/files.hpp>

#include "runner.hpp"
#include "scenario.hpp"

namespace {

constexpr const char* kHelp = R"(usage: valerix-scenario SCENARIO.json [options]

Starts a throwaway stack (PostgreSQL, inventory-service, order-service on free 127.0.0.1 ports), drives orders through
the public API while the scenario's timeline injects faults, heals the system, waits for the reconciler, then checks
every invariant of DESIGN.md §3 and the idempotency of each key. Exit status: 0 pass, 1 violation or missed
expectation, 2 usage or invalid scenario, 3 the stack could not be started.

options:
  --report FILE          write the JSON report to FILE (every request goes to FILE.requests.jsonl)
  --requests FILE        write every request and answer as JSON lines to FILE
  --seed N               override the scenario's seed
  --short                run the scenario's "short" (CI) variant
  --duration SECONDS     override load.duration_s
  --rate ORDERS_PER_S    override load.rate (0: closed loop)
  --inventory-binary P   valerix-inventory to run (default: the one built with this tool)
  --order-binary P       valerix-order to run (default: the one built with this tool)
  --work-dir DIR         where service logs go (default: a fresh /tmp/valerix-scenario-XXXXXX)
  --keep                 keep the work directory even when the run passes
  --corrupt KINDS        break invariants on purpose before checking (comma-separated: replays, stock, on-hand,
                         orphan-reservation, order-status, order-items, order-unsettled, failed-intent,
                         idempotency-key); the run must then fail: a self-test of the checker
  --verbose              list every affected order and violating row

against a stack someone else runs (e.g. ./valerix up) instead of a throwaway one — chaos events only, no --corrupt;
it creates the scenario's SCN-* products, places real orders, and turns chaos off at the end:
  --external             use the stack below
  --order-url URL        default http://127.0.0.1:3001
  --inventory-url URL    default http://127.0.0.1:3002
  --order-db CONNINFO    libpq connection string of order_db (e.g. "host=127.0.0.1 port=5432 dbname=order_db
                         user=order_svc password=...")
  --inventory-db CONNINFO
  --admin-token-file F   the admin bearer token (default: $VALERIX_ADMIN_TOKEN)
  --ctl "COMMAND"        lets the timeline's process faults run through the stack's supervisor, e.g. --ctl
                         "./valerix ctl": kill = COMMAND signal KILL P, then stop P until the restart time (start
                         P); a PostgreSQL restart = COMMAND restart order-db inventory-db
)";

bool TakeValue(int argc, char** argv, int& i, std::string& value) {
    if (i + 1 >= argc) {
        std::fprintf(stderr, "valerix-scenario: %s needs a value\n%s", argv[i], kHelp);
        return false;
    }
    value = argv[++i];
    return true;
}

// "http://HOST:PORT" -> endpoint; false when it does not look like that.
bool ParseUrl(const std::string& url, valerix::scenario::Endpoint& endpoint) {
    const std::string prefix = "http://";
    if (url.rfind(prefix, 0) != 0) return false;
    std::string rest = url.substr(prefix.size());
    if (!rest.empty() && rest.back() == '/') rest.pop_back();
    auto colon = rest.rfind(':');
    if (colon == std::string::npos || colon == 0) return false;
    try {
        endpoint.host = rest.substr(0, colon);
        endpoint.port = std::stoi(rest.substr(colon + 1));
    } catch (const std::exception&) {
        return false;
    }
    return endpoint.port > 0 && endpoint.port < 65536;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace valerix::scenario;
    RunOptions options;
    options.inventory_binary = VALERIX_INVENTORY_BINARY;
    options.order_binary = VALERIX_ORDER_BINARY;
    try {
        for (int i = 1; i < argc; ++i) {
            std::string arg = argv[i], value;
            if (arg == "--help" || arg == "-h") {
                std::fputs(kHelp, stdout);
                return kPass;
            } else if (arg == "--report") {
                if (!TakeValue(argc, argv, i, options.report_path)) return kUsage;
            } else if (arg == "--requests") {
                if (!TakeValue(argc, argv, i, options.requests_path)) return kUsage;
            } else if (arg == "--seed") {
                if (!TakeValue(argc, argv, i, value)) return kUsage;
                options.seed = std::stoull(value);
            } else if (arg == "--short") {
                options.short_variant = true;
            } else if (arg == "--duration") {
                if (!TakeValue(argc, argv, i, value)) return kUsage;
                options.duration_s = std::stod(value);
            } else if (arg == "--rate") {
                if (!TakeValue(argc, argv, i, value)) return kUsage;
                options.rate = std::stod(value);
            } else if (arg == "--inventory-binary") {
                if (!TakeValue(argc, argv, i, options.inventory_binary)) return kUsage;
            } else if (arg == "--order-binary") {
                if (!TakeValue(argc, argv, i, options.order_binary)) return kUsage;
            } else if (arg == "--work-dir") {
                if (!TakeValue(argc, argv, i, options.work_dir)) return kUsage;
            } else if (arg == "--keep") {
                options.keep_work_dir = true;
            } else if (arg == "--corrupt") {
                if (!TakeValue(argc, argv, i, options.corrupt)) return kUsage;
                std::string rest = options.corrupt + ",";
                for (std::size_t at = 0, comma; (comma = rest.find(',', at)) != std::string::npos; at = comma + 1) {
                    std::string kind = rest.substr(at, comma - at);
                    if (!IsCorruptionKind(kind)) {
                        std::fprintf(stderr, "valerix-scenario: --corrupt takes %s\n",
                                     valerix::scenario::CorruptionKinds().c_str());
                        return kUsage;
                    }
                }
            } else if (arg == "--verbose") {
                options.verbose = true;
            } else if (arg == "--external") {
                options.external = true;
            } else if (arg == "--order-url" || arg == "--inventory-url") {
                if (!TakeValue(argc, argv, i, value)) return kUsage;
                if (!ParseUrl(value, arg == "--order-url" ? options.order : options.inventory)) {
                    std::fprintf(stderr, "valerix-scenario: %s must look like http://HOST:PORT\n", arg.c_str());
                    return kUsage;
                }
            } else if (arg == "--order-db") {
                if (!TakeValue(argc, argv, i, options.order_db)) return kUsage;
            } else if (arg == "--inventory-db") {
                if (!TakeValue(argc, argv, i, options.inventory_db)) return kUsage;
            } else if (arg == "--ctl") {
                if (!TakeValue(argc, argv, i, options.ctl)) return kUsage;
            } else if (arg == "--admin-token-file") {
                if (!TakeValue(argc, argv, i, value)) return kUsage;
                try {
                    options.admin_token = valerix::testing::ReadFile(value);
                } catch (const std::exception& error) {
                    std::fprintf(stderr, "valerix-scenario: %s\n", error.what());
                    return kUsage;
                }
                while (!options.admin_token.empty() &&
                       std::isspace(static_cast<unsigned char>(options.admin_token.back()))) {
                    options.admin_token.pop_back();
                }
            } else if (!arg.empty() && arg[0] == '-') {
                std::fprintf(stderr, "valerix-scenario: unknown option %s\n%s", arg.c_str(), kHelp);
                return kUsage;
            } else if (options.scenario_path.empty()) {
                options.scenario_path = arg;
            } else {
                std::fprintf(stderr, "valerix-scenario: one scenario at a time\n%s", kHelp);
                return kUsage;
            }
        }
    } catch (const std::exception& error) {
        std::fprintf(stderr, "valerix-scenario: bad number: %s\n", error.what());
        return kUsage;
    }
    if (options.scenario_path.empty()) {
        std::fputs(kHelp, stderr);
        return kUsage;
    }
    if (options.external) {
        if (options.admin_token.empty()) {
            const char* token = std::getenv("VALERIX_ADMIN_TOKEN");
            options.admin_token = token != nullptr ? token : "";
        }
        if (options.order_db.empty() || options.inventory_db.empty() || options.admin_token.empty()) {
            std::fprintf(stderr,
                         "valerix-scenario: --external needs --order-db, --inventory-db and an admin token "
                         "(--admin-token-file or VALERIX_ADMIN_TOKEN)\n");
            return kUsage;
        }
    }
    try {
        return RunScenario(options);
    } catch (const ScenarioError& error) {
        std::fprintf(stderr, "valerix-scenario: invalid scenario: %s\n", error.what());
        return kUsage;
    } catch (const std::exception& error) {
        std::fprintf(stderr, "valerix-scenario: run failed: %s\n", error.what());
        return kRunFailed;
    }
}
