// pools, run for real: every mode completes every task exactly once with the right result.
#include <gtest/gtest.h>

#include "run_tool.h"

namespace {

using nlohmann::json;
using wltest::run_json;

class PoolsMode : public ::testing::TestWithParam<std::string> {};

TEST_P(PoolsMode, CompletesEveryTaskOnceWithTheRightResult) {
    const uint64_t n = 200;
    json j = run_json("pools", {"--mode", GetParam(), "-w", "2", "-n", std::to_string(n),
                                "--task-bytes", "1024"});
    EXPECT_EQ(j["workload"], "pools");
    EXPECT_EQ(j["verified"], true);
    ASSERT_EQ(j["runs"].size(), 1u);
    const json& r = j["runs"][0];
    for (const char* key : {"mode", "tasks", "elapsed_s", "tasks_per_sec", "latency",
                            "latency_p50_ns", "latency_p99_ns", "cpu_s", "voluntary_switches",
                            "involuntary_switches", "switches_per_task", "verified"})
        ASSERT_TRUE(r.contains(key)) << "missing " << key << " in " << r.dump();
    EXPECT_EQ(r["mode"], GetParam());
    EXPECT_EQ(r["tasks"], n);
    EXPECT_EQ(r["submitted"], n);
    EXPECT_EQ(r["latency"]["count"], n);
    EXPECT_EQ(r["wrong_results"], 0);
    EXPECT_EQ(r["unexpected_completions"], 0);
    EXPECT_EQ(r["bad_exits"], 0);
    EXPECT_LE(r["latency_p50_ns"].get<uint64_t>(), r["latency_p99_ns"].get<uint64_t>());
    if (GetParam() == "fork-per-task") {
        // Every task is a process the kernel had to schedule at least once onto a CPU and
        // off it again when it exited; getrusage of the reaped children counts those.
        EXPECT_GE(
            r["voluntary_switches"].get<uint64_t>() + r["involuntary_switches"].get<uint64_t>(), n);
    }
}

INSTANTIATE_TEST_SUITE_P(AllModes, PoolsMode,
                         ::testing::Values("thread-pool", "thread-per-task", "process-pool",
                                           "fork-per-task"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                             std::string name = info.param;
                             for (auto& c : name)
                                 if (c == '-')
                                     c = '_';
                             return name;
                         });

TEST(Pools, AllRunsEveryModeInOrder) {
    json j = run_json("pools", {"-w", "3", "-n", "60", "--task-bytes", "0"});
    ASSERT_EQ(j["runs"].size(), 4u);
    const char* order[] = {"thread-pool", "thread-per-task", "process-pool", "fork-per-task"};
    for (size_t i = 0; i < 4; i++) {
        EXPECT_EQ(j["runs"][i]["mode"], order[i]);
        EXPECT_EQ(j["runs"][i]["tasks"], 60);
        EXPECT_EQ(j["runs"][i]["verified"], true);
    }
}

TEST(Pools, DurationModeRunsUntilTheDeadline) {
    json j = run_json("pools", {"--mode", "thread-pool", "-d", "0.05"});
    EXPECT_EQ(j["verified"], true);
    EXPECT_TRUE(j["tasks"].is_null());
    EXPECT_GT(j["runs"][0]["tasks"].get<uint64_t>(), 0u);
}

TEST(Pools, BadOptionsGiveOneLineAndFail) {
    const std::vector<std::vector<std::string>> cases = {
        {"--mode", "goroutine"}, {"-w", "0"},  {"-n", "0"}, {"--cpu", "a-b"},
        {"--task-bytes", "x"},   {"-d", "-1"}, {"--bogus"}, {"--json", "/nonexistent/dir/p.json"},
    };
    for (const auto& args : cases)
        wltest::expect_one_line_error("pools", args);
}

}  // namespace
