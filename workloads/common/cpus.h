// --cpu LIST: which CPUs the tasks of a workload are pinned to.
//
// LIST is like taskset's: "0", "0,1", "0-3,6". Task i of a workload (the ping side is task
// 0, the pong side task 1; workers are numbered from 0) runs on LIST[i mod len(LIST)], so
// "--cpu 0" puts everything on CPU 0 and "--cpu 0,1" puts the two ping-pong partners on
// different CPUs. Without --cpu nothing is pinned and the scheduler decides.
#pragma once

#include <string>
#include <vector>

namespace wl {

class CpuList {
  public:
    CpuList() = default;  // unpinned
    // Throws tk::UserError (one line, says what is wrong and what is valid) on bad input or
    // a CPU this process may not run on.
    static CpuList parse(const std::string& text);

    bool pinned() const { return !cpus_.empty(); }
    const std::vector<int>& cpus() const { return cpus_; }
    // The CPU task `index` is pinned to, or -1 when unpinned.
    int cpu_for(size_t index) const;
    // "unpinned" or the list as given, normalized: "0,1,2,3"
    std::string describe() const;
    // Pins the calling thread to cpu_for(index); no-op when unpinned. Throws on failure.
    void pin(size_t index) const;

  private:
    std::vector<int> cpus_;
};

// The CPUs this process may run on (sched_getaffinity), as "0-1".
std::string allowed_cpus_text();

}  // namespace wl
