// A workload that forks 3 children, each of which starts 2 threads; every task (the
// parent, the children, their threads) sleeps a little a few times and writes
// "TID PID" to the file given, so a test knows every task that existed.
//   spawn-tree FILE
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <thread>
#include <vector>

static int g_fd = -1;

static void record_and_nap() {
    char line[64];
    int n = snprintf(line, sizeof line, "%ld %d\n", long(syscall(SYS_gettid)), int(getpid()));
    if (write(g_fd, line, size_t(n)) != n)
        _exit(3);
    for (int i = 0; i < 5; i++)
        usleep(2000);
}

int main(int argc, char** argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: spawn-tree FILE\n");
        return 2;
    }
    g_fd = open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_TRUNC, 0644);
    if (g_fd < 0) {
        perror(argv[1]);
        return 1;
    }
    record_and_nap();
    std::vector<pid_t> children;
    for (int c = 0; c < 3; c++) {
        pid_t pid = fork();
        if (pid == 0) {
            std::thread a(record_and_nap), b(record_and_nap);
            record_and_nap();
            a.join();
            b.join();
            _exit(0);
        }
        children.push_back(pid);
    }
    int failed = 0;
    for (pid_t p : children) {
        int st = 0;
        waitpid(p, &st, 0);
        failed |= !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    return failed;
}
