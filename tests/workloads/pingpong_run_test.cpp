// pingpong, run for real: every model/IPC pair with a small N, the invariants it checks on
// itself, the JSON contract the comparison relies on, the getrusage cross-check, bad input.
#include <cstdio>
#include <fstream>

#include <gtest/gtest.h>

#include "run_tool.h"

namespace {

using nlohmann::json;
using wltest::run_json;
using wltest::run_tool;

struct Pair {
    std::string model, ipc;
    friend std::ostream& operator<<(std::ostream& os, const Pair& p) {
        return os << p.model << " " << p.ipc;
    }
};

// The interface the comparison is built on. --list must print exactly these, in any order.
const std::vector<Pair> kPairs = {
    {"process", "pipe"},     {"process", "socketpair"}, {"process", "eventfd"},
    {"process", "futex"},    {"process", "posix-sem"},  {"process", "sysv-sem"},
    {"process", "mqueue"},   {"process", "signal"},     {"thread", "futex"},
    {"thread", "condvar"},   {"thread", "pipe"},        {"thread", "eventfd"},
    {"thread", "semaphore"}, {"coroutine", "asm"},      {"coroutine", "ucontext"},
    {"coroutine", "cxx20"},
};

TEST(Pingpong, ListPrintsEveryPairOnce) {
    auto run = run_tool("pingpong", {"--list"});
    ASSERT_EQ(run.exit_code, 0) << run.err;
    auto got = wltest::lines(run.out);
    std::vector<std::string> want;
    for (const auto& p : kPairs)
        want.push_back(p.model + " " + p.ipc);
    std::sort(got.begin(), got.end());
    std::sort(want.begin(), want.end());
    EXPECT_EQ(got, want);
}

class PingpongPair : public ::testing::TestWithParam<Pair> {};

// Each pair runs N round trips and must account for every token: N sent, N echoed back
// unchanged, N seen in sequence by the partner.
TEST_P(PingpongPair, PassesEveryTokenAndReportsTheContract) {
    const auto& p = GetParam();
    const uint64_t n = p.model == "coroutine" ? 20000 : 300;
    // both sides on one CPU: every handoff is then a switch (unpinned on an idle machine, a
    // futex waiter on the other CPU often finds the word already changed and never sleeps)
    json j = run_json("pingpong",
                      {"--model", p.model, "--ipc", p.ipc, "-n", std::to_string(n), "--cpu", "0"});
    for (const char* key :
         {"model", "ipc", "iterations", "cpus", "rtt", "rtt_p50_ns", "rtt_p99_ns", "baseline_ns",
          "switch_cost_ns", "voluntary_switches", "involuntary_switches", "kernel_switches_per_rt",
          "user_switches_per_rt", "verified"})
        ASSERT_TRUE(j.contains(key)) << "missing key " << key << " in " << j.dump();
    EXPECT_EQ(j["model"], p.model);
    EXPECT_EQ(j["ipc"], p.ipc);
    EXPECT_EQ(j["iterations"], n);
    EXPECT_EQ(j["cpus"], "0");
    EXPECT_EQ(j["verified"], true);
    EXPECT_EQ(j["tokens"]["sent"], n);
    EXPECT_EQ(j["tokens"]["echoed"], n);
    EXPECT_EQ(j["tokens"]["pong_received"], n);
    EXPECT_EQ(j["tokens"]["mismatched"], 0);
    // The histogram holds one entry per round trip and its percentiles are ordered.
    EXPECT_EQ(j["rtt"]["count"], n);
    EXPECT_LE(j["rtt_p50_ns"].get<double>(), j["rtt_p99_ns"].get<double>());
    if (p.model == "coroutine") {
        // Timed in batches: the percentiles are those of full-batch totals, per round trip.
        ASSERT_GT(j["batch"].get<uint64_t>(), 1u);
        double batch = j["batch"].get<double>();
        EXPECT_EQ(j["rtt_batches"]["count"].get<uint64_t>(), n / j["batch"].get<uint64_t>());
        EXPECT_DOUBLE_EQ(j["rtt_p50_ns"].get<double>(),
                         j["rtt_batches"]["p50_ns"].get<double>() / batch);
        EXPECT_DOUBLE_EQ(j["baseline_ns"].get<double>(),
                         j["baseline_batches"]["p50_ns"].get<double>() / batch);
    } else {
        EXPECT_EQ(j["batch"], 1);
        EXPECT_DOUBLE_EQ(j["rtt_p50_ns"].get<double>(), j["rtt"]["p50_ns"].get<double>());
        EXPECT_DOUBLE_EQ(j["baseline_ns"].get<double>(), j["baseline"]["p50_ns"].get<double>());
    }
    EXPECT_GT(j["baseline"]["count"].get<uint64_t>(), 0u);
    // The estimate is derived exactly as documented.
    double expected_cost = (j["rtt_p50_ns"].get<double>() - j["baseline_ns"].get<double>()) / 2.0;
    EXPECT_DOUBLE_EQ(j["switch_cost_ns"].get<double>(), expected_cost);
    double kernel_per_rt = j["kernel_switches_per_rt"].get<double>();
    double rusage_total =
        j["voluntary_switches"].get<double>() + j["involuntary_switches"].get<double>();
    EXPECT_DOUBLE_EQ(kernel_per_rt, rusage_total / double(n));
    if (p.model == "coroutine") {
        // Counted by the workload itself: into the coroutine and back, every round trip.
        EXPECT_EQ(j["user_switches"], 2 * n);
        EXPECT_DOUBLE_EQ(j["user_switches_per_rt"].get<double>(), 2.0);
    } else {
        EXPECT_DOUBLE_EQ(j["user_switches_per_rt"].get<double>(), 0.0);
        // Every round trip blocks each side once in the kernel (the baseline does not).
        EXPECT_GE(kernel_per_rt, 1.5) << j.dump();
    }
}

INSTANTIATE_TEST_SUITE_P(AllPairs, PingpongPair, ::testing::ValuesIn(kPairs),
                         [](const ::testing::TestParamInfo<Pair>& info) {
                             std::string name = info.param.model + "_" + info.param.ipc;
                             for (auto& c : name)
                                 if (c == '-')
                                     c = '_';
                             return name;
                         });

// Cross-check against getrusage: the thread futex ping-pong blocks each side once per round
// trip, about 2 kernel switches; pinned to one CPU the two threads must take turns, which
// keeps it about 2 however the scheduler decides.
TEST(Pingpong, ThreadFutexMakesAboutTwoKernelSwitchesPerRoundTrip) {
    for (std::vector<std::string> extra : {std::vector<std::string>{}, {"--cpu", "0"}}) {
        std::vector<std::string> args = {"--model", "thread", "--ipc", "futex", "-n", "3000"};
        args.insert(args.end(), extra.begin(), extra.end());
        json j = run_json("pingpong", args);
        EXPECT_EQ(j["verified"], true);
        EXPECT_GE(j["kernel_switches_per_rt"].get<double>(), 1.5) << j.dump();
        EXPECT_LE(j["kernel_switches_per_rt"].get<double>(), 4.0) << j.dump();
    }
}

// Coroutine switches are invisible to the kernel: whatever few switches the process makes
// (start-up, timer preemption) vanish when spread over many round trips.
TEST(Pingpong, CoroutinesMakeAboutZeroKernelSwitchesPerRoundTrip) {
    for (const char* ipc : {"asm", "ucontext", "cxx20"}) {
        json j = run_json("pingpong", {"--model", "coroutine", "--ipc", ipc, "-n", "200000"});
        EXPECT_EQ(j["verified"], true);
        EXPECT_LT(j["kernel_switches_per_rt"].get<double>(), 0.05) << j.dump();
        EXPECT_DOUBLE_EQ(j["user_switches_per_rt"].get<double>(), 2.0);
    }
}

TEST(Pingpong, PinningIsReportedAndKeepsTheInvariants) {
    json j =
        run_json("pingpong", {"--model", "process", "--ipc", "pipe", "-n", "200", "--cpu", "0"});
    EXPECT_EQ(j["cpus"], "0");
    EXPECT_EQ(j["verified"], true);
    j = run_json("pingpong", {"--model", "thread", "--ipc", "futex", "-n", "200", "--cpu", "0-0"});
    EXPECT_EQ(j["cpus"], "0");
}

// -d alone: as many round trips as fit, all accounted for.
TEST(Pingpong, DurationModeRunsUntilTheDeadline) {
    json j = run_json("pingpong", {"--model", "thread", "--ipc", "pipe", "-d", "0.2"});
    EXPECT_EQ(j["verified"], true);
    EXPECT_TRUE(j["requested_iterations"].is_null());
    EXPECT_GT(j["iterations"].get<uint64_t>(), 0u);
    EXPECT_EQ(j["tokens"]["pong_received"], j["iterations"]);
}

// --json FILE: the object goes to the file, the text report still to stdout.
TEST(Pingpong, JsonFileKeepsTheTextReport) {
    std::string path = wltest::temp_path("pingpong.json");
    auto run = run_tool("pingpong",
                        {"--model", "coroutine", "--ipc", "asm", "-n", "1000", "--json", path});
    ASSERT_EQ(run.exit_code, 0) << run.err;
    EXPECT_NE(run.out.find("verified: yes"), std::string::npos) << run.out;
    std::ifstream in(path);
    json j = json::parse(in);
    EXPECT_EQ(j["ipc"], "asm");
    EXPECT_EQ(j["iterations"], 1000);
    std::remove(path.c_str());
}

// Bad input: one line on stderr naming the tool, nothing on stdout, non-zero status.
TEST(Pingpong, BadOptionsGiveOneLineAndFail) {
    const std::vector<std::vector<std::string>> cases = {
        {},
        {"--model", "fiber", "--ipc", "asm"},
        {"--model", "thread"},
        {"--model", "thread", "--ipc", "signal"},
        {"--model", "process", "--ipc", "condvar"},
        {"--model", "thread", "--ipc", "futex", "--cpu", "4096"},
        {"--model", "thread", "--ipc", "futex", "--cpu", "1-0"},
        {"--model", "thread", "--ipc", "futex", "--cpu", "x"},
        {"--model", "thread", "--ipc", "futex", "--cpu", "0,"},
        {"--model", "thread", "--ipc", "futex", "-n", "0"},
        {"--model", "thread", "--ipc", "futex", "-n", "many"},
        {"--model", "thread", "--ipc", "futex", "-d", "-1"},
        {"--model", "thread", "--ipc", "futex", "--frobnicate"},
        {"--model", "thread", "--ipc", "futex", "-n", "10", "--json", "/nonexistent/dir/x.json"},
    };
    for (const auto& args : cases)
        wltest::expect_one_line_error("pingpong", args);
}

}  // namespace
