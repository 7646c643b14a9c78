// What every tracer does around its probes: the common options, choosing the target
// (a launched command, -p PID, -t TID), launching and waiting, -d/-i timing, Ctrl-C and
// SIGTERM, and the exit status. The tool supplies the BPF side and the report.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "launcher.h"
#include "run_report.h"

// CLI11 is not included here: it costs every file that includes it seconds to compile,
// and only a tool's main.cpp and trace_session.cpp use it.
namespace CLI {
class App;
}

namespace tk {

struct TraceOptions {
    pid_t pid = 0;        // -p: all threads of a process, and what it forks from then on
    pid_t tid = 0;        // -t: one thread
    double duration = 0;  // -d SECONDS (0: until the workload ends or Ctrl-C)
    double interval = 0;  // -i SECONDS: a report every interval
    std::string json;     // --json FILE|-
    int verbose = 0;      // -v
    // whether -d and -i were given: given, 0 is refused (unset, it means "none")
    bool duration_given = false;
    bool interval_given = false;
    bool max_threads_given = false;
    bool max_stacks_given = false;  // set by --max-stacks itself (not every tool has it)
    bool features = false;          // --features: print what the kernel offers and exit
    bool run_as_root = false;
    bool raw_tp = false;      // --raw-tp: use the raw_tp twins
    int64_t max_threads = 0;  // --max-threads: threads kept in the report (0: the tool's default)
    int64_t max_stacks = 0;   // --max-stacks: stacks and stack rows kept (0: the tool's default)
    std::vector<std::string> without;  // --without TP: behave as if the kernel lacked TP
    std::vector<std::string> command;  // -- CMD ARGS...
    // --perfetto FILE: the timeline mode (tools that offer it call add_timeline_options)
    std::string perfetto;
    double perfetto_limit_mb = 256;  // --perfetto-limit MB: events kept at most
    double flight_recorder = 0;      // --flight-recorder SECONDS: keep only the last SECONDS
    double trigger_ms = 0;           // --trigger-ms MS: write when a wait exceeds MS

    bool timeline() const { return !perfetto.empty(); }

    bool launching() const { return !command.empty(); }
    bool lacks(const std::string& tracepoint) const;
    // The size of the thread records (--max-threads, else the tool's default).
    uint32_t threads_kept(uint32_t tool_default) const {
        return max_threads ? uint32_t(max_threads) : tool_default;
    }
    // The size of the stack maps (--max-stacks, else the tool's default).
    uint32_t stacks_kept(uint32_t tool_default) const {
        return max_stacks ? uint32_t(max_stacks) : tool_default;
    }
};

// The largest --max-threads: beyond it the preallocated thread records alone would take
// gigabytes.
inline constexpr int64_t kMaxThreadsLimit = 1 << 22;
// The largest --max-stacks: a kept stack takes about a kilobyte, preallocated.
inline constexpr int64_t kMaxStacksLimit = 1 << 18;
// The largest --perfetto-limit: the events are kept in memory until the end.
inline constexpr int64_t kMaxPerfettoLimitMb = 65536;

// Adds -p -t -d -i --json -v --features --run-as-root --raw-tp --without --max-threads and
// the command. DEFAULT_MAX_THREADS is the tool's size of its thread records.
void add_trace_options(CLI::App& app, TraceOptions& opts, uint32_t default_max_threads);
// Adds --perfetto FILE and --perfetto-limit MB, for the tools with a timeline mode.
void add_timeline_options(CLI::App& app, TraceOptions& opts);
// Adds --max-stacks N, for the tools that keep stacks. DEFAULT_MAX_STACKS is the tool's size
// of its stack map and of its rows of time by stack; STACK_BYTES what one stack takes.
void add_stack_options(CLI::App& app, TraceOptions& opts, uint32_t default_max_stacks,
                       uint32_t stack_bytes);
// Exactly one target, sane numbers; throws UserError with what to do.
void validate_trace_options(const TraceOptions& opts);

// Parses the command line; --help prints the help and returns false (exit 0 then). Any
// other parse error is thrown for run_tool to report.
bool parse_command_line(CLI::App& app, int argc, char** argv);
// The same for a tracer (add_trace_options), then the command after the options goes to
// opts.command, without a leading "--"; an unknown option before it is a mistake, not a
// command: UserError.
bool parse_trace_command_line(CLI::App& app, int argc, char** argv, TraceOptions& opts);

// Runs a tool's main: a UserError or a CLI11 parse error becomes one line
// "TOOL: message" on stderr and a non-zero exit status.
int run_tool(const std::string& tool, const std::function<int()>& body);

// What a run traced, in a few words (a flame graph's subtitle): "thread N", "process N",
// the command line, or "system-wide".
std::string traced_what(const TraceOptions& opts);

// Now on bpf_ktime_get_ns()'s clock: CLOCK_MONOTONIC, which steady_clock reads on Linux.
uint64_t monotonic_ns();

class TraceSession {
  public:
    enum class End { WorkloadExited, Duration, Interrupted, TargetGone };

    TraceSession(std::string tool, const TraceOptions& opts);
    ~TraceSession();

    const TraceOptions& options() const { return opts_; }
    const std::string& tool() const { return tool_; }

    // Launch mode: fork the command paused (after the probes are attached, so that the
    // fork itself is seen), then resume() lets it exec.
    // stdout_to: where the workload's stdout goes ("" = ours).
    Workload& launch(const std::string& stdout_to = "");
    void resume();  // the run begins (begin_run) and the command execs
    // The run begins now: -d and the report's duration count from here, once the probes
    // are attached and the target marked (loading them may take a while on a busy machine).
    void begin_run();
    Workload* workload() { return workload_.get(); }
    // What SIGUSR1 does while wait() waits (blocked and taken only with --flight-recorder).
    void on_user_signal(std::function<void()> f) { on_user_signal_ = std::move(f); }

    // Blocks until the workload ends, -d elapses, the -p/-t target is gone, or Ctrl-C /
    // SIGTERM. A signal sent to us from another process is forwarded to the workload; a
    // second one stops at once. on_interval runs every -i seconds.
    End wait(const std::function<void()>& on_interval = {});

    // Launch mode, after wait(): makes sure the workload is reaped (terminated first when
    // it still runs because -d elapsed or we were interrupted twice).
    ExitStatus finish_workload();

    // The tool's exit status: the workload's (128+N if killed by signal N) when launched,
    // else 0 (130 when interrupted is not an error for -p).
    int exit_code() const;
    double elapsed_seconds() const;
    // When the run began, on monotonic_ns()'s clock.
    uint64_t started_ns() const;
    static const char* describe(End end);
    // The end of the run in its report: how long it took, why it ended, and how the
    // launched command ended (after finish_workload).
    void describe_end(RunInfo& run, End end, double duration_s);

  private:
    std::string tool_;
    TraceOptions opts_;
    std::unique_ptr<Workload> workload_;
    std::chrono::steady_clock::time_point start_;
    sigset_t old_mask_;
    std::function<void()> on_user_signal_;
};

}  // namespace tk
