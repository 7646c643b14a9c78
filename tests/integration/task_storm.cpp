// A fork and thread storm: PROCESSES children, one after another, each starting THREADS
// threads at once; every thread makes one of each call the tracers count, once:
//   epoll_wait with a zero timeout on an epoll set of its own (epoll-trace: one call),
//   FUTEX_WAKE on g_storm_word, which nobody waits on (lockwait-trace: one wake),
//   a 50 us sleep (ctxswitch-trace: at least one voluntary switch).
//   task-storm PROCESSES THREADS [--per-thread]
// Prints "tasks N" (itself, its children and their threads): what a tracer must have seen.
// With --per-thread, each child first prints a line per thread, "thread TID NVCSW NIVCSW",
// the thread's own getrusage(RUSAGE_THREAD) counts at the end of its work (its exit, which
// follows, adds the switch away from it).
#include <linux/futex.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

// The word every thread wakes: lockwait-trace names its row after this symbol.
unsigned g_storm_word = 0;

// One thread's own count of its switches.
struct ThreadCount {
    pid_t tid = 0;
    long nvcsw = 0, nivcsw = 0;
};

static void one_of_each(ThreadCount* count) {
    int epfd = epoll_create1(0);
    epoll_event ev;
    if (epfd < 0 || epoll_wait(epfd, &ev, 1, 0) != 0)
        _exit(3);
    close(epfd);
    syscall(SYS_futex, &g_storm_word, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
    usleep(50);
    rusage ru;
    if (getrusage(RUSAGE_THREAD, &ru) != 0)
        _exit(4);
    *count = {pid_t(syscall(SYS_gettid)), ru.ru_nvcsw, ru.ru_nivcsw};
}

int main(int argc, char** argv) {
    if (argc < 3 || argc > 4 || (argc == 4 && strcmp(argv[3], "--per-thread") != 0)) {
        fprintf(stderr, "usage: task-storm PROCESSES THREADS [--per-thread]\n");
        return 2;
    }
    const bool per_thread = argc == 4;
    const int processes = atoi(argv[1]), threads = atoi(argv[2]);
    for (int p = 0; p < processes; p++) {
        pid_t child = fork();
        if (child < 0)
            return 1;
        if (child == 0) {
            std::vector<ThreadCount> counts(static_cast<size_t>(threads));
            std::vector<std::thread> ts;
            for (int t = 0; t < threads; t++)
                ts.emplace_back(one_of_each, &counts[size_t(t)]);
            for (auto& t : ts)
                t.join();
            if (per_thread)
                for (auto& c : counts)
                    printf("thread %d %ld %ld\n", c.tid, c.nvcsw, c.nivcsw);
            fflush(stdout);
            _exit(0);
        }
        int status = 0;
        if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status))
            return 1;
    }
    printf("tasks %d\n", 1 + processes * (1 + threads));
    return 0;
}
