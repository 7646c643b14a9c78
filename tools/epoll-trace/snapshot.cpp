#include "snapshot.h"

#include <map>

namespace epolltrace {

void LoopCounters::add(const ep_loop& l) {
    calls += l.calls;
    for (size_t i = 0; i < EP_SYSCALLS; i++)
        by_syscall[i] += l.by_syscall[i];
    events += l.events;
    full += l.full;
    maxevents = std::max<uint64_t>(maxevents, l.maxevents);
    timeouts += l.timeouts;
    nonblocking += l.nonblocking;
    errors += l.errors;
    interrupted += l.interrupted;
    blocked_calls += l.blocked_calls;
    ready_on_entry += l.ready_on_entry;
    woken_calls += l.woken_calls;
    spurious_sleeps += l.spurious_sleeps;
    spurious_zero += l.spurious_zero;
    herd_wakeups += l.herd_wakeups;
    herd_wasted += l.herd_wasted;
    overruns += l.overruns;
    ctl_add += l.ctl_add;
    ctl_mod += l.ctl_mod;
    ctl_del += l.ctl_del;
    ctl_failed += l.ctl_failed;
}

std::string WakerRow::describe() const {
    std::string who = (comm.empty() ? "?" : comm) + " tid " + std::to_string(tid) + " (pid " +
                      std::to_string(pid) + ")";
    if (!interrupt)
        return who;
    if (tid == 0)
        return "interrupt (hardirq or softirq) on an idle CPU";
    return "interrupt (hardirq or softirq) on top of " + who;
}

const char* family_name(Family f) {
    switch (f) {
        case Family::Epoll:
            return "epoll";
        case Family::Poll:
            return "poll";
        case Family::Select:
            return "select";
    }
    return "?";
}

double Loop::events_per_call() const {
    uint64_t ok = c.calls - c.errors;
    return ok ? double(c.events) / double(ok) : 0.0;
}

double Loop::nonblocking_share() const {
    return c.calls ? double(c.nonblocking) / double(c.calls) : 0.0;
}

uint64_t Loop::registered_with(uint32_t flag) const {
    uint64_t n = 0;
    for (auto& f : fds)
        n += f.registered() && (f.info.interest & flag);
    return n;
}

uint64_t Snapshot::epoll_wait_calls() const {
    return calls_of(EP_SYS_EPOLL_WAIT) + calls_of(EP_SYS_EPOLL_PWAIT) +
           calls_of(EP_SYS_EPOLL_PWAIT2);
}
uint64_t Snapshot::poll_calls() const {
    return calls_of(EP_SYS_POLL) + calls_of(EP_SYS_PPOLL);
}
uint64_t Snapshot::select_calls() const {
    return calls_of(EP_SYS_SELECT) + calls_of(EP_SYS_PSELECT6);
}

uint64_t Snapshot::dropped() const {
    uint64_t n = 0;
    for (int c = EP_C_DROP_STORAGE; c <= EP_C_DROP_TARGETS; c++)
        n += counters[size_t(c)];
    return n;
}

static void add_stats(ep_thread_stats& to, const ep_thread_stats& s) {
    for (int f = 0; f < EP_FAMILIES; f++)
        to.calls[f] += s.calls[f];
    to.ctl_calls += s.ctl_calls;
    to.events += s.events;
    to.timeouts += s.timeouts;
    to.nonblocking += s.nonblocking;
    to.errors += s.errors;
    to.in_call_ns += s.in_call_ns;
    to.blocked_ns += s.blocked_ns;
    to.cpu_in_call_ns += s.cpu_in_call_ns;
    to.ready_ns += s.ready_ns;
    to.ready_count += s.ready_count;
    to.busy_ns += s.busy_ns;
    to.busy_count += s.busy_count;
    to.spurious += s.spurious;
}

std::vector<ProcessRow> Snapshot::processes() const {
    std::map<uint32_t, ProcessRow> by_pid;
    for (auto& t : threads) {
        auto& p = by_pid[t.stats.pid];
        p.pid = t.stats.pid;
        if (p.comm.empty() || t.stats.tid == t.stats.pid)
            p.comm = t.comm;
        p.threads++;
        add_stats(p.sum, t.stats);
    }
    std::vector<ProcessRow> out;
    for (auto& [pid, row] : by_pid)
        out.push_back(row);
    return out;
}

tk::Histogram Snapshot::merged(int hist_id, std::optional<Family> family) const {
    tk::Histogram h;
    for (auto& l : loops)
        if (!family || l.family() == *family)
            h.merge(l.hist(hist_id));
    return h;
}

const std::vector<NamedHist>& named_histograms() {
    static const std::vector<NamedHist> list = {
        {"blocked", "blocked time per call (off-CPU inside the call, asleep until running again)",
         "ns", EP_H_BLOCKED},
        {"ready_to_return", "ready-to-return latency (woken inside the call -> the call returns)",
         "ns", EP_H_READY_TO_RETURN},
        {"ready_wait_cpu", "ready-to-return: waiting for a CPU", "ns", EP_H_READY_WAIT_CPU},
        {"ready_run", "ready-to-return: the rest (running in the kernel until the return)", "ns",
         EP_H_READY_RUN},
        {"events_per_call", "events returned per call", "events", EP_H_EVENTS_PER_CALL},
        {"in_call", "time in the call (enter -> return)", "ns", EP_H_IN_CALL},
        {"cpu_in_call", "on-CPU time inside the call", "ns", EP_H_CPU_IN_CALL},
        {"fds_per_call", "fds watched per call (epoll: interest list size)", "fds",
         EP_H_FDS_PER_CALL},
        {"loop_busy", "loop busy time (a call's return -> the next call on the thread)", "ns",
         EP_H_LOOP_BUSY},
        {"overrun", "overrun of timed-out calls (returned this much after the timeout)", "ns",
         EP_H_OVERRUN},
    };
    return list;
}

std::string event_mask_text(uint32_t mask) {
    static const std::pair<uint32_t, const char*> names[] = {
        {0x1, "IN"},
        {0x2, "PRI"},
        {0x4, "OUT"},
        {0x8, "ERR"},
        {0x10, "HUP"},
        {0x20, "NVAL"},
        {0x40, "RDNORM"},
        {0x80, "RDBAND"},
        {0x100, "WRNORM"},
        {0x200, "WRBAND"},
        {0x400, "MSG"},
        {0x2000, "RDHUP"},
        {1u << 28, "EXCLUSIVE"},
        {1u << 29, "WAKEUP"},
        {1u << 30, "ONESHOT"},
        {1u << 31, "ET"},
    };
    std::string out;
    uint32_t known = 0;
    for (auto& [bit, name] : names) {
        known |= bit;
        if (mask & bit)
            out += (out.empty() ? "" : "|") + std::string(name);
    }
    if (mask & ~known) {
        char buf[16];
        snprintf(buf, sizeof buf, "0x%x", mask & ~known);
        out += (out.empty() ? "" : "|") + std::string(buf);
    }
    return out.empty() ? "-" : out;
}

const char* syscall_name(int sys) {
    static const char* names[EP_SYSCALLS] = {"epoll_wait", "epoll_pwait", "epoll_pwait2", "poll",
                                             "ppoll",      "select",      "pselect6"};
    return sys >= 0 && sys < EP_SYSCALLS ? names[sys] : "?";
}

}  // namespace epolltrace
