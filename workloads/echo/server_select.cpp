// The select loop: fd_sets rebuilt before every call up to the highest fd; fds at or above
// FD_SETSIZE cannot be watched at all, so such connections are refused.
#include <sys/select.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "echo/echo_io.h"
#include "echo/net.h"
#include "errors.h"

namespace echo {

LoopStats serve_select(const ServerOptions& o, int listen_fd, int wake_fd, ConnCounters& counters,
                       const StopControl& stop) {
    LoopStats st;
    st.syscall = "select";
    set_nonblocking(listen_fd);
    std::vector<Conn> conns;
    std::vector<char> buf(o.buffer);

    while (!stop.should_stop(counters)) {
        fd_set rd, wr;
        FD_ZERO(&rd);
        FD_ZERO(&wr);
        FD_SET(wake_fd, &rd);
        FD_SET(listen_fd, &rd);
        int maxfd = std::max(wake_fd, listen_fd);
        for (auto& c : conns) {
            FD_SET(c.fd, &rd);
            if (c.wants_write())
                FD_SET(c.fd, &wr);
            maxfd = std::max(maxfd, c.fd);
        }
        int ms = stop.wait_ms(o.timeout_ms);
        timeval tv{ms / 1000, (ms % 1000) * 1000};
        int n = st.record(select(maxfd + 1, &rd, &wr, nullptr, ms < 0 ? nullptr : &tv));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            throw tk::UserError(tk::errno_text("select"));
        }
        if (n == 0)
            continue;
        if (FD_ISSET(wake_fd, &rd))
            drain(wake_fd);
        for (size_t i = conns.size(); i-- > 0;) {
            Conn& c = conns[i];
            IoResult r = IoResult::Open;
            if (FD_ISSET(c.fd, &rd))
                r = on_readable(c, buf, false, counters);
            if (r == IoResult::Open && FD_ISSET(c.fd, &wr))
                r = on_writable(c);
            if (r == IoResult::Closed) {
                close(c.fd);
                counters.closed++;
                conns[i] = std::move(conns.back());
                conns.pop_back();
            }
        }
        if (FD_ISSET(listen_fd, &rd)) {
            for (int fd : accept_pending(listen_fd, counters)) {
                if (fd >= FD_SETSIZE) {  // select cannot watch it
                    close(fd);
                    counters.rejected++;
                    counters.closed++;
                    continue;
                }
                conns.push_back(Conn{fd, {}});
            }
        }
    }
    for (auto& c : conns)
        close(c.fd);
    return st;
}

}  // namespace echo
