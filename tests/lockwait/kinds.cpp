// Test workload for lockwait-trace's kinds: one known object of every kind, each made to
// block a known number of times. For each object, a waiter thread (or process) blocks on it
// and the main thread lets it go only once the waiter is asleep in a futex wait on that
// object (/proc/PID/task/TID/syscall: syscall 202, its first argument inside the object);
// so every round is exactly one blocked wait, and the workload's count is the truth the
// tool's per-kind counts are checked against. The handshakes between the threads poll
// (nanosleep), so they add no futex calls of their own; a thread is joined only once it
// has ended (its /proc/self/task entry is gone), except the one join that is measured.
//
//   lockwait-kinds [ROUNDS] [JSON-FILE]
//
// writes {"pid", "rounds", "objects": [{name, kind, pid, address, blocked}]} to JSON-FILE
// (stdout without one).
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <semaphore.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

constexpr int kMaxRounds = 64;

// The named objects (globals, so the tool names them from the symbols and their types).
pthread_mutex_t g_mutex = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t g_pi_mutex;
pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;
pthread_mutex_t g_cond_mutex = PTHREAD_MUTEX_INITIALIZER;
std::condition_variable g_cv;
std::mutex g_cv_mutex;
pthread_rwlock_t g_rwlock = PTHREAD_RWLOCK_INITIALIZER;
sem_t g_sem;
pthread_barrier_t g_barrier;
pthread_once_t g_onces[kMaxRounds];
std::once_flag g_once_flags[kMaxRounds];
std::atomic<int> g_atomic{0};
uint32_t g_raw_word = 0;
// a struct holding a condition variable: named by its member
struct Queue {
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;
    int items = 0;
} g_queue;

namespace {

void nap() {
    timespec ts{0, 50 * 1000};
    nanosleep(&ts, nullptr);
}

pid_t gettid_() {
    return pid_t(syscall(SYS_gettid));
}

// Whether thread TID of process PID sleeps in a futex call on [lo, lo + size).
bool asleep_on(pid_t pid, pid_t tid, const void* lo, size_t size) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/syscall");
    long nr = -1;
    std::string arg;
    if (!(f >> nr >> arg) || nr != SYS_futex)
        return false;
    uintptr_t a = std::stoull(arg, nullptr, 16), base = reinterpret_cast<uintptr_t>(lo);
    return a >= base && a < base + size;
}

void wait_asleep(pid_t pid, pid_t tid, const void* lo, size_t size) {
    while (!asleep_on(pid, tid, lo, size))
        nap();
}

// Joins T once it has ended, so the join itself makes no futex wait.
void join_ended(std::thread& t, pid_t tid) {
    std::string dir = "/proc/self/task/" + std::to_string(tid);
    while (access(dir.c_str(), F_OK) == 0)
        nap();
    t.join();
}

struct Object {
    std::string name, kind;
    pid_t pid;
    const void* address;
    size_t size;
    int blocked;
};

std::vector<Object> g_objects;

// ROUNDS rounds: PREPARE (main), then a waiter thread runs BLOCK(r), which blocks on
// [obj, obj + size), and main runs RELEASE(r) once it is asleep there.
void rounds_on(const std::string& name, const std::string& kind, const void* obj, size_t size,
               int rounds, const std::function<void(int)>& prepare,
               const std::function<void(int)>& block, const std::function<void(int)>& release) {
    std::atomic<int> go{0}, done{0};
    std::atomic<pid_t> tid{0};
    std::thread waiter([&] {
        tid = gettid_();
        for (int r = 0; r < rounds; r++) {
            while (go.load() <= r)
                nap();
            block(r);
            done = r + 1;
        }
    });
    while (!tid)
        nap();
    for (int r = 0; r < rounds; r++) {
        if (prepare)
            prepare(r);
        go = r + 1;
        wait_asleep(getpid(), tid, obj, size);
        release(r);
        while (done.load() <= r)
            nap();
    }
    join_ended(waiter, tid);
    g_objects.push_back({name, kind, getpid(), obj, size, rounds});
}

long futex(uint32_t* word, int op, uint32_t val) {
    return syscall(SYS_futex, word, op, val, nullptr, nullptr, 0);
}

void mutexes(int rounds) {
    auto on_mutex = [&](const std::string& name, pthread_mutex_t* m) {
        rounds_on(
            name, "mutex", m, sizeof *m, rounds, [m](int) { pthread_mutex_lock(m); },
            [m](int) {
                pthread_mutex_lock(m);
                pthread_mutex_unlock(m);
            },
            [m](int) { pthread_mutex_unlock(m); });
    };
    on_mutex("g_mutex", &g_mutex);
    // no symbol: the kind comes from the call site
    auto* heap = new pthread_mutex_t;
    pthread_mutex_init(heap, nullptr);
    on_mutex("heap mutex", heap);
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT);
    pthread_mutex_init(&g_pi_mutex, &a);
    on_mutex("g_pi_mutex", &g_pi_mutex);
}

// A process-shared mutex in shared memory: a child process blocks on it.
void shared_mutex(int rounds) {
    struct Shared {
        pthread_mutex_t m;
        std::atomic<int> go, done;
        std::atomic<pid_t> tid;
    };
    void* mem =
        mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    auto* s = new (mem) Shared{};
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutex_init(&s->m, &a);
    pid_t child = fork();
    if (child == 0) {
        s->tid = gettid_();
        for (int r = 0; r < rounds; r++) {
            while (s->go.load() <= r)
                nap();
            pthread_mutex_lock(&s->m);
            pthread_mutex_unlock(&s->m);
            s->done = r + 1;
        }
        _exit(0);
    }
    for (int r = 0; r < rounds; r++) {
        pthread_mutex_lock(&s->m);
        s->go = r + 1;
        while (!s->tid)
            nap();
        wait_asleep(child, child, &s->m, sizeof s->m);
        pthread_mutex_unlock(&s->m);
        while (s->done.load() <= r)
            nap();
    }
    int status = 0;
    waitpid(child, &status, 0);
    g_objects.push_back({"process-shared mutex", "mutex", child, &s->m, sizeof s->m, rounds});
}

void condvars(int rounds) {
    // pthread_cond_t: the waiter waits for a flag, main sets it and signals
    static bool flag = false;
    rounds_on(
        "g_cond", "condvar", &g_cond, sizeof g_cond, rounds, nullptr,
        [](int) {
            pthread_mutex_lock(&g_cond_mutex);
            while (!flag)
                pthread_cond_wait(&g_cond, &g_cond_mutex);
            flag = false;
            pthread_mutex_unlock(&g_cond_mutex);
        },
        [](int) {
            pthread_mutex_lock(&g_cond_mutex);
            flag = true;
            pthread_mutex_unlock(&g_cond_mutex);
            pthread_cond_signal(&g_cond);
        });
    // C++ std::condition_variable
    static bool ready = false;
    rounds_on(
        "g_cv", "condvar", &g_cv, sizeof g_cv, rounds, nullptr,
        [](int) {
            std::unique_lock<std::mutex> l(g_cv_mutex);
            g_cv.wait(l, [] { return ready; });
            ready = false;
        },
        [](int) {
            {
                std::lock_guard<std::mutex> l(g_cv_mutex);
                ready = true;
            }
            g_cv.notify_one();
        });
    // a condition variable inside a struct: named by its member
    rounds_on(
        "g_queue.not_empty", "condvar", &g_queue.not_empty, sizeof g_queue.not_empty, rounds,
        nullptr,
        [](int) {
            pthread_mutex_lock(&g_queue.lock);
            while (!g_queue.items)
                pthread_cond_wait(&g_queue.not_empty, &g_queue.lock);
            g_queue.items--;
            pthread_mutex_unlock(&g_queue.lock);
        },
        [](int) {
            pthread_mutex_lock(&g_queue.lock);
            g_queue.items++;
            pthread_mutex_unlock(&g_queue.lock);
            pthread_cond_signal(&g_queue.not_empty);
        });
    // on the heap: no symbol, the call sites say what it is
    struct HeapCond {
        pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
        pthread_cond_t c = PTHREAD_COND_INITIALIZER;
        bool flag = false;
    };
    auto* h = new HeapCond;
    rounds_on(
        "heap condvar", "condvar", &h->c, sizeof h->c, rounds, nullptr,
        [h](int) {
            pthread_mutex_lock(&h->m);
            while (!h->flag)
                pthread_cond_wait(&h->c, &h->m);
            h->flag = false;
            pthread_mutex_unlock(&h->m);
        },
        [h](int) {
            pthread_mutex_lock(&h->m);
            h->flag = true;
            pthread_mutex_unlock(&h->m);
            pthread_cond_signal(&h->c);
        });
}

void rwlock(int rounds) {
    rounds_on(
        "g_rwlock", "rwlock", &g_rwlock, sizeof g_rwlock, rounds,
        [](int) { pthread_rwlock_wrlock(&g_rwlock); },
        [](int) {
            pthread_rwlock_rdlock(&g_rwlock);
            pthread_rwlock_unlock(&g_rwlock);
        },
        [](int) { pthread_rwlock_unlock(&g_rwlock); });
}

void semaphores(int rounds) {
    sem_init(&g_sem, 0, 0);
    rounds_on(
        "g_sem", "semaphore", &g_sem, sizeof g_sem, rounds, nullptr, [](int) { sem_wait(&g_sem); },
        [](int) { sem_post(&g_sem); });
    // a named semaphore (shared memory, no symbol)
    std::string name = "/lockwait-kinds-" + std::to_string(getpid());
    sem_t* named = sem_open(name.c_str(), O_CREAT | O_EXCL, 0600, 0);
    if (named == SEM_FAILED) {
        perror("sem_open");
        exit(1);
    }
    sem_unlink(name.c_str());
    rounds_on(
        "named semaphore", "semaphore", named, sizeof(sem_t), rounds, nullptr,
        [named](int) { sem_wait(named); }, [named](int) { sem_post(named); });
}

void barrier(int rounds) {
    pthread_barrier_init(&g_barrier, nullptr, 2);
    rounds_on(
        "g_barrier", "barrier", &g_barrier, sizeof g_barrier, rounds, nullptr,
        [](int) { pthread_barrier_wait(&g_barrier); },
        [](int) { pthread_barrier_wait(&g_barrier); });
}

std::atomic<bool> g_init_go{false};

// The waiter blocks in pthread_once / call_once / a static local's initialisation while an
// initialiser thread runs the init routine, which returns when main says so.
void onces(int rounds) {
    auto with_initializer = [&](const std::string& name, const void* obj, size_t size, int n,
                                const std::function<void(int)>& initialize) {
        std::thread init;
        std::atomic<pid_t> init_tid{0};
        std::atomic<bool> initializing{false};
        rounds_on(
            name, "once", obj, size, n,
            [&](int r) {
                g_init_go = false;
                initializing = false;
                init_tid = 0;
                init = std::thread([&, r] {
                    init_tid = gettid_();
                    initializing = true;
                    initialize(r);
                });
                while (!initializing)
                    nap();
            },
            [&](int r) { initialize(r); },
            [&](int) {
                g_init_go = true;
                join_ended(init, init_tid);
            });
    };
    auto slow_init = [] {
        while (!g_init_go)
            nap();
    };
    static void (*init_routine)() = [] {
        while (!g_init_go)
            nap();
    };
    for (int r = 0; r < rounds; r++)
        g_onces[r] = PTHREAD_ONCE_INIT;
    // (one round per pthread_once_t: the rounds walk the array)
    for (int r = 0; r < rounds; r++)
        with_initializer("g_onces[" + std::to_string(r) + "]", &g_onces[r], sizeof g_onces[r], 1,
                         [r](int) { pthread_once(&g_onces[r], init_routine); });
    for (int r = 0; r < rounds; r++)
        with_initializer("g_once_flags[" + std::to_string(r) + "]", &g_once_flags[r],
                         sizeof g_once_flags[r], 1,
                         [r, slow_init](int) { std::call_once(g_once_flags[r], slow_init); });
    (void)slow_init;
}

std::atomic<bool> g_in_constructor{false};

struct Slow {
    Slow() {
        g_in_constructor = true;
        while (!g_init_go)
            nap();
    }
};

Slow& slow_instance() {
    static Slow instance;  // its guard variable is the futex word
    return instance;
}

void static_local() {
    // only the first caller initialises; the waiter blocks in __cxa_guard_acquire
    std::thread init;
    std::atomic<pid_t> init_tid{0};
    g_init_go = false;
    init = std::thread([&] {
        init_tid = gettid_();
        slow_instance();
    });
    while (!g_in_constructor)
        nap();
    std::atomic<pid_t> tid{0};
    std::thread waiter([&] {
        tid = gettid_();
        slow_instance();
    });
    // asleep on any futex word: the guard variable (its address is not known here)
    while (!tid)
        nap();
    for (;;) {
        std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/syscall");
        long nr = -1;
        if (f >> nr && nr == SYS_futex)
            break;
        nap();
    }
    g_init_go = true;
    join_ended(init, init_tid);
    join_ended(waiter, tid);
    g_objects.push_back({"guard variable for", "once", getpid(), nullptr, 0, 1});
}

void atomic_wait(int rounds) {
    rounds_on(
        "g_atomic", "atomic_wait", &g_atomic, sizeof g_atomic, rounds, nullptr,
        [](int r) { g_atomic.wait(r); },
        [](int r) {
            g_atomic.store(r + 1);
            g_atomic.notify_one();
        });
}

void raw_futex(int rounds) {
    rounds_on(
        "g_raw_word", "raw_futex", &g_raw_word, sizeof g_raw_word, rounds, nullptr,
        [](int r) {
            while (__atomic_load_n(&g_raw_word, __ATOMIC_ACQUIRE) == uint32_t(r))
                futex(&g_raw_word, FUTEX_WAIT_PRIVATE, uint32_t(r));
        },
        [](int r) {
            __atomic_store_n(&g_raw_word, uint32_t(r + 1), __ATOMIC_RELEASE);
            futex(&g_raw_word, FUTEX_WAKE_PRIVATE, 1);
        });
}

// pthread_join of a thread that runs on after main starts waiting for it: one blocked wait,
// longer than any lock wait above.
void join(pid_t& joined) {
    std::atomic<pid_t> tid{0};
    pid_t main_tid = gettid_();
    std::thread t([&] {
        pthread_setname_np(pthread_self(), "long-runner");
        tid = gettid_();
        // until main is asleep in its join, then a little longer
        for (;;) {
            std::ifstream f("/proc/self/task/" + std::to_string(main_tid) + "/syscall");
            long nr = -1;
            if (f >> nr && nr == SYS_futex)
                break;
            nap();
        }
        timespec ts{0, 50 * 1000 * 1000};
        nanosleep(&ts, nullptr);
    });
    while (!tid)
        nap();
    joined = tid;
    t.join();
    g_objects.push_back({"join of thread " + std::to_string(joined) + " (long-runner)", "join",
                         getpid(), nullptr, 0, 1});
}

}  // namespace

int main(int argc, char** argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 10;
    if (rounds <= 0 || rounds > kMaxRounds) {
        fprintf(stderr, "usage: lockwait-kinds [ROUNDS (1-%d)] [JSON-FILE]\n", kMaxRounds);
        return 2;
    }
    mutexes(rounds);
    shared_mutex(rounds);
    condvars(rounds);
    rwlock(rounds);
    semaphores(rounds);
    barrier(rounds);
    onces(rounds);
    static_local();
    atomic_wait(rounds);
    raw_futex(rounds);
    pid_t joined = 0;
    join(joined);

    FILE* out = argc > 2 ? fopen(argv[2], "w") : stdout;
    if (!out) {
        perror(argv[2]);
        return 1;
    }
    fprintf(out, "{\"pid\": %d, \"rounds\": %d, \"joined_tid\": %d, \"objects\": [", getpid(),
            rounds, joined);
    for (size_t i = 0; i < g_objects.size(); i++) {
        const Object& o = g_objects[i];
        fprintf(out,
                "%s\n  {\"name\": \"%s\", \"kind\": \"%s\", \"pid\": %d, \"address\": \"%#lx\", "
                "\"size\": %zu, \"blocked\": %d}",
                i ? "," : "", o.name.c_str(), o.kind.c_str(), o.pid,
                static_cast<unsigned long>(reinterpret_cast<uintptr_t>(o.address)), o.size,
                o.blocked);
    }
    fprintf(out, "\n]}\n");
    if (out != stdout)
        fclose(out);
    return 0;
}
