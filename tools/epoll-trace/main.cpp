// epoll-trace: how an event loop waits in epoll_wait, poll and select: how long each call
// blocks, how fast it returns once something is ready, how many events it brings back,
// which fds become ready, and who made them ready.
//
//   sudo epoll-trace -- ./server --port 8080
//   sudo epoll-trace -p $(pidof nginx) -d 10
//   sudo epoll-trace --json out.json -- ./loop
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "errors.h"
#include "kernel_features.h"
#include "output.h"
#include "proc.h"
#include "report.h"
#include "trace_session.h"
#include "tracer.h"

namespace {

std::string join(const std::vector<std::string>& words) {
    std::string out;
    for (auto& w : words)
        out += (out.empty() ? "" : " ") + w;
    return out;
}

int trace_main(int argc, char** argv) {
    CLI::App app{
        "How event loops wait in epoll_wait/epoll_pwait/epoll_pwait2, poll/ppoll and "
        "select/pselect6:\n"
        "blocked time, ready-to-return latency, events per call, timeouts, busy polling, who made\n"
        "the loop ready, which fds, and the cost of a call by the number of fds. See "
        "docs/epoll-trace.md.",
        "epoll-trace"};
    tk::TraceOptions opts;
    epolltrace::ReportOptions ropts;
    tk::add_trace_options(app, opts);
    app.add_option("--top", ropts.top, "fds and wakers listed per loop (all with -v)")
        ->check(CLI::PositiveNumber);
    if (!tk::parse_trace_command_line(app, argc, argv, opts))
        return 0;  // --help printed

    if (opts.features) {
        tk::KernelFeatures::get().print(std::cout, epolltrace::Tracer::tracepoints());
        return 0;
    }
    if (opts.raw_tp)
        throw tk::UserError(
            "--raw-tp is not available: the scheduler probes keep their state in task-local "
            "storage, "
            "which needs the typed (tp_btf) tracepoints; use --without sched_switch/sched_waking "
            "to leave them out",
            2);
    tk::validate_trace_options(opts);
    if (opts.launching())
        tk::resolve_command(opts.command[0]);  // fail before loading anything
    tk::KernelFeatures::get().require_tracing("epoll-trace");

    tk::TraceSession session("epoll-trace", opts);
    epolltrace::Tracer tracer(opts);
    std::string target;
    if (opts.launching()) {
        auto& w = session.launch();
        tracer.trace_process(w.pid());  // also without the fork probe
        target = join(opts.command) + " (pid " + std::to_string(w.pid()) + ")";
        session.resume();
    } else if (opts.pid) {
        tracer.trace_process(opts.pid);
        target = "pid " + std::to_string(opts.pid) + " (" + tk::comm_of(opts.pid) + ")";
        fprintf(stderr, "Tracing %s. Ctrl-C to end.\n", target.c_str());
    } else {
        target = "tid " + std::to_string(opts.tid) + " (" + tk::comm_of(opts.tid) + ")";
        fprintf(stderr, "Tracing %s. Ctrl-C to end.\n", target.c_str());
    }

    ropts.verbose = opts.verbose;
    auto fill = [&](epolltrace::Snapshot& snap) {
        snap.target = target;
        snap.command = opts.command;
        snap.duration_s = session.elapsed_seconds();
    };
    auto end = session.wait([&] {
        auto snap = tracer.snapshot();
        fill(snap);
        fputs(epolltrace::text_report(snap, ropts).c_str(), opts.json == "-" ? stderr : stdout);
        fflush(stdout);
    });

    double duration = session.elapsed_seconds();
    if (opts.launching())
        session.finish_workload();  // terminated first if it still runs
    tracer.stop_counting();         // the numbers read next then agree with each other
    auto snap = tracer.snapshot();
    tracer.detach();
    fill(snap);
    session.describe_end(snap, end, duration);

    tk::emit_report(
        opts.json, [&] { return epolltrace::text_report(snap, ropts); },
        [&] { return epolltrace::json_report(snap).dump(2) + "\n"; });
    return session.exit_code();
}

}  // namespace

int main(int argc, char** argv) {
    return tk::run_tool("epoll-trace", [&] { return trace_main(argc, argv); });
}
