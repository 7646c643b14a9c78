// `ctxswitch-trace compare --quick`: the whole matrix in every placement, traced, in rounds,
// and its JSON contract.
#include <map>
#include <set>

#include "harness.h"

using harness::bin;
using harness::run;
using nlohmann::json;

namespace {

// Every figure of a row carries its rounds and their spread.
void check_figure(const json& row, const char* key, size_t rounds) {
    ASSERT_TRUE(row.contains(key)) << key << " in " << row.dump();
    const json& f = row[key];
    for (const char* k : {"n", "median", "q1", "q3", "min", "max", "rounds"})
        ASSERT_TRUE(f.contains(k)) << key << "." << k << " in " << row.dump();
    ASSERT_EQ(f["rounds"].size(), rounds) << key << " in " << row.dump();
    if (f["n"].get<size_t>() == 0)
        return;
    EXPECT_LE(f["min"].get<double>(), f["q1"].get<double>()) << key;
    EXPECT_LE(f["q1"].get<double>(), f["median"].get<double>()) << key;
    EXPECT_LE(f["median"].get<double>(), f["q3"].get<double>()) << key;
    EXPECT_LE(f["q3"].get<double>(), f["max"].get<double>()) << key;
}

}  // namespace

TEST(CtxswitchCompare, QuickMatrixHasEveryRowAndTheKernelAgrees) {
    REQUIRE_ROOT();
    std::string svg = harness::temp_path("compare.svg");
    auto opts = harness::as_root();
    opts.timeout_s = 120;
    auto r = run({bin("ctxswitch-trace"), "compare", "--quick", "--json", "-", "--svg", svg}, opts);
    ASSERT_EQ(r.status, 0) << r.err;
    json j = harness::parse_json(r.out);
    EXPECT_EQ(j["schema_version"], 2);
    EXPECT_TRUE(j["quick"].get<bool>());
    size_t rounds = j["rounds"];
    EXPECT_EQ(rounds, 3u);
    // the machine, as far as switch cost goes
    for (const char* k : {"cpu_model", "cpus", "virtualised", "pti", "ibpb", "ibrs", "stibp"})
        EXPECT_TRUE(j["machine"].contains(k)) << k;

    auto list = run({bin("pingpong"), "--list"});
    size_t pairs = size_t(std::count(list.out.begin(), list.out.end(), '\n'));
    std::set<std::string> placements;
    for (auto& p : j["placements"])
        placements.insert(p["name"].get<std::string>());
    EXPECT_EQ(placements, (std::set<std::string>{"same-cpu", "cross-cpu", "unpinned"}));
    std::map<std::string, size_t> rows_of;
    std::set<std::string> models;
    for (auto& row : j["rows"]) {
        std::string model = row["model"], placement = row["placement"];
        rows_of[placement]++;
        models.insert(model);
        for (const char* k :
             {"rtt_p50_ns", "rtt_p99_ns", "switch_cost_ns", "handoff_p50_ns", "handoff_p99_ns",
              "kernel_switch_cost_p50_ns", "kernel_switches_per_rt",
              "workload_kernel_switches_per_rt", "user_switches_per_rt"})
            check_figure(row, k, rounds);
        ASSERT_EQ(row["iterations"].size(), rounds);
        EXPECT_TRUE(row["verified"].get<bool>()) << row.dump();
        EXPECT_EQ(row["rtt_p50_ns"]["n"].get<size_t>(), rounds) << row.dump();
        EXPECT_GT(row["rtt_p50_ns"]["median"].get<double>(), 0.0) << row.dump();
        EXPECT_GE(row["rtt_p99_ns"]["median"].get<double>(),
                  row["rtt_p50_ns"]["median"].get<double>());
        double kernel = row["kernel_switches_per_rt"]["median"];
        double user = row["user_switches_per_rt"]["median"];
        if (model == "coroutine") {
            // one thread: measured once, under same-cpu; invisible to the kernel, counted by a
            // uprobe or the workload itself
            EXPECT_EQ(placement, "same-cpu");
            EXPECT_LT(row["kernel_switches_per_rt"]["max"].get<double>(), 0.1) << row.dump();
            EXPECT_NEAR(user, 2.0, 0.1) << row.dump();
            EXPECT_EQ(row["handoff_p50_ns"]["n"], 0) << row.dump();
            continue;
        }
        // on one CPU a round trip is two switches (more when a signal or a socket wakes a
        // helper thread); across CPUs a futex waiter may find the token already back and
        // not sleep
        EXPECT_GE(kernel, placement == "same-cpu" ? 1.9 : 1.0) << row.dump();
        EXPECT_EQ(user, 0.0);
        EXPECT_GT(row["handoff_p50_ns"]["median"].get<double>(), 0.0) << row.dump();
        if (placement == "same-cpu") {
            // on one CPU every handoff is a switch from one task to the other
            EXPECT_EQ(row["cpus"].get<std::string>().find(','), std::string::npos) << row.dump();
            EXPECT_EQ(row["kernel_switch_cost_p50_ns"]["n"].get<size_t>(), rounds) << row.dump();
            EXPECT_GT(row["kernel_switch_cost_p50_ns"]["median"].get<double>(), 0.0);
        }
        if (placement == "unpinned") {
            EXPECT_EQ(row["cpus"], "unpinned");
        }
    }
    EXPECT_EQ(models, (std::set<std::string>{"process", "thread", "coroutine"}));
    EXPECT_EQ(rows_of["same-cpu"], pairs);  // the whole matrix on one CPU
    EXPECT_GE(rows_of["cross-cpu"], 2u);    // at least one process/thread pair
    EXPECT_EQ(rows_of["cross-cpu"], rows_of["unpinned"]);
    // the thread futex ping-pong on one CPU: about 2 kernel switches per round trip
    for (auto& row : j["rows"]) {
        if (row["model"] == "thread" && row["ipc"] == "futex" && row["placement"] == "same-cpu") {
            EXPECT_NEAR(row["kernel_switches_per_rt"]["median"].get<double>(), 2.0, 0.1);
        }
    }

    // conclusions per placement; three rounds are too few for an interval, so --quick states
    // no thread/process difference
    std::set<std::string> concluded;
    for (auto& c : j["conclusions"]) {
        ASSERT_TRUE(c.contains("text") && c.contains("stated") && c.contains("topic"));
        if (c["placement"].is_string())
            concluded.insert(c["placement"].get<std::string>());
        if (c["topic"] == "handoff" || c["topic"] == "kernel_switch_cost" ||
            c["topic"] == "round_trip") {
            EXPECT_FALSE(c["stated"].get<bool>()) << c.dump();
            // across CPUs the kernel switch cost of these kinds may go unmeasured (the tasks
            // switch to and from idle): then the line says so
            std::string text = c["text"];
            EXPECT_TRUE(text.find("no difference measurable here") != std::string::npos ||
                        (c["verdict"] == "not measured" &&
                         text.find("not measured here") != std::string::npos))
                << c.dump();
            EXPECT_EQ(c["per_round"]["rounds"].size(), rounds);
        }
    }
    EXPECT_EQ(concluded, placements);
    auto chart = harness::read_file(svg);
    EXPECT_EQ(chart.rfind("<svg", 0), 0u);
    EXPECT_NE(chart.find("thread / futex"), std::string::npos);
    EXPECT_NE(chart.find(">cross-CPU</text>"), std::string::npos);
    // the chart as a browser draws it: every row's label, no error; a screenshot kept
    if (harness::have_chromium() || harness::in_ci()) {
        auto page = harness::load_in_chromium(svg);
        ASSERT_EQ(page.status, 0) << "chromium could not open the chart";
        EXPECT_NE(page.dom.find("thread / futex"), std::string::npos);
        EXPECT_NE(page.dom.find("coroutine / asm"), std::string::npos);
        EXPECT_TRUE(page.console.empty()) << page.console.front();
        EXPECT_TRUE(
            harness::screenshot_in_chromium(svg, harness::artifact_path("compare.png"), 1000, 900));
    }
    unlink(svg.c_str());
    EXPECT_TRUE(harness::our_programs_loaded().empty());
}

TEST(CtxswitchCompare, TextSaysQuickIsNotToBeTrustedAndNamesTheMachine) {
    REQUIRE_ROOT();
    auto r = run({bin("ctxswitch-trace"), "compare", "--quick", "--rounds", "1", "--placements",
                  "same-cpu", "--only", "thread/futex"},
                 harness::as_root());
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("its conclusions are not to be trusted"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("machine: "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("mitigations (sysfs): PTI "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("same CPU: both tasks pinned to CPU"), std::string::npos) << r.out;
    auto bad =
        run({bin("ctxswitch-trace"), "compare", "--placements", "sideways"}, harness::as_root());
    EXPECT_EQ(bad.status, 2);
    EXPECT_NE(bad.err.find("--placements: no placement 'sideways'"), std::string::npos) << bad.err;
}
