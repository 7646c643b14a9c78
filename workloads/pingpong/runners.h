// The three ways pingpong runs a round trip: two processes, two threads, or a coroutine and
// its caller on one thread.
#pragma once

#include <string>
#include <vector>

#include "pingpong/result.h"

namespace pp {

Result run_process(const KernelIpc& ipc, const Options& opt);
Result run_thread(const KernelIpc& ipc, const Options& opt);

struct CoroutineIpc {
    std::string name;
    std::string description;
};
const std::vector<CoroutineIpc>& coroutine_ipcs();
Result run_coroutine(const CoroutineIpc& ipc, const Options& opt);

// Both runners: how many baseline round trips to time (the whole count when it is small).
uint64_t baseline_count(const Options& opt, uint64_t cap);
Limits make_limits(const Options& opt, uint64_t start_ns);

}  // namespace pp
