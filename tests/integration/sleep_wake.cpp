// A short-lived process with functions of known names that sleep and wake each other, for
// ctxswitch-trace --stacks: the program forks a child in which two threads play pipe
// ping-pong N rounds; the thread `sleeper` blocks in stacks_sleeper() (a read) and is woken
// by the other thread's stacks_waker() (a write), then answers. The child exits before the
// tracer reports, so its stacks are symbolized from mappings captured while it lived.
// Prints the child's voluntary context switches (getrusage of the child) as
// "child nvcsw N".
//   sleep-wake [N]
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

// The outer functions are the ones a stack shows: the inner ones call into libc, whose
// functions keep no frame pointer, so the frame-pointer walk skips their direct caller.
__attribute__((noinline)) static ssize_t blocking_read(int fd, char* c) {
    ssize_t n = read(fd, c, 1);
    asm volatile("" ::: "memory");  // not a tail call
    return n;
}

__attribute__((noinline)) static ssize_t waking_write(int fd, char c) {
    ssize_t n = write(fd, &c, 1);
    asm volatile("" ::: "memory");
    return n;
}

extern "C" __attribute__((noinline)) bool stacks_sleeper(int fd) {
    char c;
    bool ok = blocking_read(fd, &c) == 1;
    asm volatile("" ::: "memory");
    return ok;
}

extern "C" __attribute__((noinline)) bool stacks_waker(int fd) {
    bool ok = waking_write(fd, 'x') == 1;
    asm volatile("" ::: "memory");
    return ok;
}

static int ping_pong(int rounds) {
    int to_sleeper[2], to_waker[2];
    if (pipe(to_sleeper) || pipe(to_waker))
        return 1;
    std::thread sleeper([&] {
        pthread_setname_np(pthread_self(), "sleeper");
        for (int i = 0; i < rounds; i++)
            if (!stacks_sleeper(to_sleeper[0]) || !stacks_waker(to_waker[1]))
                return;
    });
    for (int i = 0; i < rounds; i++) {
        usleep(100);  // the sleeper is asleep in its read by now, most rounds
        if (!stacks_waker(to_sleeper[1]) || !stacks_sleeper(to_waker[0]))
            break;
    }
    sleeper.join();
    return 0;
}

int main(int argc, char** argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 500;
    pid_t child = fork();
    if (child < 0)
        return 1;
    if (child == 0)
        _exit(ping_pong(rounds));
    int status = 0;
    struct rusage ru {};
    if (wait4(child, &status, 0, &ru) != child)
        return 1;
    printf("child nvcsw %ld\n", ru.ru_nvcsw);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
