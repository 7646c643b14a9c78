// The load generator: N active connections on loopback, each a thread sending a message
// and waiting for its echo (closed loop), bounded in requests and in time; optionally with
// idle connections held open beside them, in steps (--idle-steps 10,1000), so one run shows
// how the server's waiting calls cost with few and with many fds.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "histogram.h"

namespace echo {

struct ClientOptions {
    std::string host = "127.0.0.1";
    uint16_t port = 0;
    unsigned connections = 1;                // active connections
    uint64_t requests = 1000;                // per active connection and step (0: until -d)
    double duration_s = 0;                   // per step (0: no limit)
    size_t size = 64;                        // bytes per message
    std::vector<uint64_t> idle_steps = {0};  // idle connections open during each step
    uint64_t max_idle() const;
};

struct StepResult {
    uint64_t idle = 0;
    uint64_t requests = 0;
    uint64_t failures = 0;  // lost connections or wrong echoes
    double elapsed_s = 0;
    tk::Histogram latency;  // per request round trip
    double requests_per_s() const { return elapsed_s > 0 ? double(requests) / elapsed_s : 0; }
};

struct ClientResult {
    ClientOptions options;
    std::vector<StepResult> steps;
    uint64_t requests() const;
    uint64_t failures() const;
    double elapsed_s() const;
    double requests_per_s() const { return elapsed_s() > 0 ? double(requests()) / elapsed_s() : 0; }
    tk::Histogram latency() const;
    nlohmann::json to_json() const;
    std::string to_text() const;
};

// Connects, runs every step, closes everything. Throws tk::UserError when it cannot connect.
ClientResult run_client(const ClientOptions& o);

// "0,10,1000" -> {0, 10, 1000}; throws tk::UserError (exit 2) on anything else.
std::vector<uint64_t> parse_steps(const std::string& text);

}  // namespace echo
