// The statistics of `ctxswitch-trace compare`: pure functions of per-round values.
#include "compare_stats.h"

#include <algorithm>
#include <cmath>

namespace ctxswitch {

namespace {

std::vector<double> sorted_finite(std::vector<double> v) {
    v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return !std::isfinite(x); }),
            v.end());
    std::sort(v.begin(), v.end());
    return v;
}

// The p-quantile (0..1) of sorted values, interpolating linearly (type 7).
double quantile(const std::vector<double>& s, double p) {
    if (s.empty())
        return std::nan("");
    double h = double(s.size() - 1) * p;
    size_t lo = size_t(std::floor(h));
    size_t hi = std::min(lo + 1, s.size() - 1);
    return s[lo] + (h - double(lo)) * (s[hi] - s[lo]);
}

}  // namespace

double median_of(std::vector<double> values) {
    return quantile(sorted_finite(std::move(values)), 0.5);
}

Spread spread_of(std::vector<double> values) {
    auto s = sorted_finite(std::move(values));
    Spread r;
    r.n = s.size();
    if (s.empty())
        return r;
    r.median = quantile(s, 0.5);
    r.q1 = quantile(s, 0.25);
    r.q3 = quantile(s, 0.75);
    r.min = s.front();
    r.max = s.back();
    return r;
}

double order_statistic_coverage(size_t n, size_t k) {
    if (k == 0 || 2 * k > n + 1)
        return 0;
    // P(Binomial(n, 1/2) < k) = sum_{i < k} C(n, i) / 2^n, in doubles (n is small)
    double c = 1, below = 0;
    for (size_t i = 0; i < k; i++) {
        below += c;
        c = c * double(n - i) / double(i + 1);
    }
    return 1 - 2 * below / std::pow(2.0, double(n));
}

MedianInterval median_interval(std::vector<double> values, double level) {
    auto s = sorted_finite(std::move(values));
    MedianInterval m;
    m.n = s.size();
    for (size_t k = 1; 2 * k <= m.n + 1; k++) {
        double coverage = order_statistic_coverage(m.n, k);
        if (coverage < level)
            break;
        m.exists = true;
        m.k = k;
        m.coverage = coverage;
        m.low = s[k - 1];
        m.high = s[m.n - k];
    }
    return m;
}

Decision decide(std::vector<double> per_round, double neutral, double margin, double level) {
    Decision d;
    d.per_round = std::move(per_round);
    d.spread = spread_of(d.per_round);
    d.interval = median_interval(d.per_round, level);
    d.neutral = neutral;
    d.margin = std::fabs(margin);
    if (d.interval.exists) {
        if (d.interval.high < neutral - d.margin)
            d.verdict = Verdict::lower;
        else if (d.interval.low > neutral + d.margin)
            d.verdict = Verdict::higher;
    }
    return d;
}

std::vector<double> per_round_median(const std::vector<std::vector<double>>& a,
                                     const std::vector<std::vector<double>>& b,
                                     const std::function<double(double, double)>& f) {
    size_t rounds = 0;
    for (size_t i = 0; i < a.size() && i < b.size(); i++)
        rounds = std::max(rounds, std::max(a[i].size(), b[i].size()));
    std::vector<double> out;
    for (size_t r = 0; r < rounds; r++) {
        std::vector<double> pairs;
        for (size_t i = 0; i < a.size() && i < b.size(); i++) {
            if (r >= a[i].size() || r >= b[i].size())
                continue;
            double v = f(a[i][r], b[i][r]);
            if (std::isfinite(v))
                pairs.push_back(v);
        }
        out.push_back(median_of(pairs));
    }
    return out;
}

}  // namespace ctxswitch
