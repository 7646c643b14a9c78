// The cost of one user-space context switch, three ways, with Google Benchmark:
//   asm       coro_switch, the hand-written x86-64 switch the workloads use (callee-saved
//             registers + stack pointer), called directly
//   asm/ret   the same with a plain `ret` at the end instead of `pop; jmp` (for comparison:
//             the return-stack predictor gets every one of those wrong)
//   stackful  the same switch through wl::StackfulCoroutine::resume/yield (what pingpong's
//             coroutine asm mode runs: adds a call and a counter per switch)
//   ucontext  glibc swapcontext (saves the signal mask with a system call, and the FP state)
//   cxx20     a C++20 stackless coroutine: resume() and co_await suspend_always
// Each iteration is a round trip (two switches); the per_switch counter divides by two.
// A plain opaque function call is measured alongside for scale.
#include <sys/mman.h>
#include <ucontext.h>

#include <coroutine>
#include <cstdint>
#include <cstdlib>
#include <exception>

#include <benchmark/benchmark.h>

#include "common/opaque.h"
#include "coro/coro_switch.h"
#include "coro/stackful.h"

extern "C" void coro_switch_with_ret(void** save_sp, void* load_sp);

namespace {

void count_switches(benchmark::State& state) {
    // seconds per switch (2 per iteration), shown as e.g. 4.2n
    state.counters["per_switch"] = benchmark::Counter(
        2, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

constexpr size_t kStack = 64 * 1024;

void* map_stack() {
    void* p = mmap(nullptr, kStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
                   -1, 0);
    if (p == MAP_FAILED)
        std::abort();
    return p;
}

// --- asm: coro_switch directly ------------------------------------------------------------

struct AsmPair {
    void* caller_sp = nullptr;
    void* coroutine_sp = nullptr;
};

void asm_body(void* arg) {
    auto* pair = static_cast<AsmPair*>(arg);
    for (;;)
        coro_switch(&pair->coroutine_sp, pair->caller_sp);
}

void BM_AsmSwitch(benchmark::State& state) {
    void* stack = map_stack();
    AsmPair pair;
    pair.coroutine_sp = wl::coro_prepare_stack(stack, kStack, &asm_body, &pair);
    for (auto _ : state)
        coro_switch(&pair.caller_sp, pair.coroutine_sp);
    count_switches(state);
    munmap(stack, kStack);  // the coroutine is parked in its loop; its stack just goes away
}
BENCHMARK(BM_AsmSwitch);

void asm_ret_body(void* arg) {
    auto* pair = static_cast<AsmPair*>(arg);
    for (;;)
        coro_switch_with_ret(&pair->coroutine_sp, pair->caller_sp);
}

void BM_AsmSwitchWithRet(benchmark::State& state) {
    void* stack = map_stack();
    AsmPair pair;
    pair.coroutine_sp = wl::coro_prepare_stack(stack, kStack, &asm_ret_body, &pair);
    for (auto _ : state)
        coro_switch_with_ret(&pair.caller_sp, pair.coroutine_sp);
    count_switches(state);
    munmap(stack, kStack);
}
BENCHMARK(BM_AsmSwitchWithRet);

// --- stackful: the coroutine class the workloads use ----------------------------------------

void BM_StackfulCoroutine(benchmark::State& state) {
    wl::StackfulCoroutine* self = nullptr;
    bool stop = false;
    wl::StackfulCoroutine co([&] {
        while (!stop)
            self->yield();
    });
    self = &co;
    for (auto _ : state)
        co.resume();
    stop = true;
    co.resume();
    count_switches(state);
}
BENCHMARK(BM_StackfulCoroutine);

// --- ucontext -------------------------------------------------------------------------------

ucontext_t g_caller, g_coroutine;

void ucontext_body() {
    for (;;)
        swapcontext(&g_coroutine, &g_caller);
}

void BM_Ucontext(benchmark::State& state) {
    void* stack = map_stack();
    getcontext(&g_coroutine);
    g_coroutine.uc_stack.ss_sp = stack;
    g_coroutine.uc_stack.ss_size = kStack;
    g_coroutine.uc_link = nullptr;
    makecontext(&g_coroutine, &ucontext_body, 0);
    for (auto _ : state)
        swapcontext(&g_caller, &g_coroutine);
    count_switches(state);
    munmap(stack, kStack);
}
BENCHMARK(BM_Ucontext);

// --- C++20 stackless ------------------------------------------------------------------------

struct Loop {
    struct promise_type {
        Loop get_return_object() {
            return Loop{std::coroutine_handle<promise_type>::from_promise(*this)};
        }
        std::suspend_always initial_suspend() noexcept { return {}; }
        std::suspend_always final_suspend() noexcept { return {}; }
        void return_void() {}
        void unhandled_exception() { std::terminate(); }
    };
    explicit Loop(std::coroutine_handle<promise_type> h) : handle(h) {}
    ~Loop() { handle.destroy(); }
    std::coroutine_handle<promise_type> handle;
};

Loop suspend_forever() {
    for (;;)
        co_await std::suspend_always{};
}

void BM_Cxx20ResumeSuspend(benchmark::State& state) {
    Loop loop = suspend_forever();
    for (auto _ : state)
        loop.handle.resume();
    count_switches(state);
}
BENCHMARK(BM_Cxx20ResumeSuspend);

// --- for scale: an opaque function call and return ------------------------------------------

OPAQUE void empty_call() {}

void BM_FunctionCall(benchmark::State& state) {
    for (auto _ : state)
        empty_call();
}
BENCHMARK(BM_FunctionCall);

}  // namespace

BENCHMARK_MAIN();
