// The exporter's kernel side, loaded and attached for as long as the object lives: the
// programs of bpf/exporter.bpf.c on the scheduler's tracepoints, and the reading of their
// series table for a scrape.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cgroups.h"
#include "exposition.h"

namespace exporter {

struct ProbeOptions {
    uint32_t max_series = EXP_DEFAULT_MAX_SERIES;
    bool futex = true;  // trace the futex waits (blocked time by word)
    bool poll = false;  // trace epoll_wait, poll and select (their syscall tracepoints)
    uint32_t max_locks = EXP_DEFAULT_MAX_LOCKS;
    CgroupFilter filter;     // id 0: the whole machine
    bool bpf_stats = false;  // keep kernel.bpf_stats_enabled on (BPF run time as metrics)
    bool verbose = false;
};

// A futex word of the kernel's table with its cumulative blocked time.
struct LockWord {
    uint32_t slot = 0;
    exp_lock_key key{};
    std::string comm;  // its process's command
    exp_hist blocked{};
};

struct LockWords {
    std::vector<LockWord> words;
    exp_hist folded{};  // the waits whose word found the table full
    uint32_t used = 0;  // slots handed out
};

class Probes {
  public:
    // Loads and attaches; throws UserError saying what is missing (privileges, BTF,
    // sched_switch).
    explicit Probes(const ProbeOptions& opts);
    ~Probes();
    Probes(const Probes&) = delete;
    Probes& operator=(const Probes&) = delete;

    // What could not be attached, and why (one line each).
    const std::vector<std::string>& warnings() const { return warnings_; }
    bool switch_cost() const { return switch_cost_; }
    // The futex waits are traced (at sched_switch: where they sleep).
    bool futex() const { return futex_; }
    uint32_t max_locks() const;
    // The ring buffer of processes whose mappings to read (struct process_event).
    int process_events_fd() const;

    // The series and the exporter's own counters now (cgroup paths and process figures
    // are the caller's). The series' histograms are the kernel's, in place: valid while
    // this Probes lives.
    Snapshot read();
    // The futex words and their blocked time now.
    LockWords read_lock_words();

    // Detaches every program (the destructor does too).
    void detach();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    std::vector<std::string> warnings_;
    bool switch_cost_ = false;
    bool futex_ = false;
};

}  // namespace exporter
