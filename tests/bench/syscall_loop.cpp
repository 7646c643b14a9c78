// The cost of one syscall, as a tracer on the syscall path sees it: N calls of a syscall
// that returns at once, timed, printed as nanoseconds per call.
//
//   syscall-loop getppid N       a syscall no tracer here looks at
//   syscall-loop epoll_wait N    epoll_wait with a zero timeout on an empty epoll set: a
//                                call epoll-trace traces from entry to return
#include <sys/epoll.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

int main(int argc, char** argv) {
    if (argc != 3 || (strcmp(argv[1], "getppid") != 0 && strcmp(argv[1], "epoll_wait") != 0)) {
        fprintf(stderr, "usage: syscall-loop getppid|epoll_wait N\n");
        return 2;
    }
    const long n = atol(argv[2]);
    const bool epoll = strcmp(argv[1], "epoll_wait") == 0;
    int epfd = epoll_create1(0);
    if (epfd < 0) {
        perror("syscall-loop: epoll_create1");
        return 1;
    }
    epoll_event ev;
    auto t0 = std::chrono::steady_clock::now();
    for (long i = 0; i < n; i++) {
        if (epoll)
            epoll_wait(epfd, &ev, 1, 0);
        else
            getppid();
    }
    auto t1 = std::chrono::steady_clock::now();
    printf("%.1f ns/call\n", std::chrono::duration<double, std::nano>(t1 - t0).count() / double(n));
    close(epfd);
    return 0;
}
