// One cpuio worker: a CPU-bound operation (hash a buffer) or an IO-bound one (arm a timerfd
// and wait for it), repeated and timed.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/start_line.h"
#include "histogram.h"

namespace cpuio {

enum class Kind { cpu, io };

struct Work {
    Kind kind = Kind::cpu;
    const std::vector<unsigned char>* buffer = nullptr;  // cpu: what to hash
    uint64_t expected_hash = 0;                          // cpu: its hash, computed once
    uint64_t wait_us = 1000;                             // io: timer per operation
    uint64_t ops = 0;                                    // per worker; 0: until the deadline
};

struct WorkerResult {
    uint64_t ops = 0;
    uint64_t errors = 0;  // wrong hashes, timer reads that were not exactly one expiration
    tk::Histogram op;
    nlohmann::json to_json() const;
    static WorkerResult from_json(const nlohmann::json& j);
};

// How a worker waits for its timer: a blocking read for threads and processes; for a
// coroutine, handing the fd to the scheduler and coming back when it is readable.
using WaitReadable = std::function<void(int fd)>;
// Called after each CPU-bound operation: nothing for threads and processes; for a
// coroutine, letting the others run (cooperative scheduling has no preemption).
using AfterOp = std::function<void()>;

WorkerResult run_worker(const Work& work, wl::StartLine* start, const WaitReadable& wait,
                        const AfterOp& after_op);

}  // namespace cpuio
