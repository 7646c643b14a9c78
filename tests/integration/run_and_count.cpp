// Runs a command, waits for it, and writes what getrusage(RUSAGE_CHILDREN) says about
// its context switches, and our own pid, to FILE: "NVCSW NIVCSW PID". The independent
// count the traced numbers are checked against.
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
    if (!f) return 1;
    fprintf(f, "%ld %ld %d\n", ru.ru_nvcsw, ru.ru_nivcsw, int(getpid()));
    fclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
