// The exporter's numbers as the Prometheus text exposition format (version 0.0.4): what a
// scrape of /metrics returns and what --textfile writes. Pure: no BPF, so the unit tests
// drive it with made-up snapshots.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "exporter.h"

namespace exporter {

// One series of the kernel's table: a (cgroup, comm) pair, or the overflow series.
struct Series {
    bool overflow = false;  // slot 0: what did not fit
    uint64_t cgroup_id = 0;
    std::string comm;
    std::array<uint64_t, EXP_SERIES_COUNTERS> counters{};
    // Its EXP_HISTS histograms where they are kept, not a copy: in the exporter, the
    // kernel's map mapped into our memory (36 KiB a series; copying a thousand series each
    // scrape cost more CPU than writing them). The kernel adds to them meanwhile, so each
    // is read once, into a copy of its own, when it is written.
    const exp_hist* hists = nullptr;
};

// One futex-word series of the exposition: a lock among the top N by blocked time (named by
// what the word lies in), or the `other` series that gathers the rest.
struct LockSeries {
    bool other = false;
    uint64_t cgroup_id = 0;
    std::string comm;    // the process's command
    std::string lock;    // the word's name: "g_contended_mutex", "[heap]+0x2a0", "libfoo.so.1
                         // .bss+0x40 (no symbol)"
    exp_hist blocked{};  // blocked time of its blocked waits
};

struct ProgramCost {
    std::string program;
    uint64_t runs = 0;
    uint64_t run_time_ns = 0;
};

// Everything one scrape shows.
struct Snapshot {
    std::vector<Series> series;
    std::map<uint64_t, std::string> cgroup_paths;  // cgroup id -> path under the v2 root
    uint32_t series_limit = 0;
    uint32_t series_used = 0;
    std::array<exp_hist, EXP_KLOCK_KINDS> kernel_locks{};  // contention by lock kind
    std::vector<LockSeries> locks;  // futex blocked time: the top N words, then `other`
    bool futex_probes = false;      // the futex waits are traced (--top-locks above 0)
    uint32_t lock_words = 0;        // words in the kernel's table
    uint32_t lock_words_limit = 0;  // its size (--max-locks)
    uint32_t top_locks = 0;         // --top-locks
    std::array<uint64_t, EXP_COUNTERS> totals{};
    bool bpf_stats = false;  // run time is counted (kernel.bpf_stats_enabled)
    std::vector<ProgramCost> programs;
    uint64_t scrapes = 0;
    double process_cpu_seconds = 0;
    uint64_t resident_bytes = 0;
};

enum class Buckets {
    Exact,   // every edge of the kernel's log-linear buckets that holds data
    Coarse,  // only the powers of two among them (--coarsen): up to 8 times fewer edges
};

struct ExpositionOptions {
    Buckets buckets = Buckets::Exact;
};

// The `kind` label of a kernel lock contention histogram (exp_klock_kind).
const char* kernel_lock_kind_name(int kind);

// The label values of the overflow series, and of the `other` lock series.
inline constexpr const char* kOverflowLabel = "_overflow";
inline constexpr const char* kOtherLockLabel = "_other";

std::string exposition(const Snapshot& snap, const ExpositionOptions& opts = {});
// The same, written into OUT (cleared first): a buffer kept from one scrape to the next
// keeps its memory.
void write_exposition(const Snapshot& snap, const ExpositionOptions& opts, std::string& out);

// A label value as the format wants it: \, " and newline escaped; bytes that are not UTF-8
// (a comm is any 15 bytes) replaced by U+FFFD.
std::string label_value(const std::string& raw);

// The `le` edges of a histogram, in nanoseconds, with their cumulative counts: for each
// bucket holding data, its upper edge and the upper edge of the bucket below it (so that
// histogram_quantile interpolates inside the kernel's bucket, not across empty ones). The
// last element is +Inf (edge UINT64_MAX) with the total count. Edges are inclusive: the
// kernel's bucket b holds the whole nanoseconds [low(b), low(b+1) - 1], and its `le` is
// low(b+1) - 1.
struct Edge {
    uint64_t le_ns;
    uint64_t cumulative;
};
std::vector<Edge> histogram_edges(const exp_hist& h, Buckets buckets);

// NS nanoseconds in seconds, in the shortest form that reads back the same double.
std::string seconds_text(uint64_t ns);

}  // namespace exporter
