#include "echo/net.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "errors.h"

namespace echo {

static sockaddr_in address_of(const std::string& host, uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1)
        throw tk::UserError(
            "not an IPv4 address: " + host + ": use a dotted quad such as 127.0.0.1", 2);
    return a;
}

Fd listen_on(const std::string& host, uint16_t port, int backlog) {
    sockaddr_in a = address_of(host, port);
    Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd)
        throw tk::UserError(tk::errno_text("socket"));
    int one = 1;
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
        throw tk::UserError(
            tk::errno_text("cannot listen on " + host + ":" + std::to_string(port)) +
            ": pick another --port (0 lets the kernel choose)");
    if (listen(fd.get(), backlog) != 0)
        throw tk::UserError(tk::errno_text("listen"));
    return fd;
}

uint16_t local_port(int fd) {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
        throw tk::UserError(tk::errno_text("getsockname"));
    return ntohs(a.sin_port);
}

Fd connect_to(const std::string& host, uint16_t port) {
    sockaddr_in a = address_of(host, port);
    Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd)
        throw tk::UserError(tk::errno_text("socket") + ": too many open files? (ulimit -n)");
    int rc;
    do
        rc = connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
    while (rc != 0 && errno == EINTR);
    if (rc != 0)
        throw tk::UserError(
            tk::errno_text("cannot connect to " + host + ":" + std::to_string(port)) +
            ": is the echo server running there?");
    set_nodelay(fd.get());
    return fd;
}

void set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        throw tk::UserError(tk::errno_text("fcntl O_NONBLOCK"));
}

void set_nodelay(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

bool write_all(int fd, const void* buf, size_t n) {
    auto* p = static_cast<const char*>(buf);
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= size_t(w);
    }
    return true;
}

bool read_exact(int fd, void* buf, size_t n) {
    auto* p = static_cast<char*>(buf);
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        p += r;
        n -= size_t(r);
    }
    return true;
}

uint64_t raise_fd_limit() {
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0)
        return 0;
    if (lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        setrlimit(RLIMIT_NOFILE, &lim);
    }
    return lim.rlim_cur;
}

SelfPipe SelfPipe::create() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
        throw tk::UserError(tk::errno_text("pipe"));
    return {Fd(fds[0]), Fd(fds[1])};
}

}  // namespace echo
