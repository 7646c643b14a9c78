#include "tracer.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <thread>
#include <tuple>

#include "bpf_maps.h"
#include "bpf_skeleton.h"
#include "errors.h"
#include "kernel_features.h"
#include "lockwait.skel.h"
#include "proc.h"
#include "syscall_numbers.h"
#include "uprobes.h"

namespace lockwait {

using tk::UserError;

namespace {

enum class Need { Essential, Launching, Optional };

// Programs attached together (a syscall's enter and exit), on one tracepoint each.
struct ProbeGroup {
    std::string tracepoint;             // the name checked for and given to --without
    enum Kind { Twins, RawOnly } kind;  // tp_btf with a raw_tp twin, or raw_tp only
    std::vector<std::pair<std::string, std::pair<bpf_program*, bpf_program*>>>
        progs;  // tp -> (btf, raw)
    Need need;
    std::string lost;  // what is missing without it
    bool wanted = true;
};

std::vector<ProbeGroup> probe_groups(lockwait_bpf* s, const Features& f) {
    std::vector<ProbeGroup> g = {
        {"sys_enter",
         ProbeGroup::Twins,
         {{"sys_enter", {s->progs.sys_enter_btf, s->progs.sys_enter_raw}},
          {"sys_exit", {s->progs.sys_exit_btf, s->progs.sys_exit_raw}}},
         Need::Essential,
         ""},
        {"sched_switch",
         ProbeGroup::Twins,
         {{"sched_switch", {s->progs.switch_btf, s->progs.switch_raw}}},
         Need::Essential,
         ""},
        {"sched_waking",
         ProbeGroup::Twins,
         {{"sched_waking", {s->progs.waking_btf, s->progs.waking_raw}}},
         Need::Optional,
         "wakers and handoff latency are not known"},
        {"sched_process_fork",
         ProbeGroup::Twins,
         {{"sched_process_fork", {s->progs.fork_btf, s->progs.fork_raw}}},
         Need::Launching,
         "threads and processes created after the start are not traced"},
        {"sched_process_exec",
         ProbeGroup::RawOnly,
         {{"sched_process_exec", {s->progs.exec_raw, s->progs.exec_raw}}},
         Need::Optional,
         "mappings are read at the first futex call only"},
        {"contention_begin",
         ProbeGroup::RawOnly,
         {{"contention_begin", {s->progs.klock_begin, s->progs.klock_begin}},
          {"contention_end", {s->progs.klock_end, s->progs.klock_end}}},
         Need::Optional,
         "kernel lock contention is not traced"},
    };
    g.back().wanted = f.kernel_locks;
    return g;
}

}  // namespace

using Skel = tk::Skeleton<lockwait_bpf>;

struct Tracer::Impl {
    std::unique_ptr<Skel> skel;
    bool btf = true;
    int ncpu = tk::possible_cpus();
    std::unique_ptr<tk::BpfStatsGuard> stats;

    tk::TaskStateMaps tasks() {
        auto* s = skel->get();
        return tk::TaskStateMaps(bpf_map__fd(s->maps.task_state),
                                 bpf_map__fd(s->maps.task_state_hash), bpf_map__fd(s->maps.live),
                                 btf);
    }
};

const std::vector<std::string>& Tracer::tracepoints() {
    static const std::vector<std::string> list = {
        "sys_enter",          "sys_exit",           "sched_switch",     "sched_waking",
        "sched_process_fork", "sched_process_exec", "contention_begin", "contention_end"};
    return list;
}

namespace {

// Is this tracepoint there, as the program kind needs it (and not left out by --without)?
bool tracepoint_present(const tk::TraceOptions& opts, const std::string& tp, ProbeGroup::Kind kind,
                        bool btf) {
    if (opts.lacks(tp))
        return false;
    const auto& s = tk::KernelFeatures::get().tracepoint(tp);
    if (kind == ProbeGroup::Twins && btf)
        return s.typed;
    return s.exists();
}

// The tracepoints without which the tool has nothing to say: one line naming what is missing.
void require_essential_tracepoints(const tk::TraceOptions& opts) {
    auto present = [&](const char* tp) {
        return tracepoint_present(opts, tp, ProbeGroup::Twins, false);
    };
    if (!present("sys_enter") || !present("sys_exit"))
        throw UserError(
            "the kernel has no sys_enter/sys_exit tracepoints: futex calls cannot be traced "
            "(CONFIG_FTRACE_SYSCALLS is needed)");
    if (!present("sched_switch"))
        throw UserError(
            "the kernel has no sched_switch tracepoint: blocked time cannot be measured "
            "(CONFIG_TRACEPOINTS is "
            "needed)");
    if (opts.launching() && !present("sched_process_fork"))
        throw UserError(
            "the kernel has no sched_process_fork tracepoint: a launched command cannot be "
            "followed; attach "
            "with -p PID instead");
}

// What the preallocated maps hold.
struct MapSizes {
    uint32_t threads, lock_rows, user_locks, stacks;
};

// The read-only settings, the maps sized, and the maps a mode does not use sized down to
// nothing.
void configure(lockwait_bpf* s, const Features& features, bool btf, bool launching,
               const MapSizes& sizes) {
    s->rodata->launcher_tgid = launching ? uint32_t(getpid()) : 0;
    s->rodata->nr_futex = SYS_futex;
    s->rodata->nr_futex_waitv = tk::kSysFutexWaitv;
    s->rodata->nr_futex_wake = tk::kSysFutexWake;
    s->rodata->nr_futex_wait = tk::kSysFutexWait;
    s->rodata->nr_futex_requeue = tk::kSysFutexRequeue;
    s->rodata->btf_mode = btf;
    s->rodata->capture_stacks = features.stacks;
    s->rodata->capture_kstacks = features.kernel_locks && features.kernel_stacks;
    tk::size_thread_records(s->maps.live, s->maps.exited, s->maps.task_state_hash, btf,
                            sizes.threads);
    if (bpf_map__set_max_entries(s->maps.locks, sizes.lock_rows) ||
        bpf_map__set_max_entries(s->maps.ulocks, features.uprobes ? sizes.user_locks : 1))
        throw UserError("cannot size the lock rows for --max-locks " +
                        std::to_string(sizes.lock_rows));
    const bool any_stacks = features.stacks || (features.kernel_locks && features.kernel_stacks);
    if (bpf_map__set_max_entries(s->maps.stack_waits, features.stacks ? sizes.stacks : 1) ||
        bpf_map__set_max_entries(s->maps.stacks, any_stacks ? sizes.stacks : 1))
        throw UserError("cannot size the stack maps for --max-stacks " +
                        std::to_string(sizes.stacks));
    if (!features.kernel_locks)
        bpf_map__set_max_entries(s->maps.klocks, 1);
    if (!features.uprobes)
        bpf_map__set_max_entries(s->maps.held, 1);
}

}  // namespace

uint32_t default_max_lock_rows() {
    return LW_MAX_LOCK_ROWS;
}

uint32_t default_max_user_locks(int ncpus) {
    constexpr uint64_t kBudget = 64ull << 20;
    const uint64_t per_object = sizeof(struct lw_ulock_row) * uint64_t(ncpus);
    return uint32_t(std::clamp<uint64_t>(kBudget / per_object, 16, LW_MAX_ULOCKS));
}

uint32_t Tracer::default_max_threads() {
    return LW_MAX_THREADS;
}

uint32_t Tracer::default_max_stacks() {
    return LW_MAX_STACKS;
}

uint32_t Tracer::stack_bytes() {
    return LW_STACK_DEPTH * sizeof(uint64_t);
}

Tracer::Tracer(const tk::TraceOptions& opts, const Features& features, const Limits& limits)
    : impl_(std::make_unique<Impl>()),
      features_(features),
      threads_kept_(opts.threads_kept(LW_MAX_THREADS)),
      lock_rows_kept_(limits.max_locks ? limits.max_locks : default_max_lock_rows()),
      user_locks_kept_(limits.max_locks ? limits.max_locks : default_max_user_locks(impl_->ncpu)) {
    tk::capture_libbpf_messages(opts.verbose > 1);
    if (opts.verbose)
        impl_->stats = std::make_unique<tk::BpfStatsGuard>();
    require_essential_tracepoints(opts);

    // tp_btf where the kernel has it; the raw_tp twins when those do not load
    const bool want_btf = !opts.raw_tp && !opts.lacks("tp_btf") &&
                          tracepoint_present(opts, "sched_switch", ProbeGroup::Twins, true);
    for (bool btf : {want_btf, false}) {
        impl_->skel = std::make_unique<Skel>(
            tk::skeleton_ops(lockwait_bpf__open, lockwait_bpf__load, lockwait_bpf__destroy));
        auto* s = impl_->skel->get();
        std::vector<std::string> missing = choose_programs(s, opts, btf);
        configure(
            s, features_, btf, opts.launching(),
            {threads_kept_, lock_rows_kept_, user_locks_kept_, opts.stacks_kept(LW_MAX_STACKS)});
        s->rodata->timeline = opts.timeline();
        tk::size_timeline_ring(s->maps.timeline_ring, opts);
        tk::Status st = impl_->skel->try_load();
        if (!st && btf) {
            warnings_.push_back("tp_btf programs did not load; using the raw_tp twins");
            if (opts.verbose)
                warnings_.push_back(st.message());
            continue;
        }
        if (!st)
            throw UserError(st.message());
        impl_->btf = btf;
        mode_ = btf ? "tp_btf" : "raw_tp";
        for (auto& m : missing)
            warnings_.push_back("not traced: " + m);
        attach_programs(opts, btf);
        return;
    }
}

std::vector<std::string> Tracer::choose_programs(lockwait_bpf* s, const tk::TraceOptions& opts,
                                                 bool btf) {
    std::vector<std::string> missing;
    bool have_klocks = false;
    std::map<bpf_program*, bool> load;  // a program shared by groups loads if any needs it
    for (auto& g : probe_groups(s, features_)) {
        bool have = g.wanted;
        for (auto& [tp, p] : g.progs)
            have = have && tracepoint_present(opts, tp, g.kind, btf);
        if (g.wanted && !have)
            missing.push_back(g.tracepoint + (g.lost.empty() ? "" : ": " + g.lost));
        if (g.tracepoint == "contention_begin")
            have_klocks = have;
        for (auto& [tp, p] : g.progs) {
            load[p.first] |= have && (btf || p.first == p.second);
            if (p.first != p.second)
                load[p.second] |= have && !btf;
        }
        attachable_[g.tracepoint] = have;
    }
    for (auto& [prog, yes] : load)
        bpf_program__set_autoload(prog, yes);
    for (auto* p : {s->progs.ulock_enter, s->progs.ulock_return, s->progs.uunlock_enter,
                    s->progs.ucond_enter, s->progs.ucond_return})
        bpf_program__set_autoload(p, features_.uprobes);
    if (features_.uprobes && features_.uprobe_multi)
        use_uprobe_multi(s);
    features_.kernel_locks = have_klocks;
    return missing;
}

void Tracer::attach_programs(const tk::TraceOptions& opts, bool btf) {
    for (auto& g : probe_groups(impl_->skel->get(), features_)) {
        if (!attachable_[g.tracepoint])
            continue;
        for (auto& [tp, p] : g.progs) {
            auto* prog = btf ? p.first : p.second;
            std::string how = g.kind == ProbeGroup::RawOnly ? "raw_tp" : mode_;
            const tk::ProbeStatus& ps = impl_->skel->attach(prog, tp + " (" + how + ")");
            if (!ps.attached &&
                (g.need == Need::Essential || (g.need == Need::Launching && opts.launching())))
                throw UserError("cannot attach to " + tp + ": " + ps.error);
        }
    }
}

Tracer::~Tracer() = default;

lockwait_bpf* Tracer::skeleton() {
    return impl_->skel->get();
}
int Tracer::events_fd() {
    return bpf_map__fd(impl_->skel->get()->maps.events);
}

tk::TimelineMaps Tracer::timeline() {
    auto* s = impl_->skel->get();
    tk::TimelineMaps maps;
    maps.ring_fd = bpf_map__fd(s->maps.timeline_ring);
    maps.lost_fd = bpf_map__fd(s->maps.timeline_lost);
    return maps;
}

size_t Tracer::trace_process(pid_t pid) {
    return impl_->tasks().trace_process<lw_task_state>(pid);
}

void Tracer::trace_thread(pid_t tid) {
    impl_->tasks().trace_thread<lw_task_state>(tid);
}

void Tracer::settle(int timeout_ms) {
    for (int waited = 0; waited < timeout_ms && impl_->tasks().live_count() > 0; waited += 5)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

namespace {

void read_totals(lockwait_bpf* s, Snapshot& snap) {
    uint32_t zero = 0;
    for (const auto& t : tk::per_cpu_values<lw_totals>(bpf_map__fd(s->maps.totals), zero)) {
        for (int i = 0; i < LW_COUNTERS; i++)
            snap.counters[size_t(i)] += t.c[i];
        for (int i = 0; i < LW_OPS; i++)
            snap.calls[size_t(i)] += t.calls[i];
    }
    for (uint32_t id = 0; id < LW_HISTS; id++)
        for (const auto& h : tk::per_cpu_values<struct hist>(bpf_map__fd(s->maps.hists), id))
            snap.hists[id].merge(h);
}

// --stacks and kernel locks: their rows, and the ids of the stacks they name (in STACK_IDS).
void read_stack_rows(lockwait_bpf* s, const Features& features, Snapshot& snap,
                     std::set<int32_t>& stack_ids) {
    if (features.stacks)
        tk::for_each_entry<lw_stack_key, lw_stack_row>(
            bpf_map__fd(s->maps.stack_waits), [&](const lw_stack_key& k, const lw_stack_row& row) {
                snap.stack_rows.push_back(StackRow{k, row});
                stack_ids.insert(k.waiter_stack);
                stack_ids.insert(k.waker_stack);
            });
    if (features.kernel_locks)
        tk::for_each_entry<lw_klock_key, lw_klock_row>(
            bpf_map__fd(s->maps.klocks), [&](const lw_klock_key& k, const lw_klock_row& row) {
                snap.kernel_locks.push_back(KernelLockRow{k, row});
                stack_ids.insert(k.stack);
            });
}

// --uprobes: each pthread object's row, its CPUs' copies added up.
void read_user_locks(lockwait_bpf* s, size_t ncpu, Snapshot& snap) {
    int fd = bpf_map__fd(s->maps.ulocks);
    std::vector<lw_ulock_row> per_cpu(ncpu);
    tk::for_each_key<lw_ulock_key>(fd, [&](const lw_ulock_key& k) {
        if (bpf_map_lookup_elem(fd, &k, per_cpu.data()) != 0)
            return;
        UserLockRow r;
        r.key = k;
        for (auto& c : per_cpu) {
            r.acquires += c.acquires;
            r.acquire_ns += c.acquire_ns;
            r.try_busy += c.try_busy;
            r.holds += c.holds;
            r.hold_ns += c.hold_ns;
            r.max_hold_ns = std::max<uint64_t>(r.max_hold_ns, c.max_hold_ns);
            r.h_acquire.merge(c.h_acquire);
            r.h_hold.merge(c.h_hold);
            if (c.cond_mutex)
                r.cond_mutex = c.cond_mutex;
        }
        snap.user_locks.push_back(std::move(r));
    });
}

// Runs the kernel skipped because the same program was already running on that CPU (a
// preempted syscall probe): what they would have counted is missing.
uint64_t recursion_misses(struct bpf_object* object) {
    uint64_t misses = 0;
    struct bpf_program* prog;
    bpf_object__for_each_program(prog, object) {
        int fd = bpf_program__fd(prog);
        struct bpf_prog_info info = {};
        __u32 len = sizeof info;
        if (fd >= 0 && bpf_obj_get_info_by_fd(fd, &info, &len) == 0)
            misses += info.recursion_misses;
    }
    return misses;
}

}  // namespace

void Tracer::read_threads_and_locks(Snapshot& snap) {
    auto* s = impl_->skel->get();
    // live threads first, then the exited ones: a thread that ends in between is taken
    // from `exited`, its final record
    std::map<uint32_t, ThreadRow> rows;
    // (pid, tid, word) rows: each live thread's hot word (in its state), then `locks`,
    // where a hot row moves when its thread ends or takes up a new word: the copy read
    // there is the later one
    std::map<std::tuple<uint32_t, uint32_t, uint64_t>, LockRow> lock_rows;
    auto st = std::make_unique<lw_task_state>();
    impl_->tasks().for_each_live(st.get(), [&](uint32_t tid, uint32_t) {
        ThreadRow row;
        row.stats = st->stats;
        row.stats.tid = tid;
        row.comm = tk::comm_of(pid_t(tid));
        row.alive = true;
        rows[tid] = row;
        if (st->hot_used) {
            LockRow r;
            r.key = lw_lock_key{.pid = st->stats.pid, .tid = st->stats.tid, .uaddr = st->hot_uaddr};
            r.row = st->hot;
            lock_rows[{r.key.pid, r.key.tid, r.key.uaddr}] = r;
        }
    });
    tk::for_each_entry<lw_lock_key, lw_lock_row>(
        bpf_map__fd(s->maps.locks), [&](const lw_lock_key& k, const lw_lock_row& row) {
            lock_rows[{k.pid, k.tid, k.uaddr}] = LockRow{k, row};
        });
    for (auto& [key, row] : lock_rows)
        snap.locks.push_back(row);
    snap.threads = tk::threads_with_exited(bpf_map__fd(s->maps.exited), std::move(rows));
}

Snapshot Tracer::snapshot() {
    auto* s = impl_->skel->get();
    Snapshot snap;
    snap.probe_mode = mode_;
    snap.probes = impl_->skel->probes();
    snap.warnings = warnings_;
    read_totals(s, snap);
    tk::for_each_entry<lw_wake_key, lw_wake_row>(bpf_map__fd(s->maps.wakers),
                                                 [&](const lw_wake_key& k, const lw_wake_row& row) {
                                                     snap.wakers.push_back({k, row});
                                                 });
    std::set<int32_t> stack_ids;
    read_stack_rows(s, features_, snap, stack_ids);
    snap.stacks = tk::read_stack_traces(bpf_map__fd(s->maps.stacks), stack_ids, LW_STACK_DEPTH);
    if (features_.uprobes)
        read_user_locks(s, size_t(impl_->ncpu), snap);
    read_threads_and_locks(snap);
    add_overflow_warnings(snap);
    if (impl_->stats)
        snap.program_stats = impl_->skel->program_stats();
    if (uint64_t misses = recursion_misses(impl_->skel->object()))
        snap.warnings.push_back("the kernel skipped " + std::to_string(misses) +
                                " probe runs (recursion protection): some calls may be missing");
    return snap;
}

void Tracer::add_overflow_warnings(Snapshot& snap) const {
    tk::warn_of_dropped_threads(snap.warnings, threads_kept_, snap.counter(LW_C_DROP_LIVE),
                                snap.counter(LW_C_DROP_EXITED));
    if (snap.counter(LW_C_DROP_LOCK_ROWS))
        snap.warnings.push_back("more (lock, thread) pairs than the " +
                                std::to_string(lock_rows_kept_) +
                                " rows kept: waits on the others are not in the lock table (see "
                                "dropped); raise --max-locks");
    if (features_.uprobes && snap.counter(LW_C_DROP_ULOCK))
        snap.warnings.push_back("more pthread objects than the " +
                                std::to_string(user_locks_kept_) +
                                " kept: calls on the others are not in the uprobe table (see "
                                "dropped); raise --max-locks");
}

void Tracer::stop_recording() {
    impl_->skel->get()->bss->stop_recording = true;
}

void Tracer::detach() {
    impl_->skel->detach_all();
}

}  // namespace lockwait
