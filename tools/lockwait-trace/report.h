// lockwait-trace's report: the resolved view of a snapshot (locks named, stacks
// symbolized) and its writers: text for people, JSON for machines (docs/lockwait-trace.md),
// folded stacks for flame graphs. Works on plain data, so it is tested without BPF.
#pragma once

#include <sys/resource.h>

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "address_naming.h"
#include "bpf_skeleton.h"
#include "flamegraph.h"
#include "histogram.h"
#include "kinds.h"
#include "run_report.h"
#include "lockwait.h"
#include "snapshot.h"

namespace lockwait {

struct Frame {
    uint64_t address = 0;
    std::string function;  // "" when unknown
    std::string file;      // "" without line information
    int line = 0;
    std::string module;          // base name: "libc.so.6", "[kernel]"
    uint64_t module_offset = 0;  // address - the module's load base (stable across runs)
    bool inlined = false;
};

struct Stack {
    std::vector<Frame> frames;  // innermost first
    bool truncated = false;     // the frame-pointer walk stopped before a thread's entry
};

struct Waiter {
    uint32_t tid = 0;
    std::string comm;
    uint64_t waits = 0, blocked = 0, blocked_ns = 0;
};

struct WakerPair {
    uint32_t waiter_tid = 0, waker_tid = 0, waker_pid = 0;
    std::string waiter_comm, waker_comm;
    uint64_t count = 0, handoffs = 0, handoff_ns = 0, by_futex_wake = 0;
};

// A thread that held a mutex when its waiters went to sleep.
struct Owner {
    uint32_t tid = 0, pid = 0;
    std::string comm;
    uint64_t blocked = 0;  // blocked waits it held the mutex for
};

struct Lock {
    uint32_t pid = 0;
    uint64_t address = 0;
    std::string name;  // LockName
    tk::LockNameKind name_kind = tk::LockNameKind::Unknown;
    LockKind kind = LockKind::Unknown;
    std::string kind_evidence;  // what the kind rests on (kinds.h)
    uint32_t flags = 0;         // LW_LF_*
    uint32_t ops_seen = 0;      // bit per LW_* operation
    uint64_t waits = 0, blocked = 0, blocked_ns = 0, wait_ns = 0;
    std::array<uint64_t, LW_OUTCOMES> outcome{};
    uint64_t handoffs = 0, handoff_ns = 0;
    uint64_t wakes = 0, woken = 0, requeued = 0, other_calls = 0;
    tk::Histogram h_blocked, h_wait, h_handoff;
    std::vector<Waiter> waiters;    // by blocked time
    std::vector<WakerPair> wakers;  // by count
    // who held the word when its waits blocked, as the kernel side read it (any int: only
    // traced threads are kept in `owners`, and only for mutexes)
    std::map<uint32_t, uint64_t> owner_blocked;
    std::vector<Owner> owners;  // by blocked waits
    std::string cond_mutex;     // condvar: the mutex its waits release (--uprobes), or ""
};

struct StackEntry {
    uint32_t pid = 0;
    uint64_t address = 0;
    std::string lock_name;
    std::string comm;  // of the waiting process
    uint64_t count = 0, blocked_ns = 0;
    Stack waiter;
    bool has_waiter = false;  // the waiter's stack was captured
    uint32_t waker_pid = 0;
    Stack waker;
    bool has_waker = false;
};

struct KernelLock {
    uint64_t address = 0;
    uint32_t flags = 0;
    std::string type;   // "mutex", "spinlock", "rwsem (read)" ...
    std::string where;  // the first function outside the locking code
    uint32_t pid = 0;
    uint64_t count = 0, total_ns = 0, max_ns = 0;
    std::vector<Frame> stack;
};

struct UserLock {
    uint32_t pid = 0;
    uint64_t address = 0;
    std::string name;
    std::string kind;        // "mutex", "rwlock (read)", "rwlock (write)", "cond"
    uint64_t mutex = 0;      // cond: the mutex its waits were called with (0: none seen)
    std::string mutex_name;  // ... named
    uint64_t acquires = 0, acquire_ns = 0, try_busy = 0, holds = 0, hold_ns = 0, max_hold_ns = 0;
    tk::Histogram h_acquire, h_hold;
};

struct ProcessRow {
    uint32_t pid = 0;
    std::string comm;
    uint32_t threads = 0;
    lw_thread_stats sum{};  // counters of its threads added up
};

struct Report : tk::RunInfo {
    std::array<uint64_t, LW_COUNTERS> counters{};
    std::array<uint64_t, LW_OPS> calls{};
    std::array<tk::Histogram, LW_HISTS> hists;
    std::vector<Lock> locks;  // by blocked time, then waits
    std::vector<ThreadRow> threads;

    bool stacks_enabled = false;
    std::vector<StackEntry> stacks;  // by blocked time
    size_t user_stacks = 0, short_user_stacks = 0;
    std::string short_stack_note;  // where the short stacks stop, and why
    // user frames without a function name, by module: its symbols are not installed
    std::map<std::string, size_t> unnamed_frames;
    std::string unnamed_frames_note;  // which modules, and how to get their names

    bool kernel_locks_enabled = false;
    std::vector<KernelLock> kernel_locks;  // by total time

    bool uprobes_enabled = false;
    double uprobe_ns_per_hit = 0;
    std::string uprobe_cost_how;
    size_t uprobe_processes = 0;
    std::vector<UserLock> user_locks;  // by acquire time

    size_t maps_captured = 0;

    uint64_t counter(lw_counter c) const { return counters[c]; }
    std::vector<ProcessRow> processes() const;
    uint64_t blocked_ns_total() const;
    // blocked time on the futex words of one class (contention, event, other)
    uint64_t blocked_ns_of(WaitClass c) const;
    uint64_t kernel_lock_ns_total() const;
    // The time the traced threads lived within the report's window (from the run's start
    // or their fork to their exit or the maps' read), added up: the threads' time.
    uint64_t threads_time_ns() const;
};

struct ReportOptions {
    int verbose = 0;
    size_t top = 10;  // locks, stacks, kernel locks shown (all with -v)
};

// "FUTEX_WAIT", "FUTEX_WAIT_BITSET", "futex_waitv" ...
const char* op_name(unsigned op);
const char* outcome_name(unsigned outcome);
// "mutex", "spinlock (read)" ... from contention_begin flags
std::string kernel_lock_type(uint32_t flags);

std::string text_report(const Report& r, const ReportOptions& opts);
nlohmann::json json_report(const Report& r);
// The waiters' stacks of the blocked waits, weighted by blocked time: the process's name,
// the waiter's frames outermost first, then "[lock NAME]"; WITH_WAKERS adds the waker's
// frames above it, innermost first (the wake call next to the lock: offwaketime's order).
enum class WakerFrames : bool { left_out, on_top };
std::vector<tk::FlameStack> wait_stacks(const Report& r, WakerFrames wakers);
// Folded stacks weighted by blocked time in nanoseconds: "comm;outer;...;inner;[lock NAME] NS"
std::string folded_stacks(const Report& r);
// --flamegraph: the interactive SVG of wait_stacks(r, on_top).
std::string flame_graph(const Report& r, const std::string& command);

}  // namespace lockwait
