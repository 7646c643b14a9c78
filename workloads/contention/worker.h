// One contention worker: takes the lock of its mode over and over, holding it for the
// critical section and then thinking, and times every acquisition.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "common/start_line.h"
#include "histogram.h"

namespace ct {

enum class Mode { mutex, spin, rwlock, condvar, semaphore };
const char* mode_name(Mode m);
// The global the mode contends on, as the symbol table names it.
const char* lock_symbol(Mode m);
const void* lock_address(Mode m);

struct Config {
    Mode mode = Mode::mutex;
    bool processes = false;
    unsigned workers = 4;
    uint64_t ops_per_worker = 0;  // 0: until the deadline
    uint64_t cs_ns = 200;         // critical section, busy
    uint64_t think_ns = 200;      // between operations, busy, lock not held
    unsigned read_pct = 80;       // rwlock: share of operations that only read
    unsigned permits = 2;         // semaphore: holders at once
    uint32_t queue = 16;          // condvar: queue capacity
    unsigned producers = 0;       // condvar: workers 0 .. producers-1 produce, the rest consume
    bool break_lock = false;      // mutex, spin: skip the lock, to show the checks catch it
};

// Shared by all workers (MAP_SHARED for processes): the start line and the deadline.
using Control = wl::StartLine;

struct WorkerResult {
    unsigned id = 0;
    std::string role;  // "worker", "producer" or "consumer"
    uint64_t ops = 0;
    uint64_t lock_acquisitions = 0;  // explicit lock calls (cond waits re-lock internally)
    uint64_t reads = 0, writes = 0;  // rwlock
    uint64_t items = 0;              // condvar: produced or consumed
    uint64_t item_sum = 0;           // condvar: sum of item values, to compare both sides
    uint64_t violations = 0;         // exclusion or ordering broken, seen by this worker
    tk::Histogram wait;              // asking for the lock until holding it (and the condition)
    tk::Histogram op;                // the whole operation, think time excluded

    nlohmann::json to_json() const;
    static WorkerResult from_json(const nlohmann::json& j);
};

WorkerResult run_worker(const Config& cfg, unsigned id, Control& control);

}  // namespace ct
