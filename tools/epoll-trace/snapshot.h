// What epoll-trace read from the kernel at one moment, independent of how it is printed:
// the report writers (text, JSON) work on this alone, so they can be tested without BPF.
#pragma once

#include <sys/resource.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bpf_skeleton.h"
#include "epoll.h"
#include "histogram.h"
#include "run_report.h"

namespace epolltrace {

// The counters of one loop, added up over the CPUs (struct ep_loop without its histograms).
struct LoopCounters {
    uint64_t calls = 0;
    std::array<uint64_t, EP_SYSCALLS> by_syscall{};
    uint64_t events = 0, full = 0, maxevents = 0, timeouts = 0, nonblocking = 0, errors = 0,
             interrupted = 0, blocked_calls = 0, ready_on_entry = 0, woken_calls = 0,
             spurious_sleeps = 0, spurious_zero = 0, herd_wakeups = 0, herd_wasted = 0,
             overruns = 0, ctl_add = 0, ctl_mod = 0, ctl_del = 0, ctl_failed = 0;

    void add(const ep_loop& per_cpu);
};

struct FdRow {
    int32_t fd = 0;
    ep_fd_info info{};
    bool registered() const { return info.flags & EP_FD_REGISTERED; }
};

struct WakerRow {
    uint32_t tid = 0;  // the waking task, or the task an interrupt ran on top of
    uint32_t pid = 0;
    bool interrupt = false;
    std::string comm;
    uint64_t count = 0;
    std::string describe() const;  // "echo-client tid 12 (pid 10)", "interrupt on top of ..."
};

// On-CPU time per call for calls that watched fds in [2^bucket, 2^(bucket+1)), that slept
// in the call or returned at once.
struct CostRow {
    uint32_t bucket = 0;
    bool slept = false;
    tk::Histogram cpu;
    uint64_t fds_low() const { return bucket == 0 ? 0 : 1ull << bucket; }
    uint64_t fds_high() const { return (1ull << (bucket + 1)) - 1; }  // inclusive
};

enum class Family { Epoll, Poll, Select };
const char* family_name(Family f);  // "epoll", "poll", "select"

// One loop: an epoll instance of a process, or its poll calls, or its select calls.
struct Loop {
    uint32_t pid = 0;
    int32_t key = 0;  // the epfd, EP_KEY_POLL or EP_KEY_SELECT
    std::string comm;
    LoopCounters c;
    std::array<tk::Histogram, EP_HISTS> hists;
    int64_t interest_size = 0;     // epoll: ADDs minus DELs seen
    std::vector<FdRow> fds;        // by readiness, most often ready first
    std::vector<WakerRow> wakers;  // most wakeups first
    std::vector<CostRow> cost;     // by bucket

    Family family() const {
        return key == EP_KEY_POLL     ? Family::Poll
               : key == EP_KEY_SELECT ? Family::Select
                                      : Family::Epoll;
    }
    const tk::Histogram& hist(int id) const { return hists[size_t(id)]; }
    double events_per_call() const;
    double nonblocking_share() const;  // of the calls
    // fds registered now with EPOLLET / EPOLLEXCLUSIVE / EPOLLONESHOT
    uint64_t registered_with(uint32_t flag) const;
};

struct ThreadRow {
    ep_thread_stats stats{};
    std::string comm;
    bool alive = false;
};

struct ProcessRow {
    uint32_t pid = 0;
    std::string comm;
    uint32_t threads = 0;
    ep_thread_stats sum{};  // counters of its threads added up (tid/comm unused)
};

// What the probes could measure: the scheduler probes are optional.
struct Coverage {
    bool switches = false;  // sched_switch: blocked, CPU time in the call
    bool wakeups = false;   // sched_waking: ready-to-return, wakers, spurious, herd
    bool forks = false;     // sched_process_fork: children followed
    std::vector<std::string> syscalls_missing;  // waiting syscalls not traced
};

struct Snapshot : tk::RunInfo {  // probe_mode: "tp_btf + syscall tracepoints"
    Coverage coverage;
    std::array<uint64_t, EP_COUNTERS> counters{};
    std::vector<Loop> loops;  // epoll instances first (by pid, epfd), then poll, select
    std::vector<ThreadRow> threads;

    uint64_t counter(ep_counter c) const { return counters[c]; }
    uint64_t calls_of(ep_syscall s) const { return counters[size_t(EP_C_CALLS) + size_t(s)]; }
    uint64_t epoll_wait_calls() const;  // epoll_wait + epoll_pwait + epoll_pwait2
    uint64_t poll_calls() const;        // poll + ppoll
    uint64_t select_calls() const;      // select + pselect6
    uint64_t dropped() const;           // everything that did not fit
    std::vector<ProcessRow> processes() const;
    // one histogram over every loop of a family (nullopt: all families)
    tk::Histogram merged(int hist_id, std::optional<Family> family = std::nullopt) const;
};

// The histograms under their documented names (JSON keys), in report order.
struct NamedHist {
    const char* name;   // "blocked"
    const char* title;  // "blocked time per call (off-CPU inside the call)"
    const char* unit;   // "ns", "events", "fds"
    int id;
};
const std::vector<NamedHist>& named_histograms();

// "IN|OUT|ET", the epoll/poll event bits by name.
std::string event_mask_text(uint32_t mask);
// "epoll_wait", "ppoll" ...
const char* syscall_name(int sys);

}  // namespace epolltrace
