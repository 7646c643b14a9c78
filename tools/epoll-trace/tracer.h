// epoll-trace's kernel side from user space: loads the programs, attaches what the kernel
// offers (the syscall tracepoints are needed, the scheduler ones are optional), marks the
// targets, and reads everything back.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "snapshot.h"
#include "run_tracer.h"
#include "trace_session.h"

namespace epolltrace {

class Tracer : public tk::Probes {
  public:
    // The tracepoints this tool uses, for --features.
    static const std::vector<std::string>& tracepoints();

    // Opens, configures (launch mode: adopt this process's children; -t: that thread only),
    // loads and attaches. Throws tk::UserError when nothing can be traced.
    explicit Tracer(const tk::TraceOptions& opts);
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

    const Coverage& coverage() const { return coverage_; }

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    Coverage coverage_;
    std::vector<std::string> warnings_;
};

}  // namespace epolltrace
