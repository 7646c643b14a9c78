// The echo server in six forms, behind one interface: every form accepts connections on
// the listening socket it is given and echoes back whatever each connection sends, until
// --max-connections connections have closed, the duration ends, or SIGTERM/SIGINT.
//
//   thread  a thread per connection, blocking reads and writes
//   fork    a process per connection (fork), blocking reads and writes
//   epoll   one thread, an epoll event loop over non-blocking sockets
//   coro    the same epoll loop resuming a stackful coroutine per connection
//   poll    one thread, a poll loop
//   select  one thread, a select loop (fds below FD_SETSIZE only)
//
// The loop forms count their own waiting calls and events (LoopStats): the ground truth
// epoll-trace is checked against.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace echo {

struct ServerOptions {
    std::string model;
    std::string host = "127.0.0.1";
    uint16_t port = 0;
    uint64_t max_connections = 0;  // stop once this many have closed (0: never)
    double duration_s = 0;         // stop after this long (0: never)
    int maxevents = 64;            // epoll, coro
    int timeout_ms = -1;           // of each waiting call (-1: forever)
    bool edge_triggered = false;   // epoll, coro: EPOLLET
    size_t buffer = 16384;         // bytes read per read()
};

const std::vector<std::string>& server_models();

// Counters of the connections, shared by every thread (and, for fork, every process: the
// struct lives in shared memory).
struct ConnCounters {
    std::atomic<uint64_t> accepted{0};
    std::atomic<uint64_t> closed{0};
    std::atomic<uint64_t> bytes{0};     // echoed back
    std::atomic<uint64_t> reads{0};     // read() calls that returned data
    std::atomic<uint64_t> rejected{0};  // select: fds >= FD_SETSIZE
};

// A loop form's own count of its waiting calls.
struct LoopStats {
    std::string syscall;  // "epoll_wait", "poll", "select"
    int epfd = -1;
    int maxevents = 0;
    uint64_t wait_calls = 0;
    uint64_t events = 0;                           // sum of positive returns
    uint64_t errors = 0;                           // -1 returns (EINTR at shutdown)
    uint64_t zero_returns = 0;                     // returned 0 (timeouts)
    uint64_t full = 0;                             // returned maxevents
    std::map<uint64_t, uint64_t> events_per_call;  // return value -> calls (returns >= 0)

    // Records one call's return value; returns it.
    int record(int ret) {
        wait_calls++;
        if (ret < 0) {
            errors++;
            return ret;
        }
        events += uint64_t(ret);
        zero_returns += ret == 0;
        full += maxevents > 0 && ret == maxevents;
        events_per_call[uint64_t(ret)]++;
        return ret;
    }
    nlohmann::json to_json() const;
};

struct ServerResult {
    std::string model;
    pid_t pid = 0;
    uint16_t port = 0;
    uint64_t accepted = 0, closed = 0, bytes = 0, reads = 0, rejected = 0;
    double elapsed_s = 0;
    std::optional<LoopStats> loop;
    std::string stop_reason;
    nlohmann::json to_json() const;
    std::string to_text() const;
};

// What tells a server to stop: a signal (SIGTERM/SIGINT set the flag and write to the
// self-pipe the loops watch), the connection limit, or the deadline.
class StopControl {
  public:
    StopControl(const ServerOptions& opts, int wake_fd);
    // True once a signal arrived, enough connections closed, or the deadline passed.
    bool should_stop(const ConnCounters& c) const;
    std::string reason(const ConnCounters& c) const;
    // Milliseconds a waiting call may block: the loop timeout, capped by the deadline.
    int wait_ms(int timeout_ms) const;
    static bool signalled();

  private:
    uint64_t max_connections_;
    uint64_t deadline_ns_ = 0;
};

// Runs one form on the listening socket; returns when told to stop.
// wake_read/wake_write: the self-pipe; signal handlers write to it, the loops watch it.
ServerResult run_server(const ServerOptions& opts, int listen_fd, int wake_read, int wake_write);

// The forms (server_*.cpp).
void serve_threads(const ServerOptions& o, int listen_fd, ConnCounters& c, const StopControl& stop);
void serve_forks(const ServerOptions& o, int listen_fd, ConnCounters& c, const StopControl& stop);
LoopStats serve_epoll(const ServerOptions& o, int listen_fd, int wake_fd, ConnCounters& c,
                      const StopControl& stop);
LoopStats serve_coro(const ServerOptions& o, int listen_fd, int wake_fd, ConnCounters& c,
                     const StopControl& stop);
LoopStats serve_poll(const ServerOptions& o, int listen_fd, int wake_fd, ConnCounters& c,
                     const StopControl& stop);
LoopStats serve_select(const ServerOptions& o, int listen_fd, int wake_fd, ConnCounters& c,
                       const StopControl& stop);

}  // namespace echo
