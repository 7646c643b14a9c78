#include <gtest/gtest.h>

#include "histogram.h"

using tk::Histogram;

TEST(HistBucket, ExactBelowEight) {
    for (uint64_t v = 0; v < 8; v++) {
        EXPECT_EQ(hist_bucket(v), v);
        EXPECT_EQ(hist_bucket_low(uint32_t(v)), v);
    }
}

TEST(HistBucket, BucketsAreContiguousAndMonotonic) {
    // every bucket's low bound maps back to itself, and the one below it to the previous one
    for (uint32_t b = 1; b < HIST_BUCKETS; b++) {
        uint64_t low = hist_bucket_low(b);
        EXPECT_EQ(hist_bucket(low), b) << "bucket " << b;
        EXPECT_EQ(hist_bucket(low - 1), b - 1) << "bucket " << b;
        EXPECT_GT(low, hist_bucket_low(b - 1));
    }
}

TEST(HistBucket, EightSubBucketsPerPowerOfTwo) {
    // [1024, 2048) is cut into 8 buckets of 128 ns
    EXPECT_EQ(hist_bucket(1024) + 7, hist_bucket(2047));
    EXPECT_EQ(hist_bucket(1024), hist_bucket(1151));
    EXPECT_NE(hist_bucket(1151), hist_bucket(1152));
    // the design note's example: 1.1 us and 1.4 us are told apart
    EXPECT_NE(hist_bucket(1100), hist_bucket(1400));
}

TEST(HistBucket, RelativeWidthAtMostOneEighth) {
    for (uint32_t b = HIST_SUB; b + 1 < HIST_BUCKETS; b++) {
        double low = double(hist_bucket_low(b)), high = double(hist_bucket_low(b + 1));
        EXPECT_LE((high - low) / low, 0.125 + 1e-12);
    }
}

TEST(HistBucket, HugeValuesClampToLastBucket) {
    EXPECT_EQ(hist_bucket(uint64_t(1) << HIST_MAX_POW), HIST_BUCKETS - 1u);
    EXPECT_EQ(hist_bucket(UINT64_MAX), HIST_BUCKETS - 1u);
    EXPECT_EQ(hist_bucket((uint64_t(1) << HIST_MAX_POW) - 1), HIST_BUCKETS - 1u);
}

TEST(HistLog2, MatchesBuiltin) {
    for (uint64_t v = 1; v < (UINT64_MAX / 3); v = v * 3 + 1)
        EXPECT_EQ(hist_log2(v), 63u - __builtin_clzll(v)) << v;
    EXPECT_EQ(hist_log2(UINT64_MAX), 63u);
}

TEST(Histogram, PercentilesOfUniformValues) {
    Histogram h;
    for (uint64_t v = 1; v <= 10000; v++)
        h.record(v * 100);  // 100 ns .. 1 ms
    EXPECT_EQ(h.count(), 10000u);
    EXPECT_EQ(h.min(), 100u);
    EXPECT_EQ(h.max(), 1000000u);
    EXPECT_NEAR(h.mean(), 500050.0, 1.0);
    // within a bucket's width (12.5%) of the true value
    EXPECT_NEAR(double(h.percentile(50)), 500000.0, 500000.0 * 0.125);
    EXPECT_NEAR(double(h.percentile(90)), 900000.0, 900000.0 * 0.125);
    EXPECT_NEAR(double(h.percentile(99)), 990000.0, 990000.0 * 0.125);
    EXPECT_EQ(h.percentile(100), 1000000u);
    EXPECT_EQ(h.percentile(0), 100u);
}

TEST(Histogram, SingleValueIsExact) {
    Histogram h;
    h.record(4242, 7);
    EXPECT_EQ(h.percentile(50), 4242u);
    EXPECT_EQ(h.percentile(99), 4242u);
}

TEST(Histogram, MergeOfKernelCopies) {
    struct hist a {
    }, b{};
    a.count = 2, a.sum = 300, a.min = 100, a.max = 200;
    a.buckets[hist_bucket(100)]++, a.buckets[hist_bucket(200)]++;
    b.count = 1, b.sum = 50, b.min = 50, b.max = 50;
    b.buckets[hist_bucket(50)]++;
    struct hist empty {};
    Histogram h;
    h.merge(a), h.merge(b), h.merge(empty);
    EXPECT_EQ(h.count(), 3u);
    EXPECT_EQ(h.min(), 50u);
    EXPECT_EQ(h.max(), 200u);
    EXPECT_EQ(h.sum(), 350u);
}

TEST(Histogram, JsonRoundTrip) {
    Histogram h;
    for (uint64_t v : {5, 900, 1100, 1400, 70000, 3000000})
        h.record(v);
    auto j = h.to_json();
    EXPECT_EQ(j["count"], 6);
    EXPECT_EQ(j["max_ns"], 3000000);
    EXPECT_EQ(j["buckets"].size(), 6u);
    for (auto& b : j["buckets"])
        EXPECT_LT(b["low_ns"].get<uint64_t>(), b["high_ns"].get<uint64_t>());
    auto back = Histogram::from_json(j);
    EXPECT_EQ(back.to_json(), j);
}

TEST(Histogram, RenderShowsStarsAndSummary) {
    Histogram h;
    h.record(1000, 10);
    h.record(2000, 5);
    std::string text = h.render("demo");
    EXPECT_NE(text.find("demo"), std::string::npos);
    EXPECT_NE(text.find("count 15"), std::string::npos);
    EXPECT_NE(text.find("|****************************************|"), std::string::npos);
    EXPECT_NE(text.find("p99"), std::string::npos);
    Histogram none;
    EXPECT_NE(none.render("x").find("count 0"), std::string::npos);
}

TEST(FormatNs, Units) {
    EXPECT_EQ(tk::format_ns(812), "812 ns");
    EXPECT_EQ(tk::format_ns(1250), "1.25 us");
    EXPECT_EQ(tk::format_ns(3.4e6), "3.40 ms");
    EXPECT_EQ(tk::format_ns(2.1e9), "2.10 s");
}
