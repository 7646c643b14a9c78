// `ctxswitch-trace compare --quick`: the whole matrix, traced, and its JSON contract.
#include <set>

#include "harness.h"

using harness::bin;
using harness::run;
using nlohmann::json;

TEST(CtxswitchCompare, QuickMatrixHasEveryRowAndTheKernelAgrees) {
    REQUIRE_ROOT();
    std::string svg = harness::temp_path("compare.svg");
    auto r = run({bin("ctxswitch-trace"), "compare", "--quick", "--json", "-", "--svg", svg},
                 harness::as_root());
    ASSERT_EQ(r.status, 0) << r.err;
    json j = harness::parse_json(r.out);
    auto list = run({bin("pingpong"), "--list"});
    size_t pairs = size_t(std::count(list.out.begin(), list.out.end(), '\n'));
    ASSERT_EQ(j["rows"].size(), pairs);
    std::set<std::string> models;
    for (auto& row : j["rows"]) {
        for (const char* k : {"model", "ipc", "rtt_p50_ns", "rtt_p99_ns", "switch_cost_ns",
                              "handoff_p50_ns", "handoff_p99_ns", "kernel_switch_cost_p50_ns",
                              "kernel_switches_per_rt", "user_switches_per_rt"})
            ASSERT_TRUE(row.contains(k)) << k << " in " << row.dump();
        std::string model = row["model"];
        models.insert(model);
        EXPECT_TRUE(row["verified"].get<bool>()) << row.dump();
        EXPECT_GT(row["rtt_p50_ns"].get<double>(), 0.0) << row.dump();
        EXPECT_GE(row["rtt_p99_ns"].get<double>(), row["rtt_p50_ns"].get<double>());
        double kernel = row["kernel_switches_per_rt"], user = row["user_switches_per_rt"];
        if (model == "coroutine") {
            // invisible to the kernel; counted by a uprobe or the workload itself
            EXPECT_LT(kernel, 0.1) << row.dump();
            EXPECT_NEAR(user, 2.0, 0.1) << row.dump();
        } else {
            // pinned to one CPU: a round trip is two switches (more when a signal or a
            // socket wakes a helper thread)
            EXPECT_GE(kernel, 1.9) << row.dump();
            EXPECT_EQ(user, 0.0);
            EXPECT_GT(row["handoff_p50_ns"].get<uint64_t>(), 0u) << row.dump();
            EXPECT_GT(row["kernel_switch_cost_p50_ns"].get<uint64_t>(), 0u) << row.dump();
        }
    }
    EXPECT_EQ(models, (std::set<std::string>{"process", "thread", "coroutine"}));
    // the thread futex ping-pong: about 2 kernel switches per round trip
    for (auto& row : j["rows"]) {
        if (row["model"] == "thread" && row["ipc"] == "futex") {
            EXPECT_NEAR(row["kernel_switches_per_rt"].get<double>(), 2.0, 0.1);
        }
    }
    EXPECT_GE(j["conclusions"].size(), 3u);
    auto chart = harness::read_file(svg);
    EXPECT_EQ(chart.rfind("<svg", 0), 0u);
    EXPECT_NE(chart.find("thread / futex"), std::string::npos);
    unlink(svg.c_str());
    EXPECT_TRUE(harness::our_programs_loaded().empty());
}
