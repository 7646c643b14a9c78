#include "histogram.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace tk {

Histogram::Histogram() : buckets_(HIST_BUCKETS, 0) {}

void Histogram::record(uint64_t ns, uint64_t times) {
    if (times == 0)
        return;
    buckets_[hist_bucket(ns)] += times;
    count_ += times;
    sum_ += ns * times;
    min_ = std::min(min_, ns);
    max_ = std::max(max_, ns);
}

void Histogram::merge(const Histogram& o) {
    if (o.count_ == 0)
        return;
    for (uint32_t b = 0; b < HIST_BUCKETS; b++)
        buckets_[b] += o.buckets_[b];
    count_ += o.count_;
    sum_ += o.sum_;
    min_ = std::min(min_, o.min_);
    max_ = std::max(max_, o.max_);
}

void Histogram::merge(const struct hist& k) {
    if (k.count == 0)
        return;
    for (uint32_t b = 0; b < HIST_BUCKETS; b++)
        buckets_[b] += k.buckets[b];
    count_ += k.count;
    sum_ += k.sum;
    min_ = std::min<uint64_t>(min_, k.min);
    max_ = std::max<uint64_t>(max_, k.max);
}

uint64_t Histogram::percentile(double p) const {
    if (count_ == 0)
        return 0;
    if (p <= 0)
        return min();
    if (p >= 100)
        return max_;
    // rank of the wanted value, 1-based: the smallest value with at least p% at or below it
    double rank = std::max(1.0, std::ceil(p / 100.0 * double(count_)));
    uint64_t seen = 0;
    for (uint32_t b = 0; b < HIST_BUCKETS; b++) {
        if (buckets_[b] == 0)
            continue;
        if (double(seen + buckets_[b]) >= rank) {
            double low = double(hist_bucket_low(b));
            double high = b + 1 < HIST_BUCKETS ? double(hist_bucket_low(b + 1)) : double(max_) + 1;
            double frac = (rank - double(seen)) / double(buckets_[b]);
            auto v = uint64_t(low + frac * (high - low - 1));
            return std::clamp(v, min(), max_);
        }
        seen += buckets_[b];
    }
    return max_;
}

std::string format_ns(double ns) {
    char buf[32];
    if (ns < 10 && ns != double(int64_t(ns)))
        snprintf(buf, sizeof buf, "%.1f ns", ns);  // coroutine switches: fractions matter
    else if (ns < 1e3)
        snprintf(buf, sizeof buf, "%.0f ns", ns);
    else if (ns < 1e6)
        snprintf(buf, sizeof buf, "%.2f us", ns / 1e3);
    else if (ns < 1e9)
        snprintf(buf, sizeof buf, "%.2f ms", ns / 1e6);
    else
        snprintf(buf, sizeof buf, "%.2f s", ns / 1e9);
    return buf;
}

std::string Histogram::summary() const {
    if (count_ == 0)
        return "count 0";
    char buf[256];
    snprintf(buf, sizeof buf, "count %llu  min %s  mean %s  p50 %s  p90 %s  p99 %s  max %s",
             (unsigned long long)count_, format_ns(double(min())).c_str(),
             format_ns(mean()).c_str(), format_ns(double(percentile(50))).c_str(),
             format_ns(double(percentile(90))).c_str(), format_ns(double(percentile(99))).c_str(),
             format_ns(double(max_)).c_str());
    return buf;
}

std::string Histogram::render(std::string_view title, int bar_width) const {
    std::string out(title);
    out += "\n  " + summary() + "\n";
    if (count_ == 0)
        return out;

    struct Row {
        uint64_t low, high, count;
    };
    std::vector<Row> fine, coarse;
    uint32_t first = HIST_BUCKETS, last = 0;
    for (uint32_t b = 0; b < HIST_BUCKETS; b++)
        if (buckets_[b])
            first = std::min(first, b), last = std::max(last, b);
    for (uint32_t b = first; b <= last; b++) {
        uint64_t high = b + 1 < HIST_BUCKETS ? hist_bucket_low(b + 1) : max_ + 1;
        fine.push_back({hist_bucket_low(b), high, buckets_[b]});
        // coarse rows: one per power of two (the exact values below 8 fold into [0, 8))
        uint64_t clow = fine.back().low < HIST_SUB ? 0 : uint64_t(1) << hist_log2(fine.back().low);
        if (coarse.empty() || coarse.back().low != clow)
            coarse.push_back({clow, clow ? clow * 2 : HIST_SUB, 0});
        coarse.back().count += buckets_[b];
        coarse.back().high = std::max(coarse.back().high, high);
    }
    const auto& rows = fine.size() <= 24 ? fine : coarse;
    uint64_t peak = 0;
    for (auto& r : rows)
        peak = std::max(peak, r.count);
    char line[256];
    snprintf(line, sizeof line, "  %23s : %-10s %s\n", "range", "count", "distribution");
    out += line;
    for (auto& r : rows) {
        int stars = peak ? int((r.count * uint64_t(bar_width) + peak - 1) / peak) : 0;
        if (r.count == 0)
            stars = 0;
        char range[64];
        snprintf(range, sizeof range, "%s .. %s", format_ns(double(r.low)).c_str(),
                 format_ns(double(r.high)).c_str());
        snprintf(line, sizeof line, "  %23s : %-10llu |%-*s|\n", range, (unsigned long long)r.count,
                 bar_width, std::string(size_t(stars), '*').c_str());
        out += line;
    }
    return out;
}

nlohmann::json Histogram::to_json() const {
    nlohmann::json j;
    j["count"] = count_;
    j["sum_ns"] = sum_;
    j["min_ns"] = min();
    j["mean_ns"] = count_ ? uint64_t(std::llround(mean())) : 0;
    j["p50_ns"] = percentile(50);
    j["p90_ns"] = percentile(90);
    j["p99_ns"] = percentile(99);
    j["max_ns"] = max_;
    auto buckets = nlohmann::json::array();
    for (uint32_t b = 0; b < HIST_BUCKETS; b++) {
        if (!buckets_[b])
            continue;
        uint64_t high = b + 1 < HIST_BUCKETS ? hist_bucket_low(b + 1) : max_ + 1;
        buckets.push_back(
            {{"low_ns", hist_bucket_low(b)}, {"high_ns", high}, {"count", buckets_[b]}});
    }
    j["buckets"] = std::move(buckets);
    return j;
}

Histogram Histogram::from_json(const nlohmann::json& j) {
    Histogram h;
    h.count_ = j.at("count").get<uint64_t>();
    h.sum_ = j.value("sum_ns", uint64_t(0));
    h.min_ = h.count_ ? j.at("min_ns").get<uint64_t>() : UINT64_MAX;
    h.max_ = j.at("max_ns").get<uint64_t>();
    for (auto& b : j.at("buckets"))
        h.buckets_[hist_bucket(b.at("low_ns").get<uint64_t>())] += b.at("count").get<uint64_t>();
    return h;
}

std::string format_mean_ns(uint64_t total, uint64_t n) {
    return n ? format_ns(double(total) / double(n)) : "-";
}

std::string format_percentile_ns(const Histogram& h, double p) {
    return h.empty() ? "-" : format_ns(double(h.percentile(p)));
}

}  // namespace tk
