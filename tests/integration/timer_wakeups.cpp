// A thread that sleeps on a timer while another thread of the same process spins in user
// space on the same CPU: every wakeup comes from a timer interrupt that lands on the
// spinner. No task woke the sleeper, so a tracer must name no waker.
//   timer-wakeups [N]
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>

static void pin_to_cpu0() {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

int main(int argc, char** argv) {
    int n = argc > 1 ? atoi(argv[1]) : 200;
    std::atomic<bool> done{false};
    pin_to_cpu0();
    std::thread sleeper([&] {
        pin_to_cpu0();
        struct timespec ts = {0, 500000};
        for (int i = 0; i < n; i++)
            nanosleep(&ts, nullptr);
        done = true;
    });
    volatile unsigned long spins = 0;
    while (!done)
        spins = spins + 1;
    sleeper.join();
    printf("%d sleeps\n", n);
    return 0;
}
