#include "bpf_skeleton.h"

#include <bpf/bpf.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <mutex>

namespace tk {

namespace {
std::mutex g_log_lock;
std::string g_log;
bool g_echo = false;

int libbpf_print(enum libbpf_print_level level, const char* fmt, va_list args) {
    if (level == LIBBPF_DEBUG && !g_echo)
        return 0;
    char buf[4096];
    vsnprintf(buf, sizeof buf, fmt, args);
    std::lock_guard guard(g_log_lock);
    if (g_echo)
        fputs(buf, stderr);
    if (g_log.size() < (1u << 20))
        g_log += buf;
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
    while (!out.empty() && out.back() == '\n')
        out.pop_back();
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
        if (!p.attached)
            return false;
    return true;
}

std::vector<ProgramStats> program_stats_of(struct bpf_object* obj) {
    std::vector<ProgramStats> out;
    struct bpf_program* prog;
    bpf_object__for_each_program(prog, obj) {
        int fd = bpf_program__fd(prog);
        if (fd < 0)
            continue;
        struct bpf_prog_info info = {};
        __u32 len = sizeof info;
        if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0)
            continue;
        out.push_back({bpf_program__name(prog), info.run_cnt, info.run_time_ns});
    }
    return out;
}

BpfStatsGuard::BpfStatsGuard() : fd_(bpf_enable_stats(BPF_STATS_RUN_TIME)) {}
BpfStatsGuard::~BpfStatsGuard() {
    if (fd_ >= 0)
        close(fd_);
}

}  // namespace tk
