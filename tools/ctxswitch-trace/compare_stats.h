// The statistics of `ctxswitch-trace compare`, apart from everything that measures: a figure
// is measured once per round, summarised by its median and interquartile range, and a
// difference between two models is stated only when it lies outside its confidence interval.
// The rule is in docs/compare.md ("How to read the spread").
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace ctxswitch {

// Median, quartiles and extremes of one figure's values over the rounds (NaN values, a
// round where the figure was not measured, are left out; n counts the others). Quartiles
// interpolate linearly between order statistics (R's type 7, numpy's default).
struct Spread {
    size_t n = 0;
    double median = 0, q1 = 0, q3 = 0, min = 0, max = 0;
};
Spread spread_of(std::vector<double> values);

// A distribution-free confidence interval of the median (the sign-test interval): the order
// statistics [x(k), x(n+1-k)], with the largest k whose coverage,
// 1 - 2 P(Binomial(n, 1/2) < k), is at least `level`. It assumes only that the rounds are
// independent draws; there is none at 95% for fewer than 6 rounds.
struct MedianInterval {
    bool exists = false;
    size_t n = 0, k = 0;
    double low = 0, high = 0;
    double coverage = 0;  // the exact coverage of [low, high]
};
MedianInterval median_interval(std::vector<double> values, double level = 0.95);
// The coverage of [x(k), x(n+1-k)] for n values: 1 - 2 P(Binomial(n, 1/2) < k).
double order_statistic_coverage(size_t n, size_t k);

// A paired comparison of model A with model B: one value per round (A/B, or A - B),
// measured in the same round so a slow phase of the machine weighs on both. `neutral` is
// the value of "no difference" (1 for a ratio, 0 for a difference); `margin` the smallest
// difference worth stating (the band neutral +- margin is "too small to tell": what the
// histograms' interpolation and effects that last a whole run can produce on their own).
enum class Verdict {
    lower,          // the whole interval is below neutral - margin: A is lower than B
    higher,         // the whole interval is above neutral + margin
    not_measurable  // the interval reaches into neutral +- margin, or too few rounds for one
};
struct Decision {
    std::vector<double> per_round;
    Spread spread;
    MedianInterval interval;
    double neutral = 0, margin = 0;
    Verdict verdict = Verdict::not_measurable;
    bool stated() const { return verdict != Verdict::not_measurable; }
};
Decision decide(std::vector<double> per_round, double neutral, double margin = 0,
                double level = 0.95);

// Per round, the median over the pairs of that round of f(a, b); a[i][r] and b[i][r] are
// pair i's values in round r (NaN where not measured; a pair missing from a round is left
// out of that round). Rounds with no pair give NaN.
std::vector<double> per_round_median(const std::vector<std::vector<double>>& a,
                                     const std::vector<std::vector<double>>& b,
                                     const std::function<double(double, double)>& f);

double median_of(std::vector<double> values);  // NaN for none

}  // namespace ctxswitch
