// pingpong: two tasks pass a token back and forth N times over one mechanism, and the
// workload measures itself: round-trip latency percentiles, the estimated switch cost, and
// context switches per round trip from getrusage. See docs/workloads.md.
#include <cstdio>
#include <iostream>

#include "common/cli.h"
#include "common/json_output.h"
#include "errors.h"
#include "pingpong/runners.h"

namespace {

using pp::Model;

struct Pair {
    Model model;
    std::string ipc;
};

std::vector<Pair> all_pairs() {
    std::vector<Pair> pairs;
    for (auto model : {Model::process, Model::thread}) {
        for (const auto& k : pp::kernel_ipcs())
            if (k.model == model)
                pairs.push_back({model, k.name});
    }
    for (const auto& c : pp::coroutine_ipcs())
        pairs.push_back({Model::coroutine, c.name});
    return pairs;
}

std::vector<std::string> ipcs_of(Model model) {
    std::vector<std::string> names;
    for (const auto& p : all_pairs())
        if (p.model == model)
            names.push_back(p.ipc);
    return names;
}

int run(int argc, char** argv) {
    CLI::App app{
        "Ping-pong a token between two processes, two threads or two coroutines over "
        "one IPC mechanism; report round-trip latency, the switch cost estimate and "
        "switches per round trip.",
        "pingpong"};
    std::string model_text, json_dest, cpu_text;
    pp::Options opt;
    uint64_t iterations = 0;
    bool list = false;
    app.add_option("--model", model_text, "process, thread or coroutine");
    app.add_option("--ipc", opt.ipc, "the mechanism; see --list for what each model offers");
    app.add_option("-n,--iterations", iterations,
                   "round trips (default 20000; coroutines 1000000; with -d only: unlimited)")
        ->check(wl::kNonNegative);
    app.add_option("-d,--duration", opt.duration_s, "stop after SECONDS (with -n: whichever first)")
        ->check(CLI::PositiveNumber);
    app.add_option("--cpu", cpu_text,
                   "pin: ping on LIST[0], pong on LIST[1 mod len] (default: unpinned)");
    app.add_option("--json", json_dest, "write the JSON report to FILE, or to stdout with -");
    app.add_flag("--list", list, "print the valid MODEL IPC pairs, one per line");
    wl::parse_options(app, argc, argv);

    if (list) {
        for (const auto& p : all_pairs())
            std::cout << pp::model_name(p.model) << " " << p.ipc << "\n";
        return 0;
    }
    if (model_text == "process")
        opt.model = Model::process;
    else if (model_text == "thread")
        opt.model = Model::thread;
    else if (model_text == "coroutine")
        opt.model = Model::coroutine;
    else
        throw tk::UserError((model_text.empty() ? std::string("--model is required")
                                                : "--model " + model_text + " is not a model") +
                                ": use process, thread or coroutine",
                            2);
    auto valid = ipcs_of(opt.model);
    if (std::find(valid.begin(), valid.end(), opt.ipc) == valid.end())
        throw tk::UserError(
            (opt.ipc.empty() ? std::string("--ipc is required")
                             : "--ipc " + opt.ipc + " is not available for --model " + model_text) +
                ": use one of " + wl::join(valid) + " (see --list)",
            2);
    wl::check_json_dest(json_dest);
    if (!cpu_text.empty())
        opt.cpus = wl::CpuList::parse(cpu_text);
    bool count_given = app.count("--iterations") > 0;
    if (count_given && iterations == 0)
        throw tk::UserError("-n 0: at least one round trip is needed", 2);
    if (count_given)
        opt.iterations = iterations;
    else if (opt.duration_s == 0)
        opt.iterations = opt.model == Model::coroutine ? 1000000 : 20000;

    pp::Result result;
    if (opt.model == Model::coroutine) {
        for (const auto& c : pp::coroutine_ipcs())
            if (c.name == opt.ipc)
                result = pp::run_coroutine(c, opt);
    } else {
        for (const auto& k : pp::kernel_ipcs()) {
            if (k.model != opt.model || k.name != opt.ipc)
                continue;
            result = opt.model == Model::process ? pp::run_process(k, opt) : pp::run_thread(k, opt);
        }
    }

    if (wl::wants_text(json_dest))
        std::cout << result.to_text() << std::flush;
    wl::write_json(result.to_json(), json_dest);
    if (!result.verified()) {
        std::fprintf(stderr,
                     "pingpong: verification failed: tokens were lost or changed (see the "
                     "counts above): the IPC path or the machine misbehaves\n");
        return wl::kExitNotVerified;
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return wl::guarded_main("pingpong", [&] { return run(argc, argv); });
}
