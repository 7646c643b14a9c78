// Loopback TCP plumbing shared by the echo servers and the client: listening, connecting,
// non-blocking mode, whole-buffer reads and writes, the open-files limit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "fd.h"

namespace echo {

using tk::Fd;

// A listening socket on host:port (port 0: the kernel picks one). Throws tk::UserError.
Fd listen_on(const std::string& host, uint16_t port, int backlog = 4096);
uint16_t local_port(int fd);
// A connected socket (blocking, TCP_NODELAY). Throws tk::UserError saying what to check.
Fd connect_to(const std::string& host, uint16_t port);

void set_nonblocking(int fd);
void set_nodelay(int fd);

// Writes all of buf (blocking fd); false when the peer is gone.
bool write_all(int fd, const void* buf, size_t n);
// Reads exactly n bytes (blocking fd); false on EOF or error.
bool read_exact(int fd, void* buf, size_t n);

// Raises the soft RLIMIT_NOFILE to the hard limit; returns the new soft limit.
uint64_t raise_fd_limit();

// A pipe whose write end a signal handler may write to (both ends non-blocking,
// close-on-exec): how the event loops learn about SIGTERM/SIGINT.
struct SelfPipe {
    Fd read_end, write_end;
    static SelfPipe create();
};

}  // namespace echo
