#include "echo/client.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <latch>
#include <sstream>
#include <thread>

#include "common/work.h"
#include "echo/net.h"
#include "errors.h"

namespace echo {

uint64_t ClientOptions::max_idle() const {
    return idle_steps.empty() ? 0 : *std::max_element(idle_steps.begin(), idle_steps.end());
}

uint64_t ClientResult::requests() const {
    uint64_t n = 0;
    for (auto& s : steps)
        n += s.requests;
    return n;
}

uint64_t ClientResult::failures() const {
    uint64_t n = 0;
    for (auto& s : steps)
        n += s.failures;
    return n;
}

double ClientResult::elapsed_s() const {
    double t = 0;
    for (auto& s : steps)
        t += s.elapsed_s;
    return t;
}

tk::Histogram ClientResult::latency() const {
    tk::Histogram h;
    for (auto& s : steps)
        h.merge(s.latency);
    return h;
}

std::vector<uint64_t> parse_steps(const std::string& text) {
    std::vector<uint64_t> steps;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ',')) {
        char* end = nullptr;
        unsigned long long v = std::strtoull(item.c_str(), &end, 10);
        if (item.empty() || !end || *end || item[0] == '-')
            throw tk::UserError(
                "--idle-steps " + text + ": give counts of idle connections, e.g. 10,1000", 2);
        steps.push_back(v);
    }
    if (steps.empty())
        throw tk::UserError("--idle-steps is empty: give counts of idle connections, e.g. 10,1000",
                            2);
    return steps;
}

namespace {

// One active connection's share of a step: round trips until the count or the deadline.
struct Worker {
    explicit Worker(int socket) : fd(socket) {}
    int fd;
    uint64_t requests = 0, failures = 0;
    tk::Histogram latency;
    bool dead = false;

    void run(const ClientOptions& o, uint64_t deadline_ns, unsigned id) {
        std::vector<unsigned char> out(o.size), in(o.size);
        for (uint64_t i = 0; o.requests == 0 || i < o.requests; i++) {
            uint64_t t0 = wl::now_ns();
            if (deadline_ns && t0 >= deadline_ns)
                break;
            std::fill(out.begin(), out.end(), static_cast<unsigned char>(i * 31 + id));
            if (!write_all(fd, out.data(), out.size()) || !read_exact(fd, in.data(), in.size())) {
                failures++;
                dead = true;
                return;
            }
            latency.record(wl::now_ns() - t0);
            if (in != out)
                failures++;
            requests++;
        }
    }
};

}  // namespace

ClientResult run_client(const ClientOptions& o) {
    ClientResult result;
    result.options = o;
    raise_fd_limit();
    // active connections first, so the server sees them on its lowest fds
    std::vector<Fd> active, idle;
    for (unsigned i = 0; i < o.connections; i++)
        active.push_back(connect_to(o.host, o.port));
    std::vector<Worker> workers;
    for (auto& fd : active)
        workers.emplace_back(fd.get());

    for (uint64_t step_idle : o.idle_steps) {
        while (idle.size() < step_idle)
            idle.push_back(connect_to(o.host, o.port));
        StepResult step;
        step.idle = step_idle;
        std::latch ready(std::ptrdiff_t(workers.size()) + 1);
        std::atomic<uint64_t> start_ns{0};
        std::vector<std::thread> threads;
        for (unsigned i = 0; i < workers.size(); i++) {
            if (workers[i].dead)
                continue;
            threads.emplace_back([&, i] {
                ready.arrive_and_wait();
                uint64_t start = start_ns.load();
                workers[i].run(o, o.duration_s > 0 ? start + uint64_t(o.duration_s * 1e9) : 0, i);
            });
        }
        for (auto& w : workers)
            if (w.dead)
                ready.count_down();
        start_ns = wl::now_ns();
        ready.arrive_and_wait();
        for (auto& t : threads)
            t.join();
        step.elapsed_s = double(wl::now_ns() - start_ns.load()) / 1e9;
        for (auto& w : workers) {
            step.requests += w.requests;
            step.failures += w.failures;
            step.latency.merge(w.latency);
            w.requests = w.failures = 0;
            w.latency = tk::Histogram();
        }
        result.steps.push_back(std::move(step));
    }
    return result;  // the connections close here: the server sees EOF on every one
}

nlohmann::json ClientResult::to_json() const {
    nlohmann::json steps_j = nlohmann::json::array();
    for (auto& s : steps)
        steps_j.push_back({{"idle_connections", s.idle},
                           {"requests", s.requests},
                           {"failures", s.failures},
                           {"elapsed_s", s.elapsed_s},
                           {"requests_per_s", s.requests_per_s()},
                           {"latency", s.latency.to_json()}});
    return {{"host", options.host},
            {"port", options.port},
            {"connections", options.connections},
            {"idle_connections", options.max_idle()},
            {"message_bytes", options.size},
            {"requests", requests()},
            {"failures", failures()},
            {"elapsed_s", elapsed_s()},
            {"requests_per_s", requests_per_s()},
            {"latency", latency().to_json()},
            {"steps", steps_j}};
}

std::string ClientResult::to_text() const {
    std::ostringstream out;
    char line[256];
    for (auto& s : steps) {
        snprintf(line, sizeof line,
                 "echo-client: %u connections (+%llu idle) x %zu-byte messages: %llu requests in "
                 "%.3f s = %.0f req/s;"
                 " round trip p50 %s p99 %s%s\n",
                 options.connections, (unsigned long long)s.idle, options.size,
                 (unsigned long long)s.requests, s.elapsed_s, s.requests_per_s(),
                 tk::format_ns(double(s.latency.percentile(50))).c_str(),
                 tk::format_ns(double(s.latency.percentile(99))).c_str(),
                 s.failures ? (", " + std::to_string(s.failures) + " FAILED").c_str() : "");
        out << line;
    }
    return out.str();
}

}  // namespace echo
