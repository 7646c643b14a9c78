// The run's part of every tracer's JSON report (lib/bpf/run_report.h).
#include <gtest/gtest.h>

#include "run_report.h"

TEST(RunJson, CarriesTheRunAndTheWorkloadOnlyOnceItEnded) {
    tk::RunInfo run;
    run.target = "./w -n 3 (pid 42)";
    run.command = {"./w", "-n", "3"};
    run.probe_mode = "tp_btf";
    run.duration_s = 1.5;
    run.end_reason = "the workload ended";
    run.probes = {{"sched_switch", true, ""}, {"sched_exit_tp", false, "not in this kernel"}};
    run.warnings = {"something could not be measured"};
    auto j = tk::run_json("some-trace", run);
    EXPECT_EQ(j["tool"], "some-trace");
    EXPECT_EQ(j["schema_version"], 1);
    EXPECT_EQ(j["target"], run.target);
    EXPECT_EQ(j["command"].size(), 3u);
    EXPECT_EQ(j["probe_mode"], "tp_btf");
    EXPECT_DOUBLE_EQ(j["duration_s"].get<double>(), 1.5);
    EXPECT_EQ(j["end_reason"], "the workload ended");
    ASSERT_EQ(j["probes"].size(), 2u);
    EXPECT_EQ(j["probes"][1]["error"], "not in this kernel");
    EXPECT_FALSE(j.contains("bpf_run_time"));  // only with -v
    EXPECT_FALSE(j.contains("workload"));      // -p/-t, or not ended yet
    EXPECT_EQ(j["warnings"][0], "something could not be measured");

    tk::ExitStatus killed;
    killed.signo = 11;
    run.workload_status = killed;
    j = tk::run_json("some-trace", run);
    EXPECT_EQ(j["workload"]["exit_code"], 139);
    EXPECT_NE(j["workload"]["status"].get<std::string>().find("SIGSEGV"), std::string::npos);
}
