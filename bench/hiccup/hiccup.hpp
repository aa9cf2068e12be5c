#pragma once
// Machine hiccups: how late a thread that sleeps 1 ms wakes up, and how long a spinning thread loses its CPU.
// On an idle machine both show what the host (hypervisor, other tenants) takes; under load, what every process of
// the system waits for a CPU. The benchmark reports them next to its latencies (bench/orders.sh, part hiccup).
#include <chrono>
#include <cstddef>
#include <vector>

namespace valerix::hiccup {

/// Lateness of wake-ups, in microseconds (nearest-rank percentiles).
struct Lateness {
    std::size_t samples = 0;
    double p50_us = 0, p99_us = 0, p999_us = 0, max_us = 0;
};

/// A gap a spinning thread saw between two readings of the clock, and whether the kernel switched it out meanwhile
/// (an involuntary context switch: another process of this machine ran). A gap without one is time the CPU itself
/// was gone — taken by the host of a virtual machine — or spent in interrupts.
struct Gap {
    double us = 0;
    bool switched = false;
};

/// Gaps a spinning thread saw between two readings of the clock, longer than the probe's threshold.
struct Stalls {
    std::size_t gaps = 0;  // gaps over the threshold
    double lost_ms = 0;    // their sum
    std::size_t over_1ms = 0, over_5ms = 0, over_10ms = 0;
    double max_ms = 0;
};

Lateness SummarizeLateness(std::vector<double> late_us);
Stalls SummarizeStalls(const std::vector<double>& gaps_us);
/// The gaps without a context switch (`switched` false) or with one (true).
std::vector<double> GapsWhere(const std::vector<Gap>& gaps, bool switched);

/// On `cpu` (pinned; -1: not pinned), sleeps `period` again and again for `duration`; returns how late each wake-up
/// came, in microseconds.
std::vector<double> WakeProbe(int cpu, std::chrono::nanoseconds duration,
                              std::chrono::nanoseconds period = std::chrono::milliseconds(1));

/// On `cpu` (pinned; -1: not pinned), reads the clock in a loop for `duration`; returns every gap between two
/// readings longer than `threshold`. Keeps the CPU busy for the whole duration.
std::vector<Gap> SpinProbe(int cpu, std::chrono::nanoseconds duration,
                              std::chrono::nanoseconds threshold = std::chrono::microseconds(50));

}  // namespace valerix::hiccup
