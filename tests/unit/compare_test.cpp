// The comparison's conclusions and views, from hand-made rows.
#include <gtest/gtest.h>

#include "compare.h"

using namespace ctxswitch;

static CompareRow row(const char* model, const char* ipc, uint64_t rtt, double cost,
                      uint64_t handoff, uint64_t kcost, double ksw, double usw) {
    CompareRow r;
    r.model = model, r.ipc = ipc, r.iterations = 1000, r.rtt_p50_ns = double(rtt),
    r.rtt_p99_ns = double(rtt) * 2;
    r.switch_cost_ns = cost, r.handoff_count = handoff ? 1000 : 0, r.handoff_p50_ns = handoff;
    r.handoff_p99_ns = handoff * 2, r.kernel_switch_cost_p50_ns = kcost,
    r.kernel_switches_per_rt = ksw;
    r.user_switches_per_rt = usw, r.verified = true;
    return r;
}

static std::vector<CompareRow> rows() {
    return {row("process", "pipe", 6000, 2500, 2000, 500, 2.0, 0),
            row("process", "futex", 5000, 2000, 1600, 480, 2.0, 0),
            row("thread", "pipe", 5000, 2000, 1800, 400, 2.0, 0),
            row("thread", "futex", 4000, 1800, 1200, 380, 2.0, 0),
            row("coroutine", "asm", 20, 9, 0, 0, 0.0, 2.0),
            row("coroutine", "ucontext", 400, 180, 0, 0, 0.001, 2.0)};
}

TEST(CompareConclusions, ComputedFromTheRows) {
    auto c = compare_conclusions(rows());
    ASSERT_EQ(c.size(), 5u);
    // pipe 1800/2000 = 0.90, futex 1200/1600 = 0.75: median 0.825
    EXPECT_NE(c[0].find("thread handoff is 0.82x process handoff"), std::string::npos) << c[0];
    EXPECT_NE(c[0].find("futex 0.75x"), std::string::npos) << c[0];
    EXPECT_NE(c[1].find("a thread switch costs 390 ns and a process switch 490 ns"),
              std::string::npos)
        << c[1];
    EXPECT_NE(c[2].find("is 200x cheaper than a thread switch"), std::string::npos) << c[2];
    EXPECT_NE(c[3].find("costs 20x the hand-written switch"), std::string::npos) << c[3];
    EXPECT_NE(c[4].find("at most 0.001 context switches per round trip for coroutines"),
              std::string::npos)
        << c[4];
}

TEST(CompareConclusions, NothingToCompareSaysNothing) {
    std::vector<CompareRow> only_threads = {row("thread", "futex", 4000, 1800, 1200, 380, 2.0, 0)};
    EXPECT_TRUE(compare_conclusions(only_threads).empty());
}

TEST(CompareViews, JsonTableAndSvg) {
    CompareResult r;
    r.cpus = "0";
    r.rows = rows();
    r.conclusions = compare_conclusions(r.rows);
    auto j = compare_json(r);
    ASSERT_EQ(j["rows"].size(), 6u);
    EXPECT_EQ(j["rows"][4]["model"], "coroutine");
    EXPECT_EQ(j["rows"][4]["user_switches_per_rt"], 2.0);
    auto table = compare_table(r);
    EXPECT_NE(table.find("thread     futex"), std::string::npos) << table;
    EXPECT_NE(table.find("- thread handoff is"), std::string::npos);
    auto svg = compare_svg(r);
    EXPECT_EQ(svg.rfind("<svg", 0), 0u);
    EXPECT_EQ(size_t(std::count(svg.begin(), svg.end(), '\n')) > r.rows.size() * 3, true);
    EXPECT_NE(svg.find("coroutine / ucontext"), std::string::npos);
}
