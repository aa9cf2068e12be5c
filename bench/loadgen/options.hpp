#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace valerix::loadgen {

enum class Scenario {
    kOrders,        ///< POST /api/v1/orders, a fresh Idempotency-Key each
    kReservations,  ///< POST /api/v1/reservations, a fresh reservation_id each
    kSeedProducts,  ///< PUT /api/v1/products/{sku} once per catalog SKU (admin): creates the bench catalog
};

enum class LoopMode {
    kOpen,    ///< requests start at t0 + i / rate whatever happens to earlier ones
    kClosed,  ///< N workers, each starts its next request when its previous one is answered
};

std::string_view ToString(Scenario scenario);
std::string_view ToString(LoopMode mode);

/// Everything one run needs, validated by ParseOptions.
struct LoadOptions {
    Scenario scenario = Scenario::kOrders;
    std::string url;  ///< http://HOST:PORT as given (or the scenario's default)
    std::string host;
    unsigned short port = 0;

    LoopMode mode = LoopMode::kClosed;
    double rate = 0;      ///< open loop: requests per second
    int concurrency = 0;  ///< closed loop: workers
    /// How long requests are started for, after the warm-up; nullopt: until `requests` have been sent.
    std::optional<std::chrono::nanoseconds> duration;
    std::chrono::nanoseconds warmup{0};
    std::optional<std::uint64_t> requests;  ///< stop after this many measured requests
    std::size_t max_connections = 0;        ///< bound of the client's connection pool
    std::chrono::milliseconds timeout{10000};

    std::vector<std::string> skus;  ///< the catalog, hot SKUs first
    std::string catalog_source;     ///< "BENCH- x 10000" or the file name, for the report
    bool hot = false;
    int hot_skus = 10;
    double hot_share = 0.5;  ///< fraction of orders whose first item is a hot SKU
    int max_items = 3;
    int max_quantity = 3;
    int customers = 100000;

    std::string admin_token;  ///< seed-products only
    long long stock = 1000000000;
    long long price_cents = 100;

    std::string json_path;
    std::string samples_path;
    std::string label;
    std::uint64_t seed = 0;  ///< 0: from the OS
    bool quiet = false;
};

/// The outcome of parsing a command line: every problem found (reported together), or the options.
struct ParseOutcome {
    LoadOptions options;
    std::vector<std::string> errors;
    bool help = false;
};

/// Parses `--name value` and `--name=value` flags (argv without the program name). Reads --skus-file and
/// --token-file. Never throws for bad input: problems land in `errors`.
ParseOutcome ParseOptions(const std::vector<std::string>& args);

/// The --help text.
std::string Usage();

/// `prefix` followed by `index` zero-padded to `width` digits ("BENCH-" 7 4 -> "BENCH-0007").
std::string SkuName(std::string_view prefix, std::uint64_t index, int width);

}  // namespace valerix::loadgen
