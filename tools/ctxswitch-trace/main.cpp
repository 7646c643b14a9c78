// ctxswitch-trace: how many context switches a workload makes, of which kind, what they
// cost in the kernel, how long its tasks wait for a CPU and sleep, and how fast a wakeup
// hands the CPU from one of its tasks to another (threads vs processes).
//
//   sudo ctxswitch-trace ./workload arg1 arg2
//   sudo ctxswitch-trace -p 1234 -d 10
//   sudo ctxswitch-trace --json out.json -- ./workload
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "compare.h"
#include "errors.h"
#include "kernel_features.h"
#include "output.h"
#include "proc.h"
#include "report.h"
#include "trace_session.h"
#include "tracer.h"
#include "uprobe.h"

namespace {

std::string join(const std::vector<std::string>& words) {
    std::string out;
    for (auto& w : words)
        out += (out.empty() ? "" : " ") + w;
    return out;
}

int trace_main(int argc, char** argv) {
    CLI::App app{
        "Context switches of a workload: counts, in-kernel switch cost, wakeup-to-run,\n"
        "handoff (thread vs process), off-CPU and on-CPU time. See docs/ctxswitch-trace.md.\n"
        "'ctxswitch-trace compare --help': the process/thread/coroutine comparison.",
        "ctxswitch-trace"};
    tk::TraceOptions opts;
    tk::add_trace_options(app, opts);
    std::string user_switch;
    app.add_option(
           "--user-switch", user_switch,
           "count calls of this user-level switch function (a uprobe: about a microsecond per "
           "call), e.g. coro_switch, swapcontext, /path/lib.so:name")
        ->type_name("FUNCTION");
    if (!tk::parse_trace_command_line(app, argc, argv, opts))
        return 0;  // --help printed

    if (opts.features) {
        tk::KernelFeatures::get().print(std::cout, ctxswitch::Tracer::tracepoints());
        return 0;
    }
    tk::validate_trace_options(opts);
    if (opts.launching())
        tk::resolve_command(opts.command[0]);  // fail before loading anything
    tk::KernelFeatures::get().require_tracing("ctxswitch-trace");

    tk::TraceSession session("ctxswitch-trace", opts);
    ctxswitch::Tracer tracer(opts);
    std::string user_switch_function;
    double uprobe_cost = 0;
    if (!user_switch.empty()) {
        std::string exe = opts.launching()
                              ? tk::resolve_command(opts.command[0])
                              : "/proc/" + std::to_string(opts.pid ? opts.pid : opts.tid) + "/exe";
        auto f = ctxswitch::resolve_user_function(user_switch, exe);
        uprobe_cost =
            tracer.measure_uprobe_cost(ctxswitch::uprobe_is_emulated(f.binary, f.function));
        tracer.count_user_switches(f.binary, f.function);
        user_switch_function = f.binary + ":" + f.function;
    }
    std::string target;
    if (opts.launching()) {
        auto& w = session.launch();
        target = join(opts.command) + " (pid " + std::to_string(w.pid()) + ")";
        session.resume();
    } else if (opts.pid) {
        size_t n = tracer.trace_process(opts.pid);
        target = "pid " + std::to_string(opts.pid) + " (" + tk::comm_of(opts.pid) + ", " +
                 std::to_string(n) + " threads at start)";
        fprintf(stderr, "Tracing %s. Ctrl-C to end.\n", target.c_str());
    } else {
        tracer.trace_thread(opts.tid);
        target = "tid " + std::to_string(opts.tid) + " (" + tk::comm_of(opts.tid) + ")";
        fprintf(stderr, "Tracing %s. Ctrl-C to end.\n", target.c_str());
    }

    ctxswitch::ReportOptions ropts;
    ropts.verbose = opts.verbose;
    auto fill = [&](ctxswitch::Snapshot& snap) {
        snap.target = target;
        snap.command = opts.command;
        snap.duration_s = session.elapsed_seconds();
        snap.user_switch_function = user_switch_function;
        snap.uprobe_cost_ns = uprobe_cost;
    };
    auto end = session.wait([&] {
        auto snap = tracer.snapshot();
        fill(snap);
        fputs(ctxswitch::text_report(snap, ropts).c_str(), opts.json == "-" ? stderr : stdout);
        fflush(stdout);
    });

    double duration = session.elapsed_seconds();
    if (opts.launching()) {
        if (end == tk::TraceSession::End::WorkloadExited)
            tracer.settle(250);
        session.finish_workload();  // terminated first if it still runs (-d, second Ctrl-C)
        tracer.settle(250);
    }
    tracer.stop_counting();  // the numbers read next then agree with each other
    auto snap = tracer.snapshot();
    tracer.detach();
    fill(snap);
    session.describe_end(snap, end, duration);
    if (snap.workload_status)
        snap.workload_rusage = session.workload()->rusage();

    tk::emit_report(
        opts.json, [&] { return ctxswitch::text_report(snap, ropts); },
        [&] { return ctxswitch::json_report(snap).dump(2) + "\n"; });
    return session.exit_code();
}

}  // namespace

int main(int argc, char** argv) {
    return tk::run_tool("ctxswitch-trace", [&] {
        if (argc > 1 && std::string(argv[1]) == "compare")
            return ctxswitch::compare_main(argc - 1, argv + 1);
        return trace_main(argc, argv);
    });
}
