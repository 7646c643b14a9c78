// A minimal single-threaded scheduler for stackful coroutines: a FIFO run queue plus epoll,
// so a coroutine that waits for a file descriptor lets the others run, and the thread
// sleeps in epoll_wait only when every coroutine waits. This is what makes coroutines on
// one thread good at IO-bound work and no help at CPU-bound work.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "coro/stackful.h"

namespace cpuio {

class Scheduler {
  public:
    Scheduler();
    ~Scheduler();
    Scheduler(const Scheduler&) = delete;
    Scheduler& operator=(const Scheduler&) = delete;

    void spawn(std::function<void()> body);
    // From inside a coroutine: go to the back of the run queue.
    void yield();
    // From inside a coroutine: sleep until fd is readable.
    void wait_readable(int fd);
    // Runs until every coroutine has finished.
    void run();
    // User-level switches made so far, both directions.
    uint64_t switches() const;

  private:
    struct Task {
        std::unique_ptr<wl::StackfulCoroutine> coroutine;
        int registered_fd = -1;  // the fd this task has in the epoll set
    };
    std::vector<Task> tasks_;
    std::deque<size_t> ready_;
    size_t current_ = 0;
    bool requeue_ = false;
    int epoll_fd_ = -1;
};

}  // namespace cpuio
