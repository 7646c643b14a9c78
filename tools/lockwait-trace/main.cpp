// lockwait-trace: which locks a program waits on, how long, who was waiting and who let
// them go. Futex waits and wakes per futex word (named after the global variable or the
// mapping it lies in), blocked time, wakers and handoff latency, optionally the stacks of
// the waiters and wakers, libc's pthread calls (uprobes), and kernel lock contention.
//
//   sudo lockwait-trace ./server
//   sudo lockwait-trace -p 1234 -d 10 --stacks
//   sudo lockwait-trace --json out.json --folded waits.folded -- ./app
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "bpf_maps.h"
#include "kernel_symbols.h"
#include "output.h"
#include "probes.h"
#include "report.h"
#include "resolve.h"
#include "run_tracer.h"
#include "trace_session.h"

namespace {

struct ToolOptions {
    lockwait::Features features;
    std::string folded, flamegraph;
    size_t top = 10;
};

int trace_main(int argc, char** argv) {
    CLI::App app{
        "Futex and lock waits of a workload, attributed to the lock, the waiter and the waker:\n"
        "blocked time, who woke whom and the handoff latency, stacks, pthread calls (uprobes),\n"
        "kernel lock contention. See docs/lockwait-trace.md.",
        "lockwait-trace"};
    tk::TraceOptions opts;
    ToolOptions tool;
    bool no_kernel_locks = false;
    tk::add_trace_options(app, opts, lockwait::Tracer::default_max_threads());
    tk::add_stack_options(app, opts, lockwait::Tracer::default_max_stacks(),
                          lockwait::Tracer::stack_bytes());
    tk::add_timeline_options(app, opts);
    app.add_flag("--stacks", tool.features.stacks,
                 "user stacks of the waiter and the waker of every wait that blocked (symbolized)");
    app.add_flag("--kernel-stacks", tool.features.kernel_stacks,
                 "the kernel stack of every kernel lock contention, which names its call site "
                 "(about 2 us per contention: opt-in)");
    app.add_option("--folded", tool.folded,
                   "write the waiters' stacks weighted by blocked time (ns) as folded stacks "
                   "(flamegraph.pl, inferno, speedscope); implies --stacks")
        ->type_name("FILE");
    app.add_option("--flamegraph", tool.flamegraph,
                   "write an interactive flame graph (SVG: click to zoom, Ctrl-F to search) of "
                   "blocked time by waiter stack, lock and waker stack; implies --stacks")
        ->type_name("FILE.svg");
    app.add_flag("--uprobes", tool.features.uprobes,
                 "also probe libc's pthread mutex/rwlock/cond calls: acquire and hold time per "
                 "object, uncontended ones included (each call then traps into the kernel, "
                 "microseconds: opt-in; the measured cost per hit is printed)");
    app.add_flag("--no-kernel-locks", no_kernel_locks,
                 "do not trace kernel lock contention (lock:contention_*)");
    lockwait::Limits limits;
    app.add_option("--max-locks", limits.max_locks,
                   "(futex word, thread) rows kept, 7.8 KB each, preallocated (default " +
                       std::to_string(lockwait::default_max_lock_rows()) +
                       "), and pthread objects with --uprobes, per CPU (default " +
                       std::to_string(lockwait::default_max_user_locks(tk::possible_cpus())) +
                       " here); waits beyond them are counted in dropped")
        ->check(CLI::Range(1u, 1u << 20));
    app.add_option("--top", tool.top,
                   "locks, stacks and kernel lock sites shown (default 10; -v: all)")
        ->check(CLI::PositiveNumber);
    if (!tk::parse_trace_command_line(app, argc, argv, opts))
        return 0;  // --help printed
    tool.features.kernel_locks = !no_kernel_locks;
    if (!tool.folded.empty() || !tool.flamegraph.empty())
        tool.features.stacks = true;

    if (!tk::check_tracing("lockwait-trace", opts, lockwait::Tracer::tracepoints()))
        return 0;  // --features printed
    tk::check_writable(tool.folded, "--folded");
    tk::check_writable(tool.flamegraph, "--flamegraph");
    tool.features.uprobe_multi =
        tool.features.uprobes && !opts.lacks("uprobe_multi") && lockwait::kernel_has_uprobe_multi();

    tk::TraceSession session("lockwait-trace", opts);
    lockwait::Probes probes(opts, tool.features, limits);

    lockwait::ReportOptions ropts;
    ropts.verbose = opts.verbose;
    ropts.top = tool.top;
    lockwait::ResolveOptions resolve_opts;
    resolve_opts.stacks = tool.features.stacks;
    resolve_opts.kernel_locks = probes.tracer().features().kernel_locks;
    resolve_opts.kernel_stacks = tool.features.kernel_stacks;
    resolve_opts.uprobes = tool.features.uprobes;
    if (!tool.folded.empty() || !tool.flamegraph.empty())
        resolve_opts.max_stacks = 100000;
    tk::SymbolizerCache symbols(probes.maps());
    std::optional<tk::KernelSymbols> ksyms;

    tk::ReportMaker<lockwait::Snapshot, lockwait::Report> report;
    report.snapshot = [&] { return probes.snapshot(); };
    report.build = [&](lockwait::Snapshot&& snap) {
        lockwait::Report r;
        if (resolve_opts.kernel_locks && resolve_opts.kernel_stacks && !snap.kernel_locks.empty() &&
            !ksyms)
            ksyms = tk::KernelSymbols::load();  // only when there is a stack to name
        lockwait::resolve(snap, probes.maps(), symbols, ksyms ? &*ksyms : nullptr, resolve_opts, r);
        if (const lockwait::Uprobes* uprobes = probes.uprobes()) {
            r.uprobe_processes = uprobes->processes();
            for (auto& w : uprobes->warnings())
                r.warnings.push_back("uprobes: " + w);
        }
        return r;
    };
    report.text = [&](const lockwait::Report& r) { return lockwait::text_report(r, ropts); };
    report.json = lockwait::json_report;
    report.finish = [&](lockwait::Report& r, tk::TraceSession&) {
        lockwait::UprobeCost cost = probes.uprobe_cost();
        r.uprobe_ns_per_hit = cost.ns_per_hit;
        r.uprobe_cost_how = cost.how;
        if (!tool.folded.empty())
            tk::write_output(tool.folded, lockwait::folded_stacks(r));
        if (!tool.flamegraph.empty())
            tk::write_output(tool.flamegraph, lockwait::flame_graph(r, tk::traced_what(opts)));
    };
    report.timeline_names = [](const lockwait::Report& r) {
        tk::TimelineNames names;
        names.lock = [&r](uint32_t pid, uint64_t address) {
            for (const auto& lock : r.locks)
                if (lock.pid == pid && lock.address == address)
                    return lock.name;
            return std::string();
        };
        return names;
    };
    return tk::run_tracer(session, probes, report);
}

}  // namespace

int main(int argc, char** argv) {
    return tk::run_tool("lockwait-trace", [&] { return trace_main(argc, argv); });
}
