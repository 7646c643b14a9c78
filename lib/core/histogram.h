// User-space side of the log-linear histogram in bpf/hist.h: merging the kernel's per-CPU
// copies, recording values in user space (the workloads time themselves with it),
// percentiles, the star-format text view and the JSON view.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "hist.h"

namespace tk {

class Histogram {
  public:
    Histogram();

    void record(uint64_t ns, uint64_t times = 1);
    void merge(const Histogram& other);
    void merge(const struct hist& kernel_copy);  // one per-CPU slot of a BPF map

    uint64_t count() const { return count_; }
    uint64_t sum() const { return sum_; }
    uint64_t min() const { return count_ ? min_ : 0; }
    uint64_t max() const { return max_; }
    double mean() const { return count_ ? double(sum_) / double(count_) : 0.0; }
    bool empty() const { return count_ == 0; }
    uint64_t bucket(uint32_t b) const { return buckets_[b]; }

    // p in [0, 100]; linear interpolation inside the bucket, clamped to [min, max].
    uint64_t percentile(double p) const;

    // Summary line: "count N  min ..  mean ..  p50 ..  p90 ..  p99 ..  max .."
    std::string summary() const;
    // The familiar star format, one row per non-empty range (power-of-two rows when the
    // fine rows would be too many), preceded by the title and the summary line.
    std::string render(std::string_view title, int bar_width = 40) const;

    // {count, sum_ns, min_ns, mean_ns, p50_ns, p90_ns, p99_ns, max_ns,
    //  buckets: [{low_ns, high_ns, count}, ...]}  (non-empty buckets, high_ns exclusive)
    nlohmann::json to_json() const;
    static Histogram from_json(const nlohmann::json& j);

  private:
    uint64_t count_ = 0, sum_ = 0, min_ = UINT64_MAX, max_ = 0;
    std::vector<uint64_t> buckets_;
};

// "812 ns", "1.25 us", "3.40 ms", "2.10 s"
std::string format_ns(double ns);

// TOTAL/N as format_ns writes it; "-" when N is 0.
std::string format_mean_ns(uint64_t total, uint64_t n);

// format_ns() of percentile P of H, or "-" when H is empty.
std::string format_percentile_ns(const Histogram& h, double p);

}  // namespace tk
