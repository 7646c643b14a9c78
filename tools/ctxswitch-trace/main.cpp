// ctxswitch-trace: how many context switches a workload makes, of which kind, what they
// cost in the kernel, how long its tasks wait for a CPU and sleep, and how fast a wakeup
// hands the CPU from one of its tasks to another (threads vs processes).
//
//   sudo ctxswitch-trace ./workload arg1 arg2
//   sudo ctxswitch-trace -p 1234 -d 10
//   sudo ctxswitch-trace --json out.json -- ./workload
//   sudo ctxswitch-trace --perfetto run.pftrace ./workload   (open it in ui.perfetto.dev)
//   sudo ctxswitch-trace --stacks --flamegraph offcpu.svg ./workload
#include <optional>
#include <string>
#include <utility>

#include <CLI/CLI.hpp>

#include "compare.h"
#include "kernel_symbols.h"
#include "output.h"
#include "report.h"
#include "run_tracer.h"
#include "trace_session.h"
#include "tracer.h"
#include "uprobe.h"

namespace {

// --user-switch: a uprobe on the function, in the launched command's binary or the
// target's. Returns "BINARY:FUNCTION" and the measured cost of one hit.
std::pair<std::string, double> count_user_switches(ctxswitch::Tracer& tracer,
                                                   const tk::TraceOptions& opts,
                                                   const std::string& function) {
    std::string exe = opts.launching()
                          ? tk::resolve_command(opts.command[0])
                          : "/proc/" + std::to_string(opts.pid ? opts.pid : opts.tid) + "/exe";
    auto f = ctxswitch::resolve_user_function(function, exe);
    double cost = tracer.measure_uprobe_cost(ctxswitch::uprobe_is_emulated(f.binary, f.function));
    tracer.count_user_switches(f.binary, f.function);
    return {f.binary + ":" + f.function, cost};
}

int trace_main(int argc, char** argv) {
    CLI::App app{
        "Context switches of a workload: counts, in-kernel switch cost, wakeup-to-run,\n"
        "handoff (thread vs process), off-CPU and on-CPU time. See docs/ctxswitch-trace.md.\n"
        "'ctxswitch-trace compare --help': the process/thread/coroutine comparison.",
        "ctxswitch-trace"};
    tk::TraceOptions opts;
    tk::add_trace_options(app, opts, ctxswitch::Tracer::default_max_threads());
    tk::add_timeline_options(app, opts);
    tk::add_stack_options(app, opts, ctxswitch::Tracer::default_max_stacks(),
                          ctxswitch::Tracer::stack_bytes());
    std::string user_switch;
    app.add_option(
           "--user-switch", user_switch,
           "count calls of this user-level switch function (a uprobe: about a microsecond per "
           "call), e.g. coro_switch, swapcontext, /path/lib.so:name")
        ->type_name("FUNCTION");
    bool stacks = false;
    std::string folded, flamegraph;
    app.add_flag("--stacks", stacks,
                 "off-CPU time by the sleeper's user and kernel stack and the stack of what woke "
                 "it (offcputime joined to offwaketime), symbolized");
    app.add_option("--folded", folded,
                   "write the stacks weighted by off-CPU time (ns) as folded stacks: sleeper "
                   "frames, then '--', then the waker's frames and name (flamegraph.pl, "
                   "inferno, speedscope); implies --stacks")
        ->type_name("FILE");
    app.add_option("--flamegraph", flamegraph,
                   "write an interactive flame graph (SVG: click to zoom, Ctrl-F to search) of "
                   "off-CPU time by sleeper stack and waker stack; implies --stacks")
        ->type_name("FILE.svg");
    if (!tk::parse_trace_command_line(app, argc, argv, opts))
        return 0;  // --help printed
    stacks = stacks || !folded.empty() || !flamegraph.empty();
    if (opts.max_stacks_given && !stacks)
        throw tk::UserError("--max-stacks needs --stacks: it sizes the stacks kept", 2);
    // a kernel thread switches like any task (kworkers, ksoftirqd): -p/-t of one is traced
    if (!tk::check_tracing("ctxswitch-trace", opts, ctxswitch::Tracer::tracepoints(),
                           tk::KernelThreads::Traced))
        return 0;  // --features printed
    tk::check_writable(folded, "--folded");
    tk::check_writable(flamegraph, "--flamegraph");

    tk::TraceSession session("ctxswitch-trace", opts);
    ctxswitch::Tracer tracer(opts, stacks);
    tk::SymbolizerCache symbols(tracer.maps());
    std::optional<tk::KernelSymbols> ksyms;
    std::pair<std::string, double> user_switches;
    if (!user_switch.empty())
        user_switches = count_user_switches(tracer, opts, user_switch);

    ctxswitch::ReportOptions ropts;
    ropts.verbose = opts.verbose;
    tk::ReportMaker<ctxswitch::Snapshot> report;
    report.snapshot = [&] {
        ctxswitch::Snapshot snap = tracer.snapshot();
        snap.user_switch_function = user_switches.first;
        snap.uprobe_cost_ns = user_switches.second;
        return snap;
    };
    report.build = [&](ctxswitch::Snapshot&& snap) {
        if (stacks) {
            if (!ksyms)
                ksyms = tk::KernelSymbols::load();
            std::map<uint32_t, std::string> comms;
            for (const auto& t : snap.threads)
                if (!comms.count(t.stats.pid) || t.stats.tid == t.stats.pid)
                    comms[t.stats.pid] = t.comm;
            snap.stacks = ctxswitch::resolve_stacks(snap.raw_stacks, comms, symbols, &*ksyms);
        }
        return std::move(snap);
    };
    report.text = [&](const ctxswitch::Snapshot& snap) {
        return ctxswitch::text_report(snap, ropts);
    };
    report.json = ctxswitch::json_report;
    report.finish = [&](ctxswitch::Snapshot& snap, tk::TraceSession& s) {
        if (snap.workload_status)
            snap.workload_rusage = s.workload()->rusage();
        if (!folded.empty())
            tk::write_output(folded, ctxswitch::folded_stacks(snap.stacks));
        if (!flamegraph.empty())
            tk::write_output(flamegraph,
                             ctxswitch::flame_graph(snap.stacks, tk::traced_what(opts)));
    };
    return tk::run_tracer(session, tracer, report);
}

}  // namespace

int main(int argc, char** argv) {
    return tk::run_tool("ctxswitch-trace", [&] {
        if (argc > 1 && std::string(argv[1]) == "compare")
            return ctxswitch::compare_main(argc - 1, argv + 1);
        return trace_main(argc, argv);
    });
}
