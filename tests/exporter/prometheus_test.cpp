// concurrency-exporter end to end, as root: the real BPF programs, a real workload in a
// cgroup of its own, and Debian's real Prometheus server scraping the exporter. What
// Prometheus answers is checked against the workload's own getrusage and against
// ctxswitch-trace tracing the same run.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include "harness.h"
#include "hist.h"

using harness::bin;
using harness::Result;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// A TCP port on 127.0.0.1 that nobody listens on now.
int free_port() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    close(fd);
    return ntohs(a.sin_port);
}

// GET http://127.0.0.1:PORT/PATH; the body, or nullopt when nothing answers 200.
std::optional<std::string> http_get(int port, const std::string& path) {
    httplib::Client c("127.0.0.1", port);
    c.set_connection_timeout(2);
    c.set_read_timeout(10);
    auto r = c.Get(path);
    if (!r || r->status != 200)
        return std::nullopt;
    return r->body;
}

// Every byte but the unreserved ones percent-encoded (httplib's parameter encoding leaves
// `[` and `]` as they are, and Prometheus then sees no range)
std::string url_encoded(const std::string& text) {
    std::string out;
    for (unsigned char c : text) {
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += char(c);
        } else {
            char buf[4];
            snprintf(buf, sizeof buf, "%%%02X", c);
            out += buf;
        }
    }
    return out;
}

// Waits (bounded) until http://127.0.0.1:PORT/PATH answers 200.
bool wait_for_http(int port, const std::string& path, int seconds = 30) {
    for (int i = 0; i < seconds * 10; i++) {
        if (http_get(port, path))
            return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
}

// A program run in the background, its output kept: stopped with SIGTERM by stop().
class Service {
  public:
    explicit Service(std::vector<std::string> argv) {
        std::atomic<pid_t> started{0};
        thread_ = std::thread([this, argv, &started] {
            harness::RunOptions o = harness::as_root();
            o.timeout_s = 120;
            o.on_start = [&](pid_t pid) { started = pid; };
            result_ = harness::run(argv, o);
        });
        while (!started)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        pid_ = started;
    }
    ~Service() { stop(); }
    Service(const Service&) = delete;
    Service& operator=(const Service&) = delete;
    const Result& stop() {
        if (thread_.joinable()) {
            kill(pid_, SIGTERM);
            thread_.join();
        }
        return result_;
    }

  private:
    std::thread thread_;
    pid_t pid_ = 0;
    Result result_;
};

// A cgroup v2 directory of the test's own, removed at the end.
class TestCgroup {
  public:
    TestCgroup()
        : root_(harness::cgroup2_root()),
          path_(root_ + "/toolkit-exporter-test-" + std::to_string(getpid())) {
        fs::create_directory(path_);
    }
    ~TestCgroup() { rmdir(path_.c_str()); }
    const std::string& path() const { return path_; }
    std::string label() const { return path_.substr(root_.size()); }

  private:
    std::string root_, path_;
};

// Prometheus scraping TARGET_PORT every second, from a temporary directory.
class Prometheus {
  public:
    explicit Prometheus(int target_port) : port_(free_port()) {
        char dir[] = "/tmp/toolkit-prometheus-XXXXXX";
        dir_ = mkdtemp(dir);
        std::ofstream(dir_ + "/prometheus.yml")
            << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
               "scrape_configs:\n  - job_name: concurrency\n    static_configs:\n"
               "      - targets: ['127.0.0.1:"
            << target_port << "']\n";
        service_ = std::make_unique<Service>(std::vector<std::string>{
            "prometheus", "--config.file=" + dir_ + "/prometheus.yml",
            "--storage.tsdb.path=" + dir_ + "/data",
            "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--log.level=warn"});
    }
    ~Prometheus() {
        service_.reset();
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    int port() const { return port_; }
    bool ready() { return wait_for_http(port_, "/-/ready"); }
    // The instant vector of QUERY: (labels, value) of each element; evaluated at AT (Unix
    // seconds) when given, else now.
    std::vector<std::pair<json, double>> query(const std::string& q, double at = 0) {
        std::vector<std::pair<json, double>> out;
        std::string path = "/api/v1/query?query=" + url_encoded(q);
        if (at > 0)
            path += "&time=" + std::to_string(at);
        auto body = http_get(port_, path);
        if (!body)
            return out;
        json j = json::parse(*body, nullptr, false);
        if (j.is_discarded() || j["status"] != "success")
            return out;
        for (const auto& e : j["data"]["result"])
            out.push_back({e["metric"], std::stod(e["value"][1].get<std::string>())});
        return out;
    }
    // The single value of QUERY once it equals WANT (waits for the scrapes to catch up,
    // bounded); the last value seen otherwise, NaN when there was none.
    double value_once(const std::string& q, double want) {
        double last = NAN;
        for (int i = 0; i < 200; i++) {
            auto r = query(q);
            if (r.size() == 1) {
                last = r[0].second;
                if (last == want)
                    break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        return last;
    }

  private:
    int port_;
    std::string dir_;
    std::unique_ptr<Service> service_;
};

// The exporter serving on a port of its own, until stop().
class Exporter {
  public:
    explicit Exporter(std::vector<std::string> extra = {}) : port_(free_port()) {
        std::vector<std::string> argv = {bin("concurrency-exporter"), "--listen",
                                         "127.0.0.1:" + std::to_string(port_)};
        argv.insert(argv.end(), extra.begin(), extra.end());
        service_ = std::make_unique<Service>(argv);
    }
    int port() const { return port_; }
    bool serving() { return wait_for_http(port_, "/metrics", 60); }
    std::string metrics() { return http_get(port_, "/metrics").value_or(""); }
    const Result& stop() { return service_->stop(); }

  private:
    int port_;
    std::unique_ptr<Service> service_;
};

// The value of the sample NAME{LABELS...} in an exposition (summing every sample whose
// labels include all of LABELS); -1 when there is none.
double sample_sum(const std::string& text, const std::string& name,
                  const std::vector<std::string>& labels) {
    double sum = -1;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(name + "{", 0) != 0)
            continue;
        bool all = true;
        for (const auto& l : labels)
            all = all && line.find(l) != std::string::npos;
        if (!all)
            continue;
        sum = (sum < 0 ? 0 : sum) + std::stod(line.substr(line.rfind(' ') + 1));
    }
    return sum;
}

uint32_t bucket_of_seconds(double s) {
    return hist_bucket(uint64_t(std::llround(s * 1e9)));
}

}  // namespace

// The headline: Prometheus's numbers for a workload's cgroup agree with the workload's own
// getrusage, and the median handoff with what ctxswitch-trace measured on the same run.
TEST(Exporter, PrometheusAgreesWithRusageAndCtxswitchTrace) {
    REQUIRE_ROOT();
    Exporter exporter;
    ASSERT_TRUE(exporter.serving()) << exporter.stop().err;
    Prometheus prometheus(exporter.port());
    ASSERT_TRUE(prometheus.ready()) << "prometheus did not start";
    // its first scrape comes a few seconds after it is ready (target discovery is batched)
    ASSERT_EQ(prometheus.value_once("up{job=\"concurrency\"}", 1), 1) << "no scrape came";
    TestCgroup cgroup;

    // the workload moves itself into the cgroup, waits there a while, then becomes the
    // process ping-pong; the tracer stays outside (its own switches are not the workload's)
    std::string json_path = harness::temp_path("ctxswitch.json");
    const int n = 20000;
    Result r = harness::run(
        {bin("ctxswitch-trace"), "--json", json_path, "--", "sh", "-c",
         "echo $$ > " + cgroup.path() + "/cgroup.procs && sleep 2.5 && exec " + bin("pingpong") +
             " --model process --ipc pipe --cpu 0 -n " + std::to_string(n)},
        harness::as_root());
    ASSERT_EQ(r.status, 0) << r.err;
    json trace = harness::parse_json(harness::read_file(json_path));
    unlink(json_path.c_str());
    uint64_t nvcsw = trace["workload"]["rusage"]["nvcsw"].get<uint64_t>();
    uint64_t nivcsw = trace["workload"]["rusage"]["nivcsw"].get<uint64_t>();

    // what the exporter shows now, once Prometheus has scraped it
    std::string sel = "cgroup=\"" + cgroup.label() + "\"";
    std::string text = exporter.metrics();
    double vol =
        sample_sum(text, "concurrency_context_switches_total", {sel, "kind=\"voluntary\""});
    double invol =
        sample_sum(text, "concurrency_context_switches_total", {sel, "kind=\"involuntary\""});
    ASSERT_GT(vol, 0) << text.substr(0, 3000);
    double p_vol = prometheus.value_once(
        "sum(concurrency_context_switches_total{" + sel + ",kind=\"voluntary\"})", vol);
    double p_invol = prometheus.value_once(
        "sum(concurrency_context_switches_total{" + sel + ",kind=\"involuntary\"})", invol);
    // the exporter's counts since then may only have grown by the cgroup's last exits
    EXPECT_NEAR(p_vol, vol, 4);
    EXPECT_NEAR(p_invol, invol, 4);
    // Prometheus against the kernel's own accounting of the workload: the same switches,
    // but for the few of `sh` before it moved into the cgroup
    EXPECT_NEAR(p_vol, double(nvcsw), 10 + 0.002 * double(nvcsw)) << "rusage nvcsw " << nvcsw;
    EXPECT_NEAR(p_invol, double(nivcsw), 10 + 0.002 * double(nivcsw)) << "rusage nivcsw " << nivcsw;
    EXPECT_GE(p_vol + p_invol, 2.0 * n);

    // increase() over the whole run, as a dashboard asks it: the cgroup's switches summed
    // over its commands (sh, then pingpong: each comm is a series, and pingpong's exists
    // only once it ran) as a 1 s subquery, evaluated at a whole second after the last scrape
    // (no extrapolation past the end; at the start Prometheus extrapolates a counter to
    // zero, so the increase is the count since the cgroup's first switch). No counter went
    // back between scrapes either.
    auto last = prometheus.query("max(timestamp(concurrency_context_switches_total{" + sel + "}))");
    ASSERT_EQ(last.size(), 1u);
    double at = std::ceil(last[0].second) + 1;
    std::this_thread::sleep_for(std::chrono::milliseconds(2100));
    auto inc = prometheus.query(
        "increase(sum(concurrency_context_switches_total{" + sel + "})[10m:1s])", at);
    ASSERT_EQ(inc.size(), 1u);
    double rusage = double(nvcsw + nivcsw);
    std::cout << "increase() of the cgroup's switches " << inc[0].second << ", rusage " << rusage
              << "\n";
    EXPECT_NEAR(inc[0].second, rusage, 10 + 0.002 * rusage)
        << "increase() of the cgroup's switches vs the workload's getrusage";
    auto resets =
        prometheus.query("sum(resets(concurrency_context_switches_total{" + sel + "}[10m]))", at);
    ASSERT_EQ(resets.size(), 1u);
    EXPECT_EQ(resets[0].second, 0);
    // and rate() over the run is that increase spread over the window
    auto rate =
        prometheus.query("rate(sum(concurrency_context_switches_total{" + sel + "})[10m:1s])", at);
    ASSERT_EQ(rate.size(), 1u);
    EXPECT_NEAR(rate[0].second * 600, inc[0].second, 1e-6 * inc[0].second);
    // the median cross-process handoff, from Prometheus's buckets and from ctxswitch-trace
    auto& h = trace["histograms"]["handoff_cross_process"];
    ASSERT_GT(h["count"].get<uint64_t>(), uint64_t(n));
    double p50_trace_s = h["p50_ns"].get<double>() / 1e9;
    auto q = prometheus.query(
        "histogram_quantile(0.5, sum by (le) (concurrency_handoff_seconds_bucket{" + sel +
        ",comm=\"pingpong\",waker=\"other_process\"}))");
    ASSERT_EQ(q.size(), 1u);
    double p50_prom_s = q[0].second;
    int b_trace = int(bucket_of_seconds(p50_trace_s)), b_prom = int(bucket_of_seconds(p50_prom_s));
    EXPECT_LE(std::abs(b_trace - b_prom), 1)
        << "ctxswitch-trace p50 " << p50_trace_s << " s, Prometheus " << p50_prom_s << " s";

    // the switch cost too (the ping-pong switches are between its two processes)
    auto& c = trace["histograms"]["switch_cost_process"];
    if (c["count"].get<uint64_t>() > uint64_t(n)) {
        auto qc = prometheus.query(
            "histogram_quantile(0.5, sum by (le) (concurrency_switch_cost_seconds_bucket{" + sel +
            ",comm=\"pingpong\",kind=\"process\"}))");
        ASSERT_EQ(qc.size(), 1u);
        int bt = int(bucket_of_seconds(c["p50_ns"].get<double>() / 1e9));
        int bp = int(bucket_of_seconds(qc[0].second));
        EXPECT_LE(std::abs(bt - bp), 1) << "ctxswitch-trace p50 " << c["p50_ns"] << " ns, "
                                        << "Prometheus " << qc[0].second << " s";
    }

    const Result& end = exporter.stop();
    EXPECT_EQ(end.status, 0) << end.err;
    EXPECT_TRUE(harness::programs_loaded(harness::programs_of("concurrency-exporter")).empty());
}

// The futex blocked time of a contended mutex: the exporter names the workload's lock by its
// variable, and its count and sum of blocked time agree with lockwait-trace tracing the very
// same run, through Prometheus.
TEST(Exporter, PrometheusNamesTheContendedMutexAsLockwaitTraceDoes) {
    REQUIRE_ROOT();
    // only the workload's cgroup: on a busy machine (ctest -j2) the top 10 words by blocked
    // time may all be other programs' idle threads, asleep for seconds at a time
    TestCgroup cgroup;
    Exporter exporter({"--cgroup", cgroup.path()});
    ASSERT_TRUE(exporter.serving()) << exporter.stop().err;
    Prometheus prometheus(exporter.port());
    ASSERT_TRUE(prometheus.ready()) << "prometheus did not start";
    ASSERT_EQ(prometheus.value_once("up{job=\"concurrency\"}", 1), 1) << "no scrape came";

    // four threads on one CPU contend for g_contended_mutex, in a cgroup of their own,
    // under lockwait-trace (which stays outside the cgroup)
    std::string trace_path = harness::temp_path("lockwait.json");
    std::string workload_path = harness::temp_path("contention.json");
    Result r = harness::run({bin("lockwait-trace"), "--json", trace_path, "--", "sh", "-c",
                             "echo $$ > " + cgroup.path() + "/cgroup.procs && exec " +
                                 bin("contention") + " --json " + workload_path +
                                 " --mode mutex -w 4 -n 3000 --cpu 0 --cs-ns 20000 "
                                 "--think-ns 1000"},
                            harness::as_root());
    ASSERT_EQ(r.status, 0) << r.err;
    json trace = harness::parse_json(harness::read_file(trace_path));
    json workload = harness::parse_json(harness::read_file(workload_path));
    unlink(trace_path.c_str());
    unlink(workload_path.c_str());
    ASSERT_EQ(workload["verified"], true);
    const json* lock = nullptr;
    for (const auto& l : trace["locks"])
        if (l["name"] == "g_contended_mutex")
            lock = &l;
    ASSERT_TRUE(lock) << trace["locks"].dump(1).substr(0, 3000);
    double blocked = double((*lock)["blocked"].get<uint64_t>());
    double blocked_s = double((*lock)["blocked_ns_total"].get<uint64_t>()) / 1e9;
    // (a blocked wait needs a holder preempted inside its critical section: about 100 a
    // run here, 96 in one run of the full suite; the comparison below needs a few)
    ASSERT_GE(blocked, 20) << "the workload hardly contended";

    // the exporter's own exposition, then Prometheus once it has scraped the same numbers
    std::string sel = "cgroup=\"" + cgroup.label() + "\",comm=\"contention\"";
    std::string named = sel + ",lock=\"g_contended_mutex\"";
    std::string text = exporter.metrics();
    double count = sample_sum(text, "concurrency_futex_blocked_seconds_count", {named});
    double sum = sample_sum(text, "concurrency_futex_blocked_seconds_sum", {named});
    ASSERT_GT(count, 0) << text.substr(text.find("concurrency_futex"), 3000);
    double p_count =
        prometheus.value_once("sum(concurrency_futex_blocked_seconds_count{" + named + "})", count);
    double p_sum =
        prometheus.value_once("sum(concurrency_futex_blocked_seconds_sum{" + named + "})", sum);
    EXPECT_EQ(p_count, count);
    EXPECT_NEAR(p_sum, sum, 1e-9 * sum);
    // the same waits as lockwait-trace's: both count a wait that slept, and its time
    // asleep from sched_switch out to sched_switch in, each with its own clock reads
    std::cout << "g_contended_mutex blocked waits: Prometheus " << p_count << " (" << p_sum
              << " s), lockwait-trace " << blocked << " (" << blocked_s << " s)\n";
    EXPECT_NEAR(p_count, blocked, 2 + 0.005 * blocked) << "lockwait-trace: " << blocked;
    EXPECT_NEAR(p_sum, blocked_s, 0.02 * blocked_s) << "lockwait-trace: " << blocked_s << " s";
    // the workload's own getrusage: each blocked wait is one of its voluntary switches
    double voluntary = double(workload["voluntary_switches"].get<uint64_t>());
    EXPECT_LE(p_count, voluntary) << "workload's voluntary switches " << voluntary;
    // and the median blocked time within one kernel bucket of lockwait-trace's
    auto q = prometheus.query(
        "histogram_quantile(0.5, sum by (le) (concurrency_futex_blocked_seconds_bucket{" + named +
        "}))");
    ASSERT_EQ(q.size(), 1u);
    int b_trace =
        int(bucket_of_seconds((*lock)["histograms"]["blocked"]["p50_ns"].get<double>() / 1e9));
    EXPECT_LE(std::abs(b_trace - int(bucket_of_seconds(q[0].second))), 1);
    // the lock label is bounded: no pid, no address
    EXPECT_EQ(text.find("pid="), std::string::npos);

    const Result& end = exporter.stop();
    EXPECT_EQ(end.status, 0) << end.err;
    EXPECT_TRUE(harness::programs_loaded(harness::programs_of("concurrency-exporter")).empty());
}

// The waiting calls of an event-loop server in each family (epoll_wait, poll, select), one
// run of each in the same cgroup: the server's own count of calls and of the events they
// returned equal what Prometheus has from the exporter for that family alone.
TEST(Exporter, PrometheusCountsTheEventLoopsCallsAndEventsByFamily) {
    REQUIRE_ROOT();
    Exporter exporter({"--poll"});
    ASSERT_TRUE(exporter.serving()) << exporter.stop().err;
    Prometheus prometheus(exporter.port());
    ASSERT_TRUE(prometheus.ready()) << "prometheus did not start";
    ASSERT_EQ(prometheus.value_once("up{job=\"concurrency\"}", 1), 1) << "no scrape came";
    TestCgroup cgroup;
    struct Loop {
        const char* model;    // echo-bench --model
        const char* syscall;  // what its server waits with
        double calls = 0, errors = 0, events = 0;
    };
    Loop loops[] = {{"epoll", "epoll_wait"}, {"poll", "poll"}, {"select", "select"}};
    for (Loop& l : loops) {
        // echo-bench starts echo-server (an event loop, a process of its own) and its clients
        Result r = harness::run(
            {"sh", "-c",
             "echo $$ > " + cgroup.path() + "/cgroup.procs && exec " + bin("echo-bench") +
                 " --model " + l.model + " -c 3 -n 1000 --size 100 --json -"},
            harness::as_root());
        ASSERT_EQ(r.status, 0) << r.err;
        json bench = harness::parse_json(r.out);
        const json& loop = bench["server"]["loop"];
        ASSERT_EQ(loop["syscall"], l.syscall) << loop;
        l.errors = double(loop["errors"].get<uint64_t>());
        l.calls = double(loop["wait_calls"].get<uint64_t>()) - l.errors;
        l.events = double(loop["events"].get<uint64_t>());
        ASSERT_GT(l.calls, 1000);
        std::cout << "echo-server (" << l.model << "): " << l.calls << " " << l.syscall
                  << " calls returned " << l.events << " events, " << l.errors << " failed\n";
    }

    std::string sel = "cgroup=\"" + cgroup.label() + "\",comm=\"echo-server\"";
    std::string text = exporter.metrics();
    for (const Loop& l : loops) {
        SCOPED_TRACE(l.model);
        std::string fam = sel + ",family=\"" + l.model + "\"";
        double ok = sample_sum(text, "concurrency_poll_calls_total", {fam, "result=\"ok\""});
        ASSERT_GT(ok, 0) << text.substr(0, 3000);
        EXPECT_EQ(prometheus.value_once(
                      "sum(concurrency_poll_calls_total{" + fam + ",result=\"ok\"})", ok),
                  l.calls);
        EXPECT_EQ(prometheus.value_once(
                      "sum(concurrency_poll_calls_total{" + fam + ",result=\"error\"})", l.errors),
                  l.errors);
        // the histograms of this family hold this run's calls, and no other family's
        EXPECT_EQ(prometheus.value_once("sum(concurrency_poll_events_per_call_sum{" + fam + "})",
                                        l.events),
                  l.events);
        EXPECT_EQ(prometheus.value_once("sum(concurrency_poll_events_per_call_count{" + fam + "})",
                                        l.calls),
                  l.calls);
        // its calls that slept have a blocked time, and those woken with events a
        // ready-to-return time, never more than the calls
        double blocked = sample_sum(text, "concurrency_poll_blocked_seconds_count", {fam});
        double r2r = sample_sum(text, "concurrency_poll_ready_to_return_seconds_count", {fam});
        EXPECT_GT(blocked, 0);
        EXPECT_LE(blocked, l.calls);
        EXPECT_GT(r2r, 0);
        EXPECT_LE(r2r, l.calls);
    }
    EXPECT_EQ(exporter.stop().status, 0);
}

// promtool, Prometheus's own checker, accepts a full exposition of the live machine, with
// the BPF run-time metrics --bpf-stats turns on.
TEST(Exporter, PromtoolAcceptsTheLiveExposition) {
    REQUIRE_ROOT();
    Exporter exporter({"--bpf-stats"});
    ASSERT_TRUE(exporter.serving()) << exporter.stop().err;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let the machine switch
    std::string text = exporter.metrics();
    std::string path = harness::temp_path("exposition.prom");
    std::ofstream(path) << text;
    Result r = harness::run({"sh", "-c", "promtool check metrics < " + path});
    unlink(path.c_str());
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    EXPECT_EQ(r.out + r.err, "");
    EXPECT_NE(text.find("concurrency_exporter_bpf_runs_total{program=\"exp_switch\"}"),
              std::string::npos);
    EXPECT_GT(sample_sum(text, "concurrency_exporter_bpf_runs_total", {"exp_switch"}), 0);
    EXPECT_NE(text.find("\nconcurrency_exporter_bpf_stats_enabled 1\n"), std::string::npos);
    EXPECT_EQ(exporter.stop().status, 0);
}

// --help prints the options and exits 0 (it once printed nothing and exited 0).
TEST(Exporter, HelpPrintsTheOptions) {
    Result r = harness::run({bin("concurrency-exporter"), "--help"});
    EXPECT_EQ(r.status, 0) << r.err;
    for (const char* option : {"--listen", "--textfile", "--cgroup", "--top-locks", "--poll"})
        EXPECT_NE(r.out.find(option), std::string::npos) << option << "\n" << r.out;
}

// A second exporter on a port that is taken: one clear line and a failure, nothing loaded;
// SIGINT ends the first one with status 0 and nothing left attached.
TEST(Exporter, SecondInstanceOnTheSamePortIsRefused) {
    REQUIRE_ROOT();
    Exporter first;
    ASSERT_TRUE(first.serving()) << first.stop().err;
    Result second = harness::run(
        {bin("concurrency-exporter"), "--listen", "127.0.0.1:" + std::to_string(first.port())},
        harness::as_root());
    EXPECT_NE(second.status, 0);
    EXPECT_NE(second.err.find("cannot listen on 127.0.0.1:" + std::to_string(first.port()) +
                              ": Address already in use"),
              std::string::npos)
        << second.err;
    EXPECT_EQ(std::count(second.err.begin(), second.err.end(), '\n'), 1) << second.err;
    const Result& end = first.stop();
    EXPECT_EQ(end.status, 0) << end.err;
    EXPECT_TRUE(harness::programs_loaded(harness::programs_of("concurrency-exporter")).empty());
}

// By default (no --poll) no epoll, poll or select program is loaded: their syscall
// tracepoints, which would send every system call of the machine through the kernel's slower
// path, stay off; the rest is exported.
TEST(Exporter, WithoutPollNoSyscallProgramIsLoaded) {
    REQUIRE_ROOT();
    Exporter exporter;
    ASSERT_TRUE(exporter.serving()) << exporter.stop().err;
    std::vector<std::string> poll_programs;
    for (const auto& name : harness::programs_of("concurrency-exporter"))
        if (name.find("poll") != std::string::npos || name.find("select") != std::string::npos)
            poll_programs.push_back(name);
    ASSERT_EQ(poll_programs.size(), 14u);
    EXPECT_EQ(harness::programs_loaded(poll_programs), std::vector<std::string>{});
    EXPECT_EQ(harness::programs_loaded({"exp_switch"}), std::vector<std::string>{"exp_switch"});
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let the machine switch
    std::string text = exporter.metrics();
    EXPECT_GT(sample_sum(text, "concurrency_context_switches_total", {}), 0);
    EXPECT_EQ(sample_sum(text, "concurrency_poll_calls_total", {}), -1) << "no poll samples";
    const Result& end = exporter.stop();
    EXPECT_EQ(end.status, 0) << end.err;
    EXPECT_EQ(end.err.find("cannot"), std::string::npos) << end.err;
}

// --textfile read by Debian's real node_exporter (its textfile collector), with --cgroup:
// only the cgroup's tasks are counted, and the file is replaced whole.
TEST(Exporter, NodeExporterReadsTheTextfileOfOneCgroup) {
    REQUIRE_ROOT();
    char dir_template[] = "/tmp/toolkit-textfile-XXXXXX";
    std::string dir = mkdtemp(dir_template);  // root's, 0700
    chmod(dir.c_str(), 0755);                 // node_exporter may run as another user
    TestCgroup cgroup;
    int node_port = free_port();
    {
        Service exporter({bin("concurrency-exporter"), "--textfile", dir, "--interval", "0.2",
                          "--cgroup", cgroup.path(), "--poll"});
        Service node({"prometheus-node-exporter", "--collector.disable-defaults",
                      "--collector.textfile", "--collector.textfile.directory=" + dir,
                      "--web.listen-address=127.0.0.1:" + std::to_string(node_port)});
        ASSERT_TRUE(wait_for_http(node_port, "/metrics")) << "node_exporter did not start";
        // the exporter writes its first file once attached
        for (int i = 0; i < 300 && !fs::exists(dir + "/concurrency_exporter.prom"); i++)
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        ASSERT_TRUE(fs::exists(dir + "/concurrency_exporter.prom")) << exporter.stop().err;
        const int n = 2000;
        Result w = harness::run(
            {"sh", "-c",
             "echo $$ > " + cgroup.path() + "/cgroup.procs && exec " + bin("pingpong") +
                 " --model thread --ipc futex --cpu 0 -n " + std::to_string(n)},
            harness::as_root());
        ASSERT_EQ(w.status, 0) << w.err;
        // and a poll loop: echo-server waits in poll(2)
        Result e =
            harness::run({"sh", "-c",
                          "echo $$ > " + cgroup.path() + "/cgroup.procs && exec " +
                              bin("echo-bench") + " --model poll -c 1 -n 200 --size 100 --json -"},
                         harness::as_root());
        ASSERT_EQ(e.status, 0) << e.err;
        json loop = harness::parse_json(e.out)["server"]["loop"];
        double poll_calls =
            double(loop["wait_calls"].get<uint64_t>() - loop["errors"].get<uint64_t>());
        // node_exporter serves what the file holds once the exporter has written it again
        std::string sel = "cgroup=\"" + cgroup.label() + "\"";
        std::string poll_sel = sel + ",comm=\"echo-server\",family=\"poll\"";
        std::string text;
        double switches = -1, polls = -1, futex_sleeps = -1;
        for (int i = 0; i < 100 && (switches < 2.0 * n || polls < poll_calls || futex_sleeps <= 0);
             i++) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            text = http_get(node_port, "/metrics").value_or("");
            switches = sample_sum(text, "concurrency_context_switches_total", {sel});
            polls = sample_sum(text, "concurrency_poll_calls_total", {poll_sel, "result=\"ok\""});
            futex_sleeps = sample_sum(text, "concurrency_futex_blocked_seconds_count",
                                      {sel + ",comm=\"pingpong\""});
        }
        EXPECT_GE(switches, 2.0 * n) << text.substr(0, 4000);
        // a poll series and a lock series, served from the file as the exporter wrote them
        EXPECT_EQ(polls, poll_calls) << text.substr(0, 4000);
        EXPECT_EQ(sample_sum(text, "concurrency_poll_events_per_call_count", {poll_sel}),
                  poll_calls);
        // pingpong's futex ping-pong: each of its n round trips sleeps on a word at least
        // once in each thread, at most as often as its threads switched voluntarily
        EXPECT_GE(futex_sleeps, double(n)) << text.substr(text.find("concurrency_futex"), 3000);
        EXPECT_LE(futex_sleeps, switches);
        EXPECT_NE(text.find("node_textfile_scrape_error 0"), std::string::npos)
            << text.substr(0, 4000);
        // nothing outside the cgroup is counted
        std::istringstream in(text);
        std::string line;
        while (std::getline(in, line)) {
            if (line.rfind("concurrency_context_switches_total{", 0) == 0) {
                EXPECT_NE(line.find(sel), std::string::npos) << line;
            }
        }
        EXPECT_GT(
            sample_sum(text, "concurrency_handoff_seconds_count", {sel, "waker=\"same_process\""}),
            double(n));
        EXPECT_EQ(exporter.stop().status, 0) << exporter.stop().err;
    }
    // only the file is left: no temporary one
    std::vector<std::string> left;
    for (const auto& e : fs::directory_iterator(dir))
        left.push_back(e.path().filename());
    EXPECT_EQ(left, std::vector<std::string>{"concurrency_exporter.prom"});
    fs::remove_all(dir);
}

namespace {

// The capabilities a line KEY= of the unit file names (CAP_BPF CAP_PERFMON ...).
std::vector<std::string> unit_capabilities(const std::string& unit, const std::string& key) {
    std::vector<std::string> caps;
    std::istringstream lines(unit);
    for (std::string line; std::getline(lines, line);)
        if (line.rfind(key + "=", 0) == 0) {
            std::istringstream words(line.substr(key.size() + 1));
            for (std::string w; words >> w;)
                caps.push_back(w);
        }
    return caps;
}

// CAP_NAME's number, -1 for a name this test does not know.
int capability_number(const std::string& name) {
    static const std::map<std::string, int> known = {
        {"CAP_BPF", CAP_BPF},
        {"CAP_PERFMON", CAP_PERFMON},
        {"CAP_DAC_READ_SEARCH", CAP_DAC_READ_SEARCH},
        {"CAP_SYS_RESOURCE", CAP_SYS_RESOURCE},
        {"CAP_SYS_PTRACE", CAP_SYS_PTRACE},
        {"CAP_SYS_ADMIN", CAP_SYS_ADMIN},
    };
    auto it = known.find(name);
    return it == known.end() ? -1 : it->second;
}

}  // namespace

namespace {

// setpriv's arguments that run a program as user nobody with only CAPS (setpriv's names:
// "+bpf,+perfmon"), as the unit's DynamicUser= with its AmbientCapabilities= does.
std::vector<std::string> as_nobody_with(const std::string& caps) {
    return {"setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all," + caps,
            "--ambient-caps=" + caps,
            "--bounding-set=-all," + caps,
            "--no-new-privs",
            "--"};
}

// setpriv's names for CAPS that this machine lets a process hand on (a container may hold
// back some from its bounding set); those it does not are printed and left out.
std::string setpriv_names(const std::vector<std::string>& caps) {
    std::string given;
    for (const auto& cap : caps) {
        int n = capability_number(cap);
        EXPECT_GE(n, 0) << "a capability this test does not know: " << cap;
        if (n < 0)
            continue;
        if (prctl(PR_CAPBSET_READ, n, 0, 0, 0) != 1) {
            std::cout << cap << " is not in this machine's bounding set: run without it\n";
            continue;
        }
        std::string name = cap.substr(4);
        std::transform(name.begin(), name.end(), name.begin(), ::tolower);
        given += (given.empty() ? "+" : ",+") + name;
    }
    return given;
}

}  // namespace

// The unit file as shipped: systemd's own check accepts it, and the exporter run as a user of
// no privilege (the unit's DynamicUser=) with only the unit's capabilities attaches every
// probe, names a root process's lock and counts its switches: no probe group is silently
// missing for want of a capability. --poll with those alone is refused in one line naming the
// capability the unit's comment adds for it, and with that one added counts an epoll
// server's calls.
TEST(Exporter, TheUnitsCapabilitiesAreEnoughForEveryProbe) {
    REQUIRE_ROOT();
    const std::string unit = harness::read_file(EXPORTER_UNIT);
    std::vector<std::string> caps = unit_capabilities(unit, "AmbientCapabilities");
    ASSERT_FALSE(caps.empty()) << EXPORTER_UNIT;
    EXPECT_EQ(unit_capabilities(unit, "CapabilityBoundingSet"), caps);
    EXPECT_NE(unit.find("#   AmbientCapabilities=CAP_DAC_READ_SEARCH"), std::string::npos)
        << "the unit's comment on --poll";

    // systemd-analyze verify, with ExecStart at the binary built here
    if (harness::run({"sh", "-c", "command -v systemd-analyze"}).status == 0) {
        char dir_template[] = "/tmp/toolkit-unit-XXXXXX";
        std::string dir = mkdtemp(dir_template);
        std::string copy = dir + "/concurrency-exporter.service";
        std::ofstream(copy) << std::regex_replace(unit,
                                                  std::regex("ExecStart=[^ ]*concurrency-exporter"),
                                                  "ExecStart=" + bin("concurrency-exporter"));
        Result v = harness::run({"systemd-analyze", "verify", copy});
        EXPECT_EQ(v.status, 0) << v.out << v.err;
        EXPECT_EQ(v.out + v.err, "");
        fs::remove_all(dir);
    } else if (harness::in_ci()) {
        ADD_FAILURE() << "CI=true but no systemd-analyze: run scripts/install-deps.sh";
    }

    const std::string given = setpriv_names(caps);
    ASSERT_FALSE(given.empty());
    TestCgroup cgroup;
    const std::string sel = "cgroup=\"" + cgroup.label() + "\"";
    auto exporter_argv = [&](const std::string& caps_given, int port,
                             std::vector<std::string> extra) {
        std::vector<std::string> argv = as_nobody_with(caps_given);
        for (std::string a :
             {bin("concurrency-exporter"), std::string("--listen"),
              "127.0.0.1:" + std::to_string(port), std::string("--cgroup"), cgroup.path()})
            argv.push_back(a);
        argv.insert(argv.end(), extra.begin(), extra.end());
        return argv;
    };
    auto run_in_cgroup = [&](const std::string& command) {
        Result r = harness::run(
            {"sh", "-c", "echo $$ > " + cgroup.path() + "/cgroup.procs && exec " + command},
            harness::as_root());
        EXPECT_EQ(r.status, 0) << command << ": " << r.err;
    };

    {  // the unit as shipped: a contended mutex, root's, in the cgroup
        const int port = free_port();
        Service exporter(exporter_argv(given, port, {}));
        ASSERT_TRUE(wait_for_http(port, "/metrics", 60)) << exporter.stop().err;
        run_in_cgroup(bin("contention") +
                      " --mode mutex -w 4 -n 3000 --cpu 0 --cs-ns 20000 --think-ns 1000");
        std::string text;
        double named = 0;
        for (int i = 0; i < 50 && named <= 0; i++) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            text = http_get(port, "/metrics").value_or("");
            named = sample_sum(text, "concurrency_futex_blocked_seconds_count",
                               {sel, "comm=\"contention\"", "lock=\"g_contended_mutex\""});
        }
        EXPECT_GT(named, 0) << "the root process's lock, named: "
                            << text.substr(std::min(text.find("concurrency_futex"), text.size()),
                                           2000);
        EXPECT_GT(sample_sum(text, "concurrency_context_switches_total", {sel}), 0);
        const Result& end = exporter.stop();
        EXPECT_EQ(end.status, 0) << end.err;
        EXPECT_EQ(end.err.find("cannot"), std::string::npos) << end.err;
    }

    {  // --poll with the unit's capabilities alone: one line that says what to add
        std::vector<std::string> argv = exporter_argv(given, free_port(), {"--poll"});
        Result r = harness::run(argv, harness::as_root());
        EXPECT_NE(r.status, 0);
        EXPECT_NE(r.err.find("--poll: cannot read /sys/kernel/tracing (Permission denied)"),
                  std::string::npos)
            << r.err;
        EXPECT_NE(r.err.find("CAP_DAC_READ_SEARCH"), std::string::npos) << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    }

    {  // --poll with the capability the unit's comment adds for it: an epoll server, root's
        std::vector<std::string> with_poll = caps;
        with_poll.push_back("CAP_DAC_READ_SEARCH");
        const int port = free_port();
        Service exporter(exporter_argv(setpriv_names(with_poll), port, {"--poll"}));
        ASSERT_TRUE(wait_for_http(port, "/metrics", 60)) << exporter.stop().err;
        run_in_cgroup(bin("echo-bench") + " --model epoll -c 2 -n 500 --size 100");
        double polls = 0;
        for (int i = 0; i < 50 && polls <= 0; i++) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            polls =
                sample_sum(http_get(port, "/metrics").value_or(""), "concurrency_poll_calls_total",
                           {sel, "comm=\"echo-server\"", "family=\"epoll\"", "result=\"ok\""});
        }
        EXPECT_GT(polls, 0) << "the epoll server's calls";
        const Result& end = exporter.stop();
        EXPECT_EQ(end.status, 0) << end.err;
        EXPECT_EQ(end.err.find("cannot"), std::string::npos) << end.err;
    }
    EXPECT_TRUE(harness::programs_loaded(harness::programs_of("concurrency-exporter")).empty());
}
