// `ctxswitch-trace compare`: the ping-pong matrix (processes, threads and coroutines over
// every IPC kind) run under the tracer, one table with the workload's own timings beside
// the kernel's view, conclusions computed from it, JSON and an SVG chart.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ctxswitch {

// One row of the table: a model over an IPC kind.
struct CompareRow {
    std::string model;  // process, thread, coroutine
    std::string ipc;    // pipe, futex, asm ...
    uint64_t iterations = 0;
    // the workload's own measurements
    double rtt_p50_ns = 0, rtt_p99_ns = 0;       // coroutine rows have fractions of a ns
    double switch_cost_ns = 0;                   // (round trip - baseline) / 2
    double workload_kernel_switches_per_rt = 0;  // from the workload's getrusage
    bool verified = false;
    // the kernel's view (ctxswitch-trace)
    uint64_t handoff_count = 0, handoff_p50_ns = 0, handoff_p99_ns = 0;
    uint64_t kernel_switch_cost_p50_ns = 0;
    double kernel_switches_per_rt = 0;
    double user_switches_per_rt = 0;
    std::string user_switches_source;  // "uprobe on coro_switch", "workload's own count", "none"
};

struct CompareResult {
    std::string cpus;  // "0" or "unpinned"
    bool quick = false;
    std::vector<CompareRow> rows;
    std::vector<std::string> conclusions;
    double seconds = 0;
};

// Conclusions a person can read, computed from the rows alone.
std::vector<std::string> compare_conclusions(const std::vector<CompareRow>& rows);
std::string compare_table(const CompareResult& r);
nlohmann::json compare_json(const CompareResult& r);
// Bars of round-trip p50 with a p99 whisker per model and IPC, log scale.
std::string compare_svg(const CompareResult& r);

// The subcommand's main (argv[0] is "compare").
int compare_main(int argc, char** argv);

}  // namespace ctxswitch
