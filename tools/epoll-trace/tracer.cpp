#include "tracer.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>

#include "bpf_maps.h"
#include "bpf_skeleton.h"
#include "epoll.skel.h"
#include "errors.h"
#include "kernel_features.h"
#include "proc.h"

namespace epolltrace {

using tk::UserError;

namespace {

// The syscalls traced, named as their tracepoints are (--without syscalls/sys_enter_NAME
// leaves one out), and where the BPF programs on sys_enter and sys_exit find their numbers.
struct TracedSyscall {
    std::string name;  // "epoll_wait"
    long nr;           // on this architecture, kNoSyscall if it has none
    long* slot;
};

constexpr long kNoSyscall = -1;
#ifdef SYS_epoll_wait  // the older calls, which the newer architectures (arm64) lack
constexpr long kEpollWait = SYS_epoll_wait, kPoll = SYS_poll, kSelect = SYS_select;
#else
constexpr long kEpollWait = kNoSyscall, kPoll = kNoSyscall, kSelect = kNoSyscall;
#endif

std::vector<TracedSyscall> traced_syscalls(epoll_bpf* s) {
    auto* r = s->rodata;
    return {
        {"epoll_wait", kEpollWait, &r->nr_epoll_wait},
        {"epoll_pwait", SYS_epoll_pwait, &r->nr_epoll_pwait},
        {"epoll_pwait2", SYS_epoll_pwait2, &r->nr_epoll_pwait2},
        {"epoll_ctl", SYS_epoll_ctl, &r->nr_epoll_ctl},
        {"poll", kPoll, &r->nr_poll},
        {"ppoll", SYS_ppoll, &r->nr_ppoll},
        {"select", kSelect, &r->nr_select},
        {"pselect6", SYS_pselect6, &r->nr_pselect6},
    };
}

// An optional scheduler probe and what is lost without it.
struct SchedProbe {
    std::string tracepoint;  // as KernelFeatures names it
    struct bpf_program* prog;
    bool typed;           // needs the BTF-typed form (tp_btf)
    const char* without;  // what is not measured without it
};

std::vector<SchedProbe> sched_probes(epoll_bpf* s) {
    return {
        {"sched_switch", s->progs.ep_switch, true,
         "blocked time and on-CPU time in the call are not measured"},
        {"sched_waking", s->progs.ep_waking, true,
         "ready-to-return latency, wakers, spurious wakeups and herds are not measured"},
        {"sched_process_fork", s->progs.ep_fork, true,
         "processes forked by the target are not traced"},
        {"sched_process_exit", s->progs.ep_exit_task, true,
         "threads that end lose their per-thread row"},
    };
}

}  // namespace

using Skel = tk::Skeleton<epoll_bpf>;

uint32_t default_max_loops(int ncpus) {
    constexpr uint64_t kBudget = 64ull << 20;
    const uint64_t per_loop =
        (sizeof(struct ep_loop) + kSizeHistsPerLoop * sizeof(struct hist)) * uint64_t(ncpus);
    return uint32_t(std::clamp<uint64_t>(kBudget / per_loop, 16, 128));
}

struct Tracer::Impl {
    std::unique_ptr<Skel> skel;
    int ncpu = tk::possible_cpus();
    std::unique_ptr<tk::BpfStatsGuard> stats;
};

const std::vector<std::string>& Tracer::tracepoints() {
    static const std::vector<std::string> list = {"sys_enter",          "sys_exit",
                                                  "sched_switch",       "sched_waking",
                                                  "sched_process_fork", "sched_process_exit"};
    return list;
}

uint32_t Tracer::default_max_threads() {
    return EP_MAX_THREADS;
}

Tracer::Tracer(const tk::TraceOptions& opts, const Limits& limits)
    : impl_(std::make_unique<Impl>()), threads_kept_(opts.threads_kept(EP_MAX_THREADS)) {
    const auto& f = tk::KernelFeatures::get();
    tk::capture_libbpf_messages(opts.verbose > 1);
    if (opts.verbose)
        impl_->stats = std::make_unique<tk::BpfStatsGuard>();

    impl_->skel = std::make_unique<Skel>(
        tk::skeleton_ops(epoll_bpf__open, epoll_bpf__load, epoll_bpf__destroy));
    auto* s = impl_->skel->get();

    const bool syscall_tracepoints = !opts.lacks("sys_enter") && !opts.lacks("sys_exit") &&
                                     f.tracepoint("sys_enter").typed &&
                                     f.tracepoint("sys_exit").typed;
    std::vector<std::string> traced;
    for (auto& sc : traced_syscalls(s)) {
        if (sc.nr == kNoSyscall)
            continue;
        bool have = syscall_tracepoints && !opts.lacks("syscalls/sys_enter_" + sc.name) &&
                    !opts.lacks("syscalls/sys_exit_" + sc.name);
        *sc.slot = have ? sc.nr : kNoSyscall;
        if (have)
            traced.push_back(sc.name);
        else
            coverage_.syscalls_missing.push_back(sc.name);
    }
    if (traced.empty() || traced == std::vector<std::string>{"epoll_ctl"})
        throw UserError(
            "the kernel has no syscall tracepoints for epoll_wait, poll or select: nothing to "
            "trace (the BTF-typed sys_enter and sys_exit tracepoints are needed)");
    if (syscall_tracepoints)
        for (auto& name : coverage_.syscalls_missing)
            warnings_.push_back("the kernel has no tracepoints for " + name +
                                ": its calls are not counted");

    for (auto& p : sched_probes(s)) {
        const auto& support = f.tracepoint(p.tracepoint);
        bool have = !opts.lacks(p.tracepoint) && (p.typed ? support.typed : support.tracefs);
        if (p.tracepoint == "sched_process_fork" && opts.tid)
            have = false;  // -t follows nothing
        bpf_program__set_autoload(p.prog, have);
        if (p.tracepoint == "sched_switch")
            coverage_.switches = have;
        if (p.tracepoint == "sched_waking")
            coverage_.wakeups = have;
        if (p.tracepoint == "sched_process_fork")
            coverage_.forks = have;
        if (!have && !(p.tracepoint == "sched_process_fork" && opts.tid))
            warnings_.push_back("the kernel has no usable " + p.tracepoint + " tracepoint" +
                                (p.typed ? " (BTF-typed)" : "") + ": " + p.without);
    }

    s->rodata->launcher_tgid = opts.launching() ? uint32_t(getpid()) : 0;
    s->rodata->target_tid = uint32_t(opts.tid);
    s->rodata->timeline = opts.timeline();
    tk::size_timeline_ring(s->maps.timeline_ring, opts);
    max_loops_ = limits.max_loops ? limits.max_loops : default_max_loops(impl_->ncpu);
    if (bpf_map__set_max_entries(s->maps.loops, max_loops_) ||
        bpf_map__set_max_entries(s->maps.interest_size, max_loops_) ||
        bpf_map__set_max_entries(s->maps.size_hists, max_loops_ * kSizeHistsPerLoop))
        throw UserError("cannot size the maps for --max-loops " + std::to_string(max_loops_));
    tk::size_thread_records(s->maps.live, s->maps.exited, nullptr, true, threads_kept_);
    tk::Status st = impl_->skel->try_load();
    if (!st)
        throw UserError(st.message());

    if (!impl_->skel->attach(s->progs.ep_sys_enter, "sys_enter (tp_btf)").attached ||
        !impl_->skel->attach(s->progs.ep_sys_exit, "sys_exit (tp_btf)").attached)
        throw UserError(
            "the syscall tracepoints could not be attached: see -v for libbpf's messages");
    for (auto& p : sched_probes(s)) {
        if (!bpf_program__autoload(p.prog))
            continue;
        const auto& ps = impl_->skel->attach(p.prog, p.tracepoint + (p.typed ? " (tp_btf)" : ""));
        if (!ps.attached) {
            warnings_.push_back(p.tracepoint + " did not attach: " + p.without);
            if (p.tracepoint == "sched_switch")
                coverage_.switches = false;
            if (p.tracepoint == "sched_waking")
                coverage_.wakeups = false;
            if (p.tracepoint == "sched_process_fork")
                coverage_.forks = false;
        }
    }
}

Tracer::~Tracer() = default;

size_t Tracer::trace_process(pid_t pid) {
    uint32_t key = uint32_t(pid), one = 1;
    if (bpf_map_update_elem(bpf_map__fd(impl_->skel->get()->maps.targets), &key, &one, BPF_ANY))
        throw UserError(
            tk::errno_text("cannot mark process " + std::to_string(pid) + " as traced"));
    return tk::threads_of(pid).size();
}

namespace {

std::string comm_for(uint32_t pid, const std::vector<ThreadRow>& threads) {
    std::string c = tk::comm_of(pid_t(pid));
    if (!c.empty())
        return c;
    for (auto& t : threads)
        if (t.stats.pid == pid && (c.empty() || t.stats.tid == pid))
            c = t.comm;
    return c;
}

}  // namespace

namespace {

// The loops the snapshot reads, by (pid, epfd or poll/select key), made on first sight.
class LoopTable {
  public:
    Loop& at(uint32_t pid, int32_t key) {
        Loop& l = loops_[{pid, key}];
        l.pid = pid;
        l.key = key;
        return l;
    }
    std::map<std::pair<uint32_t, int32_t>, Loop>& all() { return loops_; }

  private:
    std::map<std::pair<uint32_t, int32_t>, Loop> loops_;
};

std::vector<ThreadRow> read_threads(epoll_bpf* s) {
    // live ones from their task storage, then the exited records
    std::map<uint32_t, ThreadRow> live;
    ep_task_state st{};
    tk::TaskStateMaps tasks(bpf_map__fd(s->maps.task_state), -1, bpf_map__fd(s->maps.live), true);
    tasks.for_each_live(&st, [&](uint32_t tid, uint32_t) {
        ThreadRow row;
        row.stats = st.stats;
        row.comm = tk::comm_of(pid_t(tid));
        if (row.comm.empty())
            row.comm.assign(st.stats.comm, strnlen(st.stats.comm, sizeof st.stats.comm));
        row.alive = true;
        live[tid] = row;
    });
    return tk::threads_with_exited(bpf_map__fd(s->maps.exited), std::move(live));
}

// Each loop's counters and histograms, and its cost histograms, added up over the CPUs.
void read_loop_counters(epoll_bpf* s, size_t ncpu, LoopTable& loops) {
    std::vector<ep_loop> per_loop(ncpu);
    int fd = bpf_map__fd(s->maps.loops);
    tk::for_each_key<ep_loop_key>(fd, [&](const ep_loop_key& k) {
        if (bpf_map_lookup_elem(fd, &k, per_loop.data()))
            return;
        Loop& l = loops.at(k.pid, k.key);
        for (auto& v : per_loop) {
            l.c.add(v);
            for (size_t h = 0; h < EP_HISTS; h++)
                l.hists[h].merge(v.h[h]);
        }
    });
    std::vector<struct hist> per_cell(ncpu);
    fd = bpf_map__fd(s->maps.size_hists);
    tk::for_each_key<ep_size_key>(fd, [&](const ep_size_key& k) {
        if (bpf_map_lookup_elem(fd, &k, per_cell.data()))
            return;
        CostRow row;
        row.bucket = k.bucket;
        row.slept = k.slept;
        for (auto& h : per_cell)
            row.cpu.merge(h);
        loops.at(k.pid, k.key).cost.push_back(row);
    });
    tk::for_each_entry<ep_loop_key, int64_t>(
        bpf_map__fd(s->maps.interest_size),
        [&](const ep_loop_key& k, int64_t n) { loops.at(k.pid, k.key).interest_size = n; });
}

// The fds of each loop, with the readiness of every live epoll registration added to its
// fd's row.
void read_fds(epoll_bpf* s, LoopTable& loops) {
    tk::for_each_entry<ep_fd_key, ep_fd_info>(bpf_map__fd(s->maps.fds),
                                              [&](const ep_fd_key& k, const ep_fd_info& info) {
                                                  FdRow row;
                                                  row.fd = k.fd;
                                                  row.info = info;
                                                  loops.at(k.pid, k.key).fds.push_back(row);
                                              });
    tk::for_each_entry<ep_data_key, ep_data_info>(
        bpf_map__fd(s->maps.by_data), [&](const ep_data_key& k, const ep_data_info& d) {
            if (!d.ready)
                return;
            Loop& l = loops.at(k.pid, k.epfd);
            auto row = std::find_if(l.fds.begin(), l.fds.end(),
                                    [&](const FdRow& r) { return r.fd == d.fd; });
            if (row == l.fds.end()) {
                l.fds.push_back(FdRow{});
                row = l.fds.end() - 1;
                row->fd = d.fd;
            }
            row->info.ready += d.ready;
            row->info.returned_mask |= d.returned_mask;
        });
}

void read_wakers(epoll_bpf* s, LoopTable& loops) {
    tk::for_each_entry<ep_waker_key, ep_waker_info>(
        bpf_map__fd(s->maps.wakers), [&](const ep_waker_key& k, const ep_waker_info& info) {
            WakerRow row;
            row.tid = k.tid;
            row.pid = info.pid;
            row.interrupt = k.interrupt;
            row.comm.assign(info.comm, strnlen(info.comm, sizeof info.comm));
            row.count = info.count;
            loops.at(k.pid, k.key).wakers.push_back(row);
        });
}

// The loops in report order (epoll first, then poll, then select), each with its fds by
// readiness, its wakers by count and its cost rows by size.
std::vector<Loop> ranked_loops(LoopTable& loops, const std::vector<ThreadRow>& threads) {
    std::vector<Loop> out;
    for (auto& [key, l] : loops.all()) {
        l.comm = comm_for(l.pid, threads);
        std::sort(l.fds.begin(), l.fds.end(), [](const FdRow& a, const FdRow& b) {
            return a.info.ready != b.info.ready ? a.info.ready > b.info.ready : a.fd < b.fd;
        });
        std::sort(l.wakers.begin(), l.wakers.end(),
                  [](const WakerRow& a, const WakerRow& b) { return a.count > b.count; });
        std::sort(l.cost.begin(), l.cost.end(), [](const CostRow& a, const CostRow& b) {
            return a.bucket != b.bucket ? a.bucket < b.bucket : a.slept < b.slept;
        });
        out.push_back(std::move(l));
    }
    std::stable_sort(out.begin(), out.end(), [](const Loop& a, const Loop& b) {
        return int(a.family()) < int(b.family());
    });
    return out;
}

}  // namespace

Snapshot Tracer::snapshot() {
    auto* s = impl_->skel->get();
    Snapshot snap;
    snap.probe_mode = std::string(coverage_.switches || coverage_.wakeups ? "tp_btf + " : "") +
                      "syscall tracepoints";
    snap.coverage = coverage_;
    snap.probes = impl_->skel->probes();
    snap.warnings = warnings_;
    snap.counters = tk::sum_per_cpu_counters<EP_COUNTERS>(bpf_map__fd(s->maps.totals));
    if (snap.counter(EP_C_DROP_LOOPS) || snap.counter(EP_C_DROP_SIZE_HISTS))
        snap.warnings.push_back("more event loops than the " + std::to_string(max_loops_) +
                                " kept: calls of the others are not in the per-loop tables (see "
                                "dropped); raise --max-loops");
    tk::warn_of_dropped_threads(snap.warnings, threads_kept_, snap.counter(EP_C_DROP_LIVE),
                                snap.counter(EP_C_DROP_EXITED));
    snap.threads = read_threads(s);
    LoopTable loops;
    read_loop_counters(s, size_t(impl_->ncpu), loops);
    read_fds(s, loops);
    read_wakers(s, loops);
    snap.loops = ranked_loops(loops, snap.threads);
    if (impl_->stats)
        snap.program_stats = impl_->skel->program_stats();
    return snap;
}

void Tracer::stop_recording() {
    impl_->skel->get()->bss->stop_recording = true;
}

tk::TimelineMaps Tracer::timeline() {
    auto* s = impl_->skel->get();
    tk::TimelineMaps maps;
    maps.ring_fd = bpf_map__fd(s->maps.timeline_ring);
    maps.lost_fd = bpf_map__fd(s->maps.timeline_lost);
    return maps;
}

void Tracer::detach() {
    impl_->skel->detach_all();
}

}  // namespace epolltrace
