// valerix-hiccup: measures the machine's own hiccups, one thread pinned to each CPU (see hiccup.hpp).
//   valerix-hiccup --mode wake|spin [--seconds N] [--json FILE]
#include <unistd.h>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <future>
#include <iostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hiccup.hpp"

namespace {

using namespace valerix::hiccup;
namespace json = boost::json;

constexpr std::string_view kUsage =
    "usage: valerix-hiccup --mode wake|spin [--seconds N] [--json FILE]\n"
    "  wake   each thread sleeps 1 ms again and again: how late it wakes (p50/p99/p99.9/max, microseconds);\n"
    "         cheap enough to run beside a load test\n"
    "  spin   each thread reads the clock in a loop: every gap over 50 us is time its CPU was taken away, by\n"
    "         another process here (the thread was switched out) or, without a switch, by the host of a virtual\n"
    "         machine or interrupts; it keeps every CPU busy: run it on an idle machine\n"
    "  one thread per online CPU, pinned to it; --seconds 1..3600 (default 10); --json writes the figures\n";

struct Options {
    std::string mode;
    int seconds = 10;
    std::string json_file;
};

int Fail(const std::string& message) {
    std::cerr << "valerix-hiccup: " << message << "\n" << kUsage;
    return 2;
}

double Round(double value, int digits) {
    double scale = digits == 1 ? 10 : 1000;
    return static_cast<double>(static_cast<long long>(value * scale + 0.5)) / scale;
}

json::object ToJson(const Lateness& l) {
    return {{"samples", l.samples},
            {"late_us", {{"p50", Round(l.p50_us, 1)}, {"p99", Round(l.p99_us, 1)}, {"p99.9", Round(l.p999_us, 1)},
                         {"max", Round(l.max_us, 1)}}}};
}

json::object ToJson(const Stalls& s) {
    return {{"gaps", s.gaps},         {"lost_ms", Round(s.lost_ms, 3)}, {"over_1ms", s.over_1ms},
            {"over_5ms", s.over_5ms}, {"over_10ms", s.over_10ms},       {"max_ms", Round(s.max_ms, 3)}};
}

/// Runs `probe(cpu)` on a thread of its own for each of `cpus` CPUs at once; its results, by CPU.
template <class Probe>
auto OnEveryCpu(int cpus, Probe probe) {
    using Result = decltype(probe(0));
    std::vector<std::future<Result>> running;
    for (int cpu = 0; cpu < cpus; ++cpu) running.push_back(std::async(std::launch::async, probe, cpu));
    std::vector<Result> results;
    for (auto& r : running) results.push_back(r.get());
    return results;
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    std::vector<std::string_view> args(argv + 1, argv + argc);
    for (std::size_t i = 0; i < args.size(); ++i) {
        auto flag = args[i];
        if (flag == "--help" || flag == "-h") {
            std::cout << kUsage;
            return 0;
        }
        if (i + 1 >= args.size()) return Fail(std::string(flag) + ": missing value or unknown flag");
        auto value = args[++i];
        if (flag == "--mode") {
            if (value != "wake" && value != "spin") return Fail("--mode must be wake or spin, not '" + std::string(value) + "'");
            options.mode = value;
        } else if (flag == "--seconds") {
            auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), options.seconds);
            if (error != std::errc{} || end != value.data() + value.size() || options.seconds < 1 ||
                options.seconds > 3600) {
                return Fail("--seconds must be a whole number 1..3600, not '" + std::string(value) + "'");
            }
        } else if (flag == "--json") {
            options.json_file = value;
        } else {
            return Fail("unknown flag " + std::string(flag));
        }
    }
    if (options.mode.empty()) return Fail("--mode is required");

    const long online = sysconf(_SC_NPROCESSORS_ONLN);
    const int cpus = static_cast<int>(std::clamp<long>(online, 1, 256));
    const auto duration = std::chrono::seconds(options.seconds);
    const bool wake = options.mode == "wake";
    json::object result{{"mode", options.mode}, {"seconds", options.seconds}};
    json::array per_cpu;
    if (wake) {
        auto by_cpu = OnEveryCpu(cpus, [=](int cpu) { return WakeProbe(cpu, duration); });
        std::vector<double> all;
        for (int cpu = 0; cpu < cpus; ++cpu) {
            auto& late = by_cpu[static_cast<std::size_t>(cpu)];
            all.insert(all.end(), late.begin(), late.end());
            auto entry = ToJson(SummarizeLateness(std::move(late)));
            entry["cpu"] = cpu;
            per_cpu.push_back(std::move(entry));
        }
        auto total = SummarizeLateness(std::move(all));
        result["period_us"] = 1000;
        result["all"] = ToJson(total);
        std::printf("wake-ups 1 ms apart, %d s on %d CPUs: %zu, late p50 %.0f us, p99 %.0f us, p99.9 %.0f us, max %.1f ms\n",
                    options.seconds, cpus, total.samples, total.p50_us, total.p99_us, total.p999_us,
                    total.max_us / 1000);
    } else {
        auto by_cpu = OnEveryCpu(cpus, [=](int cpu) { return SpinProbe(cpu, duration); });
        std::vector<Gap> all;
        for (int cpu = 0; cpu < cpus; ++cpu) {
            const auto& gaps = by_cpu[static_cast<std::size_t>(cpu)];
            all.insert(all.end(), gaps.begin(), gaps.end());
            json::object entry{{"cpu", cpu},
                               {"host", ToJson(SummarizeStalls(GapsWhere(gaps, false)))},
                               {"processes", ToJson(SummarizeStalls(GapsWhere(gaps, true)))}};
            per_cpu.push_back(std::move(entry));
        }
        auto host = SummarizeStalls(GapsWhere(all, false));
        auto processes = SummarizeStalls(GapsWhere(all, true));
        result["threshold_us"] = 50;
        result["host"] = ToJson(host);
        result["processes"] = ToJson(processes);
        for (const auto& [stalls, by] : {std::pair{&host, "without a switch (the host, or interrupts)"},
                                         std::pair{&processes, "by other processes (switched out)"}}) {
            std::printf("spinning %d s on %d CPUs, taken %s: %.1f ms in %zu gaps over 50 us; over 1 ms %zu, "
                        "5 ms %zu, 10 ms %zu; longest %.1f ms\n",
                        options.seconds, cpus, by, stalls->lost_ms, stalls->gaps, stalls->over_1ms, stalls->over_5ms,
                        stalls->over_10ms, stalls->max_ms);
        }
    }
    result["cpus"] = std::move(per_cpu);
    if (!options.json_file.empty()) {
        std::ofstream out(options.json_file);
        out << json::serialize(result) << "\n";
        if (!out) {
            std::cerr << "valerix-hiccup: cannot write " << options.json_file << "\n";
            return 1;
        }
    }
    return 0;
}
