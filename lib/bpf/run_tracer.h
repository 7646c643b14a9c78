// The tracer skeleton: the one lifecycle of every tracer (docs/design.md, "How a tracer is
// put together"). A tool's main.cpp parses its options, describes its tracer (its Probes and
// its ReportMaker) and calls run_tracer, which owns the rest:
//
//   check      --features, the options, the command, the kernel       (check_tracing)
//   attach     the tool constructs its Probes: open, configure, load, attach
//   target     launch the command paused → trace_launched → exec; or -p / -t
//   run        wait for the end; every -i seconds a report (stdout, or stderr with --json -)
//   end        settle (launch mode) → stop_recording → the timeline's last records →
//              snapshot → detach → build the report → the run's part of it → finish →
//              the Perfetto trace (--perfetto) → text and JSON output
//
// The order at the end makes the final numbers agree with each other (nothing is recorded
// once they are read) and keeps the probes attached no longer than the read takes: the
// report is built (symbols resolved, names found) after detach.
#pragma once

#include <sys/types.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "json_text.h"
#include "output.h"
#include "run_report.h"
#include "timeline_recorder.h"
#include "trace_session.h"

namespace tk {

// The kernel side of a tracer as run_tracer drives it. Constructing one opens, configures,
// loads and attaches its programs (a UserError when nothing can be traced).
class Probes {
  public:
    virtual ~Probes() = default;
    // -p: every thread of PID, and what it forks from then on. Returns the threads found.
    virtual size_t trace_process(pid_t pid) = 0;
    // -t: that thread alone.
    virtual void trace_thread(pid_t tid) = 0;
    // Launch mode: the command is forked and waits before its exec (its fork was seen by
    // the probes, which adopt the launcher's children).
    virtual void trace_launched(pid_t pid) { (void)pid; }
    // Launch mode, the command has ended: wait up to TIMEOUT_MS for the exits of its
    // threads to be recorded, for tools that keep per-thread state.
    virtual void settle(int timeout_ms) { (void)timeout_ms; }
    // Events from now on are not recorded, so that the final snapshot agrees with itself
    // while a -p target runs on.
    virtual void stop_recording() = 0;
    virtual void detach() = 0;
    // The timeline mode's ring (--perfetto), for tools that offer it.
    virtual TimelineMaps timeline() { return {}; }
};

// Whether -p/-t of a kernel thread has something to show: its context switches do, but a
// kernel thread makes no system calls (futex, epoll_wait), so most tools refuse it.
enum class KernelThreads { Refused, Traced };

// What run_tracer needs of a tool's report. SNAPSHOT is what is read from the maps while
// the probes are attached; REPORT (a RunInfo) what is printed, built from it afterwards
// (the same type when there is nothing to resolve: build may then be left empty).
template <class Snapshot, class Report = Snapshot>
struct ReportMaker {
    std::function<Snapshot()> snapshot;
    std::function<Report(Snapshot&&)> build;
    std::function<std::string(const Report&)> text;
    std::function<nlohmann::json(const Report&)> json;
    // Optional, after the run's part is filled in: what only the end of the run knows
    // (the workload's rusage, a cost measured after detach, extra output files).
    std::function<void(Report&, TraceSession&)> finish;
    // Optional, with --perfetto: how the timeline names the locks or calls of the tool's
    // records, from the built report.
    std::function<TimelineNames(const Report&)> timeline_names;
};

// What every tracer checks before it loads anything. Returns false when --features printed
// the kernel's features for TRACEPOINTS (the tool exits 0 then); throws UserError for bad
// options, a missing command, a -p/-t kernel thread the tool refuses, or a kernel that
// cannot trace.
bool check_tracing(const std::string& tool, const TraceOptions& opts,
                   const std::vector<std::string>& tracepoints,
                   KernelThreads kernel_threads = KernelThreads::Refused);

// The target of a run, marked in the probes: the launched command (forked paused,
// trace_launched, resumed) or the -p process or -t thread ("Tracing ... Ctrl-C to end."
// on stderr). Returns how the report names it: "CMD ARGS (pid N)", "pid N (comm, M
// threads at start)", "tid N (comm)".
std::string start_target(TraceSession& session, Probes& probes);

// Launch mode: the command is reaped (terminated first if it still runs: -d, a second
// Ctrl-C), and the probes are given time to record its threads' exits.
void end_target(TraceSession& session, Probes& probes, TraceSession::End end);

// --perfetto: the recorder that drains the probes' ring from now on (null without it), and
// on stderr where the trace goes and its limit.
std::unique_ptr<TimelineRecorder> start_timeline(TraceSession& session, Probes& probes);

// Where interval reports go: stdout, or stderr when the JSON report takes stdout.
FILE* interval_stream(const TraceOptions& opts);

template <class Snapshot, class Report>
Report build_report(const ReportMaker<Snapshot, Report>& maker, Snapshot&& snap) {
    if constexpr (std::is_same_v<Snapshot, Report>) {
        if (!maker.build)
            return std::move(snap);
    }
    return maker.build(std::move(snap));
}

// Runs a tracer whose probes are attached, from its target to its report. Returns the
// tool's exit status (the launched command's).
template <class Snapshot, class Report>
int run_tracer(TraceSession& session, Probes& probes, const ReportMaker<Snapshot, Report>& maker) {
    const TraceOptions& opts = session.options();
    std::unique_ptr<TimelineRecorder> timeline = start_timeline(session, probes);
    if (timeline && opts.flight_recorder > 0)
        session.on_user_signal([&] { timeline->request_write(); });
    const std::string target = start_target(session, probes);
    auto with_run = [&](Report r, double duration, uint64_t read_ns) {
        r.target = target;
        r.command = opts.command;
        r.duration_s = duration;
        r.started_ns = session.started_ns();
        r.read_ns = read_ns;
        return r;
    };
    TraceSession::End end = session.wait([&] {
        uint64_t read_ns = monotonic_ns();
        Report r =
            with_run(build_report(maker, maker.snapshot()), session.elapsed_seconds(), read_ns);
        fputs(maker.text(r).c_str(), interval_stream(opts));
        fflush(stdout);
    });

    const double duration = session.elapsed_seconds();
    end_target(session, probes, end);
    probes.stop_recording();
    if (timeline)
        timeline->stop();
    uint64_t read_ns = monotonic_ns();
    Snapshot snap = maker.snapshot();
    probes.detach();
    Report report = with_run(build_report(maker, std::move(snap)), duration, read_ns);
    session.describe_end(report, end, duration);
    if (maker.finish)
        maker.finish(report, session);
    if (timeline)
        report.timeline = timeline->write(
            opts.perfetto, maker.timeline_names ? maker.timeline_names(report) : TimelineNames{});
    emit_report(
        opts.json, [&] { return maker.text(report); },
        [&] { return json_text(maker.json(report)) + "\n"; });
    return session.exit_code();
}

}  // namespace tk
