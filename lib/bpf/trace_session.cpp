#include "trace_session.h"

#include <CLI/CLI.hpp>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>

#include "errors.h"
#include "output.h"
#include "proc.h"
#include "text.h"

namespace tk {

bool TraceOptions::lacks(const std::string& tracepoint) const {
    return std::find(without.begin(), without.end(), tracepoint) != without.end();
}

void add_trace_options(CLI::App& app, TraceOptions& o, uint32_t default_max_threads) {
    app.add_option("-p,--pid", o.pid,
                   "trace every thread of a running process (and what it forks)");
    app.add_option("-t,--tid", o.tid, "trace one thread of a running process");
    app.add_option("-d,--duration", o.duration, "stop after SECONDS");
    app.add_option("-i,--interval", o.interval, "print a report every SECONDS");
    app.add_option("--json", o.json, "write the report as JSON to FILE ('-' for stdout)")
        ->type_name("FILE");
    app.add_flag("-v,--verbose", o.verbose, "more detail: probe run time, libbpf messages");
    app.add_flag("--features", o.features, "print what this kernel offers and exit");
    app.add_flag("--run-as-root", o.run_as_root,
                 "under sudo, run the command as root instead of the invoking user");
    app.add_flag("--raw-tp", o.raw_tp, "use raw_tp probes instead of tp_btf");
    app.add_option("--max-threads", o.max_threads,
                   "threads kept in the per-thread rows, alive and ended (default " +
                       std::to_string(default_max_threads) +
                       "); more are counted as dropped, and the totals still count them")
        ->type_name("N");
    app.add_option("--without", o.without,
                   "behave as if the kernel lacked this tracepoint (testing)")
        ->type_name("TRACEPOINT");
    // everything from the first word that is not an option on is the command
    app.prefix_command();
    app.footer("COMMAND: run it and trace it and all it starts, e.g. 'sudo " + app.get_name() +
               " ./workload arg' or '-- ./workload --its-own-flag'");
}

void add_timeline_options(CLI::App& app, TraceOptions& o) {
    app.add_option("--perfetto", o.perfetto,
                   "record a timeline of the run: write it as a Perfetto trace to FILE (open it "
                   "in ui.perfetto.dev; see docs/timeline.md)")
        ->type_name("FILE");
    app.add_option("--perfetto-limit", o.perfetto_limit_mb,
                   "with --perfetto, keep at most MB megabytes of events (default " +
                       strprintf("%g", o.perfetto_limit_mb) +
                       "); later events are counted, not written")
        ->type_name("MB");
    app.add_option("--flight-recorder", o.flight_recorder,
                   "with --perfetto, keep only the last SECONDS of events and write the trace "
                   "when asked (SIGUSR1), when --trigger-ms trips, and at the end")
        ->type_name("SECONDS");
    app.add_option("--trigger-ms", o.trigger_ms,
                   "with --flight-recorder, write the trace when a traced task waits longer "
                   "than MS: for a CPU after its wakeup (ctxswitch-trace), blocked in a lock "
                   "wait (lockwait-trace), to return from a call once woken (epoll-trace)")
        ->type_name("MS");
}

void add_stack_options(CLI::App& app, TraceOptions& o, uint32_t default_max_stacks,
                       uint32_t stack_bytes) {
    app.add_option("--max-stacks", o.max_stacks,
                   "distinct stacks kept, and rows of time by stack (default " +
                       std::to_string(default_max_stacks) + ", " + std::to_string(stack_bytes) +
                       " bytes a stack, preallocated); stacks beyond them are counted as dropped")
        ->type_name("N")
        ->each([&o](const std::string&) { o.max_stacks_given = true; });
}

void validate_trace_options(const TraceOptions& o) {
    int targets = (o.pid != 0) + (o.tid != 0) + o.launching();
    if (targets == 0)
        throw UserError("nothing to trace: give a command to run, -p PID or -t TID (see --help)",
                        2);
    if (targets > 1)
        throw UserError("give only one of: a command, -p PID, -t TID", 2);
    if (o.pid < 0 || o.tid < 0)
        throw UserError("a PID or TID must be positive", 2);
    // given, 0 is no duration or interval at all (unset, it means "until the end", "none")
    if (o.duration < 0 || !std::isfinite(o.duration) || (o.duration_given && o.duration == 0))
        throw UserError("-d must be a positive number of seconds", 2);
    if (o.interval < 0 || !std::isfinite(o.interval) || (o.interval_given && o.interval == 0))
        throw UserError("-i must be a positive number of seconds", 2);
    if (o.pid && !process_exists(o.pid))
        throw UserError(describe_missing_task(o.pid, false));
    if (o.pid && tgid_of(o.pid).value_or(o.pid) != o.pid)
        throw UserError(std::to_string(o.pid) + " is a thread, not a process: use -t " +
                            std::to_string(o.pid) + " for one thread",
                        2);
    if (o.tid && !tgid_of(o.tid))
        throw UserError(describe_missing_task(o.tid, true));
    if (o.max_threads < 0 || o.max_threads > kMaxThreadsLimit ||
        (o.max_threads_given && o.max_threads == 0))
        throw UserError("--max-threads must be a number of threads from 1 to " +
                            std::to_string(kMaxThreadsLimit),
                        2);
    if (o.max_stacks < 0 || o.max_stacks > kMaxStacksLimit ||
        (o.max_stacks_given && o.max_stacks == 0))
        throw UserError(
            "--max-stacks must be a number of stacks from 1 to " + std::to_string(kMaxStacksLimit),
            2);
    check_writable(o.json, "--json");
    if (!(o.perfetto_limit_mb > 0) || o.perfetto_limit_mb > kMaxPerfettoLimitMb)
        throw UserError("--perfetto-limit must be a number of megabytes above 0 and at most " +
                            std::to_string(kMaxPerfettoLimitMb),
                        2);
    if (o.flight_recorder < 0 || !std::isfinite(o.flight_recorder))
        throw UserError("--flight-recorder must be a positive number of seconds", 2);
    if (o.trigger_ms < 0 || !std::isfinite(o.trigger_ms))
        throw UserError("--trigger-ms must be a positive number of milliseconds", 2);
    if (o.flight_recorder > 0 && o.perfetto.empty())
        throw UserError("--flight-recorder needs --perfetto FILE: where to write the trace", 2);
    if (o.trigger_ms > 0 && !(o.flight_recorder > 0))
        throw UserError("--trigger-ms needs --flight-recorder SECONDS", 2);
    if (o.perfetto == "-")
        throw UserError("--perfetto needs a file name: a trace is binary, not for stdout", 2);
    check_writable(o.perfetto, "--perfetto");
}

bool parse_command_line(CLI::App& app, int argc, char** argv) {
    try {
        app.parse(argc, argv);
        return true;
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() != 0)
            throw;
        app.exit(e);  // --help, --help-all
        return false;
    }
}

bool parse_trace_command_line(CLI::App& app, int argc, char** argv, TraceOptions& opts) {
    if (!parse_command_line(app, argc, argv))
        return false;
    opts.duration_given = app.count("-d") > 0;
    opts.interval_given = app.count("-i") > 0;
    opts.max_threads_given = app.count("--max-threads") > 0;
    opts.command = app.remaining();
    if (!opts.command.empty() && opts.command[0] == "--") {
        opts.command.erase(opts.command.begin());
    } else if (!opts.command.empty() && opts.command[0].size() > 1 && opts.command[0][0] == '-') {
        // prefix_command() hands unknown options over as the command; they are mistakes
        throw UserError(
            "unknown option " + opts.command[0] + " (see --help; put the command after --)", 2);
    }
    return true;
}

int run_tool(const std::string& tool, const std::function<int()>& body) {
    try {
        return body();
    } catch (const UserError& e) {
        fprintf(stderr, "%s: %s\n", tool.c_str(), e.what());
        return e.exit_code();
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0)
            return 0;
        fprintf(stderr, "%s: %s (see --help)\n", tool.c_str(), e.what());
        return 2;
    } catch (const std::exception& e) {
        fprintf(stderr, "%s: internal error: %s\n", tool.c_str(), e.what());
        return 70;
    }
}

TraceSession::TraceSession(std::string tool, const TraceOptions& opts)
    : tool_(std::move(tool)), opts_(opts), start_(std::chrono::steady_clock::now()) {
    // Signals are taken synchronously with sigtimedwait() in wait().
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGCHLD);
    if (opts_.flight_recorder > 0)
        sigaddset(&set, SIGUSR1);  // the flight recorder's "write the trace now"
    sigprocmask(SIG_BLOCK, &set, &old_mask_);
}

TraceSession::~TraceSession() {
    workload_.reset();  // kills a workload that is still paused or running
    sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
}

Workload& TraceSession::launch(const std::string& stdout_to) {
    workload_ = Workload::spawn_paused({opts_.command, opts_.run_as_root, stdout_to});
    return *workload_;
}

void TraceSession::resume() {
    begin_run();
    workload_->resume();
}

void TraceSession::begin_run() {
    start_ = std::chrono::steady_clock::now();
}

double TraceSession::elapsed_seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

namespace {

uint64_t since_epoch_ns(std::chrono::steady_clock::time_point t) {
    return uint64_t(
        std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
}

}  // namespace

std::string traced_what(const TraceOptions& opts) {
    if (opts.tid)
        return "thread " + std::to_string(opts.tid);
    if (opts.pid)
        return "process " + std::to_string(opts.pid);
    std::string line;
    for (const auto& a : opts.command)
        line += (line.empty() ? "" : " ") + a;
    return line.empty() ? "system-wide" : line;
}

uint64_t monotonic_ns() {
    return since_epoch_ns(std::chrono::steady_clock::now());
}

uint64_t TraceSession::started_ns() const {
    return since_epoch_ns(start_);
}

TraceSession::End TraceSession::wait(const std::function<void()>& on_interval) {
    using clock = std::chrono::steady_clock;
    auto seconds = [](double s) {
        return std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(s));
    };
    const auto deadline =
        opts_.duration > 0 ? start_ + seconds(opts_.duration) : clock::time_point::max();
    auto next_report =
        opts_.interval > 0 ? clock::now() + seconds(opts_.interval) : clock::time_point::max();
    int signals = 0;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGCHLD);
    if (opts_.flight_recorder > 0)
        sigaddset(&set, SIGUSR1);

    for (;;) {
        if (workload_ && workload_->exited())
            return End::WorkloadExited;
        if (!workload_) {
            pid_t target = opts_.pid ? opts_.pid : opts_.tid;
            if (opts_.pid ? !process_exists(target) : !tgid_of(target))
                return End::TargetGone;
        }
        auto now = clock::now();
        if (now >= deadline)
            return End::Duration;
        if (now >= next_report) {
            if (on_interval)
                on_interval();
            next_report += seconds(opts_.interval);
            continue;
        }
        // wake at least every 200 ms to notice a -p target's exit
        auto until = std::min({deadline, next_report, now + std::chrono::milliseconds(200)});
        auto wait_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(until - now).count();
        struct timespec ts = {time_t(wait_ns / 1000000000), long(wait_ns % 1000000000)};
        siginfo_t info;
        int sig = sigtimedwait(&set, &info, &ts);
        if (sig == SIGUSR1) {
            if (on_user_signal_)
                on_user_signal_();
            continue;
        }
        if (sig == SIGINT || sig == SIGTERM) {
            signals++;
            if (!workload_ || signals > 1)
                return End::Interrupted;
            // Ctrl-C at the terminal reaches the workload by itself (same process group,
            // si_code SI_KERNEL); a signal sent to us alone is passed on.
            if (info.si_code != SI_KERNEL)
                workload_->signal(sig);
        }
    }
}

ExitStatus TraceSession::finish_workload() {
    if (!workload_)
        return {};
    if (workload_->exited())
        return workload_->reap();
    return workload_->terminate();
}

int TraceSession::exit_code() const {
    if (workload_ && workload_->status())
        return workload_->status()->shell_code();
    return 0;
}

const char* TraceSession::describe(End end) {
    switch (end) {
        case End::WorkloadExited:
            return "the workload ended";
        case End::Duration:
            return "the duration elapsed";
        case End::Interrupted:
            return "interrupted";
        case End::TargetGone:
            return "the target is gone";
    }
    return "";
}

void TraceSession::describe_end(RunInfo& run, End end, double duration_s) {
    run.duration_s = duration_s;
    run.end_reason = describe(end);
    if (workload_)
        run.workload_status = workload_->status();
}

}  // namespace tk
