// The exporter's exposition without BPF: the histogram edges are the kernel's, the labels
// are escaped, and Prometheus's own checker (promtool, from Debian's prometheus) accepts
// the text.
#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/wait.h>

#include <cstdio>
#include <string>

#include "exposition.h"
#include "hist.h"
#include "lock_top.h"

namespace {

using exporter::Buckets;
using exporter::Edge;

exp_hist hist_of(std::initializer_list<uint64_t> values) {
    exp_hist h{};
    for (uint64_t v : values) {
        h.buckets[hist_bucket(v)]++;
        h.sum += v;
    }
    return h;
}

TEST(ExporterExposition, EdgesAreTheKernelBucketEdgesAroundTheData) {
    // 1100 ns is in the kernel's bucket [1024, 1151]; 1300 ns in [1280, 1407]
    auto edges = exporter::histogram_edges(hist_of({1100, 1300, 1300}), Buckets::Exact);
    ASSERT_EQ(edges.size(), 5u);
    EXPECT_EQ(edges[0].le_ns, 1023u);
    EXPECT_EQ(edges[0].cumulative, 0u);
    EXPECT_EQ(edges[1].le_ns, 1151u);
    EXPECT_EQ(edges[1].cumulative, 1u);
    EXPECT_EQ(edges[2].le_ns, 1279u);
    EXPECT_EQ(edges[2].cumulative, 1u);
    EXPECT_EQ(edges[3].le_ns, 1407u);
    EXPECT_EQ(edges[3].cumulative, 3u);
    EXPECT_EQ(edges[4].le_ns, UINT64_MAX);
    EXPECT_EQ(edges[4].cumulative, 3u);
    // every edge is the last nanosecond of a kernel bucket
    for (size_t i = 0; i + 1 < edges.size(); i++)
        EXPECT_NE(hist_bucket(edges[i].le_ns), hist_bucket(edges[i].le_ns + 1));
}

TEST(ExporterExposition, CoarseEdgesArePowersOfTwo) {
    auto edges = exporter::histogram_edges(hist_of({1100, 1300, 5}), Buckets::Coarse);
    ASSERT_EQ(edges.size(), 5u);
    EXPECT_EQ(edges[0].le_ns, 3u);  // 5 ns: the exact buckets 4..7
    EXPECT_EQ(edges[0].cumulative, 0u);
    EXPECT_EQ(edges[1].le_ns, 7u);
    EXPECT_EQ(edges[1].cumulative, 1u);
    EXPECT_EQ(edges[2].le_ns, 1023u);
    EXPECT_EQ(edges[2].cumulative, 1u);
    EXPECT_EQ(edges[3].le_ns, 2047u);
    EXPECT_EQ(edges[3].cumulative, 3u);
    EXPECT_EQ(edges[4].cumulative, 3u);
}

TEST(ExporterExposition, ValuesBeyondTheLastEdgeCountOnlyInInf) {
    auto edges = exporter::histogram_edges(hist_of({1ULL << 41}), Buckets::Exact);
    ASSERT_EQ(edges.size(), 2u);
    EXPECT_EQ(edges[0].cumulative, 0u);
    EXPECT_EQ(edges[1].le_ns, UINT64_MAX);
    EXPECT_EQ(edges[1].cumulative, 1u);
}

TEST(ExporterExposition, SecondsAreShortAndExact) {
    EXPECT_EQ(exporter::seconds_text(1151), "1.151e-06");
    EXPECT_EQ(exporter::seconds_text(2'000'000'000), "2");
    EXPECT_EQ(exporter::seconds_text(0), "0");
}

TEST(ExporterExposition, LabelValuesAreEscapedAndUtf8) {
    EXPECT_EQ(exporter::label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    EXPECT_EQ(exporter::label_value("sl\xe9"
                                    "ep"),
              "sl\xEF\xBF\xBD"
              "ep");
    EXPECT_EQ(exporter::label_value("caf\xC3\xA9"), "caf\xC3\xA9");
    EXPECT_EQ(exporter::label_value("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong
}

exporter::Snapshot sample_snapshot() {
    // the series' histograms, where the exporter has the kernel's map
    static std::array<exp_hist, EXP_HISTS> a_hists, b_hists, o_hists;
    a_hists = {};
    b_hists = {};
    o_hists = {};
    exporter::Snapshot snap;
    exporter::Series a;
    a.hists = a_hists.data();
    a.cgroup_id = 42;
    a.comm = "ping\"pong";
    a.counters = {100, 7, 3};
    a_hists[EXP_H_SWITCH_COST + EXP_KIND_PROCESS] = hist_of({1100, 1300, 2500});
    a_hists[EXP_H_HANDOFF_CROSS] = hist_of({5000, 6000});
    // waiting calls of two families: 4 epoll_wait calls, 2 poll calls
    a.counters[EXP_SC_POLL_CALLS + EXP_POLL_EPOLL] = 4;
    a.counters[EXP_SC_POLL_CALLS + EXP_POLL_POLL] = 2;
    a_hists[EXP_H_POLL_EVENTS + EXP_POLL_EPOLL] = hist_of({1, 2, 2, 3});
    a_hists[EXP_H_POLL_EVENTS + EXP_POLL_POLL] = hist_of({1, 1});
    a_hists[EXP_H_POLL_BLOCKED + EXP_POLL_EPOLL] = hist_of({50000});
    exporter::Series b;
    b.hists = b_hists.data();
    b.cgroup_id = 43;  // a cgroup whose path is not known
    b.comm =
        "sl\xe9"
        "ep";
    b.counters = {1, 0, 0};
    b_hists[EXP_H_WAKEUP_TO_RUN] = hist_of({1ULL << 41, 9});
    exporter::Series o;
    o.hists = o_hists.data();
    o.overflow = true;
    o.counters = {5, 5, 0};
    snap.series = {a, b, o};
    snap.cgroup_paths[42] = "/system.slice/x.service";
    snap.series_limit = 2;
    snap.series_used = 2;
    snap.kernel_locks[EXP_KL_MUTEX] = hist_of({40000, 90000});
    snap.futex_probes = true;
    exporter::LockSeries l;
    l.cgroup_id = 42;
    l.comm = "contention";
    l.lock = "g_contended_mutex";
    l.blocked = hist_of({20000, 30000, 30000});
    exporter::LockSeries other;
    other.other = true;
    other.blocked = hist_of({1000});
    snap.locks = {l, other};
    snap.lock_words = 3;
    snap.lock_words_limit = 1024;
    snap.top_locks = 10;
    snap.totals[EXP_C_FOLDED] = 9;
    snap.programs = {{"exp_switch", 10, 1500}};
    snap.scrapes = 1;
    snap.process_cpu_seconds = 0.25;
    snap.resident_bytes = 1 << 20;
    return snap;
}

TEST(ExporterExposition, SeriesAreLabelledByCgroupPathAndComm) {
    std::string text = exporter::exposition(sample_snapshot());
    EXPECT_NE(text.find("concurrency_context_switches_total{cgroup=\"/system.slice/x.service\","
                        "comm=\"ping\\\"pong\",kind=\"voluntary\"} 100\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("concurrency_switch_cost_seconds_bucket{cgroup=\"/system.slice/x.service\","
                        "comm=\"ping\\\"pong\",kind=\"process\",le=\"1.151e-06\"} 1\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("concurrency_switch_cost_seconds_count{cgroup=\"/system.slice/x.service\","
                        "comm=\"ping\\\"pong\",kind=\"process\"} 3\n"),
              std::string::npos);
    EXPECT_NE(text.find("cgroup=\"cgroup id 43\""), std::string::npos);
    EXPECT_NE(
        text.find("concurrency_context_switches_total{cgroup=\"_overflow\",comm=\"_overflow\","
                  "kind=\"involuntary\"} 5\n"),
        std::string::npos);
    EXPECT_NE(text.find("concurrency_exporter_folded_total 9\n"), std::string::npos);
    EXPECT_NE(text.find("concurrency_kernel_lock_wait_seconds_count{kind=\"mutex\"} 2\n"),
              std::string::npos);
    // an empty histogram writes no series
    EXPECT_EQ(text.find("kind=\"thread\""), std::string::npos);
    EXPECT_NE(
        text.find("concurrency_futex_blocked_seconds_count{cgroup=\"/system.slice/x.service\","
                  "comm=\"contention\",lock=\"g_contended_mutex\"} 3\n"),
        std::string::npos)
        << text;
    EXPECT_NE(text.find("concurrency_futex_blocked_seconds_sum{cgroup=\"_other\",comm=\"_other\","
                        "lock=\"_other\"} 1e-06\n"),
              std::string::npos)
        << text;
}

// Each family of waiting calls has histograms of its own, labelled by family; a family with
// no calls writes none.
TEST(ExporterExposition, PollHistogramsAreByFamily) {
    std::string text = exporter::exposition(sample_snapshot());
    const std::string series = "{cgroup=\"/system.slice/x.service\",comm=\"ping\\\"pong\",";
    EXPECT_NE(
        text.find("concurrency_poll_events_per_call_count" + series + "family=\"epoll\"} 4\n"),
        std::string::npos)
        << text;
    EXPECT_NE(text.find("concurrency_poll_events_per_call_sum" + series + "family=\"epoll\"} 8\n"),
              std::string::npos);
    EXPECT_NE(text.find("concurrency_poll_events_per_call_count" + series + "family=\"poll\"} 2\n"),
              std::string::npos);
    EXPECT_NE(text.find("concurrency_poll_events_per_call_sum" + series + "family=\"poll\"} 2\n"),
              std::string::npos);
    EXPECT_NE(
        text.find("concurrency_poll_blocked_seconds_count" + series + "family=\"epoll\"} 1\n"),
        std::string::npos);
    EXPECT_EQ(text.find("concurrency_poll_blocked_seconds_count" + series + "family=\"poll\""),
              std::string::npos);
    EXPECT_EQ(text.find("family=\"select\""), std::string::npos);
    EXPECT_NE(
        text.find("concurrency_poll_calls_total" + series + "family=\"poll\",result=\"ok\"} 2\n"),
        std::string::npos);
}

exporter::LockSample word(uint64_t cgroup, const char* lock, std::initializer_list<uint64_t> ns) {
    return {{cgroup, "app", lock}, hist_of(ns)};
}

const exporter::LockSeries* series_named(const std::vector<exporter::LockSeries>& s,
                                         const std::string& lock) {
    for (const auto& l : s)
        if (!l.other && l.lock == lock)
            return &l;
    return nullptr;
}

uint64_t count_of(const exp_hist& h) {
    uint64_t n = 0;
    for (uint64_t c : h.buckets)
        n += c;
    return n;
}

TEST(ExporterTopLocks, TheTopNAreNamedAndTheRestIsOther) {
    exporter::TopLocks top(2, 1000);
    exp_hist none{};
    auto out = top.update(
        {word(1, "a", {300}), word(1, "b", {200}), word(1, "c", {100}), word(2, "a", {50})}, none,
        0);
    ASSERT_EQ(out.size(), 3u);
    ASSERT_TRUE(series_named(out, "a"));
    EXPECT_EQ(series_named(out, "a")->cgroup_id, 1u);
    EXPECT_EQ(series_named(out, "a")->blocked.sum, 300u);
    EXPECT_EQ(series_named(out, "b")->blocked.sum, 200u);
    EXPECT_TRUE(out.back().other);
    EXPECT_EQ(out.back().blocked.sum, 150u);
    EXPECT_EQ(count_of(out.back().blocked), 2u);
}

TEST(ExporterTopLocks, WordsWithTheSameLabelsAddUp) {
    exporter::TopLocks top(1, 1000);
    exp_hist none{};
    auto out = top.update({word(1, "a", {300}), word(1, "a", {200, 100})}, none, 0);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].blocked.sum, 600u);
    EXPECT_EQ(count_of(out[0].blocked), 3u);
}

// Every exported histogram only grows, whatever enters or leaves the top N.
TEST(ExporterTopLocks, SeriesOnlyGrowAsWordsComeAndGo) {
    exporter::TopLocks top(1, 1000);
    exp_hist folded{};
    // t=0: a leads
    auto out = top.update({word(1, "a", {1000}), word(1, "b", {10})}, folded, 0);
    EXPECT_EQ(series_named(out, "a")->blocked.sum, 1000u);
    EXPECT_EQ(out.back().blocked.sum, 10u);
    // two windows later b blocks far more and a stopped: b takes the place, and what b
    // gained goes to b's own series; what it had before stays in `other`
    out = top.update({word(1, "a", {1000}), word(1, "b", {10})}, folded, 1000);
    out = top.update({word(1, "a", {1000}), word(1, "b", {10})}, folded, 2000);
    out = top.update({word(1, "a", {1000}), word(1, "b", {10, 5000})}, folded, 2500);
    ASSERT_TRUE(series_named(out, "b"));
    EXPECT_FALSE(series_named(out, "a"));
    EXPECT_EQ(series_named(out, "b")->blocked.sum, 5000u);
    EXPECT_EQ(out.back().blocked.sum, 10u);
    // the table's own overflow adds to `other`
    folded = hist_of({7});
    out = top.update({word(1, "a", {1000, 3}), word(1, "b", {10, 5000})}, folded, 2600);
    EXPECT_EQ(out.back().blocked.sum, 10u + 3u + 7u);
    EXPECT_EQ(count_of(out.back().blocked), 3u);
}

// Runs promtool check metrics on TEXT; its exit status and output.
std::pair<int, std::string> promtool_check(const std::string& text) {
    std::string path = "/tmp/exporter-unit-" + std::to_string(getpid()) + ".prom";
    FILE* f = fopen(path.c_str(), "w");
    fwrite(text.data(), 1, text.size(), f);
    fclose(f);
    std::string cmd = "promtool check metrics < " + path + " 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0)
        out.append(buf, n);
    int status = pclose(p);
    unlink(path.c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

TEST(ExporterExposition, PromtoolAcceptsIt) {
    if (system("command -v promtool > /dev/null") != 0)
        FAIL() << "promtool not found: scripts/install-deps.sh installs Debian's prometheus";
    for (auto mode : {Buckets::Exact, Buckets::Coarse}) {
        exporter::ExpositionOptions opts;
        opts.buckets = mode;
        auto [status, out] = promtool_check(exporter::exposition(sample_snapshot(), opts));
        EXPECT_EQ(status, 0) << out;
        EXPECT_EQ(out, "") << out;
    }
}

}  // namespace
