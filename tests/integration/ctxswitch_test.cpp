// ctxswitch-trace end to end: the real tool, the real BPF programs, real workloads.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "harness.h"

using harness::bin;
using harness::parse_json;
using harness::run;
using harness::RunOptions;
using nlohmann::json;

namespace {

json trace_json(const std::vector<std::string>& workload, std::vector<std::string> extra = {},
                harness::Result* result = nullptr) {
    std::vector<std::string> argv = {bin("ctxswitch-trace"), "--json", "-"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back("--");
    argv.insert(argv.end(), workload.begin(), workload.end());
    auto r = run(argv, harness::as_root());
    if (result)
        *result = r;
    EXPECT_EQ(r.status, 0) << r.err;
    // the workload's own stdout precedes the JSON document
    auto start = r.out.find("\n{");
    return parse_json(start == std::string::npos ? r.out : r.out.substr(start + 1));
}

uint64_t hist_count(const json& j, const std::string& name) {
    return j["histograms"][name]["count"].get<uint64_t>();
}

}  // namespace

TEST(CtxswitchTrace, ThreadPingPongSwitchesAndSameProcessHandoff) {
    REQUIRE_ROOT();
    const int n = 2000;
    // On one CPU a round trip cannot happen without switching to the partner and back,
    // and without at least one of the two going to sleep in futex_wait. (The other switch
    // is often involuntary: the woken partner preempts the waker before it waits.)
    json j = trace_json({bin("pingpong"), "--model", "thread", "--ipc", "futex", "--cpu", "0", "-n",
                         std::to_string(n)});
    EXPECT_GE(j["totals"]["switches"].get<uint64_t>(), 2u * n);
    EXPECT_GE(j["totals"]["voluntary"].get<uint64_t>(), uint64_t(n));
    EXPECT_GE(hist_count(j, "handoff_same_process"), uint64_t(n));
    EXPECT_EQ(hist_count(j, "handoff_cross_process"), 0u);
    EXPECT_EQ(j["totals"]["switches"], j["totals"]["voluntary"].get<uint64_t>() +
                                           j["totals"]["involuntary"].get<uint64_t>());
    EXPECT_NE(j["comparison"].get<std::string>().find("between threads of one process"),
              std::string::npos);
    for (const char* h : {"switch_cost_thread", "switch_cost_process", "wakeup_to_run",
                          "handoff_same_process", "handoff_cross_process", "off_cpu", "on_cpu"}) {
        ASSERT_TRUE(j["histograms"].contains(h)) << h;
        for (const char* k : {"count", "p50_ns", "p90_ns", "p99_ns", "max_ns", "buckets"})
            EXPECT_TRUE(j["histograms"][h].contains(k)) << h << "." << k;
    }
    EXPECT_GT(hist_count(j, "switch_cost_thread") + hist_count(j, "switch_cost_kernel"), 0u);
}

TEST(CtxswitchTrace, ProcessPingPongCrossProcessHandoff) {
    REQUIRE_ROOT();
    const int n = 2000;
    json j = trace_json(
        {bin("pingpong"), "--model", "process", "--ipc", "pipe", "-n", std::to_string(n)});
    EXPECT_GE(hist_count(j, "handoff_cross_process"), uint64_t(n));
    EXPECT_GE(j["totals"]["processes"].get<int>(), 2);
    EXPECT_NE(j["comparison"].get<std::string>().find("between processes"), std::string::npos);
}

// The traced count of the workload tree equals what the kernel's own accounting says.
static void expect_matches_rusage(const std::vector<std::string>& extra) {
    std::string counts = harness::temp_path("rusage");
    json j = trace_json({bin("run-and-count"), counts, bin("pingpong"), "--model", "process",
                         "--ipc", "futex", "-n", "3000"},
                        extra);
    long nv = 0, niv = 0;
    int wrapper = 0;
    FILE* f = fopen(counts.c_str(), "r");
    ASSERT_TRUE(f);
    ASSERT_EQ(fscanf(f, "%ld %ld %d", &nv, &niv, &wrapper), 3);
    fclose(f);
    unlink(counts.c_str());
    uint64_t traced = 0;
    for (auto& t : j["threads"])
        if (t["pid"].get<int>() != wrapper)
            traced += t["voluntary"].get<uint64_t>() + t["involuntary"].get<uint64_t>();
    double expected = double(nv + niv);
    ASSERT_GT(expected, 3000.0);
    EXPECT_NEAR(double(traced), expected, expected * 0.01)
        << "traced " << traced << ", getrusage " << nv << "+" << niv;
    // the totals agree with the per-thread rows
    uint64_t all = 0;
    for (auto& t : j["threads"])
        all += t["voluntary"].get<uint64_t>() + t["involuntary"].get<uint64_t>();
    EXPECT_EQ(all, j["totals"]["switches"].get<uint64_t>());
}

TEST(CtxswitchTrace, TotalsMatchGetrusageOfTheWorkloadTree) {
    REQUIRE_ROOT();
    expect_matches_rusage({});
}

TEST(CtxswitchTrace, RawTracepointTwinsGiveTheSameCounts) {
    REQUIRE_ROOT();
    std::string counts = harness::temp_path("rusage");
    json j = trace_json(
        {bin("pingpong"), "--model", "thread", "--ipc", "futex", "--cpu", "0", "-n", "1000"},
        {"--raw-tp"});
    EXPECT_EQ(j["probe_mode"], "raw_tp");
    EXPECT_GE(j["totals"]["switches"].get<uint64_t>(), 2000u);
    EXPECT_GE(j["totals"]["voluntary"].get<uint64_t>(), 1000u);
    EXPECT_GE(hist_count(j, "handoff_same_process"), 1000u);
    expect_matches_rusage({"--raw-tp"});
}

TEST(CtxswitchTrace, EveryForkedProcessAndThreadAppears) {
    REQUIRE_ROOT();
    std::string list = harness::temp_path("tids");
    json j = trace_json({bin("spawn-tree"), list});
    std::set<int> traced;
    for (auto& t : j["threads"])
        traced.insert(t["tid"].get<int>());
    std::ifstream f(list);
    int tid, pid, seen = 0;
    std::set<int> pids;
    while (f >> tid >> pid) {
        seen++;
        pids.insert(pid);
        EXPECT_TRUE(traced.count(tid)) << "task " << tid << " of process " << pid << " is missing";
    }
    unlink(list.c_str());
    EXPECT_EQ(seen, 1 + 3 * 3);  // parent, 3 children with 2 threads each
    EXPECT_EQ(pids.size(), 4u);
    EXPECT_GE(j["totals"]["processes"].get<size_t>(), 4u);
    EXPECT_GE(j["totals"]["forks"].get<int>(), 9);
}

TEST(CtxswitchTrace, UnderSudoTheWorkloadRunsAsTheInvokingUser) {
    REQUIRE_ROOT();
    RunOptions o;
    o.env["SUDO_UID"] = "65534";
    o.env["SUDO_GID"] = "65534";
    auto r = run({bin("ctxswitch-trace"), "--", "sh", "-c",
                  "echo uid=$(id -u) gid=$(id -g) groups=$(id -G) >&2"},
                 o);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("uid=65534 gid=65534"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("groups=0"), std::string::npos) << "kept root's groups: " << r.err;
    // and --run-as-root keeps root
    auto root = run(
        {bin("ctxswitch-trace"), "--run-as-root", "--", "sh", "-c", "echo uid=$(id -u) >&2"}, o);
    EXPECT_NE(root.err.find("uid=0"), std::string::npos) << root.err;
}

TEST(CtxswitchTrace, UnderSudoACommandTheUserCannotReachIsOneClearLine) {
    REQUIRE_ROOT();
    // The command in a directory only root may enter, like a build tree under /root.
    harness::ReachableCopy copy("/bin/true");
    chmod(copy.dir().c_str(), 0700);
    RunOptions o;
    o.env["SUDO_UID"] = "65534";
    o.env["SUDO_GID"] = "65534";
    auto r = run({bin("ctxswitch-trace"), "--", copy.path()}, o);
    EXPECT_EQ(r.status, 126);
    EXPECT_EQ(r.err, "ctxswitch-trace: user nobody cannot reach " + copy.path() + ": " +
                         copy.dir() +
                         " (mode 0700, owner root) is closed to it: put the program where that "
                         "user can reach it, or keep root for it with --run-as-root\n");
    EXPECT_TRUE(harness::our_programs_loaded().empty());
}

TEST(CtxswitchTrace, ExitStatusOfTheWorkloadIsPassedOn) {
    REQUIRE_ROOT();
    EXPECT_EQ(run({bin("ctxswitch-trace"), "--", "sh", "-c", "exit 7"}, harness::as_root()).status,
              7);
    auto killed =
        run({bin("ctxswitch-trace"), "--", "sh", "-c", "kill -SEGV $$"}, harness::as_root());
    EXPECT_EQ(killed.status, 128 + SIGSEGV);
    EXPECT_NE(killed.out.find("killed by SIGSEGV"), std::string::npos) << killed.out;
}

TEST(CtxswitchTrace, AttachToARunningProcess) {
    REQUIRE_ROOT();
    // a ping-pong that runs for a few seconds on its own
    pid_t workload = 0;
    std::thread bg([&] {
        run({bin("pingpong"), "--model", "thread", "--ipc", "pipe", "-d", "4"},
            RunOptions{{}, 60, [&](pid_t p) { workload = p; }});
    });
    while (!workload)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let it start its threads
    auto r = run({bin("ctxswitch-trace"), "-p", std::to_string(workload), "-d", "1", "--json", "-"},
                 harness::as_root());
    bg.join();
    EXPECT_EQ(r.status, 0) << r.err;
    json j = parse_json(r.out);
    std::set<int> pids;
    for (auto& t : j["threads"])
        pids.insert(t["pid"].get<int>());
    EXPECT_EQ(pids, std::set<int>{workload});
    EXPECT_GE(j["threads"].size(), 2u);  // the two partners
    EXPECT_GT(j["totals"]["voluntary"].get<uint64_t>(), 1000u);
    EXPECT_GT(hist_count(j, "handoff_same_process"), 500u);
    // it runs on while the report is read: the numbers still agree with each other
    uint64_t vol = 0, invol = 0;
    for (auto& t : j["threads"]) {
        vol += t["voluntary"].get<uint64_t>();
        invol += t["involuntary"].get<uint64_t>();
    }
    EXPECT_EQ(vol, j["totals"]["voluntary"].get<uint64_t>());
    EXPECT_EQ(invol, j["totals"]["involuntary"].get<uint64_t>());
    EXPECT_TRUE(harness::our_programs_loaded().empty());
}

TEST(CtxswitchTrace, KernelWithoutSchedExitTpOmitsSwitchCost) {
    REQUIRE_ROOT();
    harness::Result r;
    json j = trace_json({bin("pingpong"), "--model", "thread", "--ipc", "futex", "-n", "200"},
                        {"--without", "sched_exit_tp"}, &r);
    EXPECT_FALSE(j["switch_cost_measured"].get<bool>());
    EXPECT_FALSE(j["histograms"].contains("switch_cost_thread"));
    EXPECT_GE(hist_count(j, "handoff_same_process"), 200u);
    bool said = false;
    for (auto& w : j["warnings"])
        said |= w.get<std::string>().find("no sched_exit_tp") != std::string::npos;
    EXPECT_TRUE(said) << j["warnings"];
}

TEST(CtxswitchTrace, KernelWithoutSchedSwitchIsAClearError) {
    REQUIRE_ROOT();
    auto r = run({bin("ctxswitch-trace"), "--without", "sched_switch", "--", "true"},
                 harness::as_root());
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("the kernel has no sched_switch tracepoint"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1);
    EXPECT_TRUE(harness::our_programs_loaded().empty());
}

TEST(CtxswitchTrace, SigintReportsDetachesAndPassesTheStatusOn) {
    REQUIRE_ROOT();
    pid_t tool = 0;
    std::thread killer;
    auto opts = harness::as_root();
    opts.on_start = [&](pid_t p) {
        tool = p;
        killer = std::thread([p] {
            std::this_thread::sleep_for(std::chrono::milliseconds(1500));
            kill(p, SIGINT);  // sent to the tool alone: it passes it on to the workload
        });
    };
    auto r = run({bin("ctxswitch-trace"), "--", "sleep", "30"}, opts);
    killer.join();
    EXPECT_EQ(r.status, 128 + SIGINT) << r.err;
    EXPECT_NE(r.out.find("totals:"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("killed by SIGINT"), std::string::npos) << r.out;
    EXPECT_TRUE(harness::our_programs_loaded().empty());
}

TEST(CtxswitchTrace, DurationEndsALaunchedWorkload) {
    REQUIRE_ROOT();
    auto r = run({bin("ctxswitch-trace"), "-d", "0.5", "--", "sleep", "30"}, harness::as_root());
    EXPECT_EQ(r.status, 128 + SIGTERM);
    EXPECT_NE(r.out.find("the duration elapsed"), std::string::npos) << r.out;
}

TEST(CtxswitchTrace, JsonToAFileIsWholeAndTextStillPrinted) {
    REQUIRE_ROOT();
    std::string path = harness::temp_path("out.json");
    auto r = run({bin("ctxswitch-trace"), "--json", path, "--", bin("pingpong"), "--model",
                  "thread", "--ipc", "futex", "-n", "100"},
                 harness::as_root());
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("totals:"), std::string::npos);
    json j = parse_json(harness::read_file(path));
    EXPECT_EQ(j["tool"], "ctxswitch-trace");
    EXPECT_GT(j["totals"]["switches"].get<uint64_t>(), 0u);
    unlink(path.c_str());
    auto bad = run({bin("ctxswitch-trace"), "--json", "/nonexistent-dir/out.json", "--", "true"},
                   harness::as_root());
    EXPECT_NE(bad.status, 0);
    EXPECT_NE(bad.err.find("cannot write /nonexistent-dir/out.json"), std::string::npos) << bad.err;
}

TEST(CtxswitchTrace, UserSwitchesCountedThroughAUprobe) {
    REQUIRE_ROOT();
    const int n = 5000;
    json j = trace_json(
        {bin("pingpong"), "--model", "coroutine", "--ipc", "asm", "-n", std::to_string(n)},
        {"--user-switch", "coro_switch"});
    ASSERT_TRUE(j.contains("user_switches")) << j.dump().substr(0, 500);
    uint64_t calls = j["user_switches"]["count"].get<uint64_t>();
    // two switches a round trip, plus the coroutine's start and end
    EXPECT_GE(calls, 2u * n);
    EXPECT_LE(calls, 2u * n + 16);
    EXPECT_GT(j["user_switches"]["uprobe_cost_ns"].get<double>(), 0.0);
    // and the kernel saw (almost) no switches for it
    EXPECT_LT(j["totals"]["switches"].get<uint64_t>(), uint64_t(n) / 10);
    auto bad = run({bin("ctxswitch-trace"), "--user-switch", "no_such_function_xyz", "--",
                    bin("pingpong"), "--model", "coroutine", "--ipc", "asm", "-n", "10"},
                   harness::as_root());
    EXPECT_EQ(bad.status, 1);
    EXPECT_NE(bad.err.find("--user-switch: no function no_such_function_xyz"), std::string::npos)
        << bad.err;
    EXPECT_TRUE(harness::our_programs_loaded().empty());
}

TEST(CtxswitchTrace, CompareHelpPrintsUsageAndExitsZero) {
    auto c = run({bin("ctxswitch-trace"), "compare", "--help"});
    EXPECT_EQ(c.status, 0);
    EXPECT_NE(c.out.find("--quick"), std::string::npos) << c.out;
}

TEST(CtxswitchTrace, OneThreadOnly) {
    REQUIRE_ROOT();
    pid_t workload = 0;
    std::thread bg([&] {
        run({bin("pingpong"), "--model", "thread", "--ipc", "pipe", "-d", "3"},
            RunOptions{{}, 60, [&](pid_t p) { workload = p; }});
    });
    while (!workload)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    // once it runs its round trips (after measuring its baseline), take its partner thread
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    std::vector<int> tids;
    auto ls = run({"ls", "/proc/" + std::to_string(workload) + "/task"});
    std::istringstream in(ls.out);
    int tid;
    while (in >> tid)
        if (tid != workload)
            tids.push_back(tid);
    ASSERT_FALSE(tids.empty()) << ls.out;
    int target = tids.back();
    auto r = run({bin("ctxswitch-trace"), "-t", std::to_string(target), "-d", "1", "--json", "-"},
                 harness::as_root());
    bg.join();
    EXPECT_EQ(r.status, 0) << r.err;
    json j = parse_json(r.out);
    ASSERT_EQ(j["threads"].size(), 1u) << r.out.substr(0, 1000);
    EXPECT_EQ(j["threads"][0]["tid"].get<int>(), target);
    EXPECT_GT(j["threads"][0]["voluntary"].get<uint64_t>(), 100u);
    // its partner is not traced, so nobody traced woke it
    EXPECT_EQ(hist_count(j, "handoff_same_process"), 0u);
    auto gone = run({bin("ctxswitch-trace"), "-t", "2147480000", "-d", "1"}, harness::as_root());
    EXPECT_EQ(gone.status, 1);
    EXPECT_EQ(gone.err, "ctxswitch-trace: no such thread: 2147480000 (check it with ps -eLf)\n");
}

TEST(CtxswitchTrace, IntervalReportsWhileTheWorkloadRuns) {
    REQUIRE_ROOT();
    auto r = run({bin("ctxswitch-trace"), "-i", "0.3", "--", "sleep", "1.2"}, harness::as_root());
    EXPECT_EQ(r.status, 0) << r.err;
    size_t reports = 0;
    for (size_t at = r.out.find("totals:"); at != std::string::npos;
         at = r.out.find("totals:", at + 1))
        reports++;
    // about four interval reports (late ones are caught up), then the final one
    EXPECT_GE(reports, 2u) << r.out;
    EXPECT_LE(reports, 6u) << r.out;
}

TEST(CtxswitchTrace, CtrlCOnAnAttachedProcessReportsAndDetaches) {
    REQUIRE_ROOT();
    pid_t workload = 0;
    std::thread bg([&] {
        run({"sleep", "4"}, RunOptions{{}, 60, [&](pid_t p) { workload = p; }});
    });
    while (!workload)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::thread killer;
    auto opts = harness::as_root();
    opts.on_start = [&](pid_t tool) {
        killer = std::thread([tool] {
            std::this_thread::sleep_for(std::chrono::milliseconds(1000));
            kill(tool, SIGINT);
        });
    };
    auto r = run({bin("ctxswitch-trace"), "-p", std::to_string(workload)}, opts);
    killer.join();
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("; interrupted"), std::string::npos) << r.out;
    EXPECT_TRUE(harness::our_programs_loaded().empty());
    EXPECT_EQ(kill(workload, 0), 0) << "the traced process must survive the tool";
    bg.join();
}

TEST(CtxswitchTrace, TimerInterruptWakeupsNameNoWaker) {
    REQUIRE_ROOT();
    // the sleeper's timer fires while its sibling spins in user mode on the same CPU
    json j = trace_json({bin("timer-wakeups"), "200"});
    EXPECT_GE(j["totals"]["wakeups"].get<uint64_t>(), 200u);
    EXPECT_LE(hist_count(j, "handoff_same_process"), 2u) << "interrupts were taken for wakers";
}
