// echo-client: load for the echo server: N connections doing request/response round trips
// on loopback, bounded in count (-n per connection) and time (-d), with optional idle
// connections held open (--idle, or --idle-steps for several phases in one run).
//
//   echo-client --port 8080 -c 4 -n 10000
//   echo-client --port 8080 -c 1 --idle-steps 10,1000 -n 2000
#include <iostream>

#include "common/cli.h"
#include "common/json_output.h"
#include "echo/client.h"
#include "errors.h"

namespace {

int run(int argc, char** argv) {
    CLI::App app{"Echo load generator: request/response round trips over N loopback connections.",
                 "echo-client"};
    echo::ClientOptions o;
    std::string json_dest, steps;
    uint64_t idle = 0;
    app.add_option("--host", o.host, "server address (default 127.0.0.1)");
    app.add_option("--port", o.port, "server port")->required()->check(CLI::Range(1, 65535));
    app.add_option("-c,--connections", o.connections,
                   "active connections, one thread each (default 1)")
        ->check(CLI::Range(1, 4096));
    app.add_option("-n,--requests", o.requests,
                   "round trips per connection (and step); 0: until -d (default 1000)");
    app.add_option("-d,--duration", o.duration_s, "stop each step after SECONDS")
        ->check(CLI::PositiveNumber);
    app.add_option("--size", o.size, "bytes per message (default 64)")
        ->check(CLI::Range(1, 1 << 24));
    auto* idle_opt = app.add_option("--idle", idle, "idle connections held open during the run");
    app.add_option("--idle-steps", steps,
                   "several phases: idle connections open in each, e.g. 10,1000")
        ->excludes(idle_opt);
    app.add_option("--json", json_dest, "write the JSON report to FILE, or to stdout with -");
    wl::parse_options(app, argc, argv);
    if (o.requests == 0 && o.duration_s == 0)
        throw tk::UserError("-n 0 needs -d: the run must be bounded", 2);
    o.idle_steps = steps.empty() ? std::vector<uint64_t>{idle} : echo::parse_steps(steps);
    wl::check_json_dest(json_dest);

    echo::ClientResult r = echo::run_client(o);
    if (wl::wants_text(json_dest))
        std::cout << r.to_text() << std::flush;
    nlohmann::json j = r.to_json();
    j["workload"] = "echo-client";
    j["schema_version"] = wl::kSchemaVersion;
    wl::write_json(j, json_dest);
    if (r.failures()) {
        std::fprintf(stderr, "echo-client: %llu requests failed (connection lost or wrong echo)\n",
                     (unsigned long long)r.failures());
        return wl::kExitNotVerified;
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return wl::guarded_main("echo-client", [&] { return run(argc, argv); });
}
