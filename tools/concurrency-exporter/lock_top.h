// The futex words exported as series of their own: the top N by blocked time over a
// window, and one `other` series for the rest. Pure (no BPF): the unit tests drive it.
//
// Every exported histogram only grows, as a Prometheus counter must: at each update, what
// each word's histogram gained since the last update goes to the word's own series when the
// word is in the top N now, else to `other`. A word that leaves the top N stops being
// written (Prometheus marks it stale); one that comes back goes on from where it stopped.
// The ranking is by blocked time since the window before last was closed (so between one
// and two windows of history): a new word that blocks a lot is named at once, and a word
// that stopped blocking leaves after two windows at most.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "exposition.h"

namespace exporter {

// What a word is known by in the exposition: several kernel words (the same variable in
// two processes of one command) may share it, and add up.
struct LockLabels {
    uint64_t cgroup_id = 0;
    std::string comm;
    std::string lock;
    bool operator<(const LockLabels& o) const {
        return std::tie(cgroup_id, comm, lock) < std::tie(o.cgroup_id, o.comm, o.lock);
    }
};

// One word's cumulative histogram as the kernel has it now.
struct LockSample {
    LockLabels labels;
    exp_hist blocked{};
};

class TopLocks {
  public:
    TopLocks(size_t n, uint64_t window_ns) : n_(n), window_ns_(window_ns) {}

    // The series to expose at time NOW_NS, from the cumulative histograms of the words
    // (several samples with the same labels are added up) and of the kernel's `other`
    // slot (the words that found the table full). The `other` series comes last.
    std::vector<LockSeries> update(const std::vector<LockSample>& words, const exp_hist& folded,
                                   uint64_t now_ns);

  private:
    struct Word {
        exp_hist seen{};        // cumulative, at the last update
        exp_hist exported{};    // what its own series holds
        uint64_t base = 0;      // blocked ns (seen.sum) when the last window closed
        uint64_t old_base = 0;  // ... when the window before it closed
    };
    size_t n_;
    uint64_t window_ns_;
    uint64_t window_start_ns_ = 0;
    bool started_ = false;
    std::map<LockLabels, Word> words_;
    exp_hist folded_seen_{};
    exp_hist other_{};
};

// The growth of CUR over LAST, added to INTO (bucket by bucket; the sum too).
void add_growth(exp_hist& into, const exp_hist& cur, const exp_hist& last);

}  // namespace exporter
