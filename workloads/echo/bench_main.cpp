// echo-bench: an echo server and its load in one command, for tracing both at once:
// starts echo-server in the chosen form, runs the client against it, lets the server stop
// once every connection has closed, and reports both sides.
//
//   echo-bench --model epoll -c 4 -n 5000
//   echo-bench --model poll -c 1 --idle-steps 10,1000 -n 500 --json -
#include <unistd.h>

#include <iostream>

#include "common/cli.h"
#include "common/json_output.h"
#include "common/rusage.h"
#include "echo/client.h"
#include "echo/server.h"
#include "echo/server_process.h"
#include "errors.h"

namespace {

int run(int argc, char** argv) {
    CLI::App app{
        "Echo server (one of six forms) plus its client in one run; reports requests per second\n"
        "and the server's own count of its waiting calls.",
        "echo-bench"};
    echo::ClientOptions o;
    std::string model, json_dest, steps;
    uint64_t idle = 0;
    int maxevents = 64, timeout_ms = -1;
    bool edge = false;
    app.add_option("--model", model, "server form: thread, fork, epoll, coro, poll or select")
        ->required();
    app.add_option("-c,--connections", o.connections, "active connections (default 1)")
        ->check(CLI::Range(1, 4096));
    app.add_option("-n,--requests", o.requests,
                   "round trips per connection and step; 0: until -d (default 1000)");
    app.add_option("-d,--duration", o.duration_s, "stop each step after SECONDS")
        ->check(CLI::PositiveNumber);
    app.add_option("--size", o.size, "bytes per message (default 64)")
        ->check(CLI::Range(1, 1 << 24));
    auto* idle_opt = app.add_option("--idle", idle, "idle connections held open during the run");
    app.add_option("--idle-steps", steps,
                   "several phases: idle connections open in each, e.g. 10,1000")
        ->excludes(idle_opt);
    app.add_option("--maxevents", maxevents, "server: events per epoll_wait")
        ->check(CLI::Range(1, 65536));
    app.add_option("--timeout-ms", timeout_ms, "server: timeout of every waiting call")
        ->check(CLI::Range(-1, 3600000));
    app.add_flag("--edge", edge, "server: edge-triggered epoll");
    app.add_option("--json", json_dest, "write the JSON report to FILE, or to stdout with -");
    wl::parse_options(app, argc, argv);
    const auto& models = echo::server_models();
    if (std::find(models.begin(), models.end(), model) == models.end())
        throw tk::UserError(
            "--model " + model + " is not a server form: use one of " + wl::join(models), 2);
    if (o.requests == 0 && o.duration_s == 0)
        throw tk::UserError("-n 0 needs -d: the run must be bounded", 2);
    o.idle_steps = steps.empty() ? std::vector<uint64_t>{idle} : echo::parse_steps(steps);
    wl::check_json_dest(json_dest);

    std::vector<std::string> server_args = {"--max-connections",
                                            std::to_string(o.connections + o.max_idle())};
    if (model == "epoll" || model == "coro") {
        server_args.insert(server_args.end(), {"--maxevents", std::to_string(maxevents)});
        if (edge)
            server_args.push_back("--edge");
    }
    if (timeout_ms >= 0)
        server_args.insert(server_args.end(), {"--timeout-ms", std::to_string(timeout_ms)});
    wl::Usage before = wl::workload_usage();
    echo::ServerProcess server(model, server_args);
    o.port = server.port();
    echo::ClientResult client = echo::run_client(o);
    nlohmann::json server_report = server.finish(10.0 + double(o.max_idle()) / 100.0);

    // CPU time of both sides (the server is reaped by now, so RUSAGE_CHILDREN has it)
    wl::Usage used = wl::workload_usage().since(before);
    nlohmann::json j = {{"workload", "echo-bench"},
                        {"schema_version", wl::kSchemaVersion},
                        {"model", model},
                        {"client", client.to_json()},
                        {"server", server_report},
                        {"cpu_s", used.cpu_s},
                        {"cpu_us_per_request",
                         client.requests() ? used.cpu_s * 1e6 / double(client.requests()) : 0.0},
                        {"context_switches", used.switches.total()}};
    if (wl::wants_text(json_dest)) {
        std::cout << client.to_text();
        auto& s = server_report;
        std::cout << "echo-server (" << model << ", pid " << s["pid"] << "): " << s["connections"]
                  << " connections, " << s["bytes"] << " bytes echoed";
        if (s.contains("loop"))
            std::cout << "; " << s["loop"]["syscall"].get<std::string>() << " "
                      << s["loop"]["wait_calls"] << " calls returned " << s["loop"]["events"]
                      << " events";
        std::cout << "\n" << std::flush;
    }
    wl::write_json(j, json_dest);
    if (client.failures()) {
        std::fprintf(stderr, "echo-bench: %llu requests failed (connection lost or wrong echo)\n",
                     (unsigned long long)client.failures());
        return wl::kExitNotVerified;
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return wl::guarded_main("echo-bench", [&] { return run(argc, argv); });
}
