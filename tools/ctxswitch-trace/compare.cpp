// Running the comparison: every model/IPC pair of the pingpong workload, each under its own
// tracer, the workload's JSON beside the kernel's histograms.
#include "compare.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>

#include "errors.h"
#include "kernel_features.h"
#include "output.h"
#include "trace_session.h"
#include "tracer.h"
#include "uprobe.h"

namespace ctxswitch {

namespace {

struct CompareOptions {
    bool quick = false;
    std::string json, svg;
    std::string cpus = "0";
    std::string pingpong;
    uint64_t kernel_iterations = 0, coroutine_iterations = 0;
    std::string only;  // "thread" or "thread/futex": a subset of the matrix
};

std::string our_directory() {
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return ".";
    self[n] = 0;
    std::string s(self);
    return s.substr(0, s.rfind('/'));
}

std::vector<std::pair<std::string, std::string>> matrix(const std::string& pingpong,
                                                        const std::string& only) {
    std::string cmd = "'" + pingpong + "' --list";
    FILE* p = popen(cmd.c_str(), "r");
    if (!p)
        throw tk::UserError(tk::errno_text("cannot run " + pingpong));
    std::vector<std::pair<std::string, std::string>> pairs;
    char line[256];
    while (fgets(line, sizeof line, p)) {
        std::istringstream in(line);
        std::string model, ipc;
        if (!(in >> model >> ipc))
            continue;
        if (!only.empty() && only != model && only != model + "/" + ipc)
            continue;
        pairs.emplace_back(model, ipc);
    }
    int rc = pclose(p);
    if (rc != 0 || pairs.empty())
        throw tk::UserError("'" + pingpong + " --list' gave no model/IPC pairs" +
                            (only.empty() ? "" : " matching " + only) +
                            ": build the workloads (cmake --build build)");
    return pairs;
}

struct TracedRun {
    nlohmann::json workload;
    Snapshot snapshot;
};

// One traced run of the workload; user_switch: "" or the function to count with a uprobe.
TracedRun traced_run(const std::vector<std::string>& command, const std::string& user_switch_binary,
                     const std::string& user_switch_function) {
    std::string out = "/tmp/ctxswitch-compare-" + std::to_string(getpid()) + ".json";
    tk::TraceOptions opts;
    opts.command = command;
    opts.command.push_back("--json");
    opts.command.push_back(out);
    tk::TraceSession session("ctxswitch-trace", opts);
    Tracer tracer(opts);
    if (!user_switch_function.empty())
        tracer.count_user_switches(user_switch_binary, user_switch_function);
    session.launch("/dev/null");
    session.resume();
    auto end = session.wait();
    if (end == tk::TraceSession::End::WorkloadExited)
        tracer.settle(250);
    auto status = session.finish_workload();
    tracer.settle(250);
    TracedRun run;
    tracer.stop_recording();
    run.snapshot = tracer.snapshot();
    tracer.detach();
    std::string text;
    {
        FILE* f = fopen(out.c_str(), "r");
        if (f) {
            char buf[65536];
            size_t n;
            while ((n = fread(buf, 1, sizeof buf, f)) > 0)
                text.append(buf, n);
            fclose(f);
        }
        unlink(out.c_str());
    }
    if (end == tk::TraceSession::End::Interrupted)
        throw tk::UserError("interrupted", 130);
    if (!status.exited || status.code != 0 || text.empty()) {
        std::string cmd;
        for (auto& w : command)
            cmd += (cmd.empty() ? "" : " ") + w;
        throw tk::UserError("the workload failed (" + status.describe() + "): " + cmd);
    }
    run.workload = nlohmann::json::parse(text);
    return run;
}

CompareRow measure(const CompareOptions& o, const std::string& pingpong, const std::string& model,
                   const std::string& ipc) {
    bool coroutine = model == "coroutine";
    uint64_t n = coroutine ? o.coroutine_iterations : o.kernel_iterations;
    std::vector<std::string> cmd = {pingpong, "--model",        model, "--ipc", ipc,
                                    "-n",     std::to_string(n)};
    if (o.cpus != "unpinned") {
        cmd.push_back("--cpu");
        cmd.push_back(o.cpus);
    }
    TracedRun run = traced_run(cmd, "", "");
    const auto& w = run.workload;
    const auto& s = run.snapshot;
    CompareRow row;
    row.model = model;
    row.ipc = ipc;
    row.iterations = w.at("iterations").get<uint64_t>();
    row.rtt_p50_ns = w.at("rtt_p50_ns").get<double>();
    row.rtt_p99_ns = w.at("rtt_p99_ns").get<double>();
    row.switch_cost_ns = w.at("switch_cost_ns").get<double>();
    row.workload_kernel_switches_per_rt = w.at("kernel_switches_per_rt").get<double>();
    row.verified = w.value("verified", false);
    const tk::Histogram& handoff =
        s.hist(model == "process" ? CS_H_HANDOFF_CROSS : CS_H_HANDOFF_SAME);
    if (!coroutine) {
        row.handoff_count = handoff.count();
        row.handoff_p50_ns = handoff.percentile(50);
        row.handoff_p99_ns = handoff.percentile(99);
        const tk::Histogram& cost =
            s.hist(CS_H_SWITCH_COST + (model == "process" ? CS_KIND_PROCESS : CS_KIND_THREAD));
        row.kernel_switch_cost_p50_ns = cost.percentile(50);
    }
    row.kernel_switches_per_rt =
        row.iterations ? double(s.counter(CS_C_SWITCHES)) / double(row.iterations) : 0;

    // user-level switches: seen by a uprobe where there is a function to probe (a separate,
    // short run: a uprobe hit costs far more than the switch and would spoil the timings)
    std::string function = ipc == "asm" ? "coro_switch" : ipc == "ucontext" ? "swapcontext" : "";
    if (coroutine && !function.empty()) {
        auto f = resolve_user_function(function, pingpong);
        uint64_t small = o.quick ? 200 : 2000;
        cmd[6] = std::to_string(small);
        TracedRun probed = traced_run(cmd, f.binary, f.function);
        uint64_t iterations = probed.workload.at("iterations").get<uint64_t>();
        row.user_switches_per_rt =
            iterations ? double(probed.snapshot.counter(CS_C_USER_SWITCHES)) / double(iterations)
                       : 0;
        row.user_switches_source = "uprobe on " + function;
    } else if (coroutine) {
        row.user_switches_per_rt = w.at("user_switches_per_rt").get<double>();
        row.user_switches_source = "the workload's own count";
    } else {
        row.user_switches_source = "none";
    }
    return row;
}

}  // namespace

int compare_main(int argc, char** argv) {
    CLI::App app{
        "Run the ping-pong matrix (processes, threads, coroutines over every IPC kind) under\n"
        "ctxswitch-trace and print one table with conclusions. See docs/ctxswitch-trace.md.",
        "ctxswitch-trace compare"};
    CompareOptions o;
    app.add_flag("--quick", o.quick, "small iteration counts (well under 20 s), for tests");
    app.add_option("--json", o.json, "write the table as JSON to FILE ('-' for stdout)")
        ->type_name("FILE");
    app.add_option("--svg", o.svg, "write a bar chart of the round trips to FILE")
        ->type_name("FILE");
    app.add_option(
        "--cpu", o.cpus,
        "CPU list the workloads are pinned to, or 'unpinned' (default 0: every handoff is a "
        "context switch on one CPU)");
    app.add_option("--pingpong", o.pingpong,
                   "the pingpong workload binary (default: next to this tool)");
    app.add_option("--only", o.only, "run only MODEL or MODEL/IPC (e.g. thread, process/pipe)");
    app.add_option("-n,--iterations", o.kernel_iterations,
                   "round trips for the process and thread rows");
    if (!tk::parse_command_line(app, argc, argv))
        return 0;
    tk::check_writable(o.json, "--json");
    tk::check_writable(o.svg, "--svg");

    auto started = std::chrono::steady_clock::now();
    if (o.pingpong.empty())
        o.pingpong = our_directory() + "/pingpong";
    if (access(o.pingpong.c_str(), X_OK) != 0)
        throw tk::UserError("no pingpong workload at " + o.pingpong +
                            ": build it (cmake --build build) or give --pingpong");
    if (!o.kernel_iterations)
        o.kernel_iterations = o.quick ? 2000 : 50000;
    o.coroutine_iterations = o.quick ? 20000 : 2000000;
    tk::KernelFeatures::get().require_tracing("ctxswitch-trace");

    CompareResult result;
    result.quick = o.quick;
    result.cpus = o.cpus;
    auto pairs = matrix(o.pingpong, o.only);
    bool json_to_stdout = o.json == "-";
    for (auto& [model, ipc] : pairs) {
        if (isatty(2))
            fprintf(stderr, "\r%-60s", ("running " + model + " / " + ipc + " ...").c_str());
        result.rows.push_back(measure(o, o.pingpong, model, ipc));
    }
    if (isatty(2))
        fprintf(stderr, "\r%-60s\r", "");
    result.conclusions = compare_conclusions(result.rows);
    result.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

    if (!json_to_stdout)
        fputs(compare_table(result).c_str(), stdout);
    if (!o.json.empty())
        tk::write_output(o.json, compare_json(result).dump(2) + "\n");
    if (!o.svg.empty()) {
        tk::write_output(o.svg, compare_svg(result));
        if (!json_to_stdout)
            printf("chart: %s\n", o.svg.c_str());
    }
    for (auto& row : result.rows)
        if (!row.verified)
            throw tk::UserError(row.model + "/" + row.ipc + " did not verify its tokens", 1);
    return 0;
}

}  // namespace ctxswitch
