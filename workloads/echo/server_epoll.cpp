// The single-threaded epoll event loop: non-blocking sockets, level- or edge-triggered,
// EPOLLOUT registered only while a connection has bytes waiting to be written back.
#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <unordered_map>

#include "echo/echo_io.h"
#include "echo/net.h"
#include "errors.h"

namespace echo {

namespace {

class Epoll {
  public:
    Epoll() : fd_(epoll_create1(EPOLL_CLOEXEC)) {
        if (!fd_)
            throw tk::UserError(tk::errno_text("epoll_create1"));
    }
    int fd() const { return fd_.get(); }
    void ctl(int op, int fd, uint32_t events) {
        epoll_event ev{};  // zeroed: the whole 64-bit epoll_data is defined
        ev.events = events;
        ev.data.fd = fd;
        if (epoll_ctl(fd_.get(), op, fd, op == EPOLL_CTL_DEL ? nullptr : &ev) != 0)
            throw tk::UserError(tk::errno_text("epoll_ctl"));
    }

  private:
    Fd fd_;
};

}  // namespace

LoopStats serve_epoll(const ServerOptions& o, int listen_fd, int wake_fd, ConnCounters& counters,
                      const StopControl& stop) {
    Epoll ep;
    LoopStats st;
    st.syscall = "epoll_wait";
    st.epfd = ep.fd();
    st.maxevents = o.maxevents;
    set_nonblocking(listen_fd);
    ep.ctl(EPOLL_CTL_ADD, wake_fd, EPOLLIN);
    ep.ctl(EPOLL_CTL_ADD, listen_fd, EPOLLIN);
    const uint32_t base = EPOLLIN | (o.edge_triggered ? EPOLLET : 0u);

    std::unordered_map<int, Conn> conns;
    std::vector<epoll_event> events(size_t(o.maxevents));
    std::vector<char> buf(o.buffer);
    auto close_conn = [&](Conn& c) {
        ep.ctl(EPOLL_CTL_DEL, c.fd, 0);
        close(c.fd);
        conns.erase(c.fd);
        counters.closed++;
    };

    while (!stop.should_stop(counters)) {
        int n =
            st.record(epoll_wait(ep.fd(), events.data(), o.maxevents, stop.wait_ms(o.timeout_ms)));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            throw tk::UserError(tk::errno_text("epoll_wait"));
        }
        for (int i = 0; i < n; i++) {
            int fd = events[size_t(i)].data.fd;
            uint32_t what = events[size_t(i)].events;
            if (fd == wake_fd) {
                drain(wake_fd);
                continue;
            }
            if (fd == listen_fd) {
                for (int nfd : accept_pending(listen_fd, counters)) {
                    conns[nfd] = Conn{nfd, {}};
                    ep.ctl(EPOLL_CTL_ADD, nfd, base);
                }
                continue;
            }
            auto it = conns.find(fd);
            if (it == conns.end())
                continue;
            Conn& c = it->second;
            bool was_writing = c.wants_write();
            IoResult r = IoResult::Open;
            if (what & (EPOLLIN | EPOLLHUP | EPOLLERR))
                r = on_readable(c, buf, o.edge_triggered, counters);
            if (r == IoResult::Open && (what & EPOLLOUT))
                r = on_writable(c);
            if (r == IoResult::Closed)
                close_conn(c);
            else if (c.wants_write() != was_writing)
                ep.ctl(EPOLL_CTL_MOD, fd, base | (c.wants_write() ? EPOLLOUT : 0u));
        }
    }
    for (auto& [fd, c] : conns)
        close(fd);
    return st;
}

}  // namespace echo
