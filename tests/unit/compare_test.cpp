// The comparison's statistics, conclusions and views, from hand-made rounds.
#include <gtest/gtest.h>

#include <cmath>

#include "compare.h"

using namespace ctxswitch;

namespace {

const double kNone = std::nan("");

// A row whose rounds have the given handoff p50s and kernel switch costs (ns); the other
// figures are derived from them so every view has something to show.
CompareRow row(const char* model, const char* ipc, const char* placement,
               const std::vector<double>& handoff, const std::vector<double>& kcost,
               double switch_cost = 2000) {
    CompareRow r;
    r.model = model, r.ipc = ipc, r.placement = placement;
    r.cpus = std::string(placement) == "same-cpu" ? "0" : "0,1";
    bool coroutine = std::string(model) == "coroutine";
    for (size_t i = 0; i < handoff.size(); i++) {
        RoundValues v;
        v.v.fill(kNone);
        v.iterations = 1000;
        v.verified = true;
        v.v[F_HANDOFF_P50] = handoff[i];
        v.v[F_HANDOFF_P99] = handoff[i] * 2;
        v.v[F_KERNEL_COST_P50] = i < kcost.size() ? kcost[i] : kNone;
        v.v[F_RTT_P50] = coroutine ? switch_cost * 2 : handoff[i] * 4;
        v.v[F_RTT_P99] = v.v[F_RTT_P50] * 2;
        v.v[F_SWITCH_COST] = switch_cost + double(i);  // a little spread
        v.v[F_KERNEL_SW_PER_RT] = coroutine ? 0.0 : 2.0;
        v.v[F_WORKLOAD_SW_PER_RT] = coroutine ? 0.0 : 2.0;
        v.v[F_USER_SW_PER_RT] = coroutine ? 2.0 : 0.0;
        r.rounds.push_back(v);
    }
    return r;
}

std::vector<double> scaled(const std::vector<double>& v, double k) {
    std::vector<double> out;
    for (double x : v)
        out.push_back(x * k);
    return out;
}

// Nine rounds of a machine whose speed wanders by +-10% from round to round.
const std::vector<double> kWander = {1000, 1080, 950, 1100, 920, 1040, 990, 1060, 970};

const Conclusion* topic(const std::vector<Conclusion>& cs, const std::string& placement,
                        const std::string& t) {
    for (auto& c : cs)
        if (c.placement == placement && c.topic == t)
            return &c;
    return nullptr;
}

const std::vector<Placement> kPlacements = {{"same-cpu", "0"}, {"cross-cpu", "0,1"}};

}  // namespace

TEST(CompareStats, MedianAndInterquartileRange) {
    Spread s = spread_of({5, 1, 4, 2, 3});
    EXPECT_EQ(s.n, 5u);
    EXPECT_DOUBLE_EQ(s.median, 3);
    EXPECT_DOUBLE_EQ(s.q1, 2);
    EXPECT_DOUBLE_EQ(s.q3, 4);
    EXPECT_DOUBLE_EQ(s.min, 1);
    EXPECT_DOUBLE_EQ(s.max, 5);
    // type 7: interpolated; NaN (a round that did not measure) left out
    Spread t = spread_of({1, 2, 3, 4, kNone});
    EXPECT_EQ(t.n, 4u);
    EXPECT_DOUBLE_EQ(t.median, 2.5);
    EXPECT_DOUBLE_EQ(t.q1, 1.75);
    EXPECT_DOUBLE_EQ(t.q3, 3.25);
    EXPECT_EQ(spread_of({kNone}).n, 0u);
}

TEST(CompareStats, SignTestIntervalOfTheMedian) {
    // coverage of [x(k), x(n+1-k)] = 1 - 2 P(Bin(n, 1/2) < k)
    EXPECT_NEAR(order_statistic_coverage(6, 1), 1 - 2.0 / 64, 1e-12);
    EXPECT_NEAR(order_statistic_coverage(9, 2), 1 - 2.0 * 10 / 512, 1e-12);
    EXPECT_NEAR(order_statistic_coverage(9, 3), 1 - 2.0 * 46 / 512, 1e-12);
    // five rounds cannot give 95%: the best, [min, max], covers 93.75%
    EXPECT_FALSE(median_interval({1, 2, 3, 4, 5}).exists);
    auto m = median_interval({9, 1, 8, 2, 7, 3, 6, 4, 5});  // nine rounds: [x(2), x(8)]
    ASSERT_TRUE(m.exists);
    EXPECT_EQ(m.k, 2u);
    EXPECT_DOUBLE_EQ(m.low, 2);
    EXPECT_DOUBLE_EQ(m.high, 8);
    EXPECT_NEAR(m.coverage, 0.9609375, 1e-12);
}

TEST(CompareStats, DecidesOnlyOutsideTheInterval) {
    // every round's ratio below 1 except the extremes' share: stated
    EXPECT_EQ(decide({0.90, 0.92, 0.95, 0.91, 1.01, 0.93, 0.94, 0.96, 0.89}, 1.0).verdict,
              Verdict::lower);
    EXPECT_EQ(decide({1.10, 1.12, 1.05, 1.20, 0.99, 1.08, 1.07, 1.09, 1.11}, 1.0).verdict,
              Verdict::higher);
    // straddling 1: not stated, whatever the median says
    EXPECT_EQ(decide({0.90, 1.02, 0.95, 0.91, 1.01, 0.93, 0.94, 1.06, 0.89}, 1.0).verdict,
              Verdict::not_measurable);
    // too few rounds: never stated
    EXPECT_EQ(decide({0.5, 0.5, 0.5}, 1.0).verdict, Verdict::not_measurable);
    // a difference against 0
    EXPECT_EQ(decide({70, 80, 75, 60, 90, 85, 72, 77, 81}, 0.0).verdict, Verdict::higher);
}

TEST(CompareStats, DifferencesInsideTheMarginAreNotStated) {
    // 1% lower in every round: outside the interval, but inside a 3% margin
    std::vector<double> r = {0.99, 0.985, 0.992, 0.99, 0.988, 0.991, 0.989, 0.99, 0.987};
    EXPECT_EQ(decide(r, 1.0).verdict, Verdict::lower);
    EXPECT_EQ(decide(r, 1.0, 0.03).verdict, Verdict::not_measurable);
    // 5% lower: beyond it
    std::vector<double> s = {0.95, 0.945, 0.952, 0.95, 0.948, 0.951, 0.949, 0.95, 0.947};
    EXPECT_EQ(decide(s, 1.0, 0.03).verdict, Verdict::lower);
    // the interval must clear the margin as a whole: 0.96 to 0.975 does not clear 0.97
    std::vector<double> t = {0.96, 0.962, 0.975, 0.965, 0.968, 0.97, 0.966, 0.964, 0.972};
    EXPECT_EQ(decide(t, 1.0, 0.03).verdict, Verdict::not_measurable);
    EXPECT_EQ(decide({80, 75, 78, 82, 79, 77, 81, 76, 80}, 0.0, 10).verdict, Verdict::higher);
    EXPECT_EQ(decide({8, 7.5, 7.8, 8.2, 7.9, 7.7, 8.1, 7.6, 8}, 0.0, 10).verdict,
              Verdict::not_measurable);
}

TEST(CompareStats, PerRoundMedianOverPairs) {
    // two IPC kinds, three rounds; the second pair has no value in round 2
    std::vector<std::vector<double>> a = {{1, 2, 3}, {10, 20, kNone}};
    std::vector<std::vector<double>> b = {{2, 2, 2}, {10, 10, 10}};
    auto r = per_round_median(a, b, [](double x, double y) { return x / y; });
    ASSERT_EQ(r.size(), 3u);
    EXPECT_DOUBLE_EQ(r[0], 0.75);  // median of 0.5 and 1
    EXPECT_DOUBLE_EQ(r[1], 1.5);   // median of 1 and 2
    EXPECT_DOUBLE_EQ(r[2], 1.5);   // only the first pair
}

// The check: two synthetic sets, one whose thread and process figures overlap from
// round to round, one where they do not. A conclusion line states a difference only for the
// second.
TEST(CompareConclusions, OverlappingRoundsStateNoDifference) {
    // thread and process handoff wander with the machine and swap places from round to round
    std::vector<double> thread = kWander;
    std::vector<double> process = {1030, 1040, 1000, 1060, 960, 1000, 1020, 1020, 940};
    std::vector<double> tcost = {380, 395, 370, 400, 372, 390, 385, 378, 392};
    std::vector<double> pcost = {390, 380, 385, 392, 380, 378, 392, 385, 380};
    std::vector<CompareRow> rows = {row("process", "futex", "same-cpu", process, pcost),
                                    row("thread", "futex", "same-cpu", thread, tcost)};
    auto cs = compare_conclusions(rows, kPlacements);
    const Conclusion* h = topic(cs, "same-cpu", "handoff");
    ASSERT_NE(h, nullptr);
    EXPECT_FALSE(h->decision.stated());
    EXPECT_NE(h->text.find("same CPU: thread vs process handoff: no difference measurable here"),
              std::string::npos)
        << h->text;
    const Conclusion* k = topic(cs, "same-cpu", "kernel_switch_cost");
    ASSERT_NE(k, nullptr);
    EXPECT_FALSE(k->decision.stated());
    EXPECT_NE(k->text.find("no difference measurable here"), std::string::npos) << k->text;
    EXPECT_EQ(k->text.find("adds"), std::string::npos) << k->text;
}

TEST(CompareConclusions, SeparateRoundsStateTheDifference) {
    // the same wandering machine, but the process rows are 15% slower in every round, and a
    // process switch costs 70-90 ns more
    std::vector<double> thread = kWander, process = scaled(kWander, 1.15);
    std::vector<double> tcost = {380, 395, 370, 400, 372, 390, 385, 378, 392};
    std::vector<double> pcost = {460, 470, 445, 480, 450, 465, 460, 455, 470};
    std::vector<CompareRow> rows = {row("process", "futex", "same-cpu", process, pcost),
                                    row("thread", "futex", "same-cpu", thread, tcost),
                                    row("process", "pipe", "same-cpu", scaled(process, 1.1), pcost),
                                    row("thread", "pipe", "same-cpu", scaled(thread, 1.1), tcost)};
    auto cs = compare_conclusions(rows, kPlacements);
    const Conclusion* h = topic(cs, "same-cpu", "handoff");
    ASSERT_NE(h, nullptr);
    EXPECT_EQ(h->decision.verdict, Verdict::lower);
    EXPECT_NE(h->text.find("same CPU: a thread handoff is shorter than a process handoff: 0.87x"),
              std::string::npos)
        << h->text;
    EXPECT_NE(h->text.find("futex 0.87x, pipe 0.87x"), std::string::npos) << h->text;
    EXPECT_NE(h->text.find("96% CI 0.87x to 0.87x over 9 rounds"), std::string::npos) << h->text;
    const Conclusion* k = topic(cs, "same-cpu", "kernel_switch_cost");
    ASSERT_NE(k, nullptr);
    EXPECT_EQ(k->decision.verdict, Verdict::higher);
    EXPECT_NE(k->text.find("a thread switch costs 385 ns"), std::string::npos) << k->text;
    EXPECT_NE(k->text.find("and a process switch 460 ns"), std::string::npos) << k->text;
    EXPECT_NE(k->text.find("changing address spaces adds 77 ns"), std::string::npos) << k->text;
    // no cross-CPU rows: nothing said about that placement
    EXPECT_EQ(topic(cs, "cross-cpu", "handoff"), nullptr);
}

TEST(CompareConclusions, AConsistentOnePercentIsNotStated) {
    // processes 1% slower in every round: real, perhaps, but below what the rule resolves
    std::vector<double> thread = kWander, process = scaled(kWander, 1.01);
    std::vector<double> tcost = {380, 395, 370, 400, 372, 390, 385, 378, 392};
    std::vector<CompareRow> rows = {
        row("process", "futex", "same-cpu", process, scaled(tcost, 1.01)),
        row("thread", "futex", "same-cpu", thread, tcost)};
    auto cs = compare_conclusions(rows, kPlacements);
    for (auto* t : {"handoff", "kernel_switch_cost", "round_trip"}) {
        const Conclusion* c = topic(cs, "same-cpu", t);
        ASSERT_NE(c, nullptr) << t;
        EXPECT_FALSE(c->decision.stated()) << c->text;
        EXPECT_NE(c->text.find("no difference measurable here"), std::string::npos) << c->text;
    }
}

TEST(CompareConclusions, PerPlacementAndSwitchCostOnlyWhereMeasured) {
    std::vector<double> thread = kWander, process = scaled(kWander, 1.15);
    std::vector<double> cost = {380, 395, 370, 400, 372, 390, 385, 378, 392};
    std::vector<double> none(9, kNone);
    std::vector<CompareRow> rows = {
        row("process", "futex", "same-cpu", process, scaled(cost, 1.2)),
        row("thread", "futex", "same-cpu", thread, cost),
        // across CPUs: handoffs overlap, and the tasks switch to idle (no switch cost)
        row("process", "futex", "cross-cpu", scaled(kWander, 10), none),
        row("thread", "futex", "cross-cpu",
            {10100, 10700, 9600, 11100, 9100, 10300, 10000, 10500, 9800}, none)};
    auto cs = compare_conclusions(rows, kPlacements);
    ASSERT_NE(topic(cs, "same-cpu", "handoff"), nullptr);
    EXPECT_TRUE(topic(cs, "same-cpu", "handoff")->decision.stated());
    const Conclusion* x = topic(cs, "cross-cpu", "handoff");
    ASSERT_NE(x, nullptr);
    EXPECT_FALSE(x->decision.stated()) << x->text;
    EXPECT_EQ(x->text.rfind("cross-CPU: thread vs process handoff: no difference", 0), 0u)
        << x->text;
    const Conclusion* k = topic(cs, "cross-cpu", "kernel_switch_cost");
    ASSERT_NE(k, nullptr);
    EXPECT_FALSE(k->decision.stated());
    EXPECT_FALSE(k->measured);
    EXPECT_EQ(k->decision.per_round.size(), 9u);
    EXPECT_NE(k->text.find("switch costs are not measured here"), std::string::npos) << k->text;
}

TEST(CompareConclusions, TooFewRoundsAreNeverStated) {
    std::vector<CompareRow> rows = {row("process", "futex", "same-cpu", {2000, 2100, 2050}, {}),
                                    row("thread", "futex", "same-cpu", {1000, 1050, 1020}, {})};
    auto cs = compare_conclusions(rows, kPlacements);
    const Conclusion* h = topic(cs, "same-cpu", "handoff");
    ASSERT_NE(h, nullptr);
    EXPECT_FALSE(h->decision.stated());
    EXPECT_NE(h->text.find("3 rounds: too few for a 95% interval"), std::string::npos) << h->text;
}

TEST(CompareConclusions, Coroutines) {
    std::vector<double> h = kWander;
    std::vector<CompareRow> rows = {
        row("thread", "futex", "same-cpu", h, h, 2000),
        row("coroutine", "asm", "same-cpu", std::vector(9, 0.0), {}, 10),
        row("coroutine", "ucontext", "same-cpu", std::vector(9, 0.0), {}, 200)};
    for (auto& r : rows)
        if (r.model == "coroutine")
            for (auto& v : r.rounds)
                v.v[F_HANDOFF_P50] = v.v[F_HANDOFF_P99] = kNone;
    auto cs = compare_conclusions(rows, kPlacements);
    const Conclusion* c = topic(cs, "same-cpu", "coroutine_vs_thread");
    ASSERT_NE(c, nullptr);
    EXPECT_TRUE(c->decision.stated());
    EXPECT_NE(c->text.find("is 143x cheaper than a thread switch over a futex"), std::string::npos)
        << c->text;
    const Conclusion* u = topic(cs, "same-cpu", "swapcontext_vs_asm");
    ASSERT_NE(u, nullptr);
    EXPECT_NE(u->text.find("costs 15x the hand-written switch"), std::string::npos) << u->text;
    const Conclusion* k = topic(cs, "", "kernel_sees_coroutines");
    ASSERT_NE(k, nullptr);
    EXPECT_NE(k->text.find("at most 0.000 context switches per round trip for coroutines"),
              std::string::npos)
        << k->text;
}

TEST(CompareConclusions, NothingToCompareSaysNothing) {
    std::vector<CompareRow> only_threads = {row("thread", "futex", "same-cpu", kWander, kWander)};
    EXPECT_TRUE(compare_conclusions(only_threads, kPlacements).empty());
}

TEST(CompareMachine, MitigationsFromSysfsLines) {
    MachineInfo m;
    m.meltdown = "Mitigation: PTI";
    m.spectre_v2 =
        "Mitigation: Retpolines; STIBP: disabled; RSB filling; PBRSB-eIBRS: Not "
        "affected; BHI: Not affected";
    parse_mitigations(m);
    EXPECT_EQ(m.pti, "on");
    EXPECT_EQ(m.spectre_v2_mitigation, "Retpolines");
    EXPECT_EQ(m.ibrs, "off");
    EXPECT_EQ(m.ibpb, "absent (the CPU offers no IBPB)");
    EXPECT_EQ(m.stibp, "disabled");
    MachineInfo e;
    e.meltdown = "Not affected";
    e.spectre_v2 =
        "Mitigation: Enhanced / Automatic IBRS; IBPB: conditional; RSB filling; "
        "PBRSB-eIBRS: SW sequence; BHI: BHI_DIS_S";
    parse_mitigations(e);
    EXPECT_EQ(e.pti, "off");
    EXPECT_EQ(e.ibrs, "eIBRS");
    EXPECT_EQ(e.ibpb, "conditional");
    EXPECT_EQ(e.stibp, "not reported");
    MachineInfo old;  // older kernels: IBPB and STIBP in spectre_v2_user
    old.meltdown = "Mitigation: PTI";
    old.spectre_v2 = "Mitigation: IBRS";
    old.spectre_v2_user = "Mitigation: IBPB: always-on, STIBP: forced";
    parse_mitigations(old);
    EXPECT_EQ(old.ibrs, "IBRS");
    EXPECT_EQ(old.ibpb, "always-on");
    EXPECT_EQ(old.stibp, "forced");
}

TEST(CompareViews, JsonTableAndSvg) {
    CompareResult r;
    r.rounds = 9;
    r.placements = kPlacements;
    r.machine.cpu_model = "Test CPU";
    r.machine.cpus = 2;
    r.machine.pti = "on";
    std::vector<double> thread = kWander, process = scaled(kWander, 1.15);
    r.rows = {row("process", "futex", "same-cpu", process, scaled(kWander, 0.45)),
              row("thread", "futex", "same-cpu", thread, scaled(kWander, 0.38)),
              row("process", "futex", "cross-cpu", scaled(process, 5), {}),
              row("thread", "futex", "cross-cpu", scaled(thread, 5), {}),
              row("coroutine", "asm", "same-cpu", std::vector(9, 0.0), {}, 10)};
    r.rows[1].rounds[3].v[F_RTT_P50] = kNone;  // a round that measured nothing
    r.conclusions = compare_conclusions(r.rows, r.placements);
    auto j = compare_json(r);
    EXPECT_EQ(j["schema_version"], 2);
    EXPECT_EQ(j["rounds"], 9);
    EXPECT_EQ(j["machine"]["cpu_model"], "Test CPU");
    EXPECT_EQ(j["machine"]["pti"], "on");
    ASSERT_EQ(j["rows"].size(), 5u);
    auto& t = j["rows"][1];
    EXPECT_EQ(t["placement"], "same-cpu");
    ASSERT_EQ(t["rtt_p50_ns"]["rounds"].size(), 9u);
    EXPECT_TRUE(t["rtt_p50_ns"]["rounds"][3].is_null());
    EXPECT_EQ(t["rtt_p50_ns"]["n"], 8);
    EXPECT_LE(t["handoff_p50_ns"]["q1"].get<double>(), t["handoff_p50_ns"]["median"].get<double>());
    EXPECT_GE(t["handoff_p50_ns"]["q3"].get<double>(), t["handoff_p50_ns"]["median"].get<double>());
    EXPECT_TRUE(j["rows"][2]["kernel_switch_cost_p50_ns"]["median"].is_null());
    bool any_stated = false;
    for (auto& c : j["conclusions"]) {
        ASSERT_TRUE(c.contains("text"));
        ASSERT_TRUE(c.contains("stated"));
        if (c["topic"] == "handoff") {
            ASSERT_TRUE(c.contains("interval"));
            ASSERT_EQ(c["per_round"]["rounds"].size(), 9u);
            any_stated = any_stated || c["stated"].get<bool>();
        }
    }
    EXPECT_TRUE(any_stated);  // same CPU: process 15% slower in every round
    auto table = compare_table(r);
    EXPECT_NE(table.find("same CPU: both tasks pinned to CPU 0"), std::string::npos) << table;
    EXPECT_NE(table.find("cross-CPU: ping pinned to CPU 0, pong to CPU 1"), std::string::npos);
    EXPECT_NE(table.find("machine: Test CPU, 2 CPUs"), std::string::npos) << table;
    EXPECT_NE(table.find("thread     futex"), std::string::npos) << table;
    EXPECT_NE(table.find("1.00 us (0.97-1.06)"), std::string::npos) << table;  // median (IQR)
    EXPECT_NE(table.find("- same CPU: a thread handoff is shorter"), std::string::npos) << table;
    EXPECT_EQ(table.find("not to be trusted"), std::string::npos);
    r.quick = true;
    EXPECT_NE(compare_table(r).find("its conclusions are not to be trusted"), std::string::npos);
    auto svg = compare_svg(r);
    EXPECT_EQ(svg.rfind("<svg", 0), 0u);
    EXPECT_NE(svg.find("coroutine / asm"), std::string::npos);
    EXPECT_NE(svg.find(">cross-CPU</text>"), std::string::npos) << svg;
    EXPECT_NE(svg.find("whiskers: interquartile range"), std::string::npos);
    EXPECT_NE(svg.find("(IQR "), std::string::npos);
}
