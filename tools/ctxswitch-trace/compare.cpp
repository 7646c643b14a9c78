// Running the comparison: every model/IPC pair of the pingpong workload in every placement,
// once per round, each run under its own tracer; the workload's JSON beside the kernel's
// histograms.
#include "compare.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>

#include "errors.h"
#include "json_text.h"
#include "kernel_features.h"
#include "output.h"
#include "text.h"
#include "trace_session.h"
#include "tracer.h"
#include "uprobe.h"

namespace ctxswitch {

namespace {

struct CompareOptions {
    bool quick = false;
    std::string json, svg;
    std::string pingpong;
    size_t rounds = 0;
    uint64_t kernel_iterations = 0;  // 0: each kernel row runs for row_seconds
    double row_seconds = 0;
    uint64_t coroutine_iterations = 0;
    bool full_matrix = false;  // cross-CPU and unpinned run every IPC kind too
    std::string only;          // "thread" or "thread/futex": a subset of the matrix
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
    Tracer tracer(opts, false);
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

// The figures of one traced run of a row. NaN where not measured.
RoundValues round_values(const TracedRun& run, const std::string& model) {
    const auto& w = run.workload;
    const auto& s = run.snapshot;
    const double none = std::nan("");
    RoundValues v;
    v.v.fill(none);
    v.iterations = w.at("iterations").get<uint64_t>();
    v.verified = w.value("verified", false);
    v.v[F_RTT_P50] = w.at("rtt_p50_ns").get<double>();
    v.v[F_RTT_P99] = w.at("rtt_p99_ns").get<double>();
    v.v[F_SWITCH_COST] = w.at("switch_cost_ns").get<double>();
    v.v[F_WORKLOAD_SW_PER_RT] = w.at("kernel_switches_per_rt").get<double>();
    v.v[F_KERNEL_SW_PER_RT] =
        v.iterations ? double(s.counter(CS_C_SWITCHES)) / double(v.iterations) : none;
    if (model == "coroutine") {
        v.v[F_USER_SW_PER_RT] = w.at("user_switches_per_rt").get<double>();
        return v;
    }
    v.v[F_USER_SW_PER_RT] = 0;
    const tk::Histogram& handoff =
        s.hist(model == "process" ? CS_H_HANDOFF_CROSS : CS_H_HANDOFF_SAME);
    if (handoff.count()) {
        v.v[F_HANDOFF_P50] = double(handoff.percentile(50));
        v.v[F_HANDOFF_P99] = double(handoff.percentile(99));
    }
    // the row's kind of switch; measured only when the tasks switched to each other often
    // enough (across CPUs they mostly switch to and from idle)
    const tk::Histogram& cost =
        s.hist(CS_H_SWITCH_COST + (model == "process" ? CS_KIND_PROCESS : CS_KIND_THREAD));
    if (cost.count() && cost.count() * 10 >= v.iterations)
        v.v[F_KERNEL_COST_P50] = double(cost.percentile(50));
    return v;
}

std::vector<std::string> row_command(const CompareOptions& o, const std::string& model,
                                     const std::string& ipc, const Placement& placement) {
    std::vector<std::string> cmd = {o.pingpong, "--model", model, "--ipc", ipc};
    if (model == "coroutine") {
        cmd.insert(cmd.end(), {"-n", std::to_string(o.coroutine_iterations), "--cpu",
                               placement.cpus.empty() ? "0" : placement.cpus});
        return cmd;
    }
    if (o.kernel_iterations)
        cmd.insert(cmd.end(), {"-n", std::to_string(o.kernel_iterations)});
    else
        cmd.insert(cmd.end(), {"-d", tk::strprintf("%g", o.row_seconds)});
    if (!placement.cpus.empty())
        cmd.insert(cmd.end(), {"--cpu", placement.cpus});
    return cmd;
}

// User-level switches per round trip of a coroutine row: seen by a uprobe where there is a
// function to probe, in a separate short run (a uprobe hit costs far more than the switch
// and would spoil the timings), once: it is a count, not a timing.
void count_user_switches(const CompareOptions& o, CompareRow& row, std::vector<std::string> cmd) {
    std::string function = row.ipc == "asm"        ? "coro_switch"
                           : row.ipc == "ucontext" ? "swapcontext"
                                                   : "";
    if (function.empty()) {
        row.user_switches_source = "the workload's own count";
        return;
    }
    auto f = resolve_user_function(function, o.pingpong);
    auto n = std::find(cmd.begin(), cmd.end(), "-n");
    *(n + 1) = o.quick ? "200" : "2000";
    TracedRun probed = traced_run(cmd, f.binary, f.function);
    uint64_t iterations = probed.workload.at("iterations").get<uint64_t>();
    row.rounds.front().v[F_USER_SW_PER_RT] =
        iterations ? double(probed.snapshot.counter(CS_C_USER_SWITCHES)) / double(iterations)
                   : std::nan("");
    row.user_switches_source = "uprobe on " + function + " (first round)";
}

// The CPUs this process may run on, in order.
std::vector<int> allowed_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    std::vector<int> cpus;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return cpus;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set))
            cpus.push_back(c);
    return cpus;
}

std::vector<Placement> placements(const std::string& list) {
    auto cpus = allowed_cpus();
    if (cpus.empty())
        throw tk::UserError(tk::errno_text("sched_getaffinity") + ": cannot read the CPU mask");
    std::vector<Placement> out;
    std::istringstream in(list);
    std::string name;
    while (std::getline(in, name, ',')) {
        if (name == "same-cpu")
            out.push_back({name, std::to_string(cpus[0])});
        else if (name == "cross-cpu" && cpus.size() >= 2)
            out.push_back({name, std::to_string(cpus[0]) + "," + std::to_string(cpus[1])});
        else if (name == "cross-cpu")
            fprintf(stderr,
                    "ctxswitch-trace compare: cross-cpu left out: this process may "
                    "run on one CPU only\n");
        else if (name == "unpinned")
            out.push_back({name, ""});
        else
            throw tk::UserError("--placements: no placement '" + name +
                                    "': use same-cpu, cross-cpu, unpinned (comma-separated)",
                                2);
    }
    if (out.empty())
        throw tk::UserError("--placements: nothing to run", 2);
    return out;
}

// The rows of one round, in the order they run: per placement, each IPC kind's process and
// thread rows side by side (so a pair runs close in time), then the rest. Cross-CPU and
// unpinned rows are the kernel IPC kinds both models have: the pairs the conclusions use.
std::vector<CompareRow> plan(const std::vector<std::pair<std::string, std::string>>& pairs,
                             const std::vector<Placement>& pls, bool full_matrix_everywhere) {
    auto has = [&](const std::string& model, const std::string& ipc) {
        return std::find(pairs.begin(), pairs.end(), std::pair{model, ipc}) != pairs.end();
    };
    std::vector<CompareRow> rows;
    for (auto& pl : pls) {
        bool same = pl.name == "same-cpu";
        std::string cpus = pl.cpus.empty() ? "unpinned" : pl.cpus;
        for (auto& [model, ipc] : pairs) {
            bool paired = has("process", ipc) && has("thread", ipc);
            if (model == "coroutine" && !same)
                continue;
            if (!same && !paired && !full_matrix_everywhere)
                continue;
            if (model == "thread" && paired)
                continue;  // placed beside its process row below
            rows.push_back({model, ipc, pl.name, cpus, {}, "none"});
            if (model == "process" && paired)
                rows.push_back({"thread", ipc, pl.name, cpus, {}, "none"});
        }
    }
    return rows;
}

}  // namespace

int compare_main(int argc, char** argv) {
    CLI::App app{
        "Run the ping-pong matrix (processes, threads, coroutines over every IPC kind; same-CPU,\n"
        "cross-CPU and unpinned) under ctxswitch-trace in interleaved rounds, and print one\n"
        "table of medians with their spread and the conclusions that hold up. See\n"
        "docs/ctxswitch-trace.md and docs/compare.md.",
        "ctxswitch-trace compare"};
    CompareOptions o;
    std::string placement_list = "same-cpu,cross-cpu,unpinned";
    app.add_flag("--quick", o.quick,
                 "a smoke test (3 rounds, small counts, about 20 s): its conclusions are not to "
                 "be trusted");
    app.add_option("--json", o.json, "write the table as JSON to FILE ('-' for stdout)")
        ->type_name("FILE");
    app.add_option("--svg", o.svg, "write a chart of the round trips and handoffs to FILE")
        ->type_name("FILE");
    app.add_option("--rounds", o.rounds,
                   "rounds (default 9; conclusions need at least 6); every row runs once per "
                   "round, interleaved")
        ->check(CLI::Range(1, 1000));
    app.add_option("--placements", placement_list,
                   "where the two tasks run: same-cpu (both on one CPU), cross-cpu (one on each "
                   "of two CPUs), unpinned (the scheduler decides), comma-separated")
        ->type_name("LIST");
    app.add_option("--pingpong", o.pingpong,
                   "the pingpong workload binary (default: next to this tool)");
    app.add_option("--only", o.only, "run only MODEL or MODEL/IPC (e.g. thread, process/pipe)");
    app.add_option("-n,--iterations", o.kernel_iterations,
                   "round trips per process and thread row and round (default: each runs for a "
                   "fixed time)");
    app.add_flag("--all-ipcs", o.full_matrix,
                 "cross-CPU and unpinned too run every IPC kind (default: the kinds both "
                 "processes and threads have)");
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
    if (!app.count("--rounds"))
        o.rounds = o.quick ? 3 : 9;
    o.row_seconds = o.quick ? 0.02 : 0.12;
    o.coroutine_iterations = o.quick ? 20000 : 200000;
    CompareResult result;
    result.placements = placements(placement_list);
    tk::KernelFeatures::get().require_tracing("ctxswitch-trace");
    result.quick = o.quick;
    result.rounds = o.rounds;
    result.machine = read_machine_info();
    result.rows = plan(matrix(o.pingpong, o.only), result.placements, o.full_matrix);
    bool json_to_stdout = o.json == "-";
    size_t cells = result.rows.size() * o.rounds, done = 0;
    for (size_t round = 0; round < o.rounds; round++) {
        // odd rounds run the list backwards: a drift of the machine within a round weighs on
        // both orders of every pair
        for (size_t i = 0; i < result.rows.size(); i++) {
            CompareRow& row = result.rows[round % 2 ? result.rows.size() - 1 - i : i];
            const Placement& pl =
                *std::find_if(result.placements.begin(), result.placements.end(),
                              [&](const Placement& p) { return p.name == row.placement; });
            if (isatty(2))
                fprintf(stderr, "\r%-72s",
                        tk::strprintf("round %zu/%zu: %s / %s, %s (%zu%%) ...", round + 1, o.rounds,
                                      row.model.c_str(), row.ipc.c_str(), row.placement.c_str(),
                                      done * 100 / cells)
                            .c_str());
            auto cmd = row_command(o, row.model, row.ipc, pl);
            row.rounds.push_back(round_values(traced_run(cmd, "", ""), row.model));
            if (round == 0 && row.model == "coroutine")
                count_user_switches(o, row, cmd);
            done++;
        }
    }
    if (isatty(2))
        fprintf(stderr, "\r%-72s\r", "");
    result.conclusions = compare_conclusions(result.rows, result.placements);
    result.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

    if (!json_to_stdout)
        fputs(compare_table(result).c_str(), stdout);
    if (!o.json.empty())
        tk::write_output(o.json, tk::json_text(compare_json(result)) + "\n");
    if (!o.svg.empty()) {
        tk::write_output(o.svg, compare_svg(result));
        if (!json_to_stdout)
            printf("chart: %s\n", o.svg.c_str());
    }
    for (auto& row : result.rows)
        if (!row.verified())
            throw tk::UserError(
                row.model + "/" + row.ipc + " (" + row.placement + ") did not verify its tokens",
                1);
    return 0;
}

}  // namespace ctxswitch
