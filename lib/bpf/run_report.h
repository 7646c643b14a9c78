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

struct RunInfo {
    std::string target;  // "./pingpong -n 10 (pid 123)", "pid 1234 (comm ...)", "tid 99 (comm)"
    std::vector<std::string> command;  // the launched command, empty for -p/-t
    std::string probe_mode;            // "tp_btf", "raw_tp" ...
    double duration_s = 0;
    std::string end_reason;
    std::optional<ExitStatus> workload_status;  // once the launched command has ended
    std::vector<ProbeStatus> probes;
    std::vector<ProgramStats> program_stats;  // -v
    std::vector<std::string> warnings;
};

// The end of every tracer's text report: probes that did not attach, warnings, and with
// VERBOSE the kernel's run-time statistics of each program.
std::string probe_notes(const RunInfo& run, bool verbose);

// The run's keys in TOOL's JSON report: tool, schema_version, target, command,
// probe_mode, duration_s, end_reason, probes (and bpf_run_time with -v), workload
// {status, exit_code} when a launched command ended, warnings.
nlohmann::json run_json(const std::string& tool, const RunInfo& run);

}  // namespace tk
