#include "options.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>

namespace valerix::loadgen {
namespace {

constexpr std::string_view kOrdersUrl = "http://127.0.0.1:3001";
constexpr std::string_view kInventoryUrl = "http://127.0.0.1:3002";

/// Flags that take no value.
constexpr std::array<std::string_view, 3> kSwitches = {"--hot", "--quiet", "--help"};
/// Flags that take one value.
constexpr std::array<std::string_view, 26> kValued = {
    "--url",       "--scenario",        "--rate",       "--concurrency", "--duration",     "--warmup",
    "--requests",  "--max-connections", "--timeout-ms", "--skus",        "--sku-prefix",   "--sku-width",
    "--skus-file", "--hot-skus",        "--hot-share",  "--max-items",   "--max-quantity", "--customers",
    "--token",     "--token-file",      "--stock",      "--price-cents", "--json",         "--label",
    "--seed",      "--samples"};

template <std::size_t N>
bool Contains(const std::array<std::string_view, N>& names, std::string_view name) {
    return std::find(names.begin(), names.end(), name) != names.end();
}

/// Collects flag values and the problems found while converting them.
class FlagReader {
  public:
    FlagReader(std::map<std::string, std::string, std::less<>> values, std::vector<std::string>& errors)
        : values_(std::move(values)), errors_(errors) {}

    bool Has(std::string_view name) const { return values_.find(name) != values_.end(); }

    std::optional<std::string> Text(std::string_view name) const {
        auto it = values_.find(name);
        if (it == values_.end()) return std::nullopt;
        return it->second;
    }

    /// An integer in [min, max], or nullopt (absent, or a problem recorded).
    std::optional<long long> Integer(std::string_view name, long long min, long long max) {
        auto text = Text(name);
        if (!text) return std::nullopt;
        long long value = 0;
        auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
        if (ec != std::errc() || end != text->data() + text->size()) {
            errors_.push_back(std::string(name) + ": '" + *text + "' is not an integer");
            return std::nullopt;
        }
        if (value < min || value > max) {
            errors_.push_back(std::string(name) + ": " + *text + " is out of range [" + std::to_string(min) + ", " +
                              std::to_string(max) + "]");
            return std::nullopt;
        }
        return value;
    }

    /// A finite number in [min, max], or nullopt (absent, or a problem recorded).
    std::optional<double> Number(std::string_view name, double min, double max) {
        auto text = Text(name);
        if (!text) return std::nullopt;
        double value = 0;
        auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
        if (ec != std::errc() || end != text->data() + text->size() || !std::isfinite(value)) {
            errors_.push_back(std::string(name) + ": '" + *text + "' is not a number");
            return std::nullopt;
        }
        if (value < min || value > max) {
            std::ostringstream range;
            range << "[" << min << ", " << max << "]";
            errors_.push_back(std::string(name) + ": " + *text + " is out of range " + range.str());
            return std::nullopt;
        }
        return value;
    }

    std::optional<std::chrono::nanoseconds> Seconds(std::string_view name, double min, double max) {
        auto seconds = Number(name, min, max);
        if (!seconds) return std::nullopt;
        return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(*seconds));
    }

  private:
    std::map<std::string, std::string, std::less<>> values_;
    std::vector<std::string>& errors_;
};

std::optional<std::string> ReadFile(const std::string& path, std::vector<std::string>& errors, std::string_view flag) {
    std::ifstream in(path);
    if (!in) {
        errors.push_back(std::string(flag) + ": cannot read '" + path + "'");
        return std::nullopt;
    }
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string Trim(std::string_view text) {
    auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) return {};
    auto last = text.find_last_not_of(" \t\r\n");
    return std::string(text.substr(first, last - first + 1));
}

/// http://HOST:PORT with an optional trailing slash; HOST an IPv4 address or a name.
bool ParseUrl(const std::string& url, LoadOptions& options, std::vector<std::string>& errors) {
    constexpr std::string_view kScheme = "http://";
    std::string_view rest(url);
    if (!rest.starts_with(kScheme)) {
        errors.push_back("--url: '" + url + "' must start with http:// (https is not supported)");
        return false;
    }
    rest.remove_prefix(kScheme.size());
    if (rest.ends_with('/')) rest.remove_suffix(1);
    auto colon = rest.rfind(':');
    if (colon == std::string_view::npos || colon == 0 || rest.find('/') != std::string_view::npos) {
        errors.push_back("--url: '" + url + "' must look like http://HOST:PORT (no path)");
        return false;
    }
    auto port_text = rest.substr(colon + 1);
    unsigned port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 || port > 65535) {
        errors.push_back("--url: '" + std::string(port_text) + "' is not a TCP port");
        return false;
    }
    options.host = std::string(rest.substr(0, colon));
    options.port = static_cast<unsigned short>(port);
    return true;
}

}  // namespace

std::string_view ToString(Scenario scenario) {
    switch (scenario) {
        case Scenario::kOrders:
            return "orders";
        case Scenario::kReservations:
            return "reservations";
        case Scenario::kSeedProducts:
            return "seed-products";
    }
    return "unknown";
}

std::string_view ToString(LoopMode mode) { return mode == LoopMode::kOpen ? "open" : "closed"; }

std::string SkuName(std::string_view prefix, std::uint64_t index, int width) {
    auto digits = std::to_string(index);
    std::string name(prefix);
    if (static_cast<int>(digits.size()) < width) name.append(static_cast<std::size_t>(width) - digits.size(), '0');
    return name + digits;
}

ParseOutcome ParseOptions(const std::vector<std::string>& args) {
    ParseOutcome outcome;
    auto& errors = outcome.errors;
    auto& o = outcome.options;

    std::map<std::string, std::string, std::less<>> values;
    std::set<std::string, std::less<>> switches;
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string arg = args[i];
        if (arg == "-h") arg = "--help";
        std::optional<std::string> inline_value;
        if (auto eq = arg.find('='); arg.starts_with("--") && eq != std::string::npos) {
            inline_value = arg.substr(eq + 1);
            arg.resize(eq);
        }
        if (Contains(kSwitches, arg)) {
            if (inline_value) errors.push_back(arg + " takes no value");
            switches.insert(arg);
        } else if (Contains(kValued, arg)) {
            if (values.contains(arg)) errors.push_back(arg + " given twice");
            if (inline_value) {
                values[arg] = *inline_value;
            } else if (i + 1 < args.size()) {
                values[arg] = args[++i];
            } else {
                errors.push_back(arg + " needs a value");
            }
        } else if (arg.starts_with("-")) {
            errors.push_back("unknown flag " + arg + " (see --help)");
        } else {
            errors.push_back("unexpected argument '" + arg + "' (flags only; see --help)");
        }
    }
    if (switches.contains("--help")) {
        outcome.help = true;
        return outcome;
    }
    o.hot = switches.contains("--hot");
    o.quiet = switches.contains("--quiet");
    FlagReader flags(std::move(values), errors);

    auto scenario = flags.Text("--scenario").value_or("orders");
    if (scenario == "orders") {
        o.scenario = Scenario::kOrders;
    } else if (scenario == "reservations") {
        o.scenario = Scenario::kReservations;
    } else if (scenario == "seed-products") {
        o.scenario = Scenario::kSeedProducts;
    } else {
        errors.push_back("--scenario: '" + scenario + "' is not one of orders, reservations, seed-products");
    }
    o.url = flags.Text("--url").value_or(std::string(o.scenario == Scenario::kOrders ? kOrdersUrl : kInventoryUrl));
    ParseUrl(o.url, o, errors);

    // Loop mode: --rate is the open loop, --concurrency the closed loop; seeding defaults to 16 workers.
    auto rate = flags.Number("--rate", 0.001, 1e6);
    auto concurrency = flags.Integer("--concurrency", 1, 10000);
    if (flags.Has("--rate") && flags.Has("--concurrency")) {
        errors.push_back(
            "give either --rate R (open loop) or --concurrency N (closed loop), not both; "
            "bound the open loop's connections with --max-connections");
    } else if (rate) {
        o.mode = LoopMode::kOpen;
        o.rate = *rate;
    } else if (concurrency) {
        o.mode = LoopMode::kClosed;
        o.concurrency = static_cast<int>(*concurrency);
    } else if (o.scenario == Scenario::kSeedProducts) {
        o.mode = LoopMode::kClosed;
        o.concurrency = 16;
    } else if (!flags.Has("--rate") && !flags.Has("--concurrency")) {
        errors.push_back("give --rate R (open loop, requests per second) or --concurrency N (closed loop, workers)");
    }

    o.duration = flags.Seconds("--duration", 0.001, 86400);
    if (auto warmup = flags.Seconds("--warmup", 0, 3600)) o.warmup = *warmup;
    if (auto requests = flags.Integer("--requests", 1, 1000000000)) o.requests = static_cast<std::uint64_t>(*requests);
    if (!flags.Has("--duration") && !flags.Has("--requests") && o.scenario != Scenario::kSeedProducts) {
        o.duration = std::chrono::seconds(10);
    }
    if (auto timeout = flags.Integer("--timeout-ms", 1, 600000)) o.timeout = std::chrono::milliseconds(*timeout);
    if (auto max_connections = flags.Integer("--max-connections", 1, 100000)) {
        o.max_connections = static_cast<std::size_t>(*max_connections);
    } else if (o.mode == LoopMode::kClosed) {
        o.max_connections = static_cast<std::size_t>(std::max(1, o.concurrency));
    } else {
        o.max_connections = 256;
    }

    // The catalog: a file of SKUs (one per line, '#' comments) or PREFIX + 1..N.
    if (flags.Has("--skus-file") && (flags.Has("--skus") || flags.Has("--sku-prefix") || flags.Has("--sku-width"))) {
        errors.push_back("give either --skus-file or --sku-prefix/--skus/--sku-width, not both");
    } else if (auto file = flags.Text("--skus-file")) {
        if (auto text = ReadFile(*file, errors, "--skus-file")) {
            std::istringstream lines(*text);
            std::set<std::string> seen;
            std::string line;
            while (std::getline(lines, line)) {
                auto sku = Trim(line);
                if (sku.empty() || sku.starts_with('#')) continue;
                if (sku.size() > 64) {
                    errors.push_back("--skus-file: SKU '" + sku + "' is longer than 64 characters");
                    break;
                }
                if (seen.insert(sku).second) o.skus.push_back(sku);
            }
            if (o.skus.empty()) errors.push_back("--skus-file: '" + *file + "' holds no SKU");
            o.catalog_source = *file;
        }
    } else {
        auto prefix = flags.Text("--sku-prefix").value_or("BENCH-");
        auto count = flags.Integer("--skus", 1, 10000000).value_or(100);
        auto width = flags.Integer("--sku-width", 1, 20).value_or(4);
        if (prefix.empty() || prefix.size() > 40) errors.push_back("--sku-prefix must be 1..40 characters");
        o.skus.reserve(static_cast<std::size_t>(count));
        for (long long i = 1; i <= count; ++i) {
            o.skus.push_back(SkuName(prefix, static_cast<std::uint64_t>(i), static_cast<int>(width)));
        }
        o.catalog_source = prefix + "1.." + std::to_string(count);
    }

    if (auto hot_skus = flags.Integer("--hot-skus", 1, 1000000)) o.hot_skus = static_cast<int>(*hot_skus);
    if (auto hot_share = flags.Number("--hot-share", 0, 1)) o.hot_share = *hot_share;
    if (auto max_items = flags.Integer("--max-items", 1, 50)) o.max_items = static_cast<int>(*max_items);
    if (auto max_quantity = flags.Integer("--max-quantity", 1, 1000)) o.max_quantity = static_cast<int>(*max_quantity);
    if (auto customers = flags.Integer("--customers", 1, 1000000000)) o.customers = static_cast<int>(*customers);
    if (!o.skus.empty()) {
        if (o.max_items > static_cast<int>(o.skus.size())) {
            errors.push_back("--max-items " + std::to_string(o.max_items) + " exceeds the catalog of " +
                             std::to_string(o.skus.size()) + " SKUs");
        }
        if (o.hot && o.hot_skus >= static_cast<int>(o.skus.size())) {
            errors.push_back("--hot-skus " + std::to_string(o.hot_skus) + " must be smaller than the catalog (" +
                             std::to_string(o.skus.size()) + " SKUs)");
        }
    }
    if (!o.hot && (flags.Has("--hot-skus") || flags.Has("--hot-share"))) {
        errors.push_back("--hot-skus and --hot-share need --hot");
    }

    if (flags.Has("--token") && flags.Has("--token-file")) {
        errors.push_back("give either --token or --token-file, not both");
    } else if (auto token = flags.Text("--token")) {
        o.admin_token = *token;
    } else if (auto file = flags.Text("--token-file")) {
        if (auto text = ReadFile(*file, errors, "--token-file")) o.admin_token = Trim(*text);
    }
    if (o.scenario == Scenario::kSeedProducts) {
        if (o.admin_token.empty()) errors.push_back("--scenario seed-products needs --token or --token-file (admin)");
        if (o.requests) errors.push_back("--requests does not apply to seed-products (one request per SKU)");
        if (o.duration) errors.push_back("--duration does not apply to seed-products (one request per SKU)");
        o.requests = o.skus.size();
    }
    if (auto stock = flags.Integer("--stock", 0, 2147483647)) o.stock = *stock;
    if (auto price = flags.Integer("--price-cents", 0, 1000000000000)) o.price_cents = *price;

    o.json_path = flags.Text("--json").value_or("");
    o.samples_path = flags.Text("--samples").value_or("");
    o.label = flags.Text("--label").value_or("");
    if (auto seed = flags.Integer("--seed", 0, std::numeric_limits<long long>::max())) {
        o.seed = static_cast<std::uint64_t>(*seed);
    }
    return outcome;
}

std::string Usage() {
    return R"(valerix-loadgen: HTTP load against Valerix services, open or closed loop.

Usage:
  valerix-loadgen --scenario orders --concurrency 32 --duration 10        # closed loop: find saturation
  valerix-loadgen --scenario orders --rate 400 --duration 10 --json r.json # open loop: latency at a fixed rate
  valerix-loadgen --scenario seed-products --skus 10000 --token-file $DATA/secrets/admin-token

Scenarios (--scenario):
  orders          POST /api/v1/orders, fresh Idempotency-Key, random customer, 1..--max-items distinct SKUs
  reservations    POST /api/v1/reservations, fresh reservation_id, same item mix
  seed-products   PUT /api/v1/products/{sku} for every catalog SKU (admin), closed loop (default 16 workers)

Load:
  --url URL              http://HOST:PORT (default :3001 for orders, :3002 otherwise)
  --rate R               open loop: request i starts at t0 + i/R whatever earlier ones do; latency is measured
                         from that scheduled time, so a stalled server cannot hide its queue (no coordinated omission)
  --concurrency N        closed loop: N workers, each waits for its answer before sending again (saturation)
  --duration S           seconds of measured load (default 10, decimals allowed)
  --warmup S             seconds of load before measuring (default 0)
  --requests N           stop after N measured requests (with --duration: whichever comes first)
  --max-connections N    connection pool bound (default: N workers; 256 in open loop)
  --timeout-ms MS        per-request deadline, counted as a timeout error (default 10000)

Item mix:
  --sku-prefix P --skus N --sku-width W   catalog P0001..PN (default BENCH-, 100, 4 digits)
  --skus-file FILE       catalog from a file, one SKU a line ('#' comments); the first --hot-skus are the hot ones
  --hot                  hot variant: --hot-share (0.5) of the orders take their first item from the first
                         --hot-skus (10) SKUs; otherwise SKUs are uniform over the catalog
  --max-items N          items per order, uniform 1..N (default 3)   --max-quantity Q  uniform 1..Q (default 3)
  --customers N          customer ids bench-1..bench-N (default 100000)

seed-products:
  --token T | --token-file F   admin bearer token
  --stock N (default 1000000000)  --price-cents N (default 100)

Output:
  --json FILE            write the full result as JSON      --label TEXT   name of the run in the report
  --samples FILE         one CSV line per measured answer: start_ms (scheduled, from the end of the warm-up),
                         latency_ms, status — to see when the slow ones started
  --seed N               reproducible SKUs and ids (default: random)  --quiet  no progress lines
Exit status: 0 after a run (whatever the status codes), 2 for bad flags, 1 when the run could not start.
)";
}

}  // namespace valerix::loadgen
