// ctxswitch-trace's kernel side from user space: chooses tp_btf or the raw_tp twins,
// loads and attaches the probes, marks -p/-t targets, and reads everything back.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "process_maps.h"
#include "snapshot.h"
#include "run_tracer.h"
#include "trace_session.h"

struct ctxswitch_bpf;

namespace tk {
class MapsWatcher;
}

namespace ctxswitch {

class Tracer : public tk::Probes {
  public:
    // The tracepoints this tool uses, for --features.
    static const std::vector<std::string>& tracepoints();
    // The threads its records keep without --max-threads.
    static uint32_t default_max_threads();
    // The stacks --stacks keeps without --max-stacks, and what one takes.
    static uint32_t default_max_stacks();
    static uint32_t stack_bytes();

    // Opens, configures, loads and attaches. In launch mode (opts.launching()) every
    // child of this process is traced from its fork on. Throws tk::UserError when the
    // kernel cannot give what is essential (sched_switch). STACKS (--stacks): off-CPU time
    // by sleeper and waker stacks, with the mappings of every traced process captured while
    // it lives.
    Tracer(const tk::TraceOptions& opts, bool stacks);
    ~Tracer() override;

    // -p: every thread of pid, following what they fork (returns how many threads were
    // marked); -t: that one thread. A launched command is adopted at its fork.
    size_t trace_process(pid_t pid) override;
    void trace_thread(pid_t tid) override;

    // Counts calls of a user-level switch function by traced tasks (a uprobe in every
    // process mapping the binary; only traced tasks count). Throws tk::UserError when the
    // uprobe cannot be attached.
    void count_user_switches(const std::string& binary, const std::string& function);
    // The cost of one uprobe hit on this machine: the same kind of probe (an emulated or a
    // single-stepped first instruction) on a function of this tool, called in a loop with
    // and without it. Nanoseconds per hit.
    double measure_uprobe_cost(bool emulated);

    // Waits (up to timeout_ms) until every traced task that ended has been retired by
    // its final context switch, so the counters of a workload that just exited are whole.
    void settle(int timeout_ms) override;

    // Reads counters, histograms and per-thread rows (live and exited) now.
    Snapshot snapshot();
    // Nothing more is counted from now on (exits still keep their counters), so that the
    // final snapshot reads numbers that agree with each other while a -p target runs on.
    void stop_recording() override;
    void detach() override;
    // --perfetto: the ring of the timeline mode.
    tk::TimelineMaps timeline() override;

    // --stacks: the mappings captured so far (for the symbolizers).
    tk::ProcessMaps& maps() { return maps_; }

    const std::string& mode() const { return mode_; }
    bool switch_cost_measured() const { return switch_cost_; }
    const std::vector<std::string>& warnings() const { return warnings_; }

  private:
    void read_stacks(RawStacks& out);
    struct Impl;
    std::unique_ptr<Impl> impl_;
    std::string mode_;
    bool switch_cost_ = false;
    bool stacks_ = false;
    tk::ProcessMaps maps_;
    std::unique_ptr<tk::MapsWatcher> watcher_;  // --stacks only
    uint32_t threads_kept_;                     // --max-threads
    std::string user_switch_name_;              // --user-switch's function, once attached
    std::vector<std::string> warnings_;
};

}  // namespace ctxswitch
