// A stackful coroutine on the hand-written switch: its own mmap'ed stack with a guard page,
// resumed by a caller and yielding back to it. Asymmetric (always returns to whoever
// resumed it), which is all the workloads need.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

namespace wl {

class StackfulCoroutine {
  public:
    static constexpr size_t kDefaultStack = 64 * 1024;

    explicit StackfulCoroutine(std::function<void()> body, size_t stack_size = kDefaultStack);
    StackfulCoroutine(const StackfulCoroutine&) = delete;
    StackfulCoroutine& operator=(const StackfulCoroutine&) = delete;
    ~StackfulCoroutine();

    // Runs the coroutine until it yields or its body returns. Not after done().
    void resume();
    // Called from inside the body: back to the resume() that started this run.
    void yield();
    bool done() const { return done_; }
    // How many coro_switch calls this coroutine made, both directions.
    uint64_t switches() const { return switches_; }

  private:
    static void start(void* self);
    std::function<void()> body_;
    void* stack_ = nullptr;  // the whole mapping, guard page first
    size_t mapping_size_ = 0;
    void* sp_ = nullptr;         // saved stack pointer of the coroutine while it is suspended
    void* caller_sp_ = nullptr;  // saved stack pointer of the resumer while the coroutine runs
    bool done_ = false;
    bool started_ = false;
    uint64_t switches_ = 0;
};

}  // namespace wl
