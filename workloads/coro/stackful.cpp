#include "coro/stackful.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "coro/coro_switch.h"

namespace wl {

void* coro_prepare_stack(void* base, size_t size, CoroEntry entry, void* arg) {
    // The frame coro_switch pops, lowest address first: r15 r14 r13 r12 rbx rbp, then the
    // return address (coro_trampoline). Two padding words above make the stack pointer
    // 16-byte aligned at the trampoline's call, as the ABI wants.
    auto top = (reinterpret_cast<uintptr_t>(base) + size) & ~uintptr_t(15);
    auto* frame = reinterpret_cast<uintptr_t*>(top) - 9;
    std::memset(frame, 0, 9 * sizeof(uintptr_t));
    frame[2] = reinterpret_cast<uintptr_t>(entry);             // r13
    frame[3] = reinterpret_cast<uintptr_t>(arg);               // r12
    frame[5] = 0;                                              // rbp: end of frame chain
    frame[6] = reinterpret_cast<uintptr_t>(&coro_trampoline);  // where `ret` goes
    return frame;
}

StackfulCoroutine::StackfulCoroutine(std::function<void()> body, size_t stack_size)
    : body_(std::move(body)) {
    size_t page = size_t(sysconf(_SC_PAGESIZE));
    stack_size = (stack_size + page - 1) / page * page;
    mapping_size_ = stack_size + page;
    stack_ = mmap(nullptr, mapping_size_, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack_ == MAP_FAILED)
        throw std::runtime_error(std::string("mmap coroutine stack: ") + std::strerror(errno));
    // The lowest page faults on overflow instead of silently corrupting memory below.
    mprotect(stack_, page, PROT_NONE);
    sp_ = coro_prepare_stack(static_cast<char*>(stack_) + page, stack_size, &start, this);
}

StackfulCoroutine::~StackfulCoroutine() {
    munmap(stack_, mapping_size_);
}

void StackfulCoroutine::start(void* arg) {
    auto* self = static_cast<StackfulCoroutine*>(arg);
    try {
        self->body_();
    } catch (const std::exception& e) {
        // An exception cannot unwind past the coroutine's first frame.
        std::fprintf(stderr, "coroutine body threw: %s\n", e.what());
        std::abort();
    }
    self->done_ = true;
    self->switches_++;
    coro_switch(&self->sp_, self->caller_sp_);
    std::abort();  // a finished coroutine is never resumed
}

void StackfulCoroutine::resume() {
    if (done_)
        throw std::logic_error("resuming a finished coroutine");
    started_ = true;
    switches_++;
    coro_switch(&caller_sp_, sp_);
}

void StackfulCoroutine::yield() {
    switches_++;
    coro_switch(&sp_, caller_sp_);
}

}  // namespace wl
