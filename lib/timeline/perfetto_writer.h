// A Perfetto trace from the timeline mode's records (bpf/timeline.h): the scheduler's
// events as per-CPU ftrace event bundles (Perfetto's own CPU tracks, thread states and
// wakeup arrows), a track descriptor for each process and thread seen (their names), and
// the tools' own events as track events on the thread's track. Encoded with libprotobuf
// from perfetto_trace.proto, a subset of Perfetto's published format.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "timeline.h"

namespace tk {

// prev_state as the sched_switch tracepoint reports it (and Perfetto reads it, for
// kernels from 4.14 on): TASK_REPORT_MAX (0x100) when preempted, else one bit for the
// state (0 running, 0x1 S, 0x2 D, 0x4 T, 0x8 t, 0x10 X, 0x20 Z, 0x40 P, 0x80 I).
int64_t ftrace_prev_state(uint32_t state, uint32_t exit_state, bool preempt);

// Whether a switch with that reported state put its task to sleep (off-CPU, DESIGN.md 5)
// rather than leaving it runnable.
bool switched_out_asleep(int64_t reported_prev_state);

// How a tool names what its records point at, once its report is built.
struct TimelineNames {
    // lockwait-trace: the futex word at ADDR in process TGID ("g_lock"); empty: its address
    std::function<std::string(uint32_t tgid, uint64_t addr)> lock;
    // epoll-trace: the system call WHAT of a TL_CALL record ("epoll_wait")
    std::function<std::string(uint64_t what)> call;
};

struct PerfettoTraceInfo {
    // added to every record's time (CLOCK_MONOTONIC) to give CLOCK_BOOTTIME
    int64_t boot_offset_ns = 0;
    std::string kernel_release;                    // uname -r: how Perfetto reads prev_state
    std::string user_switch_name = "user switch";  // the --user-switch function
    TimelineNames names;
};

class PerfettoWriter {
  public:
    explicit PerfettoWriter(PerfettoTraceInfo info);
    ~PerfettoWriter();
    PerfettoWriter(const PerfettoWriter&) = delete;
    PerfettoWriter& operator=(const PerfettoWriter&) = delete;

    void add(const tl_record& r);
    // The whole trace: every bundle flushed. The writer is spent afterwards.
    std::string finish();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The CLOCK_BOOTTIME - CLOCK_MONOTONIC difference now.
int64_t boot_minus_monotonic_ns();

}  // namespace tk
