// ctxswitch-trace --stacks end to end: the real tool and BPF programs, a workload whose
// sleeping and waking functions have known names (sleep-wake), in a child process that has
// exited by the time the tool reports.
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "harness.h"

using harness::bin;
using nlohmann::json;

namespace {

struct Traced {
    json j;
    std::string out;        // the workload's own output and the JSON
    long child_nvcsw = -1;  // the workload's child's getrusage
};

Traced trace_sleep_wake(const std::vector<std::string>& extra, int rounds) {
    std::vector<std::string> argv = {bin("ctxswitch-trace"), "--json", "-"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back("--");
    argv.push_back(bin("sleep-wake"));
    argv.push_back(std::to_string(rounds));
    auto r = harness::run(argv, harness::as_root());
    EXPECT_EQ(r.status, 0) << r.err;
    Traced t;
    t.out = r.out;
    std::smatch m;
    if (std::regex_search(r.out, m, std::regex("child nvcsw ([0-9]+)")))
        t.child_nvcsw = std::stol(m[1]);
    auto start = r.out.find("\n{");
    t.j = harness::parse_json(start == std::string::npos ? r.out : r.out.substr(start + 1));
    return t;
}

bool has_frame(const json& frames, const std::string& name) {
    for (const auto& f : frames)
        if (f.get<std::string>() == name)
            return true;
    return false;
}

// The off-CPU time the stacks hold, with what was dropped for want of a row, is every
// off-CPU nanosecond the tool counted, to the nanosecond; and so are their periods.
void expect_stacks_hold_all_off_cpu_time(const json& j) {
    const json& st = j["offcpu_stacks"];
    uint64_t thread_ns = 0, thread_periods = 0;
    for (const auto& th : j["threads"]) {
        thread_ns += th["off_cpu_ns"].get<uint64_t>();
        thread_periods += th["off_cpu_count"].get<uint64_t>();
    }
    const uint64_t dropped_ns = j["dropped"]["stack_rows_off_cpu_ns"].get<uint64_t>();
    EXPECT_EQ(st["off_cpu_ns"].get<uint64_t>() + dropped_ns, thread_ns);
    EXPECT_EQ(st["off_cpu_ns"].get<uint64_t>() + dropped_ns,
              j["histograms"]["off_cpu"]["sum_ns"].get<uint64_t>());
    EXPECT_EQ(st["count"].get<uint64_t>() + j["dropped"]["stack_rows"].get<uint64_t>(),
              thread_periods);
}

// The child's (the process with two threads) stacks: its off-CPU periods, and whether its
// sleeping function and its waker's function are named on one stack.
struct ChildStacks {
    uint32_t pid = 0;
    uint64_t periods = 0;
    bool sleeper_named = false, waker_named = false;
};

ChildStacks child_stacks(const json& j) {
    ChildStacks c;
    for (const auto& p : j["processes"])
        if (p["threads"].get<int>() == 2)
            c.pid = p["pid"].get<uint32_t>();
    for (const auto& s : j["offcpu_stacks"]["stacks"]) {
        if (s["pid"].get<uint32_t>() != c.pid)
            continue;
        c.periods += s["count"].get<uint64_t>();
        if (has_frame(s["user_stack"], "stacks_sleeper") && s.contains("waker") &&
            has_frame(s["kernel_stack"], "schedule")) {
            c.sleeper_named = true;
            c.waker_named |= s["waker"]["pid"].get<uint32_t>() == c.pid &&
                             has_frame(s["waker"]["user_stack"], "stacks_waker") &&
                             has_frame(s["waker"]["kernel_stack"], "try_to_wake_up");
        }
    }
    return c;
}

}  // namespace

// The folded stacks name the workload's own sleeping function and, after the separator, the
// function of the thread that woke it, on one line; every off-CPU nanosecond the tool counted
// is in the stacks; the number of off-CPU periods agrees with the child's own getrusage; and
// the child, gone at report time, still has its stacks symbolized. The flame graph of the
// same run renders in Chromium with both functions in it.
TEST(CtxswitchStacks, SleeperAndWakerStacksTotalsAndFlameGraph) {
    REQUIRE_ROOT();
    std::string folded = harness::temp_path("offcpu.folded");
    std::string svg = harness::temp_path("offcpu.svg");
    const int rounds = 400;
    Traced t = trace_sleep_wake({"--folded", folded, "--flamegraph", svg}, rounds);
    ASSERT_TRUE(t.j.contains("offcpu_stacks")) << t.out;
    const json& st = t.j["offcpu_stacks"];

    // all of the tool's off-CPU time is in the stacks, to the nanosecond (nothing dropped)
    for (const char* d : {"stack_ids", "stack_rows", "process_events"})
        EXPECT_EQ(t.j["dropped"][d].get<uint64_t>(), 0u) << d;
    expect_stacks_hold_all_off_cpu_time(t.j);

    // the child: its periods against its own getrusage, whose voluntary switches count the
    // sleeps that had not ended yet too (one per thread at most, at its exit)
    ChildStacks child = child_stacks(t.j);
    ASSERT_NE(child.pid, 0u);
    ASSERT_GT(t.child_nvcsw, rounds);
    EXPECT_LE(child.periods, uint64_t(t.child_nvcsw));
    EXPECT_GE(child.periods + 2, uint64_t(t.child_nvcsw));
    EXPECT_TRUE(child.sleeper_named) << "the exited child's sleeping function, symbolized";
    EXPECT_TRUE(child.waker_named) << "and its waker's function";

    // folded: "sleeper frames;--;waker frames;waker comm NS", weights adding up
    std::ifstream f(folded);
    std::string line;
    uint64_t folded_ns = 0;
    bool joined = false;
    std::regex shape("^[^;]+(;[^;]+)* ([0-9]+)$");
    while (std::getline(f, line)) {
        std::smatch m;
        ASSERT_TRUE(std::regex_match(line, m, shape)) << line;
        folded_ns += std::stoull(m[2]);
        auto sep = line.find(";--;");
        joined |= sep != std::string::npos && line.find(";stacks_sleeper;") < sep &&
                  line.find(";stacks_waker;", sep) != std::string::npos;
    }
    EXPECT_TRUE(joined) << "a line with the sleeper's function, then --, then the waker's";
    EXPECT_EQ(folded_ns, st["off_cpu_ns"].get<uint64_t>());
    unlink(folded.c_str());

    // the flame graph in a real browser
    if (!harness::have_chromium()) {
        if (harness::in_ci())
            ADD_FAILURE() << "CI=true but no chromium: run scripts/install-deps.sh";
        unlink(svg.c_str());
        return;
    }
    auto page = harness::load_in_chromium(svg);
    ASSERT_EQ(page.status, 0);
    EXPECT_NE(page.dom.find("data-ready=\"1\""), std::string::npos) << "the script ran";
    EXPECT_TRUE(page.console.empty()) << page.console.front();
    for (const char* frame : {"stacks_sleeper", "stacks_waker", "try_to_wake_up", "sleep-wake"})
        EXPECT_NE(page.dom.find(frame), std::string::npos) << frame;
    auto found = harness::load_in_chromium(svg, "#search=stacks_waker");
    std::smatch m;
    ASSERT_TRUE(std::regex_search(found.dom, m, std::regex("data-matched=\"([0-9.]+)\"")));
    EXPECT_GT(std::stod(m[1]), 0.0);
    EXPECT_LE(std::stod(m[1]), 100.0);
    EXPECT_TRUE(harness::screenshot_in_chromium(
        svg, harness::artifact_path("ctxswitch-offcpu-flamegraph.png"), 1200, 700));
    unlink(svg.c_str());
}

// Without --stacks nothing of it is loaded or reported.
TEST(CtxswitchStacks, OffByDefault) {
    REQUIRE_ROOT();
    Traced t = trace_sleep_wake({}, 50);
    EXPECT_FALSE(t.j.contains("offcpu_stacks"));
    EXPECT_FALSE(t.j["dropped"].contains("stack_ids"));
}

// The raw_tp twins (a kernel without tp_btf) take the same stacks: the same totals, the
// same names.
TEST(CtxswitchStacks, RawTpTwinsTakeTheSameStacks) {
    REQUIRE_ROOT();
    const int rounds = 200;
    Traced t = trace_sleep_wake({"--stacks", "--raw-tp"}, rounds);
    EXPECT_EQ(t.j["probe_mode"], "raw_tp");
    ASSERT_TRUE(t.j.contains("offcpu_stacks")) << t.out;
    for (const char* d : {"stack_ids", "stack_rows", "process_events"})
        EXPECT_EQ(t.j["dropped"][d].get<uint64_t>(), 0u) << d;
    expect_stacks_hold_all_off_cpu_time(t.j);
    ChildStacks child = child_stacks(t.j);
    ASSERT_GT(t.child_nvcsw, rounds);
    EXPECT_LE(child.periods, uint64_t(t.child_nvcsw));
    EXPECT_GE(child.periods + 2, uint64_t(t.child_nvcsw));
    EXPECT_TRUE(child.sleeper_named);
    EXPECT_TRUE(child.waker_named);
}

// --max-stacks 2: the stack maps overflow at once. What did not fit is counted, the time of
// the periods that found no row is counted beside them, and the rows that fit are still
// exact; the text report says how to keep more.
TEST(CtxswitchStacks, FullStackMapsAreCountedAndTheRestStaysExact) {
    REQUIRE_ROOT();
    Traced t = trace_sleep_wake({"--stacks", "--max-stacks", "2"}, 200);
    ASSERT_TRUE(t.j.contains("offcpu_stacks")) << t.out;
    EXPECT_GT(t.j["dropped"]["stack_ids"].get<uint64_t>(), 0u);
    EXPECT_GT(t.j["dropped"]["stack_rows"].get<uint64_t>(), 0u);
    EXPECT_LE(t.j["offcpu_stacks"]["stacks"].size(), 2u);
    expect_stacks_hold_all_off_cpu_time(t.j);

    auto r = harness::run(
        {bin("ctxswitch-trace"), "--stacks", "--max-stacks", "2", "--", bin("sleep-wake"), "50"},
        harness::as_root());
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("--max-stacks N keeps more"), std::string::npos) << r.out;
}
