// What every tracer says to a command line it cannot run: one line on stderr naming the
// tool, the exit status a shell expects, and nothing left loaded. The same rules for the
// three tracers, so one parameterised suite; what only one tool has stays in its own tests.
#include <algorithm>
#include <string>
#include <vector>

#include "harness.h"

using harness::bin;
using harness::run;

namespace {

struct Tracer {
    std::string tool;
    std::vector<std::string> help_options;  // what its --help must list
};

// How gtest prints a parameter, and so what the test listing (and ctest's test names) show:
// the tool, not the object's bytes.
void PrintTo(const Tracer& t, std::ostream* os) {
    *os << t.tool;
}

int lines(const std::string& s) {
    return int(std::count(s.begin(), s.end(), '\n'));
}

class TracerCommandLine : public testing::TestWithParam<Tracer> {
  protected:
    const std::string& tool() const { return GetParam().tool; }
    harness::Result run_tool(std::vector<std::string> args,
                             const harness::RunOptions& opts = harness::as_root()) const {
        args.insert(args.begin(), bin(tool()));
        return run(args, opts);
    }
};

}  // namespace

TEST_P(TracerCommandLine, UnknownOptionIsOneClearLine) {
    auto r = run_tool({"--bogus", "--", "true"}, {});
    EXPECT_EQ(r.status, 2);
    EXPECT_EQ(r.err.rfind(tool() + ": ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find("--bogus"), std::string::npos) << r.err;
    EXPECT_EQ(lines(r.err), 1) << r.err;
}

TEST_P(TracerCommandLine, NoTargetOrTwoTargetsIsOneClearLine) {
    for (std::vector<std::string> args :
         {std::vector<std::string>{"-p", "1", "--", "true"}, std::vector<std::string>{}}) {
        auto r = run_tool(args);
        EXPECT_EQ(r.status, 2) << r.err;
        EXPECT_EQ(r.err.rfind(tool() + ": ", 0), 0u) << r.err;
        EXPECT_EQ(lines(r.err), 1) << r.err;
    }
}

TEST_P(TracerCommandLine, MissingCommandIsOneClearLineAndExit127) {
    REQUIRE_ROOT();
    auto r = run_tool({"--", "/nonexistent/workload"});
    EXPECT_EQ(r.status, 127);
    EXPECT_EQ(r.err, tool() + ": no such file: /nonexistent/workload: check the path\n");
    auto r2 = run_tool({"no-such-command-xyz"});
    EXPECT_EQ(r2.status, 127);
    EXPECT_NE(r2.err.find("command not found: no-such-command-xyz"), std::string::npos) << r2.err;
    EXPECT_TRUE(harness::programs_loaded(harness::programs_of(tool())).empty());
}

TEST_P(TracerCommandLine, PidThatDoesNotExist) {
    REQUIRE_ROOT();
    auto r = run_tool({"-p", "2147480000", "-d", "1"});
    EXPECT_NE(r.status, 0);
    EXPECT_EQ(r.err, tool() + ": no such process: 2147480000 (check it with ps)\n");
    EXPECT_TRUE(r.out.empty());
}

TEST_P(TracerCommandLine, NotRootIsAClearError) {
    REQUIRE_ROOT();
    auto r = harness::run_as_nobody(bin(tool()), {"--", "true"});
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.err, tool() + ": needs root or CAP_BPF and CAP_PERFMON: run with sudo\n");
}

TEST_P(TracerCommandLine, HelpPrintsUsageAndExitsZero) {
    auto r = run_tool({"--help"}, {});
    EXPECT_EQ(r.status, 0);  // epoll-trace once printed nothing and exited 0
    for (const std::string& o : GetParam().help_options)
        EXPECT_NE(r.out.find(o), std::string::npos) << o << "\n" << r.out;
}

INSTANTIATE_TEST_SUITE_P(AllTracers, TracerCommandLine,
                         testing::Values(Tracer{"ctxswitch-trace", {"-p,--pid"}},
                                         Tracer{"lockwait-trace",
                                                {"-p,--pid", "--stacks", "--folded", "--uprobes",
                                                 "--no-kernel-locks"}},
                                         Tracer{"epoll-trace", {"-p,--pid", "--max-loops"}}),
                         harness::tool_param_name<Tracer>);
