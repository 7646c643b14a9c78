// Runs a command with empty BPF programs attached to ctxswitch-trace's tracepoints: the
// floor of what tracing there can cost. Used by tests/bench/ctxswitch-overhead.
//   empty-probes CMD ARGS...
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include "bench_empty.skel.h"

int main(int argc, char** argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: empty-probes CMD ARGS...\n");
        return 2;
    }
    bench_empty_bpf* skel = bench_empty_bpf__open_and_load();
    if (!skel || bench_empty_bpf__attach(skel) != 0) {
        fprintf(stderr, "empty-probes: cannot load or attach (needs root)\n");
        return 1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        execvp(argv[1], argv + 1);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    bench_empty_bpf__destroy(skel);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
