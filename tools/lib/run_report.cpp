#include "run_report.h"

namespace tk {

nlohmann::json run_json(const std::string& tool, const RunInfo& run) {
    nlohmann::json j;
    j["tool"] = tool;
    j["schema_version"] = 1;
    j["target"] = run.target;
    j["command"] = run.command;
    j["probe_mode"] = run.probe_mode;
    j["duration_s"] = run.duration_s;
    j["end_reason"] = run.end_reason;
    add_probes_json(j, run.probes, run.program_stats);
    if (run.workload_status)
        j["workload"] = {{"status", run.workload_status->describe()}, {"exit_code", run.workload_status->shell_code()}};
    j["warnings"] = run.warnings;
    return j;
}

}  // namespace tk
