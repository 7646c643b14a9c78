// contention, run for real: every mode in both models keeps its exclusion invariants and
// counts every acquisition; the lock is the named global; broken locking is caught.
#include <cstdio>
#include <memory>

#include <gtest/gtest.h>

#include "run_tool.h"

namespace {

using nlohmann::json;
using wltest::run_json;

struct Case {
    std::string mode, model;
    friend std::ostream& operator<<(std::ostream& os, const Case& c) {
        return os << c.mode << " " << c.model;
    }
};

std::vector<Case> all_cases() {
    std::vector<Case> cases;
    for (const char* mode : {"mutex", "spin", "rwlock", "condvar", "semaphore"})
        for (const char* model : {"thread", "process"})
            cases.push_back({mode, model});
    return cases;
}

class ContentionCase : public ::testing::TestWithParam<Case> {};

TEST_P(ContentionCase, CountsEveryAcquisitionAndKeepsExclusion) {
    const auto& c = GetParam();
    const uint64_t n = 2000, w = 3;
    json j =
        run_json("contention", {"--mode", c.mode, "--model", c.model, "-w", std::to_string(w), "-n",
                                std::to_string(n), "--cs-ns", "100", "--think-ns", "100"});
    for (const char* key : {"mode",
                            "model",
                            "workers",
                            "lock",
                            "ops",
                            "lock_acquisitions",
                            "ops_per_sec",
                            "wait",
                            "wait_p50_ns",
                            "wait_p99_ns",
                            "op",
                            "op_p50_ns",
                            "op_p99_ns",
                            "voluntary_switches",
                            "involuntary_switches",
                            "switches_per_op",
                            "cpus",
                            "checks",
                            "per_worker",
                            "verified"})
        ASSERT_TRUE(j.contains(key)) << "missing " << key << " in " << j.dump();
    EXPECT_EQ(j["mode"], c.mode);
    EXPECT_EQ(j["model"], c.model);
    EXPECT_EQ(j["verified"], true) << j["checks"].dump();
    EXPECT_EQ(j["checks"]["violations"], 0);
    EXPECT_EQ(j["lock"]["process_shared"], c.model == "process");
    EXPECT_EQ(j["per_worker"].size(), w);
    uint64_t ops = j["ops"];
    EXPECT_EQ(j["wait"]["count"], ops);
    EXPECT_EQ(j["op"]["count"], ops);
    EXPECT_LE(j["wait_p50_ns"].get<uint64_t>(), j["wait_p99_ns"].get<uint64_t>());
    uint64_t per_worker_sum = 0;
    for (const auto& pw : j["per_worker"])
        per_worker_sum += pw["lock_acquisitions"].get<uint64_t>();
    EXPECT_EQ(per_worker_sum, j["lock_acquisitions"].get<uint64_t>());
    if (c.mode == "condvar") {
        // 1 producer, 2 consumers: every item produced is consumed exactly once.
        EXPECT_EQ(j["queue"]["producers"], 1);
        EXPECT_EQ(j["queue"]["produced"], n);
        EXPECT_EQ(j["queue"]["consumed"], n);
        EXPECT_EQ(ops, 2 * n);  // puts + gets
    } else {
        EXPECT_EQ(ops, n * w);
        EXPECT_EQ(j["lock_acquisitions"], ops);
    }
    if (c.mode == "mutex" || c.mode == "spin") {
        EXPECT_EQ(j["checks"]["protected_counter"], ops);
    }
    if (c.mode == "rwlock") {
        EXPECT_EQ(j["rwlock"]["reads"].get<uint64_t>() + j["rwlock"]["writes"].get<uint64_t>(),
                  ops);
    }
    if (c.mode == "semaphore") {
        EXPECT_LE(j["semaphore"]["max_holders"].get<int>(), j["semaphore"]["permits"].get<int>());
    }
}

INSTANTIATE_TEST_SUITE_P(AllModes, ContentionCase, ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                             return info.param.mode + "_" + info.param.model;
                         });

// The lock the tracer will see is the named global: the reported address sits at the same
// offset in its page as the symbol g_contended_mutex (with the size of a pthread_mutex_t) in
// the binary's symbol table, in both models (the process model remaps that very page).
TEST(Contention, TheLockIsTheNamedGlobal) {
    std::string cmd = std::string("nm -S ") + WORKLOADS_BIN_DIR + "/contention";
    std::unique_ptr<FILE, int (*)(FILE*)> nm(popen(cmd.c_str(), "r"), pclose);
    ASSERT_TRUE(nm);
    char line[512];
    uint64_t value = 0, size = 0;
    bool found = false;
    while (fgets(line, sizeof line, nm.get())) {
        char type, name[256];
        unsigned long long v, s;
        if (sscanf(line, "%llx %llx %c %255s", &v, &s, &type, name) == 4 &&
            std::string(name) == "g_contended_mutex") {
            value = v, size = s, found = true;
        }
    }
    ASSERT_TRUE(found) << "no g_contended_mutex in " << cmd;
    EXPECT_EQ(size, 40u);
    for (const char* model : {"thread", "process"}) {
        json j = run_json("contention", {"--model", model, "-w", "2", "-n", "100"});
        uint64_t address = std::stoull(j["lock"]["address"].get<std::string>(), nullptr, 16);
        EXPECT_EQ(j["lock"]["symbol"], "g_contended_mutex");
        EXPECT_EQ(address % 4096, value % 4096) << model;
    }
}

// The checks are not decoration: without the lock, overlapping holders are seen, the run
// is reported as not verified and the exit status says so.
TEST(Contention, SkippingTheLockFailsVerification) {
    auto run = wltest::run_tool("contention", {"--break-lock", "-w", "4", "-n", "50000", "--cs-ns",
                                               "1000", "--think-ns", "0", "--json", "-"});
    EXPECT_EQ(run.exit_code, 3) << run.err;
    json j = json::parse(run.out);
    EXPECT_EQ(j["verified"], false);
    EXPECT_GT(j["checks"]["violations"].get<uint64_t>(), 0u);
    EXPECT_NE(run.err.find("verification failed"), std::string::npos) << run.err;
}

TEST(Contention, DurationModeRunsUntilTheDeadline) {
    json j = run_json("contention", {"--mode", "rwlock", "-w", "2", "-d", "0.1"});
    EXPECT_EQ(j["verified"], true);
    EXPECT_TRUE(j["ops_per_worker"].is_null());
    EXPECT_GT(j["ops"].get<uint64_t>(), 0u);
}

TEST(Contention, PinningIsReported) {
    json j = run_json("contention", {"--mode", "spin", "-w", "2", "-n", "500", "--cpu", "0"});
    EXPECT_EQ(j["cpus"], "0");
    EXPECT_EQ(j["verified"], true);
}

TEST(Contention, BadOptionsGiveOneLineAndFail) {
    const std::vector<std::vector<std::string>> cases = {
        {"--mode", "ticket"},
        {"--model", "coroutine"},
        {"-w", "0"},
        {"--mode", "condvar", "-w", "1"},
        {"--mode", "condvar", "-w", "3", "--producers", "3"},
        {"--mode", "mutex", "--producers", "1"},
        {"--mode", "rwlock", "--read-pct", "101"},
        {"--mode", "semaphore", "--permits", "0"},
        {"--mode", "condvar", "--queue", "0"},
        {"--mode", "rwlock", "--break-lock"},
        {"-n", "0"},
        {"--cpu", "9999"},
        {"--cs-ns", "-5"},
        {"--json", "/nonexistent/dir/c.json"},
    };
    for (const auto& args : cases)
        wltest::expect_one_line_error("contention", args);
}

}  // namespace
