// epoll-trace's kernel side from user space: loads the programs, attaches what the kernel
// offers (the syscall tracepoints are needed, the scheduler ones are optional), marks the
// targets, and reads everything back.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "snapshot.h"
#include "run_tracer.h"
#include "trace_session.h"

namespace epolltrace {

// How much the preallocated maps hold (docs/epoll-trace.md, "Limits").
struct Limits {
    uint32_t max_loops = 0;  // --max-loops: event loops kept (0: default_max_loops())
};

// Event loops kept by default: 128, fewer on a machine with many CPUs, since a loop and its
// cost histograms are kept per CPU and together they stay under 64 MiB.
uint32_t default_max_loops(int ncpus);
// Cost histograms (by the number of fds watched, slept or not) kept per loop.
constexpr uint32_t kSizeHistsPerLoop = 8;

class Tracer : public tk::Probes {
  public:
    // The tracepoints this tool uses, for --features.
    static const std::vector<std::string>& tracepoints();
    // The threads its records keep without --max-threads.
    static uint32_t default_max_threads();

    // Opens, configures (launch mode: adopt this process's children; -t: that thread only),
    // loads and attaches. Throws tk::UserError when nothing can be traced.
    Tracer(const tk::TraceOptions& opts, const Limits& limits);
    ~Tracer() override;

    // Traces every thread of a process (and, when forks are followed, what it forks);
    // returns its threads at the start. The kernel side keeps its targets by process (the
    // `targets` map), so a launched command is marked the same way, right after its fork.
    size_t trace_process(pid_t pid) override;
    void trace_launched(pid_t pid) override { trace_process(pid); }
    // -t: the thread was given to the programs at load time (target_tid): nothing to mark.
    void trace_thread(pid_t) override {}

    // Reads counters, loops, fds, wakers and per-thread rows now.
    Snapshot snapshot();
    // Calls that return from now on are not counted (exits still keep their counters), so
    // that the final snapshot reads numbers that agree while a -p target runs on.
    void stop_recording() override;
    void detach() override;
    // --perfetto: the ring of the timeline mode.
    tk::TimelineMaps timeline() override;

    const Coverage& coverage() const { return coverage_; }

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    Coverage coverage_;
    uint32_t max_loops_ = 0;
    uint32_t threads_kept_;  // --max-threads
    std::vector<std::string> warnings_;
};

}  // namespace epolltrace
