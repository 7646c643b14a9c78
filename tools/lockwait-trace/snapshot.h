// What lockwait-trace read from the kernel at one moment, as raw rows (addresses, stack
// ids, per-thread counters). resolve.h turns it into a Report with names and symbols.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "bpf_skeleton.h"
#include "histogram.h"
#include "lockwait.h"

namespace lockwait {

struct LockRow {
    lw_lock_key key{};
    lw_lock_row row{};
};

struct WakeRow {
    lw_wake_key key{};
    lw_wake_row row{};
};

struct StackRow {
    lw_stack_key key{};
    lw_stack_row row{};
};

struct KernelLockRow {
    lw_klock_key key{};
    lw_klock_row row{};
};

// One pthread object seen by the uprobes, its per-CPU copies added up.
struct UserLockRow {
    lw_ulock_key key{};
    uint64_t acquires = 0, acquire_ns = 0, try_busy = 0, holds = 0, hold_ns = 0, max_hold_ns = 0;
    uint64_t cond_mutex = 0;  // a cond's: the mutex of its waits
    tk::Histogram h_acquire, h_hold;
};

struct ThreadRow {
    lw_thread_stats stats{};
    std::string comm;
    bool alive = false;  // still running when the snapshot was taken
};

struct Snapshot {
    std::string probe_mode;  // "tp_btf" or "raw_tp" (the scheduler probes)
    std::array<uint64_t, LW_COUNTERS> counters{};
    std::array<uint64_t, LW_OPS> calls{};
    std::array<tk::Histogram, LW_HISTS> hists;
    std::vector<LockRow> locks;  // one per (word, thread)
    std::vector<WakeRow> wakers;
    std::vector<StackRow> stack_rows;
    std::vector<KernelLockRow> kernel_locks;
    std::vector<UserLockRow> user_locks;
    std::map<int32_t, std::vector<uint64_t>> stacks;  // stack id -> addresses, innermost first
    std::vector<ThreadRow> threads;
    std::vector<tk::ProbeStatus> probes;
    std::vector<tk::ProgramStats> program_stats;  // -v
    std::vector<std::string> warnings;

    uint64_t counter(lw_counter c) const { return counters[c]; }
};

}  // namespace lockwait
