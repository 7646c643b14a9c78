#include "lock_top.h"

#include <algorithm>

namespace exporter {

void add_growth(exp_hist& into, const exp_hist& cur, const exp_hist& last) {
    // the kernel's counts only grow; a smaller one (never expected) adds nothing
    auto growth = [](uint64_t c, uint64_t l) { return c > l ? c - l : 0; };
    into.sum += growth(cur.sum, last.sum);
    for (size_t b = 0; b < HIST_BUCKETS; b++)
        into.buckets[b] += growth(cur.buckets[b], last.buckets[b]);
}

std::vector<LockSeries> TopLocks::update(const std::vector<LockSample>& words,
                                         const exp_hist& folded, uint64_t now_ns) {
    // the words' cumulative histograms now, by labels
    std::map<LockLabels, exp_hist> now;
    for (const LockSample& w : words) {
        exp_hist& h = now[w.labels];
        h.sum += w.blocked.sum;
        for (size_t b = 0; b < HIST_BUCKETS; b++)
            h.buckets[b] += w.blocked.buckets[b];
    }
    if (!started_) {
        started_ = true;
        window_start_ns_ = now_ns;
    }
    if (now_ns - window_start_ns_ >= window_ns_) {
        for (auto& [labels, w] : words_) {
            w.old_base = w.base;
            w.base = w.seen.sum;
        }
        window_start_ns_ = now_ns;
    }
    // the ranking: blocked time since the window before last closed
    std::vector<std::pair<uint64_t, const LockLabels*>> ranked;
    for (const auto& [labels, h] : now) {
        auto it = words_.find(labels);
        uint64_t since = it == words_.end() ? 0 : it->second.old_base;
        uint64_t blocked = h.sum > since ? h.sum - since : 0;
        if (blocked)
            ranked.push_back({blocked, &labels});
    }
    size_t named = std::min(n_, ranked.size());
    std::partial_sort(ranked.begin(), ranked.begin() + long(named), ranked.end(),
                      [](const auto& a, const auto& b) {
                          return a.first != b.first ? a.first > b.first : *a.second < *b.second;
                      });

    std::vector<LockSeries> out;
    std::map<LockLabels, bool> top;
    for (size_t i = 0; i < named; i++)
        top[*ranked[i].second] = true;
    for (const auto& [labels, h] : now) {
        Word& w = words_[labels];
        bool in_top = top.count(labels) > 0;
        add_growth(in_top ? w.exported : other_, h, w.seen);
        w.seen = h;
        if (in_top) {
            LockSeries s;
            s.cgroup_id = labels.cgroup_id;
            s.comm = labels.comm;
            s.lock = labels.lock;
            s.blocked = w.exported;
            out.push_back(std::move(s));
        }
    }
    add_growth(other_, folded, folded_seen_);
    folded_seen_ = folded;
    LockSeries other;
    other.other = true;
    other.blocked = other_;
    out.push_back(std::move(other));
    return out;
}

}  // namespace exporter
