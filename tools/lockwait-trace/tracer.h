// lockwait-trace's kernel side from user space: chooses tp_btf or the raw_tp twins, loads
// and attaches the probes, marks -p/-t targets, and reads everything back.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "snapshot.h"
#include "timeline_recorder.h"
#include "trace_session.h"

struct lockwait_bpf;

namespace lockwait {

struct Features {
    bool stacks = false;         // --stacks: user stacks of blocked waits and their wakers
    bool kernel_locks = true;    // lock:contention_begin/end of the traced tasks
    bool kernel_stacks = false;  // ... with kernel stacks (--kernel-stacks)
    bool uprobes = false;        // --uprobes (the programs are loaded; uprobes.h attaches them)
    bool uprobe_multi = false;   // ... through uprobe_multi links
};

// How much the preallocated maps hold (docs/lockwait-trace.md, "Limits").
struct Limits {
    uint32_t max_locks = 0;  // --max-locks: lock rows and pthread objects (0: the defaults)
};

// Lock rows kept by default: (futex word, thread) rows, 7.8 KB each with their histograms.
uint32_t default_max_lock_rows();
// pthread objects kept by default with --uprobes: 2048, fewer on a machine with many CPUs,
// since each is kept per CPU (5 KB a CPU) and together they stay under 64 MiB.
uint32_t default_max_user_locks(int ncpus);

class Tracer {
  public:
    // The tracepoints this tool uses, for --features and --without.
    static const std::vector<std::string>& tracepoints();
    // The threads its records keep without --max-threads.
    static uint32_t default_max_threads();
    // The stacks its stack maps keep without --max-stacks, and what one takes.
    static uint32_t default_max_stacks();
    static uint32_t stack_bytes();

    // Opens, configures, loads and attaches. In launch mode (opts.launching()) every new
    // process this one forks is traced from its fork on. Throws tk::UserError when the
    // kernel cannot give what is essential (the futex syscall tracepoints, sched_switch).
    Tracer(const tk::TraceOptions& opts, const Features& features, const Limits& limits);
    ~Tracer();

    // -p: every thread of pid, following what they fork; -t: that one thread.
    size_t trace_process(pid_t pid);
    void trace_thread(pid_t tid);

    // Waits (up to timeout_ms) until every traced task that ended has been retired.
    void settle(int timeout_ms);

    Snapshot snapshot();
    // No new futex call is recorded from now on (forks and exits still are): the final
    // snapshot then reads numbers that agree with each other while a -p target runs on.
    void stop_recording();
    void detach();

    lockwait_bpf* skeleton();
    int events_fd();              // the ring buffer of processes to read the mappings of
    tk::TimelineMaps timeline();  // --perfetto: the ring of the timeline mode
    const std::string& mode() const { return mode_; }
    const Features& features() const { return features_; }
    std::vector<std::string>& warnings() { return warnings_; }

  private:
    // Live threads and their hot lock rows, then `locks` and the exited threads.
    void read_threads_and_locks(Snapshot& snap);
    // What did not fit in the maps, said in words (the counts are in `dropped`).
    void add_overflow_warnings(Snapshot& snap) const;
    // Which programs load in this mode (tp_btf or their raw_tp twins): what the kernel has
    // and the features want. Returns what is not traced, and why.
    std::vector<std::string> choose_programs(lockwait_bpf* s, const tk::TraceOptions& opts,
                                             bool btf);
    void attach_programs(const tk::TraceOptions& opts, bool btf);
    struct Impl;
    std::unique_ptr<Impl> impl_;
    std::string mode_;
    Features features_;
    uint32_t threads_kept_, lock_rows_kept_, user_locks_kept_;
    std::vector<std::string> warnings_;
    std::map<std::string, bool> attachable_;  // probe group -> present and wanted
};

}  // namespace lockwait
