#include "echo/echo_io.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "echo/net.h"

namespace echo {

static IoResult send_back(Conn& c, const char* data, size_t n) {
    if (!c.pending.empty()) {  // keep the order: behind what is already waiting
        c.pending.append(data, n);
        return IoResult::Open;
    }
    while (n > 0) {
        ssize_t w = write(c.fd, data, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c.pending.append(data, n);
            return IoResult::Open;
        }
        if (w <= 0)
            return IoResult::Closed;
        data += w;
        n -= size_t(w);
    }
    return IoResult::Open;
}

IoResult on_readable(Conn& c, std::vector<char>& buf, bool until_eagain, ConnCounters& counters) {
    for (;;) {
        ssize_t r = read(c.fd, buf.data(), buf.size());
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return IoResult::Open;
        if (r <= 0)
            return IoResult::Closed;
        counters.reads++;
        counters.bytes += uint64_t(r);
        if (send_back(c, buf.data(), size_t(r)) == IoResult::Closed)
            return IoResult::Closed;
        if (!until_eagain)
            return IoResult::Open;
    }
}

IoResult on_writable(Conn& c) {
    while (!c.pending.empty()) {
        ssize_t w = write(c.fd, c.pending.data(), c.pending.size());
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return IoResult::Open;
        if (w <= 0)
            return IoResult::Closed;
        c.pending.erase(0, size_t(w));
    }
    return IoResult::Open;
}

std::vector<int> accept_pending(int listen_fd, ConnCounters& counters) {
    std::vector<int> fds;
    for (;;) {
        int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR)
                continue;
            break;  // EAGAIN: nothing more; EMFILE and friends: try again on the next readiness
        }
        set_nodelay(fd);
        counters.accepted++;
        fds.push_back(fd);
    }
    return fds;
}

void drain(int fd) {
    char buf[64];
    while (read(fd, buf, sizeof buf) > 0) {
    }
}

}  // namespace echo
