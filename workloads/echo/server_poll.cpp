// The poll loop: one pollfd per connection, rebuilt incrementally; every call hands the
// kernel the whole array, which it scans in full (the O(n) that epoll avoids).
#include <poll.h>
#include <unistd.h>

#include <cerrno>

#include "echo/echo_io.h"
#include "echo/net.h"
#include "errors.h"

namespace echo {

LoopStats serve_poll(const ServerOptions& o, int listen_fd, int wake_fd, ConnCounters& counters,
                     const StopControl& stop) {
    LoopStats st;
    st.syscall = "poll";
    set_nonblocking(listen_fd);
    // pfds[0] the self-pipe, pfds[1] the listening socket, pfds[2 + i] conns[i]
    std::vector<pollfd> pfds = {{wake_fd, POLLIN, 0}, {listen_fd, POLLIN, 0}};
    std::vector<Conn> conns;
    std::vector<char> buf(o.buffer);

    while (!stop.should_stop(counters)) {
        int n = st.record(poll(pfds.data(), pfds.size(), stop.wait_ms(o.timeout_ms)));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            throw tk::UserError(tk::errno_text("poll"));
        }
        if (n == 0)
            continue;
        if (pfds[0].revents)
            drain(wake_fd);
        // connections first (from the end, so a closed one can be swapped out), new ones after
        for (size_t i = conns.size(); i-- > 0;) {
            pollfd& p = pfds[2 + i];
            if (!p.revents)
                continue;
            Conn& c = conns[i];
            IoResult r = IoResult::Open;
            if (p.revents & (POLLIN | POLLHUP | POLLERR))
                r = on_readable(c, buf, false, counters);
            if (r == IoResult::Open && (p.revents & POLLOUT))
                r = on_writable(c);
            if (r == IoResult::Closed) {
                close(c.fd);
                counters.closed++;
                conns[i] = std::move(conns.back());
                conns.pop_back();
                pfds[2 + i] = pfds.back();
                pfds.pop_back();
                continue;
            }
            p.events = short(POLLIN | (c.wants_write() ? POLLOUT : 0));
        }
        if (pfds[1].revents) {
            for (int fd : accept_pending(listen_fd, counters)) {
                conns.push_back(Conn{fd, {}});
                pfds.push_back({fd, POLLIN, 0});
            }
        }
    }
    for (auto& c : conns)
        close(c.fd);
    return st;
}

}  // namespace echo
