// valerix-loadgen: open-loop (fixed arrival rate) or closed-loop HTTP load against the Valerix services.
#include <algorithm>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <stdexcept>
#include <sys/resource.h>
#include <valerix/core/random.hpp>

#include "load_run.hpp"
#include "options.hpp"
#include "report.hpp"

int main(int argc, char** argv) {
    using namespace valerix;
    std::vector<std::string> args(argv + 1, argv + argc);
    auto parsed = loadgen::ParseOptions(args);
    if (parsed.help) {
        std::cout << loadgen::Usage();
        return 0;
    }
    if (!parsed.errors.empty()) {
        for (const auto& error : parsed.errors) std::cerr << "valerix-loadgen: " << error << "\n";
        std::cerr << "valerix-loadgen: see --help\n";
        return 2;
    }
    const auto& options = parsed.options;
    // Each connection is a descriptor, and Debian's default soft limit (1,024) is below what an open loop under a
    // slow server needs: take what the hard limit allows, or say early that it is not enough.
    const rlim_t wanted = static_cast<rlim_t>(options.max_connections) + 64;
    rlimit files{};
    if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < wanted) {
        files.rlim_cur = files.rlim_max == RLIM_INFINITY ? wanted : std::min(wanted, files.rlim_max);
        setrlimit(RLIMIT_NOFILE, &files);
        if (files.rlim_cur < wanted) {
            std::cerr << "valerix-loadgen: --max-connections " << options.max_connections << " needs " << wanted
                      << " open files, the limit is " << files.rlim_cur << "; fewer connections will open\n";
        }
    }
    core::SeededRandom random(options.seed != 0 ? options.seed : core::EntropySeed());

    loadgen::RunResult result;
    try {
        result = loadgen::RunLoad(options, random, options.quiet ? nullptr : &std::cerr);
    } catch (const std::exception& error) {
        std::cerr << "valerix-loadgen: cannot run: " << error.what() << "\n";
        return 1;
    }
    std::cout << loadgen::TextReport(options, result) << std::flush;
    if (!options.json_path.empty()) {
        std::ofstream out(options.json_path);
        out << boost::json::serialize(loadgen::JsonReport(options, result)) << "\n";
        if (!out) {
            std::cerr << "valerix-loadgen: cannot write " << options.json_path << "\n";
            return 1;
        }
    }
    if (!options.samples_path.empty()) {
        std::ofstream out(options.samples_path);
        out << "start_ms,latency_ms,status\n" << std::fixed << std::setprecision(3);
        for (const auto& sample : result.samples) {
            out << sample.start_ns / 1e6 << ',' << sample.latency_ns / 1e6 << ',' << sample.status << '\n';
        }
        if (!out) {
            std::cerr << "valerix-loadgen: cannot write " << options.samples_path << "\n";
            return 1;
        }
    }
    return 0;
}
