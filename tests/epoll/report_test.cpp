// epoll-trace's report logic without BPF: the JSON contract others rely on, the text
// sections, and the small helpers.
#include <gtest/gtest.h>

#include "report.h"
#include "snapshot.h"

using namespace epolltrace;

namespace {

size_t calls_slot(ep_syscall s) {
    return size_t(EP_C_CALLS) + size_t(s);
}

Loop epoll_loop(uint32_t pid, int32_t epfd) {
    Loop l;
    l.pid = pid;
    l.key = epfd;
    l.comm = "server";
    l.c.calls = 10;
    l.c.by_syscall[EP_SYS_EPOLL_WAIT] = 10;
    l.c.events = 25;
    l.c.blocked_calls = 6;
    l.c.ready_on_entry = 4;
    l.c.woken_calls = 6;
    l.c.maxevents = 64;
    for (int i = 0; i < 10; i++) {
        l.hists[EP_H_EVENTS_PER_CALL].record(i < 5 ? 2 : 3);
        l.hists[EP_H_BLOCKED].record(i < 6 ? 20000 : 0);
        l.hists[EP_H_IN_CALL].record(25000);
    }
    for (int i = 0; i < 6; i++) {
        l.hists[EP_H_READY_TO_RETURN].record(5000);
        l.hists[EP_H_READY_WAIT_CPU].record(1000);
        l.hists[EP_H_READY_RUN].record(4000);
    }
    l.interest_size = 2;
    FdRow f;
    f.fd = 7;
    f.info.ready = 25;
    f.info.interest = 0x1 | (1u << 31);
    f.info.returned_mask = 0x1;
    f.info.adds = 1;
    f.info.flags = EP_FD_REGISTERED;
    l.fds.push_back(f);
    WakerRow w;
    w.tid = 43;
    w.pid = 42;
    w.comm = "writer";
    w.count = 6;
    l.wakers.push_back(w);
    CostRow c;
    c.bucket = 1;
    c.cpu.record(1500, 10);
    l.cost.push_back(c);
    return l;
}

Snapshot sample() {
    Snapshot s;
    s.target = "./server (pid 42)";
    s.probe_mode = "tp_btf + syscall tracepoints";
    s.coverage.switches = s.coverage.wakeups = s.coverage.forks = true;
    s.counters[calls_slot(EP_SYS_EPOLL_WAIT)] = 7;
    s.counters[calls_slot(EP_SYS_EPOLL_PWAIT)] = 3;
    s.counters[calls_slot(EP_SYS_POLL)] = 4;
    s.counters[calls_slot(EP_SYS_PPOLL)] = 1;
    s.counters[calls_slot(EP_SYS_PSELECT6)] = 2;
    s.counters[EP_C_CTL] = 3;
    s.counters[EP_C_EVENTS] = 25;
    s.counters[EP_C_TIMEOUTS] = 1;
    s.loops.push_back(epoll_loop(42, 5));
    Loop p;
    p.pid = 42;
    p.key = EP_KEY_POLL;
    p.c.calls = 5;
    p.c.nonblocking = 4;
    s.loops.push_back(p);
    ThreadRow t;
    t.stats.tid = t.stats.pid = 42;
    t.stats.calls[EP_EPOLL] = 10;
    t.comm = "server";
    s.threads.push_back(t);
    return s;
}

}  // namespace

TEST(EpollReport, JsonTotalsUseTheContractNames) {
    auto j = json_report(sample());
    const auto& t = j["totals"];
    EXPECT_EQ(t["epoll_wait_calls"], 10);  // epoll_wait + epoll_pwait (+ epoll_pwait2)
    EXPECT_EQ(t["epoll_ctl_calls"], 3);
    EXPECT_EQ(t["poll_calls"], 5);    // poll + ppoll
    EXPECT_EQ(t["select_calls"], 2);  // select + pselect6
    EXPECT_EQ(t["events_returned"], 25);
    EXPECT_EQ(t["timeouts"], 1);
    EXPECT_EQ(t["calls_by_syscall"]["pselect6"], 2);
}

TEST(EpollReport, JsonInstancesArePerPidAndEpfdWithNamedHistograms) {
    auto j = json_report(sample());
    ASSERT_EQ(j["instances"].size(), 1u);  // epoll only; poll and select go to poll_select
    const auto& i = j["instances"][0];
    EXPECT_EQ(i["pid"], 42);
    EXPECT_EQ(i["epfd"], 5);
    EXPECT_EQ(i["calls"], 10);
    EXPECT_EQ(i["events"], 25);
    for (const char* h :
         {"blocked", "ready_to_return", "ready_wait_cpu", "ready_run", "events_per_call", "in_call",
          "cpu_in_call", "fds_per_call", "loop_busy", "overrun"}) {
        ASSERT_TRUE(i["histograms"].contains(h)) << h;
        for (const char* k : {"count", "p50_ns", "p90_ns", "p99_ns", "max_ns", "buckets", "unit"})
            EXPECT_TRUE(i["histograms"][h].contains(k)) << h << "." << k;
    }
    EXPECT_EQ(i["histograms"]["events_per_call"]["unit"], "events");
    EXPECT_EQ(i["histograms"]["events_per_call"]["p50_ns"], 2);
    EXPECT_EQ(i["histograms"]["blocked"]["unit"], "ns");
    EXPECT_EQ(i["interest"]["edge_triggered"], 1);
    EXPECT_EQ(i["fds"][0]["interest"], "IN|ET");
    EXPECT_EQ(i["wakers"][0]["context"], "task");
    EXPECT_EQ(i["wakers"][0]["comm"], "writer");
    EXPECT_EQ(i["cost_by_fds"][0]["fds_low"], 2);
    EXPECT_EQ(i["cost_by_fds"][0]["fds_high"], 3);
    ASSERT_EQ(j["poll_select"].size(), 1u);
    EXPECT_EQ(j["poll_select"][0]["kind"], "poll");
    EXPECT_FALSE(j["poll_select"][0].contains("epfd"));
}

TEST(EpollReport, UnmeasuredHistogramsAreLeftOut) {
    auto s = sample();
    s.coverage.switches = false;
    s.coverage.wakeups = false;
    auto j = json_report(s);
    const auto& h = j["instances"][0]["histograms"];
    EXPECT_FALSE(h.contains("blocked"));
    EXPECT_FALSE(h.contains("cpu_in_call"));
    EXPECT_FALSE(h.contains("ready_to_return"));
    EXPECT_TRUE(h.contains("events_per_call"));
    EXPECT_FALSE(j["measured"]["blocked"].get<bool>());
    std::string text = text_report(s, {});
    EXPECT_EQ(text.find("blocked time per call"), std::string::npos);
}

TEST(EpollReport, TextHasTotalsTablesAndDetail) {
    std::string text = text_report(sample(), {});
    for (const char* s :
         {"totals: epoll_wait calls 10 (epoll_wait 7, epoll_pwait 3", "epoll instances:",
          "poll and select:", "pid 42 (server), epoll instance (epfd 5)", "writer tid 43 (pid 42)",
          "edge-triggered 1", "per thread:", "events returned per call", "dropped: 0"})
        EXPECT_NE(text.find(s), std::string::npos) << s << "\n" << text;
}

TEST(EpollReport, SummarySaysWhenALoopBusyPolls) {
    auto s = sample();
    EXPECT_EQ(summary_lines(s).find("epoll: 10 calls returned 25 events (2.50 per call)"), 0u)
        << summary_lines(s);
    EXPECT_NE(summary_lines(s).find(
                  "poll: 5 calls returned 0 events (0.00 per call), 80.0% non-blocking; "),
              std::string::npos)
        << summary_lines(s);
    EXPECT_NE(summary_lines(s).find("busy-polls"), std::string::npos);
    EXPECT_EQ(summary_lines(Snapshot{}),
              "no epoll_wait, poll or select call returned in the traced tasks\n");
}

TEST(EpollReport, EventMasksAndWakers) {
    EXPECT_EQ(event_mask_text(0), "-");
    EXPECT_EQ(event_mask_text(0x1 | 0x4 | (1u << 30)), "IN|OUT|ONESHOT");
    EXPECT_EQ(event_mask_text(0x1 | 0x4000), "IN|0x4000");
    WakerRow w;
    w.tid = 10;
    w.pid = 9;
    w.comm = "client";
    EXPECT_EQ(w.describe(), "client tid 10 (pid 9)");
    w.interrupt = true;
    EXPECT_EQ(w.describe(), "interrupt (hardirq or softirq) on top of client tid 10 (pid 9)");
    w.tid = 0;
    EXPECT_EQ(w.describe(), "interrupt (hardirq or softirq) on an idle CPU");
}

TEST(EpollReport, LoopCountersAddUpOverCpus) {
    ep_loop a{}, b{};
    a.calls = 3;
    a.maxevents = 16;
    a.by_syscall[EP_SYS_PPOLL] = 3;
    b.calls = 4;
    b.maxevents = 64;
    b.herd_wakeups = 2;
    LoopCounters c;
    c.add(a);
    c.add(b);
    EXPECT_EQ(c.calls, 7u);
    EXPECT_EQ(c.maxevents, 64u);  // the largest, not a sum
    EXPECT_EQ(c.by_syscall[EP_SYS_PPOLL], 3u);
    EXPECT_EQ(c.herd_wakeups, 2u);
}

TEST(EpollReport, ProcessesSumTheirThreads) {
    Snapshot s;
    for (uint32_t tid : {42u, 43u, 50u}) {
        ThreadRow t;
        t.stats.tid = tid;
        t.stats.pid = tid == 50 ? 50 : 42;
        t.stats.calls[EP_POLL] = 2;
        t.stats.events = 5;
        t.comm = tid == 42 ? "main" : "worker";
        s.threads.push_back(t);
    }
    auto p = s.processes();
    ASSERT_EQ(p.size(), 2u);
    EXPECT_EQ(p[0].pid, 42u);
    EXPECT_EQ(p[0].comm, "main");
    EXPECT_EQ(p[0].threads, 2u);
    EXPECT_EQ(p[0].sum.calls[EP_POLL], 4u);
    EXPECT_EQ(p[0].sum.events, 10u);
}
