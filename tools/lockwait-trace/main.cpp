// lockwait-trace: which locks a program waits on, how long, who was waiting and who let
// them go. Futex waits and wakes per futex word (named after the global variable or the
// mapping it lies in), blocked time, wakers and handoff latency, optionally the stacks of
// the waiters and wakers, libc's pthread calls (uprobes), and kernel lock contention.
//
//   sudo lockwait-trace ./server
//   sudo lockwait-trace -p 1234 -d 10 --stacks
//   sudo lockwait-trace --json out.json --folded waits.folded -- ./app
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "errors.h"
#include "kernel_features.h"
#include "output.h"
#include "proc.h"
#include "process_maps.h"
#include "report.h"
#include "resolve.h"
#include "trace_session.h"
#include "tracer.h"
#include "uprobes.h"

namespace {

std::string join(const std::vector<std::string>& words) {
    std::string out;
    for (auto& w : words)
        out += (out.empty() ? "" : " ") + w;
    return out;
}

struct ToolOptions {
    lockwait::Features features;
    std::string folded;
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
    tk::add_trace_options(app, opts);
    app.add_flag("--stacks", tool.features.stacks,
                 "user stacks of the waiter and the waker of every wait that blocked (symbolized)");
    app.add_flag("--kernel-stacks", tool.features.kernel_stacks,
                 "the kernel stack of every kernel lock contention, which names its call site "
                 "(about 2 us per contention: opt-in)");
    app.add_option("--folded", tool.folded,
                   "write the waiters' stacks weighted by blocked time (ns) as folded stacks "
                   "(flamegraph.pl, inferno, speedscope); implies --stacks")
        ->type_name("FILE");
    app.add_flag("--uprobes", tool.features.uprobes,
                 "also probe libc's pthread mutex/rwlock/cond calls: acquire and hold time per "
                 "object, uncontended ones included (each call then traps into the kernel, "
                 "microseconds: opt-in; the measured cost per hit is printed)");
    app.add_flag("--no-kernel-locks", no_kernel_locks,
                 "do not trace kernel lock contention (lock:contention_*)");
    app.add_option("--top", tool.top,
                   "locks, stacks and kernel lock sites shown (default 10; -v: all)")
        ->check(CLI::PositiveNumber);
    if (!tk::parse_trace_command_line(app, argc, argv, opts))
        return 0;  // --help printed
    tool.features.kernel_locks = !no_kernel_locks;
    if (!tool.folded.empty())
        tool.features.stacks = true;

    if (opts.features) {
        tk::KernelFeatures::get().print(std::cout, lockwait::Tracer::tracepoints());
        return 0;
    }
    tk::validate_trace_options(opts);
    tk::check_writable(tool.folded, "--folded");
    if (opts.launching())
        tk::resolve_command(opts.command[0]);  // fail before loading anything
    if (geteuid() == 0)
        tk::ensure_tracefs();  // before the feature probe notes where it is
    tk::KernelFeatures::get().require_tracing("lockwait-trace");

    tool.features.uprobe_multi =
        tool.features.uprobes && !opts.lacks("uprobe_multi") && lockwait::kernel_has_uprobe_multi();

    tk::TraceSession session("lockwait-trace", opts);
    lockwait::Tracer tracer(opts, tool.features);
    lockwait::ProcessMaps maps;
    std::unique_ptr<lockwait::Uprobes> uprobes;
    if (tool.features.uprobes)
        uprobes =
            std::make_unique<lockwait::Uprobes>(tracer.skeleton(), tracer.features().uprobe_multi);
    // created after the session blocked the signals, so it never takes them
    // Processes the workload starts get their uprobes when the kernel side reports them
    // (fork, exec, first futex call): their first calls may come before.
    const std::string own_libc = lockwait::libc_of(getpid());
    lockwait::MapsWatcher watcher(tracer.events_fd(), maps, [&](pid_t pid, bool execed) {
        if (!uprobes)
            return;
        // right after exec the libraries are not mapped yet: probe the libc we use, which
        // the kernel arms once the dynamic loader maps it
        if (execed)
            uprobes->attach(pid, own_libc);
        uprobes->attach_if_new(pid);
    });

    std::string target;
    if (opts.launching()) {
        auto& w = session.launch();
        target = join(opts.command) + " (pid " + std::to_string(w.pid()) + ")";
        if (uprobes) {
            // before exec: the uprobes follow the pid into its new image
            tk::Status st = uprobes->attach(w.pid(), lockwait::libc_of(getpid()));
            if (!st)
                throw tk::UserError(st.message());
        }
        session.resume();
    } else {
        pid_t pid = opts.pid;
        if (opts.pid) {
            size_t n = tracer.trace_process(opts.pid);
            target = "pid " + std::to_string(opts.pid) + " (" + tk::comm_of(opts.pid) + ", " +
                     std::to_string(n) + " threads at start)";
        } else {
            tracer.trace_thread(opts.tid);
            pid = tk::tgid_of(opts.tid).value_or(opts.tid);
            target = "tid " + std::to_string(opts.tid) + " (" + tk::comm_of(opts.tid) + ")";
        }
        maps.capture(pid);
        if (uprobes) {
            std::string libc = lockwait::libc_of(pid);
            if (libc.empty())
                throw tk::UserError(
                    "pid " + std::to_string(pid) +
                    " has no libc.so.6 mapped (statically linked?): --uprobes cannot probe it; "
                    "drop --uprobes");
            tk::Status st = uprobes->attach(pid, libc);
            if (!st)
                throw tk::UserError(st.message());
        }
        fprintf(stderr, "Tracing %s. Ctrl-C to end.\n", target.c_str());
    }

    lockwait::ReportOptions ropts;
    ropts.verbose = opts.verbose;
    ropts.top = tool.top;
    lockwait::SymbolizerCache symbols(maps);
    std::optional<lockwait::KernelSymbols> ksyms;
    auto build = [&](const lockwait::Snapshot& snap, double duration) {
        lockwait::Report r;
        r.target = target;
        r.command = opts.command;
        r.duration_s = duration;
        lockwait::ResolveOptions res;
        res.stacks = tool.features.stacks;
        res.kernel_locks = tracer.features().kernel_locks;
        res.kernel_stacks = tool.features.kernel_stacks;
        res.uprobes = tool.features.uprobes;
        if (!tool.folded.empty())
            res.max_stacks = 100000;
        if (res.kernel_locks && res.kernel_stacks && !snap.kernel_locks.empty() && !ksyms)
            ksyms = lockwait::KernelSymbols::load();  // only when there is a stack to name
        lockwait::resolve(snap, maps, symbols, ksyms ? &*ksyms : nullptr, res, r);
        if (uprobes) {
            r.uprobe_processes = uprobes->processes();
            for (auto& w : uprobes->warnings())
                r.warnings.push_back("uprobes: " + w);
        }
        return r;
    };
    auto end = session.wait([&] {
        watcher.drain();
        auto r = build(tracer.snapshot(), session.elapsed_seconds());
        fputs(lockwait::text_report(r, ropts).c_str(), opts.json == "-" ? stderr : stdout);
        fflush(stdout);
    });

    double duration = session.elapsed_seconds();
    if (opts.launching()) {
        if (end == tk::TraceSession::End::WorkloadExited)
            tracer.settle(250);
        session.finish_workload();  // terminated first if it still runs (-d, second Ctrl-C)
        tracer.settle(250);
    }
    // calls stop being recorded first, so that the numbers read agree with each other (a
    // -p target runs on); forks and exits are followed until the maps have been read
    if (uprobes)
        uprobes->detach_all();
    tracer.stop_recording_calls();
    watcher.drain();
    auto snap = tracer.snapshot();
    tracer.detach();
    lockwait::UprobeCost cost;
    if (uprobes)
        cost = uprobes->calibrate(lockwait::libc_of(getpid()));
    auto report = build(snap, duration);
    session.describe_end(report, end, duration);
    report.uprobe_ns_per_hit = cost.ns_per_hit;
    report.uprobe_cost_how = cost.how;

    if (!tool.folded.empty())
        tk::write_output(tool.folded, lockwait::folded_stacks(report));
    tk::emit_report(
        opts.json, [&] { return lockwait::text_report(report, ropts); },
        [&] { return lockwait::json_report(report).dump(2) + "\n"; });
    return session.exit_code();
}

}  // namespace

int main(int argc, char** argv) {
    return tk::run_tool("lockwait-trace", [&] { return trace_main(argc, argv); });
}
