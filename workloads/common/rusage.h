// Context-switch counts from getrusage: the independent ground truth the tracers are
// cross-checked against.
//
// ru_nvcsw counts voluntary switches (the task blocked: futex wait, read on an empty pipe),
// ru_nivcsw involuntary ones (preempted while runnable). RUSAGE_SELF sums all threads of
// the process, live and exited; RUSAGE_CHILDREN covers reaped children (and their reaped
// children), so it is complete only after waitpid.
#pragma once

#include <cstdint>

#include <nlohmann/json.hpp>

namespace wl {

struct Switches {
    uint64_t voluntary = 0;
    uint64_t involuntary = 0;
    uint64_t total() const { return voluntary + involuntary; }
};

Switches self_switches();
Switches children_switches();
// RUSAGE_SELF + RUSAGE_CHILDREN: the whole workload once every child is reaped.
Switches workload_switches();

// Switches and CPU time (user + system) of the whole workload, for differences between two
// points in time: b.since(a).
struct Usage {
    Switches switches;
    double cpu_s = 0;
    Usage since(const Usage& earlier) const;
};
Usage workload_usage();

}  // namespace wl
