#include "run_report.h"

#include <cinttypes>

#include "histogram.h"
#include "text.h"

namespace tk {

std::string run_headline(const std::string& tool, const RunInfo& run) {
    std::string line = tool + ": " + run.target + ", " + strprintf("%.2f s", run.duration_s) +
                       ", probes " + run.probe_mode;
    if (!run.end_reason.empty())
        line += "; " + run.end_reason;
    if (run.workload_status)
        line += " (" + run.workload_status->describe() + ")";
    return line;
}

std::string timeline_line(const TimelineSummary& t) {
    std::string line = "timeline: " + t.file + ", " + with_commas(t.events) + " events, " +
                       strprintf("%.1f MB", double(t.bytes) / 1e6) + "; open it in ui.perfetto.dev";
    if (t.lost)
        line += "; " + with_commas(t.lost) +
                " events lost (the ring was full: the trace marks "
                "where)";
    if (t.over_limit)
        line += "; " + with_commas(t.over_limit) +
                " events past --perfetto-limit not written (raise it)";
    return line;
}

std::string probe_notes(const RunInfo& run, bool verbose) {
    std::string out;
    for (auto& p : run.probes)
        if (!p.attached)
            out += "not attached: " + p.name + ": " + p.error + "\n";
    for (auto& w : run.warnings)
        out += "warning: " + w + "\n";
    if (run.timeline)
        out += timeline_line(*run.timeline) + "\n";
    if (!verbose || run.program_stats.empty())
        return out;
    out += "\nBPF run time (kernel statistics):\n";
    uint64_t total = 0;
    for (auto& ps : run.program_stats) {
        total += ps.run_time_ns;
        out += strprintf("  %-20s %12" PRIu64 " runs %12s total %10s per run\n", ps.name.c_str(),
                         ps.run_count, format_ns(double(ps.run_time_ns)).c_str(),
                         format_mean_ns(ps.run_time_ns, ps.run_count).c_str());
    }
    out += strprintf("  %-20s %12s      %12s total\n", "all", "", format_ns(double(total)).c_str());
    return out;
}

namespace {

// `probes` [{name, attached, error?}] and, with -v, `bpf_run_time` [{program, runs, run_time_ns}]
void add_probes_json(nlohmann::json& report, const RunInfo& run) {
    auto& pj = report["probes"] = nlohmann::json::array();
    for (auto& p : run.probes) {
        nlohmann::json one = {{"name", p.name}, {"attached", p.attached}};
        if (!p.attached)
            one["error"] = p.error;
        pj.push_back(one);
    }
    if (run.program_stats.empty())
        return;
    auto& rt = report["bpf_run_time"] = nlohmann::json::array();
    for (auto& p : run.program_stats)
        rt.push_back({{"program", p.name}, {"runs", p.run_count}, {"run_time_ns", p.run_time_ns}});
}

}  // namespace

nlohmann::json run_json(const std::string& tool, const RunInfo& run) {
    nlohmann::json j;
    j["tool"] = tool;
    j["schema_version"] = 1;
    j["target"] = run.target;
    j["command"] = run.command;
    j["probe_mode"] = run.probe_mode;
    j["duration_s"] = run.duration_s;
    j["end_reason"] = run.end_reason;
    add_probes_json(j, run);
    if (run.workload_status)
        j["workload"] = {{"status", run.workload_status->describe()},
                         {"exit_code", run.workload_status->shell_code()}};
    j["warnings"] = run.warnings;
    if (run.timeline)
        j["timeline"] = {{"file", run.timeline->file},
                         {"events", run.timeline->events},
                         {"lost", run.timeline->lost},
                         {"over_limit", run.timeline->over_limit},
                         {"bytes", run.timeline->bytes}};
    return j;
}

}  // namespace tk
