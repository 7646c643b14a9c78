// ctxswitch-trace's report writers on a hand-made snapshot: the JSON contract and the text.
#include <gtest/gtest.h>

#include <cstring>

#include "report.h"

using namespace ctxswitch;

namespace {

ThreadRow thread(uint32_t tid, uint32_t pid, const char* comm, uint64_t vol, uint64_t invol) {
    ThreadRow t;
    t.stats.tid = tid;
    t.stats.pid = pid;
    strncpy(t.stats.comm, comm, sizeof t.stats.comm - 1);
    t.comm = comm;
    t.stats.voluntary = vol;
    t.stats.involuntary = invol;
    t.stats.on_cpu_ns = 1000 * (vol + invol);
    t.stats.wait_ns = 500 * vol;
    t.stats.wait_count = vol;
    t.stats.switch_in_cost_ns[CS_KIND_THREAD] = 800 * vol;
    t.stats.switch_in_count[CS_KIND_THREAD] = vol;
    return t;
}

Snapshot sample() {
    Snapshot s;
    s.target = "./demo (pid 10)";
    s.command = {"./demo"};
    s.probe_mode = "tp_btf";
    s.duration_s = 1.5;
    s.switch_cost_measured = true;
    s.counters[CS_C_SWITCHES] = 330;
    s.counters[CS_C_VOLUNTARY] = 300;
    s.counters[CS_C_INVOLUNTARY] = 30;
    s.counters[CS_C_MIGRATIONS] = 4;
    s.counters[CS_C_DROP_EXITED] = 2;
    s.threads = {thread(10, 10, "demo", 100, 10), thread(11, 10, "demo-worker", 100, 10),
                 thread(20, 20, "child", 100, 10)};
    for (int i = 0; i < 100; i++) {
        s.hists[CS_H_HANDOFF_SAME].record(2000);
        s.hists[CS_H_HANDOFF_CROSS].record(4000);
        s.hists[CS_H_SWITCH_COST + CS_KIND_THREAD].record(500);
        s.hists[CS_H_WAKEUP_TO_RUN + CS_KIND_KERNEL].record(3000);
        s.hists[CS_H_WAKEUP_TO_RUN + CS_KIND_THREAD].record(1000);
    }
    return s;
}

}  // namespace

TEST(CtxswitchReport, JsonContract) {
    auto j = json_report(sample());
    for (const char* k : {"switches", "voluntary", "involuntary", "migrations"})
        EXPECT_TRUE(j["totals"].contains(k)) << k;
    EXPECT_EQ(j["totals"]["voluntary"], 300);
    EXPECT_EQ(j["totals"]["processes"], 2);
    ASSERT_EQ(j["threads"].size(), 3u);
    for (auto& t : j["threads"])
        for (const char* k : {"tid", "pid", "comm", "voluntary", "involuntary"})
            EXPECT_TRUE(t.contains(k)) << k;
    EXPECT_EQ(j["threads"][1]["comm"], "demo-worker");
    for (const char* h : {"switch_cost_thread", "switch_cost_process", "wakeup_to_run",
                          "handoff_same_process", "handoff_cross_process", "off_cpu", "on_cpu"})
        for (const char* k : {"count", "p50_ns", "p90_ns", "p99_ns", "max_ns", "buckets"})
            EXPECT_TRUE(j["histograms"][h].contains(k)) << h << "." << k;
    // wakeup_to_run merges the three splits
    EXPECT_EQ(j["histograms"]["wakeup_to_run"]["count"], 200);
    EXPECT_EQ(j["dropped"]["exited_threads"], 2);
    auto& procs = j["processes"];
    ASSERT_EQ(procs.size(), 2u);
    EXPECT_EQ(procs[0]["pid"], 10);
    EXPECT_EQ(procs[0]["threads"], 2);
    EXPECT_EQ(procs[0]["voluntary"], 200);
    EXPECT_EQ(procs[0]["comm"], "demo");  // the main thread names the process
}

TEST(CtxswitchReport, SwitchCostOmittedWhenNotMeasured) {
    auto s = sample();
    s.switch_cost_measured = false;
    auto j = json_report(s);
    EXPECT_FALSE(j["histograms"].contains("switch_cost_thread"));
    EXPECT_TRUE(j["histograms"].contains("handoff_same_process"));
    auto text = text_report(s, {});
    EXPECT_NE(text.find("switch cost: not measured"), std::string::npos);
    EXPECT_EQ(text.find("in-kernel switch cost p50"), std::string::npos);
}

TEST(CtxswitchReport, HandoffComparisonLine) {
    auto s = sample();
    EXPECT_EQ(handoff_comparison(s),
              "handoff p50: 2.00 us between threads of one process (100) vs 4.00 us between "
              "processes (100): "
              "thread handoff is 0.50x process handoff");
    s.hists[CS_H_HANDOFF_CROSS] = tk::Histogram();
    EXPECT_NE(handoff_comparison(s).find("none between processes"), std::string::npos);
    s.hists[CS_H_HANDOFF_SAME] = tk::Histogram();
    EXPECT_NE(handoff_comparison(s).find("no traced task woke another traced task"),
              std::string::npos);
}

TEST(CtxswitchReport, TextHasTheComparisonFirstAndEveryTable) {
    auto text = text_report(sample(), {});
    auto first_newline = text.find('\n');
    EXPECT_NE(text.find("handoff p50", first_newline), std::string::npos);
    EXPECT_LT(text.find("handoff p50"), text.find("totals:"));
    for (const char* part : {"per process:", "per thread:", "demo-worker", "dropped: 2",
                             "switch cost: thread switch", "off-CPU time", "on-CPU slice", "|"})
        EXPECT_NE(text.find(part), std::string::npos) << part;
}

TEST(CtxswitchReport, ThreadTableIsCappedUnlessVerbose) {
    auto s = sample();
    for (uint32_t i = 0; i < 30; i++)
        s.threads.push_back(thread(100 + i, 100, "many", 1, 0));
    auto text = text_report(s, {});
    EXPECT_NE(text.find("... 13 more threads"), std::string::npos);
    ReportOptions verbose;
    verbose.verbose = 1;
    EXPECT_EQ(text_report(s, verbose).find("more threads"), std::string::npos);
}

TEST(CtxswitchReport, RusageCrossCheckLine) {
    auto s = sample();
    struct rusage ru = {};
    ru.ru_nvcsw = 300;
    ru.ru_nivcsw = 30;
    s.workload_rusage = ru;
    EXPECT_NE(
        text_report(s, {}).find("getrusage counts 330 switches (300 + 30); traced 330 (+0.00%)"),
        std::string::npos);
}

// --stacks: the folded form puts the sleeper outermost first, then "--", then the waker
// innermost first and its name; the report shows the share of the off-CPU total.
TEST(CtxswitchStacks, FoldedLineJoinsSleeperAndWaker) {
    ctxswitch::OffCpuStacks s;
    s.enabled = true;
    ctxswitch::OffCpuStack e;
    e.pid = 42;
    e.comm = "app";
    e.off_cpu_ns = 1500;
    e.count = 3;
    e.user = {"read", "reader", "main"};
    e.kernel = {"__schedule", "schedule", "pipe_read"};
    e.woken = true;
    e.waker_pid = 42;
    e.waker_comm = "writer";
    e.waker_kernel = {"try_to_wake_up", "pipe_write"};
    e.waker_user = {"write", "produce"};
    ctxswitch::OffCpuStack irq;
    irq.pid = 42;
    irq.comm = "app";
    irq.off_cpu_ns = 500;
    irq.count = 1;
    irq.kernel = {"__schedule"};
    irq.woken = true;
    irq.waker_comm = "[interrupt]";
    irq.waker_kernel = {"hrtimer_wakeup"};
    s.entries = {e, irq};
    s.off_cpu_ns = 2000;
    s.count = 4;
    EXPECT_EQ(ctxswitch::folded_stacks(s),
              "app;__schedule;--;hrtimer_wakeup;[interrupt] 500\n"
              "app;main;reader;read;pipe_read;schedule;__schedule;--;try_to_wake_up;pipe_write;"
              "write;produce;writer 1500\n");
    std::string text = ctxswitch::stacks_text(s, 4000, 10, 12);
    EXPECT_NE(text.find("(50.0% of the off-CPU time above)"), std::string::npos) << text;
    EXPECT_NE(text.find("woken by writer (pid 42)"), std::string::npos) << text;
    EXPECT_NE(text.find("woken from an interrupt"), std::string::npos) << text;
    auto j = ctxswitch::stacks_json(s);
    EXPECT_EQ(j["stacks"][0]["waker"]["user_stack"][1], "produce");
    EXPECT_EQ(j["stacks"][1]["waker"]["pid"], 0);
}
