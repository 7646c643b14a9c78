// Benchmark workload for lockwait-trace's overhead: FUTEX_WAKE calls on a word nobody waits
// on, in a loop, timed; the cheapest futex call there is, so what a tracer adds to every
// call shows plainly. Used by tests/bench/lockwait-overhead.
//
//   lockwait-futex-loop CALLS [--json FILE]   prints {"calls": N, "ns_per_call": X}
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

extern "C" {
int g_futex_loop_word;
}

int main(int argc, char** argv) {
    long calls = argc > 1 ? atol(argv[1]) : 0;
    const char* json = argc > 3 && strcmp(argv[2], "--json") == 0 ? argv[3] : nullptr;
    if (calls <= 0) {
        fprintf(stderr, "usage: lockwait-futex-loop CALLS [--json FILE]\n");
        return 2;
    }
    timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < calls; i++)
        syscall(SYS_futex, &g_futex_loop_word, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ns = (double(b.tv_sec - a.tv_sec) * 1e9 + double(b.tv_nsec - a.tv_nsec)) / double(calls);
    FILE* out = json ? fopen(json, "w") : stdout;
    if (!out) {
        perror(json);
        return 1;
    }
    fprintf(out, "{\"calls\": %ld, \"ns_per_call\": %.1f}\n", calls, ns);
    if (json)
        fclose(out);
    return 0;
}
