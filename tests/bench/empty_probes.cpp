// Runs a command with empty BPF programs attached to the tracepoints one tracer uses: the
// floor of what tracing there can cost. Used by tests/bench/ctxswitch-overhead and
// tests/bench/lockwait-overhead.
//   empty-probes ctxswitch|lockwait CMD ARGS...
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "bench_empty.skel.h"

int main(int argc, char** argv) {
    if (argc < 3 || (strcmp(argv[1], "ctxswitch") != 0 && strcmp(argv[1], "lockwait") != 0)) {
        fprintf(stderr, "usage: empty-probes ctxswitch|lockwait CMD ARGS...\n");
        return 2;
    }
    const std::string prefix = std::string(argv[1]) + "_";
    bench_empty_bpf* skel = bench_empty_bpf__open();
    if (!skel) {
        fprintf(stderr, "empty-probes: cannot open the BPF object\n");
        return 1;
    }
    bpf_program* prog = nullptr;
    bpf_object__for_each_program(prog, skel->obj) {
        bpf_program__set_autoload(prog, std::string(bpf_program__name(prog)).starts_with(prefix));
    }
    if (bench_empty_bpf__load(skel) != 0 || bench_empty_bpf__attach(skel) != 0) {
        fprintf(stderr, "empty-probes: cannot load or attach (needs root)\n");
        bench_empty_bpf__destroy(skel);
        return 1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    bench_empty_bpf__destroy(skel);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
