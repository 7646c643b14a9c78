#include "tracer.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <set>
#include <thread>

#include "bpf_maps.h"
#include "bpf_skeleton.h"
#include "ctxswitch.skel.h"
#include "errors.h"
#include "kernel_features.h"
#include "maps_watcher.h"
#include "timeline_recorder.h"
#include "proc.h"
#include "uprobe.h"
#include "uprobe_cost.h"

namespace ctxswitch {

using tk::UserError;

namespace {

// One probe: its tracepoint and its two programs.
struct ProbePair {
    std::string tracepoint;
    struct bpf_program* btf;
    struct bpf_program* raw;
    bool essential;
    bool timeline_only = false;  // only the timeline mode (--perfetto) needs it
    bool stacks_only = false;    // only --stacks needs it
};

std::vector<ProbePair> probe_pairs(ctxswitch_bpf* s) {
    return {
        {"sched_switch", s->progs.switch_btf, s->progs.switch_raw, true},
        {"sched_exit_tp", s->progs.schedule_exit_btf, s->progs.schedule_exit_raw, false},
        {"sched_waking", s->progs.waking_btf, s->progs.waking_raw, false},
        {"sched_wakeup_new", s->progs.wakeup_new_btf, s->progs.wakeup_new_raw, false},
        {"sched_process_fork", s->progs.fork_btf, s->progs.fork_raw, false},
        {"sched_process_exit", s->progs.exit_btf, s->progs.exit_raw, false},
        {"sched_migrate_task", s->progs.migrate_btf, s->progs.migrate_raw, false},
        {"task_rename", s->progs.rename_btf, s->progs.rename_raw, false, true},
        {"sched_process_exec", s->progs.exec_btf, s->progs.exec_raw, false, false, true},
    };
}

}  // namespace

using Skel = tk::Skeleton<ctxswitch_bpf>;

struct Tracer::Impl {
    std::unique_ptr<Skel> skel;
    bool btf = true;
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
        "sched_switch",       "sched_exit_tp",      "sched_waking",
        "sched_wakeup_new",   "sched_process_fork", "sched_process_exit",
        "sched_migrate_task", "task_rename",        "sched_process_exec"};
    return list;
}

uint32_t Tracer::default_max_threads() {
    return CS_MAX_THREADS;
}

uint32_t Tracer::default_max_stacks() {
    return CS_MAX_STACKS;
}

uint32_t Tracer::stack_bytes() {
    return CS_STACK_DEPTH * sizeof(uint64_t);
}

Tracer::Tracer(const tk::TraceOptions& opts, bool stacks)
    : impl_(std::make_unique<Impl>()),
      stacks_(stacks),
      threads_kept_(opts.threads_kept(CS_MAX_THREADS)) {
    const auto& f = tk::KernelFeatures::get();
    tk::capture_libbpf_messages(opts.verbose > 1);
    if (opts.verbose)
        impl_->stats = std::make_unique<tk::BpfStatsGuard>();

    auto present = [&](const std::string& tp, bool typed) {
        if (opts.lacks(tp))
            return false;
        const auto& s = f.tracepoint(tp);
        return typed ? s.typed : s.exists();
    };
    if (!present("sched_switch", false))
        throw UserError(
            "the kernel has no sched_switch tracepoint: context switches cannot be traced "
            "(CONFIG_TRACEPOINTS is needed)");

    bool want_btf = !opts.raw_tp && !opts.lacks("tp_btf") && present("sched_switch", true);
    for (int attempt = 0; attempt < 2; attempt++) {
        bool btf = want_btf && attempt == 0;
        impl_->skel = std::make_unique<Skel>(
            tk::skeleton_ops(ctxswitch_bpf__open, ctxswitch_bpf__load, ctxswitch_bpf__destroy));
        auto* s = impl_->skel->get();
        std::vector<std::string> missing;
        bool exit_tp = false;
        for (auto& p : probe_pairs(s)) {
            if ((p.timeline_only && !opts.timeline()) || (p.stacks_only && !stacks)) {
                bpf_program__set_autoload(p.btf, false);
                bpf_program__set_autoload(p.raw, false);
                continue;
            }
            bool have = present(p.tracepoint, btf);
            if (p.tracepoint == "sched_exit_tp" && have) {
                // its arguments changed across releases; we read only the first, is_switch
                const auto& args = f.tracepoint("sched_exit_tp").args;
                if (f.tracepoint("sched_exit_tp").typed && (args.empty() || args[0] != "bool")) {
                    warnings_.push_back(
                        "sched_exit_tp has an unexpected signature; switch cost not measured");
                    have = false;
                }
                exit_tp = have;
            }
            bpf_program__set_autoload(p.btf, btf && have);
            bpf_program__set_autoload(p.raw, !btf && have);
            if (!have)
                missing.push_back(p.tracepoint);
        }
        bpf_program__set_autoload(s->progs.user_switch_btf, btf);
        bpf_program__set_autoload(s->progs.user_switch_raw, !btf);
        s->rodata->launcher_tgid = opts.launching() ? uint32_t(getpid()) : 0;
        s->rodata->measure_switch_cost = exit_tp;
        s->rodata->timeline = opts.timeline();
        s->rodata->capture_stacks = stacks;
        // --stacks: the stacks and the rows of time by stack; the default report keeps none
        const uint32_t stacks_kept = stacks ? opts.stacks_kept(CS_MAX_STACKS) : 1;
        if (bpf_map__set_max_entries(s->maps.stacks, stacks_kept) ||
            bpf_map__set_max_entries(s->maps.offcpu_stacks, stacks_kept))
            throw UserError("cannot size the stack maps for --max-stacks " +
                            std::to_string(stacks_kept));
        if (!stacks) {
            bpf_map__set_max_entries(s->maps.procs, 1);
            bpf_map__set_max_entries(s->maps.events, uint32_t(getpagesize()));
        }
        tk::size_timeline_ring(s->maps.timeline_ring, opts);
        tk::size_thread_records(s->maps.live, s->maps.exited, s->maps.task_state_hash, btf,
                                threads_kept_);
        tk::Status st = impl_->skel->try_load();
        if (!st) {
            if (btf) {
                warnings_.push_back("tp_btf programs did not load; using the raw_tp twins");
                if (opts.verbose)
                    warnings_.push_back(st.message());
                continue;
            }
            throw UserError(st.message());
        }
        impl_->btf = btf;
        mode_ = btf ? "tp_btf" : "raw_tp";
        switch_cost_ = exit_tp;
        for (auto& m : missing) {
            if (m == "sched_exit_tp")
                warnings_.push_back("the kernel has no sched_exit_tp: switch cost is not measured");
            else
                warnings_.push_back("the kernel has no " + m +
                                    " tracepoint: what it feeds is missing");
        }
        for (auto& p : probe_pairs(s)) {
            auto* prog = btf ? p.btf : p.raw;
            if (!bpf_program__autoload(prog))
                continue;
            const auto& ps = impl_->skel->attach(prog, p.tracepoint + " (" + mode_ + ")");
            if (!ps.attached && p.essential)
                throw UserError("cannot attach to sched_switch: " + ps.error);
        }
        if (stacks)
            watcher_ = std::make_unique<tk::MapsWatcher>(bpf_map__fd(s->maps.events), maps_);
        return;
    }
}

Tracer::~Tracer() = default;

size_t Tracer::trace_process(pid_t pid) {
    size_t threads = impl_->tasks().trace_process<cs_task_state>(pid);
    if (stacks_)
        maps_.capture(pid);
    return threads;
}

void Tracer::trace_thread(pid_t tid) {
    impl_->tasks().trace_thread<cs_task_state>(tid);
    if (stacks_)
        maps_.capture(tk::tgid_of(tid).value_or(tid));
}

void Tracer::count_user_switches(const std::string& binary, const std::string& function) {
    auto* s = impl_->skel->get();
    LIBBPF_OPTS(bpf_uprobe_opts, uopts, .func_name = function.c_str());
    auto* prog = impl_->btf ? s->progs.user_switch_btf : s->progs.user_switch_raw;
    const auto& st =
        impl_->skel->adopt(bpf_program__attach_uprobe_opts(prog, -1, binary.c_str(), 0, &uopts),
                           "uprobe " + binary + ":" + function);
    if (!st.attached)
        throw UserError("cannot attach a uprobe to " + function + " in " + binary + ": " +
                        st.error);
    user_switch_name_ = function;
}

double Tracer::measure_uprobe_cost(bool emulated) {
    auto* s = impl_->skel->get();
    auto* prog = impl_->btf ? s->progs.user_switch_btf : s->progs.user_switch_raw;
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return 0;
    self[n] = 0;
    const int calls = emulated ? 20000 : 2000;
    struct bpf_link* link = nullptr;
    return tk::measure_uprobe_hit_ns(
        [&] {
            for (int i = 0; i < calls; i++)
                emulated ? ctxswitch_uprobe_calibration_emulated()
                         : ctxswitch_uprobe_calibration_stepped();
        },
        calls,
        [&] {
            LIBBPF_OPTS(bpf_uprobe_opts, uopts,
                        .func_name = emulated ? "ctxswitch_uprobe_calibration_emulated"
                                              : "ctxswitch_uprobe_calibration_stepped");
            link = bpf_program__attach_uprobe_opts(prog, getpid(), self, 0, &uopts);
            return link != nullptr;
        },
        [&] { bpf_link__destroy(link); });
}

void Tracer::settle(int timeout_ms) {
    for (int waited = 0; waited < timeout_ms && impl_->tasks().live_count() > 0; waited += 5)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

Snapshot Tracer::snapshot() {
    auto* s = impl_->skel->get();
    Snapshot snap;
    snap.probe_mode = mode_;
    snap.switch_cost_measured = switch_cost_;
    snap.probes = impl_->skel->probes();
    snap.warnings = warnings_;
    snap.counters = tk::sum_per_cpu_counters<CS_COUNTERS>(bpf_map__fd(s->maps.totals));
    tk::warn_of_dropped_threads(snap.warnings, threads_kept_, snap.counter(CS_C_DROP_LIVE),
                                snap.counter(CS_C_DROP_EXITED));
    for (uint32_t id = 0; id < CS_HISTS; id++)
        for (auto& h : tk::per_cpu_values<struct hist>(bpf_map__fd(s->maps.hists), id))
            snap.hists[id].merge(h);

    // live threads first, then the exited ones: a thread that ends in between is taken
    // from `exited`, its final record
    std::map<uint32_t, ThreadRow> rows;
    cs_task_state st{};
    impl_->tasks().for_each_live(&st, [&](uint32_t tid, uint32_t) {
        ThreadRow row;
        row.stats = st.stats;
        row.comm = tk::comm_of(pid_t(tid));
        memcpy(row.stats.comm, row.comm.c_str(),
               std::min(row.comm.size() + 1, sizeof row.stats.comm));
        row.stats.comm[CS_COMM_LEN - 1] = 0;
        row.alive = true;
        rows[tid] = row;
    });
    snap.threads = tk::threads_with_exited(bpf_map__fd(s->maps.exited), std::move(rows));
    if (stacks_)
        read_stacks(snap.raw_stacks);
    if (impl_->stats)
        snap.program_stats = impl_->skel->program_stats();
    return snap;
}

void Tracer::read_stacks(RawStacks& out) {
    auto* s = impl_->skel->get();
    watcher_->drain();  // the processes reported so far have their mappings read
    std::set<int32_t> ids;
    tk::for_each_entry<
        cs_stack_key, cs_stack_value>(bpf_map__fd(s->maps.offcpu_stacks), [&](const cs_stack_key& k,
                                                                              const cs_stack_value&
                                                                                  v) {
        out.rows.push_back(StackRow{k, v});
        for (int32_t id : {k.user_stack, k.kernel_stack, k.waker_user_stack, k.waker_kernel_stack})
            ids.insert(id);
    });
    out.ips = tk::read_stack_traces(bpf_map__fd(s->maps.stacks), ids, CS_STACK_DEPTH);
}

tk::TimelineMaps Tracer::timeline() {
    auto* s = impl_->skel->get();
    tk::TimelineMaps maps;
    maps.ring_fd = bpf_map__fd(s->maps.timeline_ring);
    maps.lost_fd = bpf_map__fd(s->maps.timeline_lost);
    maps.user_switch_name = user_switch_name_;
    return maps;
}

void Tracer::stop_recording() {
    impl_->skel->get()->bss->stop_recording = true;
}

void Tracer::detach() {
    impl_->skel->detach_all();
}

}  // namespace ctxswitch
