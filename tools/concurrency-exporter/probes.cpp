#include "probes.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <cstring>
#include <fstream>

#include "bpf_maps.h"
#include "bpf_skeleton.h"
#include "errors.h"
#include "exporter.skel.h"
#include "kernel_features.h"
#include "syscall_numbers.h"

namespace exporter {

using tk::UserError;

namespace {

// A BPF array map mapped into our memory, read-only.
class MappedArray {
  public:
    MappedArray(struct bpf_map* map, const char* what) {
        size_ = size_t(bpf_map__max_entries(map)) * ((bpf_map__value_size(map) + 7) & ~7u);
        void* p = mmap(nullptr, size_, PROT_READ, MAP_SHARED, bpf_map__fd(map), 0);
        if (p == MAP_FAILED)
            throw UserError(tk::errno_text(std::string("cannot map the ") + what + " map"));
        data_ = p;
    }
    ~MappedArray() { munmap(data_, size_); }
    MappedArray(const MappedArray&) = delete;
    MappedArray& operator=(const MappedArray&) = delete;
    template <class T>
    const T* as() const {
        return static_cast<const T*>(data_);
    }

  private:
    void* data_ = nullptr;
    size_t size_ = 0;
};

enum class Hook {
    Typed,  // tp_btf: the tracepoint's BTF (KernelFeatures) says whether it is there
    Poll,   // tracepoint/syscalls/...: epoll_wait, poll, select and their variants
};

struct Probe {
    const char* tracepoint;
    struct bpf_program* prog;
    bool essential;
    Hook hook;
};

std::vector<Probe> probes_of(exporter_bpf* s) {
    return {
        {"sched_switch", s->progs.exp_switch, true, Hook::Typed},
        {"sched_exit_tp", s->progs.exp_sched_exit, false, Hook::Typed},
        {"sched_waking", s->progs.exp_waking, false, Hook::Typed},
        {"sched_wakeup_new", s->progs.exp_wakeup_new, false, Hook::Typed},
        {"sched_migrate_task", s->progs.exp_migrate, false, Hook::Typed},
        {"task_rename", s->progs.exp_rename, false, Hook::Typed},
        {"contention_begin", s->progs.exp_klock_begin, false, Hook::Typed},
        {"contention_end", s->progs.exp_klock_end, false, Hook::Typed},
        {"syscalls/sys_enter_epoll_wait", s->progs.exp_epoll_wait_enter, false, Hook::Poll},
        {"syscalls/sys_exit_epoll_wait", s->progs.exp_epoll_wait_exit, false, Hook::Poll},
        {"syscalls/sys_enter_epoll_pwait", s->progs.exp_epoll_pwait_enter, false, Hook::Poll},
        {"syscalls/sys_exit_epoll_pwait", s->progs.exp_epoll_pwait_exit, false, Hook::Poll},
        {"syscalls/sys_enter_epoll_pwait2", s->progs.exp_epoll_pwait2_enter, false, Hook::Poll},
        {"syscalls/sys_exit_epoll_pwait2", s->progs.exp_epoll_pwait2_exit, false, Hook::Poll},
        {"syscalls/sys_enter_poll", s->progs.exp_poll_enter, false, Hook::Poll},
        {"syscalls/sys_exit_poll", s->progs.exp_poll_exit, false, Hook::Poll},
        {"syscalls/sys_enter_ppoll", s->progs.exp_ppoll_enter, false, Hook::Poll},
        {"syscalls/sys_exit_ppoll", s->progs.exp_ppoll_exit, false, Hook::Poll},
        {"syscalls/sys_enter_select", s->progs.exp_select_enter, false, Hook::Poll},
        {"syscalls/sys_exit_select", s->progs.exp_select_exit, false, Hook::Poll},
        {"syscalls/sys_enter_pselect6", s->progs.exp_pselect6_enter, false, Hook::Poll},
        {"syscalls/sys_exit_pselect6", s->progs.exp_pselect6_exit, false, Hook::Poll},
    };
}

// --poll's probes are syscall tracepoints, which libbpf finds by their ids in tracefs: a
// tracefs this process may not read is said here, in one line, rather than as a failed
// attach of each of them.
void require_readable_tracefs() {
    if (!tk::KernelFeatures::get().tracefs_path.empty())
        return;
    struct stat st;
    if (stat("/sys/kernel/tracing/events", &st) != 0 && errno == EACCES)
        throw UserError(
            "--poll: cannot read /sys/kernel/tracing (Permission denied), where the syscall "
            "tracepoints of epoll_wait, poll and select are found: run as root or with "
            "CAP_DAC_READ_SEARCH (docs/exporter.md, \"The unit\")");
    tk::ensure_tracefs();
}

}  // namespace

using Skel = tk::Skeleton<exporter_bpf>;

struct Probes::Impl {
    std::unique_ptr<Skel> skel;
    std::unique_ptr<tk::BpfStatsGuard> stats;  // BPF run time per program, as metrics
    std::unique_ptr<MappedArray> hists, counters, kernel_locks, lock_hists;
    uint32_t max_series = 0;
    uint32_t max_locks = 0;
    // lock slot -> its word, learnt from `locks` like the series' keys
    std::vector<LockWord> lock_words;
    uint32_t lock_words_known_below = 1;
    // slot -> key, learnt from `series` (a slot, once given, keeps its pair)
    std::vector<exp_series_key> keys;
    uint32_t keys_known_below = 1;  // the slots under this are in `keys`
};

Probes::Probes(const ProbeOptions& opts) : impl_(std::make_unique<Impl>()) {
    const auto& f = tk::KernelFeatures::get();
    f.require_tracing("concurrency-exporter");
    tk::capture_libbpf_messages(opts.verbose);
    if (!f.tracepoint("sched_switch").typed)
        throw UserError(
            "the kernel's BTF has no typed sched_switch tracepoint (tp_btf): the exporter "
            "needs Linux 5.5 or later with CONFIG_DEBUG_INFO_BTF");
    if (opts.poll)
        require_readable_tracefs();
    impl_->max_series = opts.max_series;
    if (opts.bpf_stats)
        impl_->stats = std::make_unique<tk::BpfStatsGuard>();
    impl_->skel = std::make_unique<Skel>(
        tk::skeleton_ops(exporter_bpf__open, exporter_bpf__load, exporter_bpf__destroy));
    auto* s = impl_->skel->get();
    bool exit_tp = false;
    for (const auto& p : probes_of(s)) {
        if (p.hook == Hook::Poll) {
            bpf_program__set_autoload(p.prog, opts.poll);
            continue;
        }
        const auto& tp = f.tracepoint(p.tracepoint);
        bool have = tp.typed;
        if (have && std::string(p.tracepoint) == "sched_exit_tp") {
            // its arguments changed across releases; we read only the first, is_switch
            if (tp.args.empty() || tp.args[0] != "bool") {
                warnings_.push_back(
                    "sched_exit_tp has an unexpected signature: switch cost is not measured");
                have = false;
            }
            exit_tp = have;
        } else if (!have) {
            warnings_.push_back(std::string("the kernel has no typed ") + p.tracepoint +
                                " tracepoint: its numbers are not exported");
        }
        bpf_program__set_autoload(p.prog, have);
    }
    s->rodata->measure_switch_cost = exit_tp;
    s->rodata->max_series = opts.max_series;
    s->rodata->filter_cgroup_id = opts.filter.id;
    s->rodata->filter_cgroup_level = opts.filter.level;
    s->rodata->max_locks = opts.max_locks;
    // futex waits are seen where they sleep, at sched_switch (bpf/exporter.bpf.c)
    s->rodata->track_futex = opts.futex;
    s->rodata->nr_futex = SYS_futex;
    s->rodata->nr_futex_wait = tk::kSysFutexWait;
    s->rodata->nr_futex_waitv = tk::kSysFutexWaitv;
    impl_->max_locks = opts.max_locks;
    uint32_t slots = opts.max_series + 1;
    if (bpf_map__set_max_entries(s->maps.series, opts.max_series) ||
        bpf_map__set_max_entries(s->maps.counters, slots) ||
        bpf_map__set_max_entries(s->maps.hists, slots * EXP_HISTS))
        throw UserError("cannot size the series maps for --max-series " +
                        std::to_string(opts.max_series));
    if (bpf_map__set_max_entries(s->maps.locks, opts.max_locks) ||
        bpf_map__set_max_entries(s->maps.lock_hists, opts.max_locks + 1))
        throw UserError("cannot size the lock maps for --max-locks " +
                        std::to_string(opts.max_locks));
    tk::Status st = impl_->skel->try_load();
    if (!st)
        throw UserError(st.message());
    impl_->hists = std::make_unique<MappedArray>(s->maps.hists, "histogram");
    impl_->counters = std::make_unique<MappedArray>(s->maps.counters, "counter");
    impl_->kernel_locks = std::make_unique<MappedArray>(s->maps.klock_hists, "kernel lock");
    impl_->lock_hists = std::make_unique<MappedArray>(s->maps.lock_hists, "lock histogram");
    impl_->keys.resize(slots);
    impl_->lock_words.resize(size_t(opts.max_locks) + 1);
    for (const auto& p : probes_of(s)) {
        if (!bpf_program__autoload(p.prog))
            continue;
        const auto& status = impl_->skel->attach(p.prog, p.tracepoint);
        if (status.attached)
            continue;
        if (p.essential)
            throw UserError("cannot attach to " + std::string(p.tracepoint) + ": " + status.error);
        warnings_.push_back("cannot attach to " + std::string(p.tracepoint) + ": " + status.error +
                            (p.hook == Hook::Poll ? " (its waiting calls are not counted)" : ""));
        if (std::string(p.tracepoint) == "sched_exit_tp")
            exit_tp = false;
    }
    switch_cost_ = exit_tp;
    futex_ = opts.futex;  // sched_switch, which sees them, is essential
}

Probes::~Probes() = default;

void Probes::detach() {
    impl_->skel->detach_all();
}

Snapshot Probes::read() {
    auto* s = impl_->skel->get();
    Snapshot snap;
    snap.series_limit = impl_->max_series;
    uint32_t next = __atomic_load_n(&s->data->next_slot, __ATOMIC_RELAXED);
    uint32_t end = std::min(next, impl_->max_series + 1);  // slots handed out: [1, end)
    snap.series_used = end - 1;
    if (impl_->keys_known_below < end) {
        tk::for_each_entry<exp_series_key, uint32_t>(bpf_map__fd(s->maps.series),
                                                     [&](const exp_series_key& key, uint32_t slot) {
                                                         if (slot < impl_->keys.size())
                                                             impl_->keys[slot] = key;
                                                     });
        // a slot is handed out before its pair is added to `series`: one whose pair was
        // not there yet is looked for again at the next scrape
        while (impl_->keys_known_below < end && impl_->keys[impl_->keys_known_below].cgroup_id)
            impl_->keys_known_below++;
    }
    const auto* counters = impl_->counters->as<exp_series_counters>();
    const auto* hists = impl_->hists->as<exp_hist>();
    auto add = [&](uint32_t slot, bool overflow) {
        Series series;
        series.overflow = overflow;
        if (!overflow) {
            const auto& key = impl_->keys[slot];
            if (!key.cgroup_id)
                return;  // a slot lost to a race, or not in `series` yet
            series.cgroup_id = key.cgroup_id;
            series.comm.assign(key.comm, strnlen(key.comm, sizeof key.comm));
        }
        for (int i = 0; i < EXP_SERIES_COUNTERS; i++)
            series.counters[i] = __atomic_load_n(&counters[slot].c[i], __ATOMIC_RELAXED);
        series.hists = &hists[size_t(slot) * EXP_HISTS];
        snap.series.push_back(std::move(series));
    };
    snap.series.reserve(end);
    for (uint32_t slot = 1; slot < end; slot++)
        add(slot, false);
    // the overflow series, once anything went there
    const auto& o = counters[EXP_SLOT_OVERFLOW];
    if (o.c[EXP_SC_VOLUNTARY] || o.c[EXP_SC_INVOLUNTARY] || o.c[EXP_SC_MIGRATIONS])
        add(EXP_SLOT_OVERFLOW, true);
    std::memcpy(snap.kernel_locks.data(), impl_->kernel_locks->as<exp_hist>(),
                sizeof(exp_hist) * EXP_KLOCK_KINDS);
    snap.totals = tk::sum_per_cpu_counters<EXP_COUNTERS>(bpf_map__fd(s->maps.totals));
    // on through our guard (which leaves the sysctl's value alone), or by the sysctl (the
    // unit's ExecStartPre, another tool)
    std::ifstream sysctl("/proc/sys/kernel/bpf_stats_enabled");
    int enabled = 0;
    snap.bpf_stats = (impl_->stats && impl_->stats->enabled()) || ((sysctl >> enabled) && enabled);
    for (const auto& p : impl_->skel->program_stats())
        snap.programs.push_back({p.name, p.run_count, p.run_time_ns});
    return snap;
}

uint32_t Probes::max_locks() const {
    return impl_->max_locks;
}

int Probes::process_events_fd() const {
    return bpf_map__fd(impl_->skel->get()->maps.events);
}

LockWords Probes::read_lock_words() {
    auto* s = impl_->skel->get();
    LockWords out;
    uint32_t next = __atomic_load_n(&s->data->next_lock_slot, __ATOMIC_RELAXED);
    uint32_t end = std::min(next, impl_->max_locks + 1);  // slots handed out: [1, end)
    out.used = end - 1;
    auto& words = impl_->lock_words;
    if (impl_->lock_words_known_below < end) {
        tk::for_each_entry<exp_lock_key, exp_lock_value>(
            bpf_map__fd(s->maps.locks), [&](const exp_lock_key& key, const exp_lock_value& v) {
                if (v.slot < words.size() && !words[v.slot].slot) {
                    words[v.slot].slot = v.slot;
                    words[v.slot].key = key;
                    words[v.slot].comm.assign(v.comm, strnlen(v.comm, sizeof v.comm));
                }
            });
        // a slot is handed out before its word is in `locks`: looked for again next time
        while (impl_->lock_words_known_below < end && words[impl_->lock_words_known_below].slot)
            impl_->lock_words_known_below++;
    }
    const auto* hists = impl_->lock_hists->as<exp_hist>();
    for (uint32_t slot = 1; slot < end; slot++) {
        if (!words[slot].slot)
            continue;  // lost to a race, or not in `locks` yet
        LockWord w = words[slot];
        std::memcpy(&w.blocked, &hists[slot], sizeof(exp_hist));
        out.words.push_back(std::move(w));
    }
    std::memcpy(&out.folded, &hists[EXP_LOCK_SLOT_OTHER], sizeof(exp_hist));
    return out;
}

}  // namespace exporter
