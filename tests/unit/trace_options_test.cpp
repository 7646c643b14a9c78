// The options every tracer shares: parsing and validation.
#include <gtest/gtest.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include "errors.h"
#include "trace_session.h"

namespace {

tk::TraceOptions parse(std::vector<std::string> args) {
    CLI::App app{"test", "tool"};
    tk::TraceOptions o;
    tk::add_trace_options(app, o, 1000);
    std::vector<char*> argv = {const_cast<char*>("tool")};
    for (auto& a : args)
        argv.push_back(a.data());
    EXPECT_TRUE(tk::parse_trace_command_line(app, int(argv.size()), argv.data(), o));
    return o;
}

}  // namespace

TEST(TraceOptions, CommandAfterOptionsKeepsItsOwnFlags) {
    auto o = parse({"-d", "2.5", "--json", "-", "./workload", "-n", "10", "--json", "x"});
    EXPECT_DOUBLE_EQ(o.duration, 2.5);
    EXPECT_EQ(o.json, "-");
    EXPECT_EQ(o.command, (std::vector<std::string>{"./workload", "-n", "10", "--json", "x"}));
    EXPECT_TRUE(o.launching());
}

TEST(TraceOptions, DoubleDashSeparatesTheCommand) {
    auto o = parse({"-v", "--", "./workload", "-p", "3"});
    EXPECT_EQ(o.verbose, 1);
    EXPECT_EQ(o.pid, 0);
    EXPECT_EQ(o.command, (std::vector<std::string>{"./workload", "-p", "3"}));
}

TEST(TraceOptions, PidTidAndWithout) {
    auto o = parse(
        {"-p", std::to_string(getpid()), "-i", "1", "--without", "sched_exit_tp", "--raw-tp"});
    EXPECT_EQ(o.pid, getpid());
    EXPECT_DOUBLE_EQ(o.interval, 1.0);
    EXPECT_TRUE(o.lacks("sched_exit_tp"));
    EXPECT_FALSE(o.lacks("sched_switch"));
    EXPECT_TRUE(o.raw_tp);
    EXPECT_NO_THROW(tk::validate_trace_options(o));
}

TEST(TraceOptions, MaxThreadsSizesTheRecordsElseTheToolsDefault) {
    EXPECT_EQ(parse({"true"}).threads_kept(1000), 1000u);
    auto o = parse({"--max-threads", "64", "true"});
    EXPECT_EQ(o.threads_kept(1000), 64u);
    EXPECT_NO_THROW(tk::validate_trace_options(o));
}

TEST(TraceOptions, ValidationSaysWhatIsWrong) {
    auto expect_error = [](const tk::TraceOptions& o, const std::string& part) {
        try {
            tk::validate_trace_options(o);
            ADD_FAILURE() << "no error for " << part;
        } catch (const tk::UserError& e) {
            EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
        }
    };
    expect_error(parse({}), "nothing to trace");
    expect_error(parse({"-p", "1", "--", "true"}), "only one of");
    expect_error(parse({"-p", "2147480000"}), "no such process: 2147480000");
    expect_error(parse({"-t", "2147480000"}), "no such thread: 2147480000");
    expect_error(parse({"-d", "-1", "true"}), "-d must be");
    expect_error(parse({"-d", "0", "true"}), "-d must be");
    expect_error(parse({"-i", "0", "true"}), "-i must be");
    expect_error(parse({"--max-threads", "0", "true"}), "--max-threads must be");
    expect_error(parse({"--max-threads", "-5", "true"}), "--max-threads must be");
    expect_error(parse({"--max-threads", "99999999", "true"}), "--max-threads must be");
    expect_error(parse({"--json", "/nonexistent-dir/x.json", "true"}),
                 "cannot write /nonexistent-dir/x.json (--json)");
    expect_error(parse({"--json", "/tmp", "true"}), "not a directory");
    EXPECT_NO_THROW(tk::validate_trace_options(parse({"--json", "/dev/stdout", "true"})));
    EXPECT_NO_THROW(tk::validate_trace_options(parse({"--json", "/dev/null", "true"})));
}

TEST(TraceOptions, UnknownOptionBeforeTheCommandIsAMistake) {
    try {
        parse({"--bogus", "./workload"});
        ADD_FAILURE() << "no error for --bogus";
    } catch (const tk::UserError& e) {
        EXPECT_EQ(e.exit_code(), 2);
        EXPECT_NE(std::string(e.what()).find("unknown option --bogus"), std::string::npos)
            << e.what();
    }
    // after "--" it is the command's own
    EXPECT_EQ(parse({"--", "--bogus"}).command, std::vector<std::string>{"--bogus"});
    EXPECT_EQ(parse({"--", "-"}).command, std::vector<std::string>{"-"});
}

TEST(TraceOptions, HelpPrintsUsageAndSaysSo) {
    CLI::App app{"test", "tool"};
    tk::TraceOptions o;
    tk::add_trace_options(app, o, 1000);
    std::vector<char*> argv = {const_cast<char*>("tool"), const_cast<char*>("--help")};
    testing::internal::CaptureStdout();
    EXPECT_FALSE(tk::parse_trace_command_line(app, int(argv.size()), argv.data(), o));
    EXPECT_NE(testing::internal::GetCapturedStdout().find("-p,--pid"), std::string::npos);
}

TEST(TraceOptions, NonNumericPidIsAParseError) {
    EXPECT_THROW(parse({"-p", "abc"}), CLI::ParseError);
}

TEST(RunTool, UserErrorBecomesOneLineAndItsExitCode) {
    testing::internal::CaptureStderr();
    int rc =
        tk::run_tool("demo", []() -> int { throw tk::UserError("what is wrong: what to do", 3); });
    EXPECT_EQ(rc, 3);
    EXPECT_EQ(testing::internal::GetCapturedStderr(), "demo: what is wrong: what to do\n");
}
