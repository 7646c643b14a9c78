// Test workload for lockwait-trace: every futex operation and every way a wait returns, a
// known number of times, each on a named global word, so the tool's decoding of ops and
// outcomes can be checked exactly.
//
//   lockwait-futex-ops N     prints "futex2=yes|no" and exits 0
//
// On g_ops_eagain     N FUTEX_WAIT with a stale value       -> EAGAIN
//    g_ops_timeout    N FUTEX_WAIT_BITSET, 1 ms timeout     -> ETIMEDOUT (each blocks)
//    g_ops_intr       N FUTEX_WAIT cut short by a signal    -> EINTR (each blocks)
//    g_ops_wake       N FUTEX_WAKE, nobody waiting          -> 0 woken
//    g_ops_wake_op    N FUTEX_WAKE_OP
//    g_ops_requeue    N FUTEX_CMP_REQUEUE
//    g_ops_pi         N contended PI mutex rounds: N FUTEX_LOCK_PI(2) (that sleep, unless they
//                     spin on the running owner), FUTEX_UNLOCK_PIs
//    g_ops_waitv      N futex_waitv(2) with a stale value   -> EAGAIN
//    g_ops_futex2     N futex_wait(2) with a stale value (EAGAIN) and N futex_wake(2)
//    g_ops_rq_from    N futex_requeue(2)
// (futex_wait/wake/requeue(2) need Linux 6.7; without them "futex2=no" is printed.)
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

extern "C" {
uint32_t g_ops_eagain, g_ops_timeout, g_ops_intr, g_ops_wake, g_ops_wake_op, g_ops_wake_op2,
    g_ops_requeue, g_ops_requeue2, g_ops_waitv, g_ops_futex2, g_ops_rq_from, g_ops_rq_to;
pthread_mutex_t g_ops_pi;
}

namespace {

constexpr long kFutexWaitv = 449, kFutexWake = 454, kFutexWait = 455, kFutexRequeue = 456;
constexpr unsigned kFutex2U32 = 0x02, kFutex2Private = 128;
constexpr unsigned long kMatchAny = 0xffffffffUL;  // a 32-bit word takes a 32-bit mask

struct Waitv {
    uint64_t val, uaddr;
    uint32_t flags, reserved;
};

long futex(uint32_t* word, int op, uint32_t val, const timespec* timeout = nullptr,
           uint32_t* word2 = nullptr, uint32_t val3 = 0) {
    return syscall(SYS_futex, word, op, val, timeout, word2, val3);
}

char state_of(pid_t tid) {
    std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/stat");
    std::string line;
    std::getline(f, line);
    auto close = line.rfind(')');
    return close != std::string::npos && close + 2 < line.size() ? line[close + 2] : '?';
}

void wait_asleep(pid_t tid) {
    while (state_of(tid) != 'S')
        usleep(50);
}

pid_t gettid_() {
    return pid_t(syscall(SYS_gettid));
}

void fail(const char* what) {
    fprintf(stderr, "lockwait-futex-ops: %s: errno %d\n", what, errno);
    exit(1);
}

// The waits that return at once or time out, and the wakes nobody waits for: N of each.
void single_thread_ops(int n) {
    for (int i = 0; i < n; i++) {
        if (futex(&g_ops_eagain, FUTEX_WAIT_PRIVATE, 1) != -1 || errno != EAGAIN)
            fail("EAGAIN wait");
        timespec ms = {0, 1000000};
        timespec abs;
        clock_gettime(CLOCK_MONOTONIC, &abs);
        abs.tv_nsec += ms.tv_nsec;
        if (abs.tv_nsec >= 1000000000)
            abs.tv_sec++, abs.tv_nsec -= 1000000000;
        if (futex(&g_ops_timeout, FUTEX_WAIT_BITSET_PRIVATE, 0, &abs, nullptr,
                  FUTEX_BITSET_MATCH_ANY) != -1 ||
            errno != ETIMEDOUT)
            fail("timed wait");
        if (futex(&g_ops_wake, FUTEX_WAKE_PRIVATE, 1) != 0)
            fail("wake");
        if (futex(&g_ops_wake_op, FUTEX_WAKE_OP_PRIVATE, 1, reinterpret_cast<timespec*>(1),
                  &g_ops_wake_op2, FUTEX_OP(FUTEX_OP_SET, 0, FUTEX_OP_CMP_EQ, 0)) < 0)
            fail("wake_op");
        if (futex(&g_ops_requeue, FUTEX_CMP_REQUEUE_PRIVATE, 1, reinterpret_cast<timespec*>(1),
                  &g_ops_requeue2, g_ops_requeue) < 0)
            fail("cmp_requeue");
        Waitv w = {1, uint64_t(uintptr_t(&g_ops_waitv)), kFutex2U32 | kFutex2Private, 0};
        if (syscall(kFutexWaitv, &w, 1, 0, nullptr, CLOCK_MONOTONIC) != -1 || errno != EAGAIN)
            fail("futex_waitv");
    }
}

// Signals cut waits short: no SA_RESTART, so the wait returns EINTR.
void interrupted_waits(int n) {
    struct sigaction sa = {};
    sa.sa_handler = [](int) {};
    sigaction(SIGUSR1, &sa, nullptr);
    std::atomic<pid_t> sleeper{0};
    std::atomic<int> interrupted{0};
    std::thread intr([&] {
        sleeper = gettid_();
        for (int i = 0; i < n; i++) {
            if (futex(&g_ops_intr, FUTEX_WAIT_PRIVATE, 0) != -1 || errno != EINTR)
                fail("interrupted wait");
            interrupted = i + 1;
        }
    });
    while (!sleeper)
        sched_yield();
    for (int i = 0; i < n; i++) {
        wait_asleep(sleeper);  // it sleeps in nothing but its FUTEX_WAIT
        pthread_kill(intr.native_handle(), SIGUSR1);
        while (interrupted.load() != i + 1)
            sched_yield();
    }
    intr.join();
}

// A contended priority-inheritance mutex: the second thread blocks in FUTEX_LOCK_PI, the
// holder's unlock goes through FUTEX_UNLOCK_PI.
void contended_pi_mutex(int n) {
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setprotocol(&ma, PTHREAD_PRIO_INHERIT);
    pthread_mutex_init(&g_ops_pi, &ma);
    std::atomic<int> go{0}, done{0};
    std::atomic<pid_t> contender{0};
    std::thread pi([&] {
        contender = gettid_();
        for (int i = 1; i <= n; i++) {
            while (go.load() != i)
                sched_yield();  // runnable, never asleep, until it locks
            pthread_mutex_lock(&g_ops_pi);
            pthread_mutex_unlock(&g_ops_pi);
            done = i;
        }
    });
    while (!contender)
        usleep(50);
    for (int i = 1; i <= n; i++) {
        pthread_mutex_lock(&g_ops_pi);
        go = i;
        wait_asleep(contender);  // asleep in FUTEX_LOCK_PI (not in usleep: go is set)
        pthread_mutex_unlock(&g_ops_pi);
        while (done.load() != i)
            usleep(20);
    }
    pi.join();
}

// The futex2 syscalls, where the kernel has them (the first wake tells); whether it does.
bool futex2_ops(int n) {
    bool futex2 =
        syscall(kFutexWake, &g_ops_futex2, kMatchAny, 1, kFutex2U32 | kFutex2Private) >= 0;
    if (!futex2)
        return false;
    for (int i = 1; i < n; i++)
        if (syscall(kFutexWake, &g_ops_futex2, kMatchAny, 1, kFutex2U32 | kFutex2Private) < 0)
            fail("futex_wake");
    for (int i = 0; i < n; i++)
        if (syscall(kFutexWait, &g_ops_futex2, 1UL, kMatchAny, kFutex2U32 | kFutex2Private, nullptr,
                    CLOCK_MONOTONIC) != -1 ||
            errno != EAGAIN)
            fail("futex_wait");
    Waitv rq[2] = {{0, uint64_t(uintptr_t(&g_ops_rq_from)), kFutex2U32 | kFutex2Private, 0},
                   {0, uint64_t(uintptr_t(&g_ops_rq_to)), kFutex2U32 | kFutex2Private, 0}};
    for (int i = 0; i < n; i++)
        if (syscall(kFutexRequeue, rq, 0, 1, 1) < 0)
            fail("futex_requeue");
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    int n = argc > 1 ? atoi(argv[1]) : 0;
    if (n <= 0) {
        fprintf(stderr, "usage: lockwait-futex-ops N\n");
        return 2;
    }
    single_thread_ops(n);
    interrupted_waits(n);
    contended_pi_mutex(n);
    bool futex2 = futex2_ops(n);
    printf("futex2=%s\n", futex2 ? "yes" : "no");
    return 0;
}
