// What ctxswitch-trace read from the kernel at one moment, independent of how it is
// printed: the report writers (text, JSON) work on this alone, so they can be tested
// without BPF.
#pragma once

#include <sys/resource.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bpf_skeleton.h"
#include "ctxswitch.h"
#include "histogram.h"
#include "run_report.h"
#include "stacks.h"

namespace ctxswitch {

struct ThreadRow {
    cs_thread_stats stats{};
    std::string comm;
    bool alive = false;  // still running when the snapshot was taken
};

struct ProcessRow {
    uint32_t pid = 0;
    std::string comm;  // of its main thread when seen, else of any thread
    uint32_t threads = 0;
    cs_thread_stats sum{};  // counters of all its threads added up (tid/comm unused)
};

struct Snapshot : tk::RunInfo {  // probe_mode: "tp_btf" or "raw_tp"
    bool switch_cost_measured = false;
    std::array<uint64_t, CS_COUNTERS> counters{};
    std::array<tk::Histogram, CS_HISTS> hists;
    std::vector<ThreadRow> threads;
    // --user-switch: the probed function, and the measured cost of one uprobe hit
    std::string user_switch_function;  // "BINARY:FUNCTION", "" when not asked for
    double uprobe_cost_ns = 0;
    std::optional<struct rusage> workload_rusage;  // wait4() of the launched command
    // --stacks: the rows as read, then (once the report is built) symbolized
    RawStacks raw_stacks;
    OffCpuStacks stacks;  // stacks.enabled: --stacks was given

    uint64_t counter(cs_counter c) const { return counters[c]; }
    const tk::Histogram& hist(int id) const { return hists[size_t(id)]; }
    // wakeup-to-run of every kind together
    tk::Histogram wakeup_to_run() const;
    std::vector<ProcessRow> processes() const;
};

// The histograms under their documented names (JSON keys), in report order.
struct NamedHist {
    const char* name;   // "switch_cost_thread"
    const char* title;  // "switch cost, thread switch (same process)"
    int id;             // cs_hist_id, or -1 for the merged wakeup_to_run
};
const std::vector<NamedHist>& named_histograms();

}  // namespace ctxswitch
