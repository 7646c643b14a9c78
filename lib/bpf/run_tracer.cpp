#include "run_tracer.h"

#include <unistd.h>

#include <iostream>

#include "kernel_features.h"
#include "launcher.h"
#include "proc.h"

namespace tk {

namespace {

std::string join(const std::vector<std::string>& words) {
    std::string out;
    for (const auto& w : words)
        out += (out.empty() ? "" : " ") + w;
    return out;
}

}  // namespace

bool check_tracing(const std::string& tool, const TraceOptions& opts,
                   const std::vector<std::string>& tracepoints, KernelThreads kernel_threads) {
    if (opts.features) {
        KernelFeatures::get().print(std::cout, tracepoints);
        return false;
    }
    validate_trace_options(opts);
    const pid_t id = opts.pid ? opts.pid : opts.tid;
    if (id && kernel_threads == KernelThreads::Refused && is_kernel_thread(id))
        throw UserError(std::string(opts.pid ? "pid " : "tid ") + std::to_string(id) + " (" +
                        comm_of(id) +
                        ") is a kernel thread, which makes no system calls: nothing to trace "
                        "here; give a user process");
    if (opts.launching())
        resolve_command(opts.command[0]);  // fail before loading anything
    if (geteuid() == 0)
        ensure_tracefs();  // where the tracepoints that raw_tp attaches to by name are listed
    KernelFeatures::get().require_tracing(tool, opts.lacks("btf"));
    return true;
}

std::string start_target(TraceSession& session, Probes& probes) {
    const TraceOptions& opts = session.options();
    if (opts.launching()) {
        Workload& w = session.launch();
        probes.trace_launched(w.pid());
        session.resume();
        return join(opts.command) + " (pid " + std::to_string(w.pid()) + ")";
    }
    std::string target;
    if (opts.pid) {
        size_t threads = probes.trace_process(opts.pid);
        target = "pid " + std::to_string(opts.pid) + " (" + comm_of(opts.pid) + ", " +
                 std::to_string(threads) + " threads at start)";
    } else {
        probes.trace_thread(opts.tid);
        target = "tid " + std::to_string(opts.tid) + " (" + comm_of(opts.tid) + ")";
    }
    session.begin_run();
    fprintf(stderr, "Tracing %s. Ctrl-C to end.\n", target.c_str());
    return target;
}

void end_target(TraceSession& session, Probes& probes, TraceSession::End end) {
    if (!session.options().launching())
        return;
    if (end == TraceSession::End::WorkloadExited)
        probes.settle(250);
    session.finish_workload();
    probes.settle(250);
}

std::unique_ptr<TimelineRecorder> start_timeline(TraceSession& session, Probes& probes) {
    const TraceOptions& opts = session.options();
    if (!opts.timeline())
        return nullptr;
    TimelineMaps maps = probes.timeline();
    if (maps.ring_fd < 0)
        throw UserError(session.tool() + " has no timeline mode: --perfetto is not for it");
    fprintf(stderr, "%s: recording a timeline to %s, at most %g MB of events (--perfetto-limit)\n",
            session.tool().c_str(), opts.perfetto.c_str(), opts.perfetto_limit_mb);
    return std::make_unique<TimelineRecorder>(maps, opts);
}

FILE* interval_stream(const TraceOptions& opts) {
    return opts.json == "-" ? stderr : stdout;
}

}  // namespace tk
