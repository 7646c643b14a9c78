// Test workload for lockwait-trace: a two-thread handoff on one futex word, where the
// waker and the waiter are known. The waiter blocks in FUTEX_WAIT on g_handoff_word; the
// waker waits until the waiter is asleep (its /proc state is S), then stores the next
// value and calls FUTEX_WAKE. Every wait on g_handoff_word therefore blocks and is woken by
// the waker's thread.
//
//   lockwait-handoff ROUNDS   prints "waker_tid=A waiter_tid=B rounds=N" and exits 0
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

extern "C" {
// the traced words, named globals
std::atomic<int> g_handoff_word{0};
std::atomic<int> g_handoff_ack{0};
}

namespace {

long futex(std::atomic<int>* word, int op, int val) {
    return syscall(SYS_futex, reinterpret_cast<int*>(word), op, val, nullptr, nullptr, 0);
}

void wait_until(std::atomic<int>& word, int want) {
    for (int v; (v = word.load()) != want;)
        futex(&word, FUTEX_WAIT_PRIVATE, v);
}

// The thread's scheduler state letter from /proc (R, S, D ...).
char state_of(pid_t tid) {
    std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/stat");
    std::string line;
    std::getline(f, line);
    auto close = line.rfind(')');
    return close != std::string::npos && close + 2 < line.size() ? line[close + 2] : '?';
}

}  // namespace

int main(int argc, char** argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 0;
    if (rounds <= 0) {
        fprintf(stderr, "usage: lockwait-handoff ROUNDS\n");
        return 2;
    }
    std::atomic<pid_t> waiter_tid{0};
    std::thread waiter([&] {
        waiter_tid = pid_t(syscall(SYS_gettid));
        for (int i = 1; i <= rounds; i++) {
            wait_until(g_handoff_word, i);
            g_handoff_ack = i;
            futex(&g_handoff_ack, FUTEX_WAKE_PRIVATE, 1);
        }
    });
    while (!waiter_tid)
        std::this_thread::yield();
    pid_t waker_tid = pid_t(syscall(SYS_gettid));
    for (int i = 1; i <= rounds; i++) {
        // the waiter must be asleep in its FUTEX_WAIT before we wake it
        while (state_of(waiter_tid) != 'S')
            usleep(50);
        g_handoff_word = i;
        futex(&g_handoff_word, FUTEX_WAKE_PRIVATE, 1);
        wait_until(g_handoff_ack, i);
    }
    waiter.join();
    printf("waker_tid=%d waiter_tid=%d rounds=%d\n", waker_tid, waiter_tid.load(), rounds);
    return 0;
}
