#include "hiccup.hpp"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <thread>

namespace valerix::hiccup {
namespace {

using Clock = std::chrono::steady_clock;

double Micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

double NearestRank(const std::vector<double>& sorted, double q) {
    auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
    return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

void PinTo(int cpu) {
    if (cpu < 0) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    // Best effort: where pinning is not allowed, the probe still measures, only not per CPU.
    (void)pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

long InvoluntarySwitches() {
    rusage usage{};
    getrusage(RUSAGE_THREAD, &usage);
    return usage.ru_nivcsw;
}

}  // namespace

Lateness SummarizeLateness(std::vector<double> late_us) {
    Lateness out;
    out.samples = late_us.size();
    if (late_us.empty()) return out;
    std::sort(late_us.begin(), late_us.end());
    out.p50_us = NearestRank(late_us, 0.50);
    out.p99_us = NearestRank(late_us, 0.99);
    out.p999_us = NearestRank(late_us, 0.999);
    out.max_us = late_us.back();
    return out;
}

Stalls SummarizeStalls(const std::vector<double>& gaps_us) {
    Stalls out;
    out.gaps = gaps_us.size();
    for (double gap : gaps_us) {
        out.lost_ms += gap / 1000.0;
        out.over_1ms += gap > 1000.0 ? 1 : 0;
        out.over_5ms += gap > 5000.0 ? 1 : 0;
        out.over_10ms += gap > 10000.0 ? 1 : 0;
        out.max_ms = std::max(out.max_ms, gap / 1000.0);
    }
    return out;
}

std::vector<double> WakeProbe(int cpu, std::chrono::nanoseconds duration, std::chrono::nanoseconds period) {
    PinTo(cpu);
    std::vector<double> late;
    late.reserve(static_cast<std::size_t>(duration / std::max(period, std::chrono::nanoseconds(1000))) + 1);
    const auto end = Clock::now() + duration;
    for (auto before = Clock::now(); before < end; before = Clock::now()) {
        std::this_thread::sleep_for(period);
        late.push_back(std::max(0.0, Micros(Clock::now() - before - period)));
    }
    return late;
}

std::vector<double> GapsWhere(const std::vector<Gap>& gaps, bool switched) {
    std::vector<double> out;
    for (const auto& gap : gaps) {
        if (gap.switched == switched) out.push_back(gap.us);
    }
    return out;
}

std::vector<Gap> SpinProbe(int cpu, std::chrono::nanoseconds duration, std::chrono::nanoseconds threshold) {
    PinTo(cpu);
    std::vector<Gap> gaps;
    // The switch count is read only after a gap: a switch always makes one, and the loop stays a bare clock read.
    long switches = InvoluntarySwitches();
    const auto end = Clock::now() + duration;
    for (auto last = Clock::now(); last < end;) {
        auto now = Clock::now();
        if (now - last > threshold) {
            const long seen = InvoluntarySwitches();
            gaps.push_back({Micros(now - last), seen != switches});
            switches = seen;
            now = Clock::now();  // the read of the switch count is not part of the next gap
        }
        last = now;
    }
    return gaps;
}

}  // namespace valerix::hiccup
