// The two blocking forms: a thread per connection and a process per connection. The
// accepting thread blocks in accept(); it learns that it should stop from EINTR (a signal:
// SIGTERM/SIGINT, SIGALRM at the deadline, SIGCHLD for fork) or from EINVAL once the
// listening socket is shut down (the last connection of --max-connections does that).
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <set>

#include "common/shm.h"
#include "echo/net.h"
#include "echo/server.h"
#include "errors.h"

namespace echo {

namespace {

void on_wakeup_signal(int) {}

// SIGALRM at the deadline, SIGCHLD: both only interrupt accept().
void install_interrupting(int signo) {
    struct sigaction sa {};
    sa.sa_handler = on_wakeup_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(signo, &sa, nullptr);
}

void arm_deadline(double seconds) {
    if (seconds <= 0)
        return;
    install_interrupting(SIGALRM);
    itimerval t{};
    t.it_value.tv_sec = time_t(seconds);
    t.it_value.tv_usec = suseconds_t((seconds - double(t.it_value.tv_sec)) * 1e6);
    if (t.it_value.tv_sec == 0 && t.it_value.tv_usec == 0)
        t.it_value.tv_usec = 1;
    setitimer(ITIMER_REAL, &t, nullptr);
}

// Echoes one blocking connection until EOF; returns when the peer closes.
void echo_blocking(int fd, size_t buffer, ConnCounters& c) {
    std::vector<char> buf(buffer);
    for (;;) {
        ssize_t r = read(fd, buf.data(), buf.size());
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return;
        c.reads++;
        c.bytes += uint64_t(r);
        if (!write_all(fd, buf.data(), size_t(r)))
            return;
    }
}

int accept_blocking(int listen_fd) {
    int fd = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0)
        set_nodelay(fd);
    return fd;
}

// The connection threads of the thread form, and their shutdown.
class ThreadSet {
  public:
    ThreadSet(const ServerOptions& o, int listen_fd, ConnCounters& c, const StopControl& stop)
        : o_(o), listen_fd_(listen_fd), c_(c), stop_(stop) {}

    void spawn(int fd) {
        auto* arg = new Arg{this, fd};
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 128 * 1024);  // a thousand idle connections stay cheap
        pthread_t t;
        int err = pthread_create(&t, &attr, &ThreadSet::run, arg);
        pthread_attr_destroy(&attr);
        if (err) {
            delete arg;
            close(fd);
            c_.closed++;
            return;
        }
        std::lock_guard g(lock_);
        live_.insert(fd);
        threads_.push_back(t);
    }

    // Unblocks every connection (their reads return 0) and joins the threads.
    void stop_all() {
        {
            std::lock_guard g(lock_);
            for (int fd : live_)
                shutdown(fd, SHUT_RDWR);
        }
        for (auto t : threads_)
            pthread_join(t, nullptr);
    }

  private:
    struct Arg {
        ThreadSet* self;
        int fd;
    };
    static void* run(void* p) {
        auto* a = static_cast<Arg*>(p);
        ThreadSet* self = a->self;
        int fd = a->fd;
        delete a;
        echo_blocking(fd, self->o_.buffer, self->c_);
        {
            std::lock_guard g(self->lock_);
            self->live_.erase(fd);
            close(fd);
        }
        self->c_.closed++;
        if (self->stop_.should_stop(self->c_))
            shutdown(self->listen_fd_, SHUT_RDWR);  // wakes the accepting thread
        return nullptr;
    }

    const ServerOptions& o_;
    int listen_fd_;
    ConnCounters& c_;
    const StopControl& stop_;
    std::mutex lock_;
    std::set<int> live_;
    std::vector<pthread_t> threads_;
};

}  // namespace

void serve_threads(const ServerOptions& o, int listen_fd, ConnCounters& c,
                   const StopControl& stop) {
    arm_deadline(o.duration_s);
    // Signals go to the accepting thread only: connection threads block them.
    sigset_t block, old;
    sigemptyset(&block);
    for (int s : {SIGTERM, SIGINT, SIGALRM, SIGCHLD})
        sigaddset(&block, s);
    ThreadSet threads(o, listen_fd, c, stop);
    while (!stop.should_stop(c)) {
        int fd = accept_blocking(listen_fd);
        if (fd < 0)
            continue;  // EINTR, or EINVAL after shutdown: should_stop() decides
        c.accepted++;
        pthread_sigmask(SIG_BLOCK, &block, &old);
        threads.spawn(fd);
        pthread_sigmask(SIG_SETMASK, &old, nullptr);
    }
    threads.stop_all();
}

void serve_forks(const ServerOptions& o, int listen_fd, ConnCounters& c, const StopControl& stop) {
    arm_deadline(o.duration_s);
    install_interrupting(SIGCHLD);
    wl::Shared<ConnCounters> shared;  // the children's reads and bytes
    std::set<pid_t> children;
    auto reap = [&](int flags) {
        for (;;) {
            int status;
            pid_t pid = waitpid(-1, &status, flags);
            if (pid <= 0)
                return;
            children.erase(pid);
            c.closed++;
        }
    };
    while (!stop.should_stop(c)) {
        reap(WNOHANG);
        if (stop.should_stop(c))
            break;
        int fd = accept_blocking(listen_fd);
        if (fd < 0)
            continue;
        c.accepted++;
        pid_t pid = fork();
        if (pid == 0) {
            signal(SIGTERM, SIG_DFL);
            signal(SIGINT, SIG_DFL);
            close(listen_fd);
            echo_blocking(fd, o.buffer, *shared);
            _exit(0);
        }
        close(fd);
        if (pid < 0) {
            c.closed++;
            continue;
        }
        children.insert(pid);
    }
    for (pid_t pid : children)
        kill(pid, SIGTERM);
    while (!children.empty()) {
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0)
            break;
        children.erase(pid);
    }
    c.reads += shared->reads.load();
    c.bytes += shared->bytes.load();
}

}  // namespace echo
