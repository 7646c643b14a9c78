// Ping-pong between a caller and a coroutine on one thread: the three user-space switches.
//
// A round trip is two user-level switches (into the coroutine, back to the caller); the
// kernel sees none of them. One round trip takes a few nanoseconds, less than reading the
// clock, so round trips are timed in batches of kBatch. Each batch's mean is recorded kBatch
// times in the round-trip histogram (one entry per round trip, whole nanoseconds), and each
// full batch's total in a second histogram: the reported percentiles are those of the
// totals divided by kBatch, which keeps a fraction of a nanosecond that whole-ns means lose.
//
// The baseline does the same token handling through an ordinary (opaque) function call
// instead of a switch, so (round trip - baseline) / 2 is what one switch adds.
#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>

#include <algorithm>
#include <coroutine>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "common/work.h"
#include "common/opaque.h"
#include "coro/stackful.h"
#include "errors.h"
#include "pingpong/runners.h"

namespace pp {
namespace {

constexpr uint64_t kBatch = 64;

// What passes between the caller and the coroutine, and what the coroutine side counts.
struct Mailbox {
    uint64_t token = 0;
    uint64_t reply = 0;
    uint64_t expect = 1;
    uint64_t received = 0;
    uint64_t mismatches = 0;
    uint64_t switches = 0;  // counted by whoever switches
    bool stopped = false;
};

// The pong side's work for one token, shared by every coroutine body and the baseline.
inline void take_token(Mailbox& box) {
    uint64_t token = box.token;
    if (token == box.expect)
        box.received++;
    else
        box.mismatches++;
    box.expect = token + 1;
    box.reply = token;
}

OPAQUE void echo_call(Mailbox& box) {
    take_token(box);
}

struct Timing {
    tk::Histogram per_round_trip;  // batch means, one entry per round trip
    tk::Histogram batches;         // totals of full batches
};

// Runs round trips in timed batches until the limits are reached, then sends kStop.
// one_round_trip(token) must leave the echoed token in box.reply.
template <class RoundTrip>
void drive(Mailbox& box, const Limits& limits, Timing& t, uint64_t& sent, uint64_t& echoed,
           uint64_t& mismatches, RoundTrip one_round_trip) {
    uint64_t now = wl::now_ns();
    uint64_t token = 1;
    while (!limits.reached(sent, now)) {
        uint64_t n = kBatch;
        if (limits.iterations)
            n = std::min(n, limits.iterations - sent);
        uint64_t start = now;
        for (uint64_t i = 0; i < n; i++, token++) {
            box.token = token;
            one_round_trip();
            if (box.reply == token)
                echoed++;
            else
                mismatches++;
        }
        now = wl::now_ns();
        sent += n;
        t.per_round_trip.record((now - start + n / 2) / n, n);
        if (n == kBatch)
            t.batches.record(now - start);
    }
}

Timing measure_baseline(uint64_t count) {
    Mailbox box;
    Timing h;
    Limits limits;
    limits.iterations = count;
    uint64_t sent = 0, echoed = 0, mismatches = 0;
    drive(box, limits, h, sent, echoed, mismatches, [&] { echo_call(box); });
    if (echoed != count || box.received != count)
        throw tk::UserError("coroutine baseline lost tokens: internal error");
    return h;
}

// --- asm: the hand-written switch ------------------------------------------------------------

void run_asm(Mailbox& box, const Limits& limits, Timing& h, uint64_t& sent, uint64_t& echoed,
             uint64_t& mismatches) {
    wl::StackfulCoroutine* self = nullptr;
    wl::StackfulCoroutine co([&] {
        for (;;) {
            if (box.token == kStop)
                return;
            take_token(box);
            self->yield();
        }
    });
    self = &co;
    drive(box, limits, h, sent, echoed, mismatches, [&] { co.resume(); });
    box.token = kStop;
    co.resume();
    box.stopped = co.done();
    box.switches = co.switches();
}

// --- ucontext: glibc's swapcontext (it also saves the signal mask: one system call) --------

struct UcontextPair {
    ucontext_t caller, coroutine;
    Mailbox* box;
};

void ucontext_body(unsigned high, unsigned low) {
    auto* pair = reinterpret_cast<UcontextPair*>((uint64_t(high) << 32) | uint64_t(low));
    Mailbox& box = *pair->box;
    for (;;) {
        if (box.token == kStop)
            break;
        take_token(box);
        box.switches++;
        swapcontext(&pair->coroutine, &pair->caller);
    }
    box.stopped = true;
    box.switches++;  // returning continues at uc_link, the caller
}

void run_ucontext(Mailbox& box, const Limits& limits, Timing& h, uint64_t& sent, uint64_t& echoed,
                  uint64_t& mismatches) {
    constexpr size_t kStack = 64 * 1024;
    void* stack = mmap(nullptr, kStack, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED)
        throw tk::UserError(tk::errno_text("mmap coroutine stack"));
    UcontextPair pair{};
    pair.box = &box;
    if (getcontext(&pair.coroutine) != 0)
        throw tk::UserError(tk::errno_text("getcontext"));
    pair.coroutine.uc_stack.ss_sp = stack;
    pair.coroutine.uc_stack.ss_size = kStack;
    pair.coroutine.uc_link = &pair.caller;
    auto address = reinterpret_cast<uint64_t>(&pair);
    makecontext(&pair.coroutine, reinterpret_cast<void (*)()>(&ucontext_body), 2,
                unsigned(address >> 32), unsigned(address & 0xffffffffu));
    auto resume = [&] {
        box.switches++;
        if (swapcontext(&pair.caller, &pair.coroutine) != 0)
            throw tk::UserError(tk::errno_text("swapcontext"));
    };
    drive(box, limits, h, sent, echoed, mismatches, resume);
    box.token = kStop;
    resume();
    munmap(stack, kStack);
}

// --- cxx20: a stackless C++20 coroutine, resumed and suspended -----------------------------

struct EchoTask {
    struct promise_type {
        EchoTask get_return_object() {
            return EchoTask{std::coroutine_handle<promise_type>::from_promise(*this)};
        }
        std::suspend_always initial_suspend() noexcept { return {}; }
        std::suspend_always final_suspend() noexcept { return {}; }
        void return_void() {}
        void unhandled_exception() { std::terminate(); }
    };
    explicit EchoTask(std::coroutine_handle<promise_type> h) : handle(h) {}
    // clang 14 moves the return object out of get_return_object (GCC elides it)
    EchoTask(EchoTask&& o) noexcept : handle(std::exchange(o.handle, {})) {}
    EchoTask(const EchoTask&) = delete;
    ~EchoTask() {
        if (handle)
            handle.destroy();
    }
    std::coroutine_handle<promise_type> handle;
};

EchoTask echo_coroutine(Mailbox& box) {
    for (;;) {
        if (box.token == kStop)
            break;
        take_token(box);
        box.switches++;
        co_await std::suspend_always{};
    }
    box.stopped = true;
    box.switches++;  // the final suspend returns to the caller
}

void run_cxx20(Mailbox& box, const Limits& limits, Timing& h, uint64_t& sent, uint64_t& echoed,
               uint64_t& mismatches) {
    EchoTask task = echo_coroutine(box);
    auto resume = [&] {
        box.switches++;
        task.handle.resume();
    };
    drive(box, limits, h, sent, echoed, mismatches, resume);
    box.token = kStop;
    resume();
    if (!task.handle.done())
        throw tk::UserError("the C++20 coroutine did not finish at kStop");
}

}  // namespace

const std::vector<CoroutineIpc>& coroutine_ipcs() {
    static const std::vector<CoroutineIpc> table = {
        {"asm", "hand-written x86-64 stackful switch (coro_switch: callee-saved registers + rsp)"},
        {"ucontext", "glibc swapcontext on a separate stack"},
        {"cxx20", "C++20 stackless coroutine, resume() and co_await suspend_always"},
    };
    return table;
}

Result run_coroutine(const CoroutineIpc& ipc, const Options& opt) {
    Result r;
    r.model = Model::coroutine;
    r.ipc = ipc.name;
    r.ipc_description = ipc.description;
    r.cpus = opt.cpus.describe();
    r.timing = "batches of " + std::to_string(kBatch) + " round trips, each batch's mean";
    r.requested = opt.iterations;
    r.duration_s = opt.duration_s;
    opt.cpus.pin(0);
    Timing baseline = measure_baseline(baseline_count(opt, 1000000));
    r.baseline = baseline.per_round_trip;
    r.baseline_batches = baseline.batches;
    r.batch = kBatch;

    Mailbox box;
    uint64_t start = wl::now_ns();
    Limits limits = make_limits(opt, start);
    uint64_t echoed = 0, mismatches = 0;
    Timing rtt;
    if (ipc.name == "asm")
        run_asm(box, limits, rtt, r.sent, echoed, mismatches);
    else if (ipc.name == "ucontext")
        run_ucontext(box, limits, rtt, r.sent, echoed, mismatches);
    else
        run_cxx20(box, limits, rtt, r.sent, echoed, mismatches);
    r.elapsed_s = double(wl::now_ns() - start) / 1e9;
    r.rtt = rtt.per_round_trip;
    r.rtt_batches = rtt.batches;
    r.iterations = r.rtt.count();
    r.echoed = echoed;
    r.pong_received = box.received;
    r.mismatches = mismatches + box.mismatches;
    if (!box.stopped)
        r.mismatches++;  // the coroutine did not see kStop: count it as lost
    // The final kStop round trip is not a measured one: leave its two switches out.
    r.user_switches = box.switches >= 2 ? box.switches - 2 : 0;
    r.switches = wl::workload_switches();
    return r;
}

}  // namespace pp
