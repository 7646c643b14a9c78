// `ctxswitch-trace compare`: the ping-pong matrix (processes, threads and coroutines over
// every IPC kind, in each placement of the two tasks) run under the tracer in several
// interleaved rounds; one table of medians with their spread beside the kernel's view,
// conclusions stated only where a difference is outside its spread, JSON and an SVG chart.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "compare_stats.h"

namespace ctxswitch {

// The figures measured in every round of a row, in table order; figure_key is the JSON key.
enum Figure : size_t {
    F_RTT_P50,             // round trip p50 (the workload's own timing)
    F_RTT_P99,             // round trip p99
    F_SWITCH_COST,         // the workload's estimate: (round trip - baseline) / 2
    F_HANDOFF_P50,         // the kernel's handoff latency (wakeup by the partner -> running)
    F_HANDOFF_P99,         //
    F_KERNEL_COST_P50,     // in-kernel switch cost of the row's kind (thread or process)
    F_KERNEL_SW_PER_RT,    // traced switches of the workload tree / round trips
    F_WORKLOAD_SW_PER_RT,  // the same from the workload's getrusage
    F_USER_SW_PER_RT,      // user-level (coroutine) switches per round trip
    F_COUNT
};
const char* figure_key(Figure f);

// Where the two tasks of a kernel ping-pong run. Coroutines are one thread: their rows are
// measured once, under same-cpu.
struct Placement {
    std::string name;  // "same-cpu", "cross-cpu", "unpinned"
    std::string cpus;  // pingpong's --cpu LIST ("0", "0,1"), "" when unpinned
};

// One run of one row: the figures (NaN where not measured, e.g. the kernel's switch cost
// when the tasks switched to idle rather than to each other).
struct RoundValues {
    std::array<double, F_COUNT> v{};
    uint64_t iterations = 0;
    bool verified = false;
};

// One row of the table: a model over an IPC kind in one placement, with every round.
struct CompareRow {
    std::string model;      // process, thread, coroutine
    std::string ipc;        // pipe, futex, asm ...
    std::string placement;  // see Placement
    std::string cpus;       // what it was pinned to ("0", "0,1", "unpinned")
    std::vector<RoundValues> rounds;
    std::string user_switches_source;  // "uprobe on coro_switch", "the workload's own count",
                                       // "none"

    std::vector<double> values(Figure f) const;  // per round
    Spread spread(Figure f) const { return spread_of(values(f)); }
    bool verified() const;
};

// What the machine is, as far as switch cost goes (read from /proc and sysfs).
struct MachineInfo {
    std::string cpu_model;
    unsigned cpus = 0;
    std::string kernel;
    bool virtualised = false;          // the CPUID hypervisor bit
    std::string hypervisor_signature;  // CPUID leaf 0x40000000, "" when none
    bool pcid = false;                 // PTI without PCID flushes the TLB at every kernel entry
    // /sys/devices/system/cpu/vulnerabilities: meltdown (PTI), spectre_v2 (IBRS, IBPB and
    // STIBP on context switch), spectre_v2_user when present; "" when the file is absent
    std::string meltdown, spectre_v2, spectre_v2_user;
    std::string pti;                    // "on", "off", "unknown"
    std::string spectre_v2_mitigation;  // "Retpolines", "Enhanced / Automatic IBRS", ...
    std::string ibrs;                   // "IBRS", "eIBRS", "off"
    std::string ibpb;                   // "conditional", "always-on", "disabled", "absent ..."
    std::string stibp;                  // "disabled", "forced", ... "not reported"
};
MachineInfo read_machine_info();
// Parses the sysfs mitigation lines into pti, ibpb, ibrs and stibp (pure: for tests).
void parse_mitigations(MachineInfo& m);
std::string machine_summary(const MachineInfo& m);  // two lines of text

// One conclusion: a paired comparison across rounds (stated only when its interval excludes
// "no difference"), or a plain fact of the table (always stated).
struct Conclusion {
    std::string placement;  // "" when it holds for every placement
    std::string topic;      // handoff, kernel_switch_cost, round_trip, coroutine_vs_thread,
                            // swapcontext_vs_asm, kernel_sees_coroutines
    std::string text;
    bool paired = false;  // a comparison with a decision, below
    Decision decision;
    std::string unit;      // "ratio" or "ns"
    bool measured = true;  // false: the figure was not measured in most rounds (never stated)
};

struct CompareResult {
    bool quick = false;
    size_t rounds = 0;
    std::vector<Placement> placements;
    MachineInfo machine;
    std::vector<CompareRow> rows;
    std::vector<Conclusion> conclusions;
    double seconds = 0;
};

// Conclusions computed from the rows alone: per placement, thread vs process handoff, kernel
// switch cost and round trip, each paired by round and IPC kind; then coroutines.
std::vector<Conclusion> compare_conclusions(const std::vector<CompareRow>& rows,
                                            const std::vector<Placement>& placements);
std::string compare_table(const CompareResult& r);
nlohmann::json compare_json(const CompareResult& r);
// Round-trip medians per placement, model and IPC with interquartile whiskers, log scale.
std::string compare_svg(const CompareResult& r);

// The subcommand's main (argv[0] is "compare").
int compare_main(int argc, char** argv);

}  // namespace ctxswitch
