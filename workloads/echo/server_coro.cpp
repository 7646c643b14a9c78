// The epoll loop driving coroutines: every connection is a stackful coroutine that reads
// and writes as if blocking; when a call would block it registers what it waits for and
// yields to the loop, which resumes it when epoll_wait reports the fd ready.
#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <unordered_map>

#include "coro/stackful.h"
#include "echo/echo_io.h"
#include "echo/net.h"
#include "errors.h"

namespace echo {

namespace {

struct CoConn {
    int fd = -1;
    uint32_t registered = 0;  // the event mask epoll has for fd
    std::unique_ptr<wl::StackfulCoroutine> co;
};

class CoroLoop {
  public:
    CoroLoop(const ServerOptions& o, ConnCounters& counters) : o_(o), counters_(counters) {
        ep_ = Fd(epoll_create1(EPOLL_CLOEXEC));
        if (!ep_)
            throw tk::UserError(tk::errno_text("epoll_create1"));
    }
    int epfd() const { return ep_.get(); }

    void ctl(int op, int fd, uint32_t events) {
        epoll_event ev{};
        ev.events = events;
        ev.data.fd = fd;
        if (epoll_ctl(ep_.get(), op, fd, op == EPOLL_CTL_DEL ? nullptr : &ev) != 0)
            throw tk::UserError(tk::errno_text("epoll_ctl"));
    }

    void start(int fd) {
        auto c = std::make_unique<CoConn>();
        c->fd = fd;
        c->registered = mask(EPOLLIN);
        ctl(EPOLL_CTL_ADD, fd, c->registered);
        CoConn* raw = c.get();
        c->co = std::make_unique<wl::StackfulCoroutine>([this, raw] { echo_body(*raw); });
        conns_[fd] = std::move(c);
        resume(fd);
    }

    // Runs the coroutine of fd until it waits again; tears it down when it has finished.
    void resume(int fd) {
        auto it = conns_.find(fd);
        if (it == conns_.end())
            return;
        it->second->co->resume();
        if (it->second->co->done()) {
            ctl(EPOLL_CTL_DEL, fd, 0);
            close(fd);
            conns_.erase(it);
            counters_.closed++;
        }
    }

    void close_all() {
        for (auto& [fd, c] : conns_)
            close(fd);
        conns_.clear();
    }

  private:
    uint32_t mask(uint32_t what) const { return what | (o_.edge_triggered ? EPOLLET : 0u); }

    // Called inside a coroutine: wait until fd is readable (EPOLLIN) or writable (EPOLLOUT).
    void wait_for(CoConn& c, uint32_t what) {
        if (c.registered != mask(what)) {
            c.registered = mask(what);
            ctl(EPOLL_CTL_MOD, c.fd, c.registered);
        }
        c.co->yield();
    }

    bool write_back(CoConn& c, const char* p, size_t n) {
        while (n > 0) {
            ssize_t w = write(c.fd, p, n);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                wait_for(c, EPOLLOUT);
                continue;
            }
            if (w <= 0)
                return false;
            p += w;
            n -= size_t(w);
        }
        return true;
    }

    // The connection's whole life, written as straight-line blocking code.
    void echo_body(CoConn& c) {
        std::vector<char> buf(o_.buffer);
        for (;;) {
            ssize_t r = read(c.fd, buf.data(), buf.size());
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                wait_for(c, EPOLLIN);
                continue;
            }
            if (r <= 0)
                return;
            counters_.reads++;
            counters_.bytes += uint64_t(r);
            if (!write_back(c, buf.data(), size_t(r)))
                return;
        }
    }

    const ServerOptions& o_;
    ConnCounters& counters_;
    Fd ep_;
    std::unordered_map<int, std::unique_ptr<CoConn>> conns_;
};

}  // namespace

LoopStats serve_coro(const ServerOptions& o, int listen_fd, int wake_fd, ConnCounters& counters,
                     const StopControl& stop) {
    CoroLoop loop(o, counters);
    LoopStats st;
    st.syscall = "epoll_wait";
    st.epfd = loop.epfd();
    st.maxevents = o.maxevents;
    set_nonblocking(listen_fd);
    loop.ctl(EPOLL_CTL_ADD, wake_fd, EPOLLIN);
    loop.ctl(EPOLL_CTL_ADD, listen_fd, EPOLLIN);
    std::vector<epoll_event> events(size_t(o.maxevents));
    while (!stop.should_stop(counters)) {
        int n = st.record(
            epoll_wait(loop.epfd(), events.data(), o.maxevents, stop.wait_ms(o.timeout_ms)));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            throw tk::UserError(tk::errno_text("epoll_wait"));
        }
        for (int i = 0; i < n; i++) {
            int fd = events[size_t(i)].data.fd;
            if (fd == wake_fd)
                drain(wake_fd);
            else if (fd == listen_fd)
                for (int nfd : accept_pending(listen_fd, counters))
                    loop.start(nfd);
            else
                loop.resume(fd);
        }
    }
    loop.close_all();
    return st;
}

}  // namespace echo
