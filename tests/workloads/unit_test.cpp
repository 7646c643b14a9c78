// The shared workload code on its own: CPU lists, the hand-written coroutine switch, busy
// work.
#include <sched.h>

#include <array>
#include <functional>
#include <string>

#include <gtest/gtest.h>

#include "common/cpus.h"
#include "common/work.h"
#include "coro/coro_switch.h"
#include "coro/stackful.h"
#include "errors.h"

namespace {

int first_allowed_cpu() {
    cpu_set_t set;
    CPU_ZERO(&set);
    sched_getaffinity(0, sizeof set, &set);
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
        if (CPU_ISSET(cpu, &set))
            return cpu;
    return -1;
}

TEST(CpuList, UnpinnedByDefault) {
    wl::CpuList list;
    EXPECT_FALSE(list.pinned());
    EXPECT_EQ(list.describe(), "unpinned");
    EXPECT_EQ(list.cpu_for(3), -1);
}

TEST(CpuList, TaskIRunsOnEntryIModuloLength) {
    int cpu = first_allowed_cpu();
    ASSERT_GE(cpu, 0);
    std::string c = std::to_string(cpu);
    auto list = wl::CpuList::parse(c + "," + c + "-" + c);
    EXPECT_EQ(list.cpus(), (std::vector<int>{cpu, cpu}));
    EXPECT_EQ(list.describe(), c + "," + c);
    EXPECT_EQ(list.cpu_for(0), cpu);
    EXPECT_EQ(list.cpu_for(5), cpu);
}

TEST(CpuList, RejectsBadInputWithOneClearMessage) {
    for (const char* bad : {"", "x", "1-0", "0,", ",0", "0-", "-1", "4096", "0-99999"}) {
        try {
            wl::CpuList::parse(bad);
            ADD_FAILURE() << "accepted '" << bad << "'";
        } catch (const tk::UserError& e) {
            std::string what = e.what();
            EXPECT_NE(what.find("--cpu"), std::string::npos) << what;
            EXPECT_EQ(what.find('\n'), std::string::npos) << what;
            EXPECT_EQ(e.exit_code(), 2);
        }
    }
}

// Values held across coro_switch in callee-saved registers and on both stacks must survive
// many switches in both directions, with deep call chains on the coroutine's stack.
__attribute__((noinline)) uint64_t recurse(wl::StackfulCoroutine& co, int depth, uint64_t acc) {
    if (depth == 0) {
        co.yield();
        return acc;
    }
    uint64_t local = acc * 31 + uint64_t(depth);
    uint64_t inner = recurse(co, depth - 1, local);
    return inner ^ (local << 1);
}

TEST(StackfulCoroutine, KeepsRegistersAndStacksAcrossSwitches) {
    constexpr int kRounds = 1000;
    wl::StackfulCoroutine* self = nullptr;
    std::array<uint64_t, kRounds> from_coroutine{};
    wl::StackfulCoroutine co([&] {
        for (int i = 0; i < kRounds; i++)
            from_coroutine[size_t(i)] = recurse(*self, 20, uint64_t(i));
    });
    self = &co;
    // Keep several values live in the caller across every resume.
    uint64_t a = 1, b = 2, c = 3, d = 5, e = 8;
    for (int i = 0; i < kRounds; i++) {
        co.resume();
        a += b;
        b += c;
        c += d;
        d += e;
        e += a;
    }
    co.resume();  // runs the last recursion back up and finishes the body
    EXPECT_TRUE(co.done());
    EXPECT_EQ(co.switches(), 2u * (kRounds + 1));
    // The same arithmetic without any switching.
    uint64_t ra = 1, rb = 2, rc = 3, rd = 5, re = 8;
    for (int i = 0; i < kRounds; i++) {
        ra += rb;
        rb += rc;
        rc += rd;
        rd += re;
        re += ra;
    }
    const std::array<uint64_t, 5> got{a, b, c, d, e}, want{ra, rb, rc, rd, re};
    EXPECT_EQ(got, want);
    for (int i = 0; i < kRounds; i++) {
        uint64_t want = [&] {
            // recurse() without the yield
            std::function<uint64_t(int, uint64_t)> f = [&](int depth, uint64_t acc) -> uint64_t {
                if (depth == 0)
                    return acc;
                uint64_t local = acc * 31 + uint64_t(depth);
                return f(depth - 1, local) ^ (local << 1);
            };
            return f(20, uint64_t(i));
        }();
        ASSERT_EQ(from_coroutine[size_t(i)], want) << "round " << i;
    }
}

// The stack a fresh coroutine starts on is aligned as the ABI requires (SSE code would fault
// otherwise) and lies inside the coroutine's own mapping.
TEST(StackfulCoroutine, StartsOnAnAlignedStackOfItsOwn) {
    uintptr_t seen = 0;
    wl::StackfulCoroutine co([&] {
        alignas(16) volatile char probe[16];
        probe[0] = 1;
        seen = reinterpret_cast<uintptr_t>(&probe[0]);
    });
    co.resume();
    EXPECT_TRUE(co.done());
    EXPECT_EQ(seen % 16, 0u);
    int here = 0;
    uintptr_t caller_stack = reinterpret_cast<uintptr_t>(&here);
    uintptr_t distance = seen > caller_stack ? seen - caller_stack : caller_stack - seen;
    EXPECT_GT(distance, uintptr_t(wl::StackfulCoroutine::kDefaultStack));
}

TEST(StackfulCoroutine, ResumingAFinishedCoroutineIsAnError) {
    wl::StackfulCoroutine co([] {});
    co.resume();
    EXPECT_THROW(co.resume(), std::logic_error);
}

TEST(Work, HashIsDeterministicAndSeesEveryByte) {
    auto buf = wl::make_work_buffer(4099);
    uint64_t h = wl::hash_bytes(buf.data(), buf.size());
    EXPECT_EQ(h, wl::hash_bytes(buf.data(), buf.size()));
    for (size_t i : {size_t(0), size_t(7), size_t(4096), size_t(4098)}) {
        auto copy = buf;
        copy[i] ^= 1;
        EXPECT_NE(wl::hash_bytes(copy.data(), copy.size()), h) << "byte " << i;
    }
}

TEST(Work, SpinForReturnsAfterAtLeastTheTime) {
    uint64_t start = wl::now_ns();
    wl::spin_for_ns(200000);
    EXPECT_GE(wl::now_ns() - start, 200000u);  // a lower bound only: never a timing limit
}

}  // namespace
