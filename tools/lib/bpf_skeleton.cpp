#include "bpf_skeleton.h"

#include <bpf/bpf.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <mutex>

#include <nlohmann/json.hpp>

#include "histogram.h"
#include "text.h"

namespace tk {

namespace {
std::mutex g_log_lock;
std::string g_log;
bool g_echo = false;

int libbpf_print(enum libbpf_print_level level, const char* fmt, va_list args) {
    if (level == LIBBPF_DEBUG && !g_echo) return 0;
    char buf[4096];
    vsnprintf(buf, sizeof buf, fmt, args);
    std::lock_guard guard(g_log_lock);
    if (g_echo) fputs(buf, stderr);
    if (g_log.size() < (1u << 20)) g_log += buf;
    return 0;
}
}  // namespace

void capture_libbpf_messages(bool echo_to_stderr) {
    g_echo = echo_to_stderr;
    libbpf_set_print(libbpf_print);
}

std::string take_libbpf_messages() {
    std::lock_guard guard(g_log_lock);
    std::string out;
    out.swap(g_log);
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
}

const ProbeStatus& LinkSet::attach(struct bpf_program* prog, const std::string& name) {
    return adopt(bpf_program__attach(prog), name);
}

const ProbeStatus& LinkSet::adopt(struct bpf_link* link, const std::string& name) {
    ProbeStatus st;
    st.name = name;
    if (!link) {
        st.error = errno_text("attach failed");
        take_libbpf_messages();
    } else {
        st.attached = true;
        links_.emplace_back(link);
    }
    probes_.push_back(st);
    return probes_.back();
}

bool LinkSet::all_attached() const {
    for (auto& p : probes_)
        if (!p.attached) return false;
    return true;
}

std::vector<ProgramStats> program_stats_of(struct bpf_object* obj) {
    std::vector<ProgramStats> out;
    struct bpf_program* prog;
    bpf_object__for_each_program(prog, obj) {
        int fd = bpf_program__fd(prog);
        if (fd < 0) continue;
        struct bpf_prog_info info = {};
        __u32 len = sizeof info;
        if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) continue;
        out.push_back({bpf_program__name(prog), info.run_cnt, info.run_time_ns});
    }
    return out;
}

BpfStatsGuard::BpfStatsGuard() : fd_(bpf_enable_stats(BPF_STATS_RUN_TIME)) {}
BpfStatsGuard::~BpfStatsGuard() {
    if (fd_ >= 0) close(fd_);
}

std::string probe_notes(const std::vector<ProbeStatus>& probes, const std::vector<std::string>& warnings,
                        const std::vector<ProgramStats>& program_stats, bool verbose) {
    std::string out;
    for (auto& p : probes)
        if (!p.attached) out += "not attached: " + p.name + ": " + p.error + "\n";
    for (auto& w : warnings) out += "warning: " + w + "\n";
    if (!verbose || program_stats.empty()) return out;
    out += "\nBPF run time (kernel statistics):\n";
    uint64_t total = 0;
    for (auto& ps : program_stats) {
        total += ps.run_time_ns;
        out += strprintf("  %-20s %12" PRIu64 " runs %12s total %10s per run\n", ps.name.c_str(), ps.run_count,
                         format_ns(double(ps.run_time_ns)).c_str(),
                         format_mean_ns(ps.run_time_ns, ps.run_count).c_str());
    }
    out += strprintf("  %-20s %12s      %12s total\n", "all", "", format_ns(double(total)).c_str());
    return out;
}

void add_probes_json(nlohmann::json& report, const std::vector<ProbeStatus>& probes,
                     const std::vector<ProgramStats>& program_stats) {
    auto& pj = report["probes"] = nlohmann::json::array();
    for (auto& p : probes) {
        nlohmann::json one = {{"name", p.name}, {"attached", p.attached}};
        if (!p.attached) one["error"] = p.error;
        pj.push_back(one);
    }
    if (program_stats.empty()) return;
    auto& rt = report["bpf_run_time"] = nlohmann::json::array();
    for (auto& p : program_stats)
        rt.push_back({{"program", p.name}, {"runs", p.run_count}, {"run_time_ns", p.run_time_ns}});
}

}  // namespace tk
