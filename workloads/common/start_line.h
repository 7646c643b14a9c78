// A start line for workers (threads, or processes when it lives in shared memory): every
// worker checks in and sleeps; the coordinator waits for all of them, notes the start time
// and the deadline, and wakes them at once, so start-up costs (fork, thread creation) stay
// out of the measured interval.
//
// Waiting is a futex sleep, not a spin: a spinning or sched_yield-ing worker would burn CPU
// time and context switches that getrusage then charges to the measurement. The futex calls
// are the shared (non-private) kind, which work for both process-shared and private memory.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <climits>
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
        futex(&ready, FUTEX_WAKE, INT_MAX);
        while (go.load(std::memory_order_acquire) == 0)
            futex(&go, FUTEX_WAIT, 0);
    }
    bool past_deadline(uint64_t now) const {
        uint64_t d = deadline_ns.load(std::memory_order_relaxed);
        return d && now >= d;
    }

    // Coordinator side: returns the start time.
    uint64_t start_when_ready(uint32_t workers, double duration_s) {
        for (uint32_t seen; (seen = ready.load()) < workers;)
            futex(&ready, FUTEX_WAIT, seen);
        uint64_t start = now_ns();
        if (duration_s > 0)
            deadline_ns = start + uint64_t(duration_s * 1e9);
        go.store(1, std::memory_order_release);
        futex(&go, FUTEX_WAKE, INT_MAX);
        return start;
    }

  private:
    // Errors (EAGAIN: the value changed already, EINTR) just mean "look again".
    static void futex(std::atomic<uint32_t>* word, int op, uint32_t value) {
        syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), op, value, nullptr, nullptr, 0);
    }
};

}  // namespace wl
