// epoll-trace: how an event loop waits in epoll_wait, poll and select: how long each call
// blocks, how fast it returns once something is ready, how many events it brings back,
// which fds become ready, and who made them ready.
//
//   sudo epoll-trace -- ./server --port 8080
//   sudo epoll-trace -p $(pidof nginx) -d 10
//   sudo epoll-trace --json out.json -- ./loop
#include <CLI/CLI.hpp>

#include "bpf_maps.h"
#include "errors.h"
#include "report.h"
#include "run_tracer.h"
#include "trace_session.h"
#include "tracer.h"

namespace {

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
    tk::add_trace_options(app, opts, epolltrace::Tracer::default_max_threads());
    tk::add_timeline_options(app, opts);
    app.add_option("--top", ropts.top, "fds and wakers listed per loop (all with -v)")
        ->check(CLI::PositiveNumber);
    epolltrace::Limits limits;
    app.add_option("--max-loops", limits.max_loops,
                   "event loops (epoll instances, poll and select callers) kept with their "
                   "histograms, preallocated per CPU (default " +
                       std::to_string(epolltrace::default_max_loops(tk::possible_cpus())) +
                       " here); the calls of loops beyond it are counted in dropped.loops")
        ->check(CLI::Range(1u, 1u << 16));
    if (!tk::parse_trace_command_line(app, argc, argv, opts))
        return 0;  // --help printed
    if (opts.raw_tp && !opts.features)
        throw tk::UserError(
            "--raw-tp is not available: the scheduler probes keep their state in task-local "
            "storage, which needs the typed (tp_btf) tracepoints; use --without "
            "sched_switch/sched_waking to leave them out",
            2);
    if (!tk::check_tracing("epoll-trace", opts, epolltrace::Tracer::tracepoints()))
        return 0;  // --features printed

    tk::TraceSession session("epoll-trace", opts);
    epolltrace::Tracer tracer(opts, limits);
    ropts.verbose = opts.verbose;
    tk::ReportMaker<epolltrace::Snapshot> report;
    report.snapshot = [&] { return tracer.snapshot(); };
    report.text = [&](const epolltrace::Snapshot& snap) {
        return epolltrace::text_report(snap, ropts);
    };
    report.json = epolltrace::json_report;
    report.timeline_names = [](const epolltrace::Snapshot&) {
        tk::TimelineNames names;
        names.call = [](uint64_t sys) { return std::string(epolltrace::syscall_name(int(sys))); };
        return names;
    };
    return tk::run_tracer(session, tracer, report);
}

}  // namespace

int main(int argc, char** argv) {
    return tk::run_tool("epoll-trace", [&] { return trace_main(argc, argv); });
}
