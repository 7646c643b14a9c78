#include "echo/server.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <sstream>

#include "common/work.h"
#include "errors.h"

namespace echo {

namespace {

std::atomic<bool> g_signalled{false};
int g_wake_fd = -1;

void on_stop_signal(int) {
    g_signalled.store(true);
    if (g_wake_fd >= 0) {
        char b = 's';
        ssize_t ignored = write(g_wake_fd, &b, 1);
        (void)ignored;
    }
}

void install_stop_handlers(int wake_fd) {
    g_wake_fd = wake_fd;
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: a blocking accept() or read() returns EINTR
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);  // a client that vanishes is an EPIPE, not a death
}

}  // namespace

const std::vector<std::string>& server_models() {
    static const std::vector<std::string> models = {"thread", "fork", "epoll",
                                                    "coro",   "poll", "select"};
    return models;
}

StopControl::StopControl(const ServerOptions& opts, int wake_fd)
    : max_connections_(opts.max_connections) {
    install_stop_handlers(wake_fd);
    if (opts.duration_s > 0)
        deadline_ns_ = wl::now_ns() + uint64_t(opts.duration_s * 1e9);
}

bool StopControl::signalled() {
    return g_signalled.load();
}

bool StopControl::should_stop(const ConnCounters& c) const {
    if (signalled())
        return true;
    if (max_connections_ && c.closed.load() >= max_connections_)
        return true;
    return deadline_ns_ && wl::now_ns() >= deadline_ns_;
}

std::string StopControl::reason(const ConnCounters& c) const {
    if (signalled())
        return "signal";
    if (max_connections_ && c.closed.load() >= max_connections_)
        return "max-connections";
    return "duration";
}

int StopControl::wait_ms(int timeout_ms) const {
    if (!deadline_ns_)
        return timeout_ms;
    uint64_t now = wl::now_ns();
    int left = now >= deadline_ns_ ? 0 : int((deadline_ns_ - now + 999999) / 1000000);
    return timeout_ms < 0 ? left : std::min(left, timeout_ms);
}

ServerResult run_server(const ServerOptions& opts, int listen_fd, int wake_read, int wake_write) {
    ConnCounters counters;
    StopControl stop(opts, wake_write);
    const int wake_fd = wake_read;
    ServerResult r;
    r.model = opts.model;
    r.pid = getpid();
    uint64_t start = wl::now_ns();
    if (opts.model == "thread")
        serve_threads(opts, listen_fd, counters, stop);
    else if (opts.model == "fork")
        serve_forks(opts, listen_fd, counters, stop);
    else if (opts.model == "epoll")
        r.loop = serve_epoll(opts, listen_fd, wake_fd, counters, stop);
    else if (opts.model == "coro")
        r.loop = serve_coro(opts, listen_fd, wake_fd, counters, stop);
    else if (opts.model == "poll")
        r.loop = serve_poll(opts, listen_fd, wake_fd, counters, stop);
    else if (opts.model == "select")
        r.loop = serve_select(opts, listen_fd, wake_fd, counters, stop);
    else
        throw tk::UserError("unknown model " + opts.model, 2);
    r.elapsed_s = double(wl::now_ns() - start) / 1e9;
    r.accepted = counters.accepted;
    r.closed = counters.closed;
    r.bytes = counters.bytes;
    r.reads = counters.reads;
    r.rejected = counters.rejected;
    r.stop_reason = stop.reason(counters);
    return r;
}

nlohmann::json LoopStats::to_json() const {
    nlohmann::json per_call = nlohmann::json::object();
    for (auto& [events, calls] : events_per_call)
        per_call[std::to_string(events)] = calls;
    nlohmann::json j = {
        {"syscall", syscall}, {"wait_calls", wait_calls},     {"events", events},
        {"errors", errors},   {"zero_returns", zero_returns}, {"events_per_call", per_call}};
    if (epfd >= 0) {
        j["epfd"] = epfd;
        j["maxevents"] = maxevents;
        j["full"] = full;
    }
    return j;
}

nlohmann::json ServerResult::to_json() const {
    nlohmann::json j = {{"model", model},         {"pid", pid},
                        {"port", port},           {"connections", accepted},
                        {"closed", closed},       {"bytes", bytes},
                        {"reads", reads},         {"rejected", rejected},
                        {"elapsed_s", elapsed_s}, {"stop_reason", stop_reason}};
    if (loop)
        j["loop"] = loop->to_json();
    return j;
}

std::string ServerResult::to_text() const {
    std::ostringstream out;
    char line[256];
    snprintf(line, sizeof line,
             "echo-server (%s, pid %d): %llu connections, %llu bytes echoed in %llu reads, %.2f s; "
             "stopped by %s\n",
             model.c_str(), int(pid), (unsigned long long)accepted, (unsigned long long)bytes,
             (unsigned long long)reads, elapsed_s, stop_reason.c_str());
    out << line;
    if (loop) {
        snprintf(
            line, sizeof line,
            "  %s: %llu calls returned %llu events (%.2f per call), %llu returned 0, %llu errors",
            loop->syscall.c_str(), (unsigned long long)loop->wait_calls,
            (unsigned long long)loop->events,
            loop->wait_calls > loop->errors
                ? double(loop->events) / double(loop->wait_calls - loop->errors)
                : 0.0,
            (unsigned long long)loop->zero_returns, (unsigned long long)loop->errors);
        out << line;
        if (loop->epfd >= 0) {
            snprintf(line, sizeof line, "; epfd %d, maxevents %d reached %llu times", loop->epfd,
                     loop->maxevents, (unsigned long long)loop->full);
            out << line;
        }
        out << "\n";
    }
    if (rejected)
        out << "  rejected " << rejected << " connections whose fd did not fit in an fd_set\n";
    return out.str();
}

}  // namespace echo
