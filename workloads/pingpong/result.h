// What one ping-pong run measured, and its text and JSON views (schema in docs/workloads.md).
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "common/cpus.h"
#include "common/rusage.h"
#include "histogram.h"
#include "pingpong/link.h"

namespace pp {

struct Options {
    Model model = Model::thread;
    std::string ipc;
    uint64_t iterations = 0;  // 0: no count limit (only -d)
    double duration_s = 0;    // 0: no time limit
    wl::CpuList cpus;
};

// Stop after `iterations` round trips or `duration_s` seconds, whichever comes first.
struct Limits {
    uint64_t iterations = 0;
    uint64_t deadline_ns = 0;  // absolute CLOCK_MONOTONIC time, 0 = none
    bool reached(uint64_t done, uint64_t now) const {
        return (iterations && done >= iterations) || (deadline_ns && now >= deadline_ns);
    }
};

struct Result {
    Model model = Model::thread;
    std::string ipc, ipc_description;
    std::string cpus;    // "unpinned" or the list
    std::string timing;  // how round trips were timed
    uint64_t requested = 0;
    double duration_s = 0;

    tk::Histogram rtt;       // round-trip times
    tk::Histogram baseline;  // the same IPC calls per round trip, nobody blocking
    // Coroutines: round trips are timed in batches of `batch`; these hold the totals of full
    // batches, and the reported percentiles are theirs divided by `batch` (see coro_runner).
    uint64_t batch = 1;
    tk::Histogram rtt_batches, baseline_batches;
    uint64_t iterations = 0;     // round trips completed
    uint64_t sent = 0;           // tokens the ping side sent
    uint64_t echoed = 0;         // tokens that came back unchanged
    uint64_t pong_received = 0;  // tokens the pong side received, in sequence
    uint64_t mismatches = 0;     // tokens out of sequence, on either side
    uint64_t user_switches = 0;  // coroutine switches, counted by the workload
    wl::Switches switches;       // getrusage, whole workload
    double elapsed_s = 0;

    bool verified() const;
    // Round-trip and baseline percentiles as reported (per round trip, ns).
    double rtt_ns(double p) const { return per_rt(rtt, rtt_batches, p); }
    double baseline_ns() const { return per_rt(baseline, baseline_batches, 50); }
    // (round trip p50 - baseline p50) / 2: a round trip has two handoffs.
    double switch_cost_ns() const;
    double kernel_switches_per_rt() const;
    double user_switches_per_rt() const;

    nlohmann::json to_json() const;
    std::string to_text() const;

  private:
    double per_rt(const tk::Histogram& each, const tk::Histogram& batches, double p) const {
        if (batch > 1 && batches.count() > 0)
            return double(batches.percentile(p)) / double(batch);
        return double(each.percentile(p));
    }
};

}  // namespace pp
