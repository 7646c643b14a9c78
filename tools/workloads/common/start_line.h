// A start line for workers (threads, or processes when it lives in shared memory): every
// worker checks in and waits; the coordinator waits for all of them, notes the start time
// and the deadline, and lets them go at once, so start-up costs (fork, thread creation)
// stay out of the measured interval.
#pragma once

#include <sched.h>

#include <atomic>
#include <cstdint>

#include "common/work.h"

namespace wl {

struct StartLine {
    std::atomic<uint32_t> ready{0};
    std::atomic<uint32_t> go{0};
    std::atomic<uint64_t> deadline_ns{0};  // 0: none

    // Worker side.
    void arrive_and_wait() {
        ready.fetch_add(1);
        while (go.load(std::memory_order_acquire) == 0)
            sched_yield();
    }
    bool past_deadline(uint64_t now) const {
        uint64_t d = deadline_ns.load(std::memory_order_relaxed);
        return d && now >= d;
    }

    // Coordinator side: returns the start time.
    uint64_t start_when_ready(uint32_t workers, double duration_s) {
        while (ready.load() < workers)
            sched_yield();
        uint64_t start = now_ns();
        if (duration_s > 0)
            deadline_ns = start + uint64_t(duration_s * 1e9);
        go.store(1, std::memory_order_release);
        return start;
    }
};

}  // namespace wl
