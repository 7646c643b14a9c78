// epoll-trace's kernel side from user space: loads the programs, attaches what the kernel
// offers (the syscall tracepoints are needed, the scheduler ones are optional), marks the
// targets, and reads everything back.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "snapshot.h"
#include "trace_session.h"

namespace epolltrace {

class Tracer {
  public:
    // The tracepoints this tool uses, for --features.
    static const std::vector<std::string>& tracepoints();

    // Opens, configures (launch mode: adopt this process's children; -t: that thread only),
    // loads and attaches. Throws tk::UserError when nothing can be traced.
    explicit Tracer(const tk::TraceOptions& opts);
    ~Tracer();

    // Traces every thread of a process (and, when forks are followed, what it forks).
    void trace_process(pid_t pid);

    // Reads counters, loops, fds, wakers and per-thread rows now.
    Snapshot snapshot();
    // Calls that return from now on are not counted (exits still keep their counters), so
    // that the final snapshot reads numbers that agree while a -p target runs on.
    void stop_counting();
    void detach();

    const Coverage& coverage() const { return coverage_; }

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    Coverage coverage_;
    std::vector<std::string> warnings_;
};

}  // namespace epolltrace
