// echo-server: the echo server in one of its six forms (see server.h), measuring its own
// waiting calls. It stops after --max-connections connections have closed, after -d
// seconds, or on SIGTERM/SIGINT, and then reports.
//
//   echo-server --model epoll --port 8080
//   echo-server --model poll --port 0 --ready-fd 3 --max-connections 5 --json -
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "common/cli.h"
#include "common/json_output.h"
#include "echo/net.h"
#include "echo/server.h"
#include "errors.h"

namespace {

int run(int argc, char** argv) {
    CLI::App app{
        "Echo server over loopback TCP in one of six forms: thread, fork, epoll, coro, poll, "
        "select.\n"
        "Reports connections, bytes, and (loop forms) its own count of waiting calls and events.",
        "echo-server"};
    echo::ServerOptions o;
    std::string json_dest;
    int ready_fd = -1;
    bool quiet = false;
    app.add_option("--model", o.model, "thread, fork, epoll, coro, poll or select")->required();
    app.add_option("--host", o.host, "address to listen on (default 127.0.0.1)");
    app.add_option("--port", o.port, "port (default 0: the kernel picks one, printed on stderr)");
    app.add_option("--max-connections", o.max_connections,
                   "stop once this many connections have closed");
    app.add_option("-d,--duration", o.duration_s, "stop after SECONDS")->check(CLI::PositiveNumber);
    app.add_option("--maxevents", o.maxevents, "epoll/coro: events per epoll_wait (default 64)")
        ->check(CLI::Range(1, 65536));
    app.add_option("--timeout-ms", o.timeout_ms, "timeout of every waiting call (default -1: none)")
        ->check(CLI::Range(-1, 3600000));
    app.add_flag("--edge", o.edge_triggered, "epoll/coro: edge-triggered (EPOLLET)");
    app.add_option("--buffer", o.buffer, "bytes per read (default 16384)")
        ->check(CLI::Range(1, 1 << 24));
    app.add_option("--ready-fd", ready_fd,
                   "write the port to this fd once listening, then close it");
    app.add_option("--json", json_dest, "write the JSON report to FILE, or to stdout with -");
    app.add_flag("--quiet", quiet, "no listening line and no text report (for echo-bench)");
    wl::parse_options(app, argc, argv);

    const auto& models = echo::server_models();
    if (std::find(models.begin(), models.end(), o.model) == models.end())
        throw tk::UserError(
            "--model " + o.model + " is not a server form: use one of " + wl::join(models), 2);
    if (o.edge_triggered && o.model != "epoll" && o.model != "coro")
        throw tk::UserError("--edge applies to --model epoll or coro only", 2);
    wl::check_json_dest(json_dest);
    echo::raise_fd_limit();

    echo::Fd listener = echo::listen_on(o.host, o.port);
    uint16_t port = echo::local_port(listener.get());
    auto pipe = echo::SelfPipe::create();
    if (!quiet)
        std::fprintf(stderr, "echo-server: listening on %s:%u (model %s, pid %d)\n", o.host.c_str(),
                     port, o.model.c_str(), int(getpid()));
    if (ready_fd >= 0) {
        std::string text = std::to_string(port) + "\n";
        if (write(ready_fd, text.data(), text.size()) != ssize_t(text.size()))
            throw tk::UserError(tk::errno_text("--ready-fd " + std::to_string(ready_fd)) +
                                ": pass an open fd");
        close(ready_fd);
    }

    echo::ServerResult r =
        echo::run_server(o, listener.get(), pipe.read_end.get(), pipe.write_end.get());
    r.port = port;
    if (!quiet && wl::wants_text(json_dest))
        std::cout << r.to_text() << std::flush;
    nlohmann::json j = r.to_json();
    j["workload"] = "echo-server";
    j["schema_version"] = wl::kSchemaVersion;
    wl::write_json(j, json_dest);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return wl::guarded_main("echo-server", [&] { return run(argc, argv); });
}
