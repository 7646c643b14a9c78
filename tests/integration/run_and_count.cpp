// Runs a command, waits for it, and writes what getrusage(RUSAGE_CHILDREN) says about
// it to FILE: "NVCSW NIVCSW PID UTIME_US STIME_US" (context switches, our own pid, CPU
// time). The independent count the traced numbers are checked against, and the CPU time
// the benchmarks compare (steadier than wall time on a shared machine).
//   run-and-count FILE CMD ARGS...
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

int main(int argc, char** argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: run-and-count FILE CMD ARGS...\n");
        return 2;
    }
    pid_t pid = fork();
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    struct rusage ru = {};
    getrusage(RUSAGE_CHILDREN, &ru);
    FILE* f = fopen(argv[1], "w");
    if (!f)
        return 1;
    fprintf(f, "%ld %ld %d %ld %ld\n", ru.ru_nvcsw, ru.ru_nivcsw, int(getpid()),
            long(ru.ru_utime.tv_sec) * 1000000 + long(ru.ru_utime.tv_usec),
            long(ru.ru_stime.tv_sec) * 1000000 + long(ru.ru_stime.tv_usec));
    fclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
