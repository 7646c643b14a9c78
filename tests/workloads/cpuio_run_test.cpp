// cpuio, run for real: both kinds in every model, two worker counts each, every operation
// checked and accounted for.
#include <gtest/gtest.h>

#include "run_tool.h"

namespace {

using nlohmann::json;
using wltest::run_json;

struct Case {
    std::string model, kind;
    friend std::ostream& operator<<(std::ostream& os, const Case& c) {
        return os << c.model << " " << c.kind;
    }
};

std::vector<Case> all_cases() {
    std::vector<Case> cases;
    for (const char* model : {"process", "thread", "coroutine"})
        for (const char* kind : {"cpu", "io"})
            cases.push_back({model, kind});
    return cases;
}

class CpuioCase : public ::testing::TestWithParam<Case> {};

TEST_P(CpuioCase, EveryStepDoesAndChecksEveryOperation) {
    const auto& c = GetParam();
    const uint64_t n = 20;
    json j = run_json("cpuio", {"--model", c.model, "--kind", c.kind, "-w", "1,3", "-n",
                                std::to_string(n), "--work-bytes", "4096", "--wait-us", "200"});
    EXPECT_EQ(j["workload"], "cpuio");
    EXPECT_EQ(j["model"], c.model);
    EXPECT_EQ(j["kind"], c.kind);
    EXPECT_EQ(j["verified"], true);
    ASSERT_EQ(j["steps"].size(), 2u);
    const uint64_t workers[] = {1, 3};
    for (size_t i = 0; i < 2; i++) {
        const json& s = j["steps"][i];
        for (const char* key : {"workers", "ops", "elapsed_s", "ops_per_sec", "speedup", "cpu_s",
                                "cpus_used", "op", "op_p50_ns", "op_p99_ns", "voluntary_switches",
                                "involuntary_switches", "switches_per_op", "errors", "verified"})
            ASSERT_TRUE(s.contains(key)) << "missing " << key << " in " << s.dump();
        EXPECT_EQ(s["workers"], workers[i]);
        EXPECT_EQ(s["ops"], n * workers[i]);
        EXPECT_EQ(s["op"]["count"], n * workers[i]);
        EXPECT_EQ(s["errors"], 0);
        EXPECT_EQ(s["verified"], true);
        uint64_t ops = s["ops"];
        if (c.model == "coroutine") {
            // The workers take turns on one thread: every operation ends in a switch to the
            // scheduler and back (CPU: a yield; IO: a wait for the timer).
            EXPECT_GE(s["user_switches"].get<uint64_t>(), 2 * ops);
        } else {
            EXPECT_EQ(s["user_switches"], 0);
        }
        if (c.kind == "io" && c.model != "coroutine") {
            // Each timer read blocks its worker: at least one voluntary switch per operation
            // (getrusage, counted by the kernel, not by the workload).
            EXPECT_GE(s["voluntary_switches"].get<uint64_t>(), ops) << s.dump();
        }
    }
}

INSTANTIATE_TEST_SUITE_P(AllModels, CpuioCase, ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                             return info.param.model + "_" + info.param.kind;
                         });

TEST(Cpuio, DurationModeRunsUntilTheDeadline) {
    json j = run_json("cpuio", {"--model", "thread", "--kind", "io", "-w", "2", "-d", "0.05",
                                "--wait-us", "500"});
    EXPECT_EQ(j["verified"], true);
    EXPECT_TRUE(j["ops_per_worker"].is_null());
    EXPECT_GT(j["steps"][0]["ops"].get<uint64_t>(), 0u);
}

TEST(Cpuio, PinningIsReported) {
    json j = run_json("cpuio", {"--model", "process", "-w", "2", "-n", "5", "--work-bytes", "1024",
                                "--cpu", "0"});
    EXPECT_EQ(j["cpus"], "0");
    EXPECT_EQ(j["verified"], true);
}

TEST(Cpuio, BadOptionsGiveOneLineAndFail) {
    const std::vector<std::vector<std::string>> cases = {
        {"--model", "fiber"}, {"--kind", "disk"},
        {"-w", "0"},          {"-w", "1,x"},
        {"-n", "0"},          {"--work-bytes", "0"},
        {"--wait-us", "0"},   {"--cpu", "0-"},
        {"-d", "0"},          {"--json", "/nonexistent/dir/c.json"},
    };
    for (const auto& args : cases)
        wltest::expect_one_line_error("cpuio", args);
}

}  // namespace
