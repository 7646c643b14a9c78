// Runs a command with empty BPF programs attached to the tracepoints one tracer uses: the
// floor of what tracing there can cost. Used by tests/bench/ctxswitch-overhead and
// tests/bench/lockwait-overhead.
//   empty-probes SET[/PROGRAM] CMD ARGS...
// SET is ctxswitch, ctxswitch-clock (the same programs, each reading the clock once where
// ctxswitch-trace must), lockwait or syscalls (sys_enter and sys_exit alone); /PROGRAM
// keeps one program of the set (for example ctxswitch/switch), to split the floor by
// tracepoint.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "bench_empty.skel.h"

namespace {

// The name prefix of a set's programs in bpf/bench_empty.bpf.c; empty for an unknown set.
std::string prefix_of(const std::string& set) {
    if (set == "ctxswitch")
        return "ctxswitch_";
    if (set == "ctxswitch-clock")
        return "ctxswitchclock_";
    if (set == "lockwait")
        return "lockwait_";
    if (set == "syscalls")
        return "syscalls_";
    return "";
}

}  // namespace

int main(int argc, char** argv) {
    const std::string arg = argc >= 3 ? argv[1] : "";
    const std::string set = arg.substr(0, arg.find('/'));
    const std::string prefix = prefix_of(set);
    if (prefix.empty()) {
        fprintf(stderr,
                "usage: empty-probes ctxswitch|ctxswitch-clock|lockwait|syscalls[/PROGRAM] "
                "CMD ARGS...\n");
        return 2;
    }
    // the whole set, or the one program named after the slash
    const bool one = arg.size() > set.size();
    const std::string wanted = one ? prefix + arg.substr(set.size() + 1) : prefix;
    int chosen = 0;
    bench_empty_bpf* skel = bench_empty_bpf__open();
    if (!skel) {
        fprintf(stderr, "empty-probes: cannot open the BPF object\n");
        return 1;
    }
    bpf_program* prog = nullptr;
    bpf_object__for_each_program(prog, skel->obj) {
        const std::string name = bpf_program__name(prog);
        const bool keep = one ? name == wanted : name.starts_with(prefix);
        bpf_program__set_autoload(prog, keep);
        chosen += keep;
    }
    if (chosen == 0) {
        fprintf(stderr, "empty-probes: no program %s in bpf/bench_empty.bpf.c\n", wanted.c_str());
        bench_empty_bpf__destroy(skel);
        return 2;
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
