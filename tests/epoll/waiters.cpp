// epoll-waiters: small, deterministic waiting patterns for epoll-trace's tests.
//
//   epoll-waiters pipe MODE ROUNDS OUT
//       MODE epoll|poll|select. The main thread waits on a pipe; a writer thread named
//       "pipe-writer" writes one byte per round, each time only once the reader is asleep
//       inside its waiting call, so every readiness is a wakeup done by the writer.
//       The epoll form registers the pipe with a cookie (not the fd) as epoll_data.
//   epoll-waiters mix CALLS OUT
//       Each of the seven waiting syscalls, called directly: CALLS times with timeout 0 and
//       twice with a 1 ms timeout, on an empty pipe (so all return 0); then CALLS
//       epoll_wait calls with maxevents 2 on an instance whose three fds are all readable
//       (every call returns full).
//   epoll-waiters herd THREADS ROUNDS shared|exclusive OUT
//       THREADS threads, each with its own epoll instance watching one pipe (EPOLLIN, with
//       EPOLLEXCLUSIVE or not); one byte per round once all of them are asleep.
//
// OUT gets one JSON object: the tids, the epfd(s), and the waiter's own count of calls and
// events, which the tests compare with what epoll-trace saw.
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace {

[[noreturn]] void die(const std::string& what) {
    fprintf(stderr, "epoll-waiters: %s: %s\n", what.c_str(), strerror(errno));
    exit(1);
}

pid_t gettid_() {
    return pid_t(syscall(SYS_gettid));
}

// Asleep (state S) inside one of the waiting syscalls, per /proc.
bool asleep_in_wait(pid_t tid) {
    std::string base = "/proc/self/task/" + std::to_string(tid);
    std::ifstream stat(base + "/stat");
    std::string line;
    std::getline(stat, line);
    auto paren = line.rfind(')');
    if (paren == std::string::npos || paren + 2 >= line.size() || line[paren + 2] != 'S')
        return false;
    std::ifstream sc(base + "/syscall");
    long nr = -1;
    if (!(sc >> nr))
        return false;
    for (long w : {long(SYS_epoll_wait), long(SYS_epoll_pwait), long(SYS_epoll_pwait2),
                   long(SYS_poll), long(SYS_ppoll), long(SYS_select), long(SYS_pselect6)})
        if (nr == w)
            return true;
    return false;
}

void wait_until(const std::function<bool()>& cond) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!cond()) {
        if (std::chrono::steady_clock::now() > deadline) {
            errno = ETIMEDOUT;
            die("a waiter never went to sleep");
        }
        std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
}

void write_out(const std::string& path, const std::string& json) {
    std::ofstream out(path);
    out << json << "\n";
    if (!out)
        die("cannot write " + path);
}

int pipe_test(const std::string& mode, int rounds, const std::string& out) {
    int p[2];
    if (pipe2(p, O_NONBLOCK | O_CLOEXEC))
        die("pipe");
    pid_t reader = gettid_();
    std::atomic<int> consumed{0};
    std::atomic<pid_t> writer_tid{0};
    std::thread writer([&] {
        pthread_setname_np(pthread_self(), "pipe-writer");
        writer_tid = gettid_();
        for (int i = 0; i < rounds; i++) {
            wait_until([&] { return asleep_in_wait(reader); });
            if (write(p[1], "x", 1) != 1)
                die("write");
            wait_until([&] { return consumed.load() > i; });
        }
    });

    int epfd = -1;
    const uint64_t cookie = 0xc0ffee0000ull + uint64_t(p[0]);
    if (mode == "epoll") {
        epfd = epoll_create1(EPOLL_CLOEXEC);
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = cookie;
        if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, p[0], &ev))
            die("epoll");
    }
    uint64_t calls = 0, events = 0;
    char b;
    while (consumed.load() < rounds) {
        int n;
        if (mode == "epoll") {
            epoll_event ev[4];
            n = epoll_wait(epfd, ev, 4, -1);
            if (n == 1 && ev[0].data.u64 != cookie)
                die("wrong epoll_data");
        } else if (mode == "poll") {
            pollfd pfd = {p[0], POLLIN, 0};
            n = poll(&pfd, 1, -1);
        } else {
            fd_set rd;
            FD_ZERO(&rd);
            FD_SET(p[0], &rd);
            n = select(p[0] + 1, &rd, nullptr, nullptr, nullptr);
        }
        calls++;
        if (n > 0)
            events += uint64_t(n);
        while (read(p[0], &b, 1) == 1)
            consumed++;
    }
    writer.join();
    char json[512];
    snprintf(json, sizeof json,
             "{\"pid\": %d, \"reader_tid\": %d, \"writer_tid\": %d, \"epfd\": %d, \"fd\": %d, "
             "\"calls\": %llu, "
             "\"events\": %llu, \"rounds\": %d}",
             int(getpid()), int(reader), int(writer_tid.load()), epfd, p[0],
             (unsigned long long)calls, (unsigned long long)events, rounds);
    write_out(out, json);
    return 0;
}

int mix_test(int calls, const std::string& out) {
    int p[2];
    if (pipe2(p, O_NONBLOCK | O_CLOEXEC))
        die("pipe");
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev[4] = {};
    ev[0].events = EPOLLIN;
    ev[0].data.fd = p[0];
    if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, p[0], &ev[0]))
        die("epoll");
    auto ms_ts = [](int ms) { return timespec{0, long(ms) * 1000000}; };
    auto wait_with = [&](const std::string& sys, int ms) {
        pollfd pfd = {p[0], POLLIN, 0};
        fd_set rd;
        FD_ZERO(&rd);
        FD_SET(p[0], &rd);
        timespec ts = ms_ts(ms);
        timeval tv{0, ms * 1000};
        long r = -1;
        if (sys == "epoll_wait")
            r = syscall(SYS_epoll_wait, epfd, ev, 4, ms);
        if (sys == "epoll_pwait")
            r = syscall(SYS_epoll_pwait, epfd, ev, 4, ms, nullptr, 8);
        if (sys == "epoll_pwait2")
            r = syscall(SYS_epoll_pwait2, epfd, ev, 4, &ts, nullptr, 8);
        if (sys == "poll")
            r = syscall(SYS_poll, &pfd, 1, ms);
        if (sys == "ppoll")
            r = syscall(SYS_ppoll, &pfd, 1, &ts, nullptr, 8);
        if (sys == "select")
            r = syscall(SYS_select, p[0] + 1, &rd, nullptr, nullptr, &tv);
        if (sys == "pselect6")
            r = syscall(SYS_pselect6, p[0] + 1, &rd, nullptr, nullptr, &ts, nullptr);
        if (r != 0)
            die(sys + " did not return 0");
    };
    const char* syscalls[] = {"epoll_wait", "epoll_pwait", "epoll_pwait2", "poll",
                              "ppoll",      "select",      "pselect6"};
    for (const char* sys : syscalls) {
        for (int i = 0; i < calls; i++)
            wait_with(sys, 0);
        for (int i = 0; i < 2; i++)
            wait_with(sys, 1);
    }
    // an instance with three readable fds, drained two at a time: every call fills maxevents
    int full = epoll_create1(EPOLL_CLOEXEC);
    std::string fds;
    for (int i = 0; i < 3; i++) {
        int q[2];
        if (pipe2(q, O_CLOEXEC) || write(q[1], "x", 1) != 1)
            die("pipe");
        epoll_event e{};
        e.events = EPOLLIN;
        e.data.fd = q[0];
        if (epoll_ctl(full, EPOLL_CTL_ADD, q[0], &e))
            die("epoll_ctl");
        fds += (i ? ", " : "") + std::to_string(q[0]);
    }
    for (int i = 0; i < calls; i++)
        if (epoll_wait(full, ev, 2, 0) != 2)
            die("epoll_wait did not fill maxevents");
    write_out(out,
              "{\"pid\": " + std::to_string(getpid()) + ", \"calls\": " + std::to_string(calls) +
                  ", \"epfd\": " + std::to_string(epfd) +
                  ", \"full_epfd\": " + std::to_string(full) + ", \"full_fds\": [" + fds + "]}");
    return 0;
}

int herd_test(int threads, int rounds, bool exclusive, const std::string& out) {
    int p[2];
    if (pipe2(p, O_NONBLOCK | O_CLOEXEC))
        die("pipe");
    int stop = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (stop < 0)
        die("eventfd");
    std::atomic<int> consumed{0}, ready{0};
    std::atomic<bool> done{false};
    std::vector<std::atomic<pid_t>> tids(static_cast<size_t>(threads));
    std::vector<int> epfds(static_cast<size_t>(threads));
    std::vector<std::thread> waiters;
    for (int t = 0; t < threads; t++) {
        epfds[size_t(t)] = epoll_create1(EPOLL_CLOEXEC);
        epoll_event ev{};
        ev.events = EPOLLIN | (exclusive ? EPOLLEXCLUSIVE : 0u);
        ev.data.fd = p[0];
        if (epfds[size_t(t)] < 0 || epoll_ctl(epfds[size_t(t)], EPOLL_CTL_ADD, p[0], &ev))
            die("epoll_ctl");
        ev.events = EPOLLIN;
        ev.data.fd = stop;
        if (epoll_ctl(epfds[size_t(t)], EPOLL_CTL_ADD, stop, &ev))
            die("epoll_ctl");
        waiters.emplace_back([&, t] {
            tids[size_t(t)] = gettid_();
            ready++;
            char b;
            while (!done.load()) {
                epoll_event ev2[4];
                epoll_wait(epfds[size_t(t)], ev2, 4, -1);
                while (read(p[0], &b, 1) == 1)
                    consumed++;
            }
        });
    }
    wait_until([&] { return ready.load() == threads; });
    for (int i = 0; i < rounds; i++) {
        for (auto& tid : tids)
            wait_until([&] { return asleep_in_wait(tid.load()); });
        if (write(p[1], "x", 1) != 1)
            die("write");
        wait_until([&] { return consumed.load() > i; });
    }
    for (auto& tid : tids)
        wait_until([&] { return asleep_in_wait(tid.load()); });
    done = true;
    uint64_t one = 1;
    if (write(stop, &one, sizeof one) != sizeof one)
        die("eventfd write");
    for (auto& w : waiters)
        w.join();
    std::string json = "{\"pid\": " + std::to_string(getpid()) +
                       ", \"threads\": " + std::to_string(threads) +
                       ", \"rounds\": " + std::to_string(rounds) +
                       ", \"exclusive\": " + (exclusive ? "true" : "false") + ", \"epfds\": [";
    for (size_t i = 0; i < epfds.size(); i++)
        json += (i ? ", " : "") + std::to_string(epfds[i]);
    json += "]}";
    write_out(out, json);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> a(argv + 1, argv + argc);
    if (a.size() == 4 && a[0] == "pipe" && (a[1] == "epoll" || a[1] == "poll" || a[1] == "select"))
        return pipe_test(a[1], std::atoi(a[2].c_str()), a[3]);
    if (a.size() == 3 && a[0] == "mix")
        return mix_test(std::atoi(a[1].c_str()), a[2]);
    if (a.size() == 5 && a[0] == "herd" && (a[3] == "shared" || a[3] == "exclusive"))
        return herd_test(std::atoi(a[1].c_str()), std::atoi(a[2].c_str()), a[3] == "exclusive",
                         a[4]);
    fprintf(stderr,
            "usage: epoll-waiters pipe epoll|poll|select ROUNDS OUT | mix CALLS OUT | herd THREADS "
            "ROUNDS "
            "shared|exclusive OUT\n");
    return 2;
}
