// One connection of an event-loop server: non-blocking reads echoed back, with the part a
// full socket buffer did not take kept until the socket is writable again.
#pragma once

#include <string>
#include <vector>

#include "echo/server.h"

namespace echo {

struct Conn {
    int fd = -1;
    std::string pending;  // bytes still to be written back
    bool wants_write() const { return !pending.empty(); }
};

enum class IoResult { Open, Closed };

// The fd is readable: read once (level-triggered) or until EAGAIN (edge-triggered) and
// echo it back. Closed: EOF or an error; the caller unregisters and closes the fd.
IoResult on_readable(Conn& c, std::vector<char>& buf, bool until_eagain, ConnCounters& counters);
// The fd is writable: write what is pending.
IoResult on_writable(Conn& c);

// Accepts every pending connection (the listening fd is non-blocking); returns their fds,
// non-blocking and with TCP_NODELAY.
std::vector<int> accept_pending(int listen_fd, ConnCounters& counters);

// Drains the self-pipe after a signal.
void drain(int fd);

}  // namespace echo
