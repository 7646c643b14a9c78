// The echo workloads on their own (no BPF, no root): every server form serves the client
// correctly, counts its own waits consistently, stops by itself, and rejects bad options
// with one clear line.
#include <algorithm>

#include "harness.h"

using harness::bin;
using harness::parse_json;
using harness::run;
using nlohmann::json;

namespace {

json bench(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {bin("echo-bench"), "--json", "-"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = run(argv);
    EXPECT_EQ(r.status, 0) << r.err;
    return parse_json(r.out);
}

void expect_one_line_error(const harness::Result& r, int status, const std::string& prefix,
                           const std::string& text) {
    EXPECT_EQ(r.status, status) << r.err;
    EXPECT_EQ(r.err.rfind(prefix + ": ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(text), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

}  // namespace

class EchoForms : public ::testing::TestWithParam<std::string> {};

TEST_P(EchoForms, ServesEveryRequestAndCountsItsWaits) {
    const std::string model = GetParam();
    json j = bench({"--model", model, "-c", "3", "-n", "200", "--size", "100"});
    const json& c = j["client"];
    const json& s = j["server"];
    EXPECT_EQ(c["requests"].get<uint64_t>(), 600u);
    EXPECT_EQ(c["failures"].get<uint64_t>(), 0u);
    EXPECT_EQ(c["latency"]["count"].get<uint64_t>(), 600u);
    EXPECT_EQ(s["model"], model);
    EXPECT_EQ(s["connections"].get<uint64_t>(), 3u);
    EXPECT_EQ(s["closed"].get<uint64_t>(), 3u);
    EXPECT_EQ(s["bytes"].get<uint64_t>(), 600u * 100);
    EXPECT_EQ(s["stop_reason"], "max-connections");
    bool loop_form = model != "thread" && model != "fork";
    ASSERT_EQ(s.contains("loop"), loop_form) << s;
    if (!loop_form)
        return;
    const json& l = s["loop"];
    uint64_t calls = 0, events = 0;
    for (auto& [n, k] : l["events_per_call"].items()) {
        calls += k.get<uint64_t>();
        events += std::stoull(n) * k.get<uint64_t>();
    }
    EXPECT_EQ(calls + l["errors"].get<uint64_t>(), l["wait_calls"].get<uint64_t>());
    EXPECT_EQ(events, l["events"].get<uint64_t>());
    // level-triggered loops read once per readiness, so every request needs one; the
    // coroutines read on until EAGAIN and may find the next request without waiting
    if (model == "coro")
        EXPECT_GT(l["events"].get<uint64_t>(), 0u);
    else
        EXPECT_GE(l["events"].get<uint64_t>(), 600u);
}

INSTANTIATE_TEST_SUITE_P(Models, EchoForms,
                         ::testing::Values("thread", "fork", "epoll", "coro", "poll", "select"));

TEST(EchoWorkload, EdgeTriggeredAndSmallMaxevents) {
    for (std::string model : {"epoll", "coro"}) {
        json j = bench({"--model", model, "--edge", "-c", "4", "-n", "200", "--maxevents", "1"});
        EXPECT_EQ(j["client"]["requests"].get<uint64_t>(), 800u) << model;
        EXPECT_EQ(j["server"]["loop"]["maxevents"].get<int>(), 1);
        // maxevents 1: every call that returned anything was full
        EXPECT_EQ(j["server"]["loop"]["full"].get<uint64_t>(),
                  j["server"]["loop"]["events"].get<uint64_t>());
    }
}

TEST(EchoWorkload, IdleStepsOpenIdleConnectionsBesideTheActiveOnes) {
    json j = bench({"--model", "poll", "-c", "1", "-n", "50", "--idle-steps", "0,40"});
    ASSERT_EQ(j["client"]["steps"].size(), 2u);
    EXPECT_EQ(j["client"]["steps"][0]["idle_connections"], 0);
    EXPECT_EQ(j["client"]["steps"][1]["idle_connections"], 40);
    EXPECT_EQ(j["client"]["steps"][1]["requests"], 50);
    EXPECT_EQ(j["server"]["connections"].get<uint64_t>(), 41u);
}

TEST(EchoWorkload, ServerStopsAtItsDeadlineInEveryForm) {
    for (std::string model : {"thread", "fork", "epoll", "coro", "poll", "select"}) {
        auto r = run({bin("echo-server"), "--model", model, "-d", "0.3", "--json", "-"});
        ASSERT_EQ(r.status, 0) << model << ": " << r.err;
        json j = parse_json(r.out);
        EXPECT_EQ(j["stop_reason"], "duration") << model;
        EXPECT_EQ(j["connections"], 0) << model;
    }
}

TEST(EchoWorkload, BadOptionsAreOneClearLine) {
    expect_one_line_error(run({bin("echo-server"), "--model", "nope"}), 2, "echo-server",
                          "not a server form");
    expect_one_line_error(run({bin("echo-server"), "--model", "poll", "--edge"}), 2, "echo-server",
                          "--edge applies to --model epoll or coro only");
    expect_one_line_error(run({bin("echo-server")}), 2, "echo-server", "--model");
    expect_one_line_error(run({bin("echo-client")}), 2, "echo-client", "--port");
    expect_one_line_error(run({bin("echo-client"), "--port", "1"}), 1, "echo-client",
                          "cannot connect to 127.0.0.1:1");
    expect_one_line_error(run({bin("echo-bench"), "--model", "epoll", "-n", "0"}), 2, "echo-bench",
                          "-n 0 needs -d");
    expect_one_line_error(run({bin("echo-bench"), "--model", "epoll", "--idle-steps", "5,x"}), 2,
                          "echo-bench", "--idle-steps 5,x");
    expect_one_line_error(run({bin("echo-bench"), "--model", "epoll", "--host", "x"}), 2,
                          "echo-bench", "--host");
}
