// lockwait-trace's probes as the tracer skeleton drives them: the futex, scheduler and
// kernel lock programs (Tracer), the uprobes on libc's pthread functions (--uprobes), and
// the mappings of every traced process, read when the kernel side reports the process
// (a fork, an exec, its first futex call), which name its futex words and its stacks.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "maps_watcher.h"
#include "run_tracer.h"
#include "snapshot.h"
#include "tracer.h"
#include "uprobes.h"

namespace lockwait {

class Probes : public tk::Probes {
  public:
    // Loads and attaches (after the session blocked the signals: the watcher thread it
    // starts never takes them).
    Probes(const tk::TraceOptions& opts, const Features& features, const Limits& limits);
    ~Probes() override;

    // The target, its mappings, and with --uprobes its libc's pthread functions.
    size_t trace_process(pid_t pid) override;
    void trace_thread(pid_t tid) override;
    // Before exec: the uprobes follow the pid into its new image.
    void trace_launched(pid_t pid) override;
    void settle(int timeout_ms) override { tracer_.settle(timeout_ms); }
    // The uprobes come off first, then no new futex call is recorded; forks and exits
    // are followed until the maps have been read.
    void stop_recording() override;
    void detach() override { tracer_.detach(); }
    tk::TimelineMaps timeline() override { return tracer_.timeline(); }

    // The maps now, with every process reported so far given its mappings.
    Snapshot snapshot();
    // After detach: what one uprobe hit costs here (nothing measured without --uprobes).
    UprobeCost uprobe_cost();

    const Tracer& tracer() const { return tracer_; }
    tk::ProcessMaps& maps() { return maps_; }
    const Uprobes* uprobes() const { return uprobes_.get(); }

  private:
    void attach_uprobes(pid_t pid);
    Tracer tracer_;
    tk::ProcessMaps maps_;
    std::unique_ptr<Uprobes> uprobes_;
    const std::string own_libc_;
    std::unique_ptr<tk::MapsWatcher> watcher_;  // last: its thread stops before the rest goes
};

}  // namespace lockwait
