// The part of every tracer's report that describes the run itself rather than what was
// measured: the target, how it ended, which probes attached, what went wrong.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bpf_skeleton.h"
#include "launcher.h"

namespace tk {

// What --perfetto wrote (docs/timeline.md).
struct TimelineSummary {
    std::string file;
    uint64_t events = 0;      // records written into the trace
    uint64_t lost = 0;        // records the ring had no room for (the kernel side counted)
    uint64_t over_limit = 0;  // records past --perfetto-limit, not written
    uint64_t bytes = 0;       // the trace's size
};

struct RunInfo {
    std::string target;  // "./pingpong -n 10 (pid 123)", "pid 1234 (comm ...)", "tid 99 (comm)"
    std::vector<std::string> command;  // the launched command, empty for -p/-t
    std::string probe_mode;            // "tp_btf", "raw_tp" ...
    double duration_s = 0;
    // The window the report covers, on bpf_ktime_get_ns()'s clock: the run's start and
    // when the maps were read (a thread alive then is counted up to it).
    uint64_t started_ns = 0, read_ns = 0;
    std::string end_reason;
    std::optional<ExitStatus> workload_status;  // once the launched command has ended
    std::vector<ProbeStatus> probes;
    std::vector<ProgramStats> program_stats;  // -v
    std::vector<std::string> warnings;
    std::optional<TimelineSummary> timeline;  // --perfetto
};

// The first line of every tracer's text report: "TOOL: TARGET, 1.23 s, probes MODE; how it
// ended (how the command ended)", without its newline.
std::string run_headline(const std::string& tool, const RunInfo& run);

// "timeline: FILE, N events, M MB; open it in ui.perfetto.dev" and what is missing from it.
std::string timeline_line(const TimelineSummary& t);

// The end of every tracer's text report: probes that did not attach, warnings, and with
// VERBOSE the kernel's run-time statistics of each program.
std::string probe_notes(const RunInfo& run, bool verbose);

// The run's keys in TOOL's JSON report: tool, schema_version, target, command,
// probe_mode, duration_s, end_reason, probes (and bpf_run_time with -v), workload
// {status, exit_code} when a launched command ended, warnings.
nlohmann::json run_json(const std::string& tool, const RunInfo& run);

// The "threads" array of every report: one row per thread, live or exited, with its
// counters (STATS_JSON of its stats) and who it is: tid, pid, comm, alive.
template <class Row, class StatsJson>
nlohmann::json threads_json(const std::vector<Row>& threads, StatsJson stats_json) {
    auto rows = nlohmann::json::array();
    for (const Row& t : threads) {
        nlohmann::json row = stats_json(t.stats);
        row["tid"] = t.stats.tid;
        row["pid"] = t.stats.pid;
        row["comm"] = t.comm;
        row["alive"] = t.alive;
        rows.push_back(std::move(row));
    }
    return rows;
}

}  // namespace tk
