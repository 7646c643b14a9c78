// Ping-pong between two processes or two threads over one kernel IPC mechanism.
//
// The ping side (the parent process, or the main thread) sends token k = 1, 2, 3 ... and
// waits for it to come back; the pong side checks that it sees 1, 2, 3 ... in order and
// echoes each one. The ping side times every round trip on its own and finally sends kStop.
// Both sides count what they saw, so a lost, duplicated or corrupted token shows up as a
// failed verification rather than a plausible-looking latency.
#include <signal.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <thread>

#include "common/child.h"
#include "common/shm.h"
#include "common/work.h"
#include "errors.h"
#include "pingpong/runners.h"

namespace pp {
namespace {

struct PongTally {
    uint64_t received = 0;
    uint64_t mismatches = 0;
};

struct PingTally {
    uint64_t sent = 0;
    uint64_t echoed = 0;
    uint64_t mismatches = 0;
};

void ping_loop(Link& out, Link& in, const Limits& limits, tk::Histogram& rtt, PingTally& t) {
    uint64_t now = wl::now_ns();
    for (uint64_t token = 1; !limits.reached(t.sent, now); token++) {
        uint64_t start = now;
        out.send(token);
        t.sent++;
        uint64_t back = in.recv();
        now = wl::now_ns();
        rtt.record(now - start);
        if (back == token)
            t.echoed++;
        else
            t.mismatches++;
    }
    out.send(kStop);
}

void pong_loop(Link& in, Link& out, PongTally& t) {
    uint64_t expect = 1;
    for (;;) {
        uint64_t token = in.recv();
        if (token == kStop)
            return;
        if (token == expect)
            t.received++;
        else
            t.mismatches++;
        expect = token + 1;
        out.send(token);
    }
}

// lmbench's way: the same calls from one task, where every receive finds its data ready.
tk::Histogram measure_baseline(LinkPair& links, uint64_t count) {
    tk::Histogram h;
    for (uint64_t token = 1; token <= count; token++) {
        uint64_t start = wl::now_ns();
        links.ping_to_pong->send(token);
        uint64_t a = links.ping_to_pong->recv();
        links.pong_to_ping->send(a);
        uint64_t b = links.pong_to_ping->recv();
        h.record(wl::now_ns() - start);
        if (a != token || b != token)
            throw tk::UserError("baseline: token " + std::to_string(token) +
                                " came back changed: the IPC mechanism misbehaves");
    }
    return h;
}

Result start_result(const KernelIpc& ipc, const Options& opt) {
    Result r;
    r.model = ipc.model;
    r.ipc = ipc.name;
    r.ipc_description = ipc.description;
    r.cpus = opt.cpus.describe();
    r.timing = "each round trip timed";
    r.requested = opt.iterations;
    r.duration_s = opt.duration_s;
    return r;
}

void finish_result(Result& r, const PingTally& ping, const PongTally& pong, uint64_t start_ns) {
    r.elapsed_s = double(wl::now_ns() - start_ns) / 1e9;
    r.iterations = r.rtt.count();
    r.sent = ping.sent;
    r.echoed = ping.echoed;
    r.pong_received = pong.received;
    r.mismatches = ping.mismatches + pong.mismatches;
    r.user_switches = 0;  // only the kernel switches here
}

// SIGCHLD while the parent blocks in a receive means the partner died; a periodic SIGALRM
// from then on makes sure a receive that started just after the SIGCHLD is interrupted
// too, so the parent reports the failure instead of waiting forever.
extern "C" void on_sigchld(int) {
    g_partner_exited = 1;
    struct itimerval tick {};
    tick.it_interval.tv_usec = 50000;
    tick.it_value.tv_usec = 50000;
    setitimer(ITIMER_REAL, &tick, nullptr);
}
extern "C" void on_sigalrm(int) {}

class PartnerWatch {
  public:
    PartnerWatch() {
        g_partner_exited = 0;
        struct sigaction sa {};
        sa.sa_handler = on_sigchld;
        sa.sa_flags = SA_NOCLDSTOP;  // no SA_RESTART: a blocked call must return EINTR
        sigemptyset(&sa.sa_mask);
        sigaction(SIGCHLD, &sa, &old_chld_);
        sa.sa_handler = on_sigalrm;
        sa.sa_flags = 0;
        sigaction(SIGALRM, &sa, &old_alrm_);
    }
    ~PartnerWatch() {
        struct itimerval off {};
        setitimer(ITIMER_REAL, &off, nullptr);
        sigaction(SIGCHLD, &old_chld_, nullptr);
        sigaction(SIGALRM, &old_alrm_, nullptr);
    }

  private:
    struct sigaction old_chld_ {
    }, old_alrm_{};
};

}  // namespace

uint64_t baseline_count(const Options& opt, uint64_t cap) {
    return opt.iterations ? std::min(opt.iterations, cap) : cap;
}

Limits make_limits(const Options& opt, uint64_t start_ns) {
    Limits l;
    l.iterations = opt.iterations;
    if (opt.duration_s > 0)
        l.deadline_ns = start_ns + uint64_t(opt.duration_s * 1e9);
    return l;
}

Result run_process(const KernelIpc& ipc, const Options& opt) {
    Result r = start_result(ipc, opt);
    LinkPair links = ipc.make();
    opt.cpus.pin(0);
    links.ping_to_pong->set_receiver(getpid());
    links.pong_to_ping->set_receiver(getpid());
    r.baseline = measure_baseline(links, baseline_count(opt, 20000));

    wl::Shared<PongTally> pong;
    PingTally ping;
    PartnerWatch watch;
    pid_t parent = getpid();
    uint64_t start = wl::now_ns();
    wl::Child child = wl::Child::spawn([&](int) {
        opt.cpus.pin(1);
        links.ping_to_pong->keep_receiver_side();
        links.pong_to_ping->keep_sender_side();
        links.pong_to_ping->set_receiver(parent);
        pong_loop(*links.ping_to_pong, *links.pong_to_ping, *pong);
        return 0;
    });
    links.ping_to_pong->keep_sender_side();
    links.pong_to_ping->keep_receiver_side();
    links.ping_to_pong->set_receiver(child.pid());
    try {
        ping_loop(*links.ping_to_pong, *links.pong_to_ping, make_limits(opt, start), r.rtt, ping);
    } catch (const tk::UserError& e) {
        // Say how the partner ended, the first thing anyone debugging this wants to know.
        // If it is still alive (the failure was ours), the Child destructor kills it.
        auto status = child.wait_for(200);
        if (!status)
            throw;
        throw tk::UserError(std::string(e.what()) + " (the pong process " +
                            wl::describe_status(*status) + ")");
    }
    int status = child.wait();
    if (status != 0)
        throw tk::UserError("the pong process " + wl::describe_status(status) +
                            ": see its message above");
    finish_result(r, ping, *pong, start);
    r.switches = wl::workload_switches();
    return r;
}

Result run_thread(const KernelIpc& ipc, const Options& opt) {
    Result r = start_result(ipc, opt);
    LinkPair links = ipc.make();
    opt.cpus.pin(0);
    r.baseline = measure_baseline(links, baseline_count(opt, 20000));

    PongTally pong;
    PingTally ping;
    uint64_t start = wl::now_ns();
    std::thread partner([&] {
        try {
            opt.cpus.pin(1);
            pong_loop(*links.ping_to_pong, *links.pong_to_ping, pong);
        } catch (const std::exception& e) {
            // The ping side is blocked waiting for us and cannot be woken portably: report
            // and end the process.
            std::fprintf(stderr, "pingpong: pong thread: %s\n", e.what());
            std::fflush(stderr);
            _exit(1);
        }
    });
    try {
        ping_loop(*links.ping_to_pong, *links.pong_to_ping, make_limits(opt, start), r.rtt, ping);
    } catch (const std::exception& e) {
        // The partner is blocked on links we would destroy while unwinding: report and end
        // the process here instead.
        std::fprintf(stderr, "pingpong: %s\n", e.what());
        std::fflush(stderr);
        _exit(1);
    }
    partner.join();
    finish_result(r, ping, pong, start);
    r.switches = wl::workload_switches();
    return r;
}

}  // namespace pp
