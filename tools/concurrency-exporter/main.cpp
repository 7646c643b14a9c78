// concurrency-exporter: ctxswitch-trace's numbers for the whole machine (or one cgroup
// subtree), always on, by cgroup and command, as Prometheus metrics: served over HTTP for
// a Prometheus server to scrape, or written for node_exporter's textfile collector.
//
//   sudo concurrency-exporter --listen 127.0.0.1:9581
//   sudo concurrency-exporter --listen :9581 --cgroup /sys/fs/cgroup/system.slice/nginx.service
//   sudo concurrency-exporter --textfile /var/lib/prometheus/node-exporter
#include <httplib.h>
#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <CLI/CLI.hpp>

#include "cgroups.h"
#include "errors.h"
#include "exposition.h"
#include "kernel_features.h"
#include "lock_names.h"
#include "lock_top.h"
#include "probes.h"
#include "textfile.h"
#include "trace_session.h"

namespace {

using tk::UserError;

struct Options {
    std::string listen;
    std::string textfile;
    double interval_s = 15;
    uint32_t max_series = EXP_DEFAULT_MAX_SERIES;
    uint32_t top_locks = 10;
    double lock_window_s = 60;
    uint32_t max_locks = EXP_DEFAULT_MAX_LOCKS;
    std::string cgroup;
    bool coarsen = false;
    bool bpf_stats = false;
    bool poll = false;
    bool verbose = false;
};

// a series costs 6 histograms of 2.4 KiB in the kernel: this many would be 15 GiB
constexpr uint32_t kMaxSeries = 1u << 20;
// a futex word costs one (and two more in user space)
constexpr uint32_t kMaxLocks = 1u << 20;

struct ListenAddress {
    std::string host;
    int port = 0;
    std::string text() const {
        return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
               std::to_string(port);
    }
};

// "127.0.0.1:9581", ":9581" (every address), "[::1]:9581"
ListenAddress parse_listen(const std::string& text) {
    auto bad = [&] {
        return UserError("--listen " + text +
                         ": give ADDRESS:PORT, such as 127.0.0.1:9581, :9581 or [::1]:9581");
    };
    size_t colon = text.rfind(':');
    if (colon == std::string::npos)
        throw bad();
    ListenAddress a;
    a.host = text.substr(0, colon);
    if (a.host.size() >= 2 && a.host.front() == '[' && a.host.back() == ']')
        a.host = a.host.substr(1, a.host.size() - 2);
    if (a.host.empty())
        a.host = "0.0.0.0";
    std::string port = text.substr(colon + 1);
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != port.npos)
        throw bad();
    a.port = std::stoi(port);
    if (a.port < 1 || a.port > 65535)
        throw bad();
    return a;
}

double process_cpu_seconds() {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

uint64_t resident_bytes() {
    std::ifstream statm("/proc/self/statm");
    uint64_t size = 0, resident = 0;
    statm >> size >> resident;
    return resident * uint64_t(sysconf(_SC_PAGESIZE));
}

// One exposition at a time (the HTTP server's threads and the textfile loop share it).
class Exposer {
  public:
    Exposer(exporter::Probes& probes, exporter::ExpositionOptions opts,
            const std::string& cgroup_root, uint32_t top_locks, double lock_window_s)
        : probes_(probes),
          opts_(opts),
          cgroups_(cgroup_root),
          top_locks_n_(top_locks),
          top_locks_(top_locks, uint64_t(lock_window_s * 1e9)) {
        if (probes_.futex())
            lock_names_ = std::make_unique<exporter::LockNames>(probes_.process_events_fd());
    }

    // Hands the exposition to USE (which copies what it keeps) while holding the one buffer
    // every scrape writes into.
    template <typename Use>
    void with_text(Use use) {
        std::lock_guard<std::mutex> lock(mu_);
        exporter::Snapshot snap = probes_.read();
        add_locks(snap);
        std::set<uint64_t> ids;
        for (const auto& s : snap.series)
            if (!s.overflow)
                ids.insert(s.cgroup_id);
        for (const auto& l : snap.locks)
            if (!l.other)
                ids.insert(l.cgroup_id);
        cgroups_.refresh_for(ids);
        for (uint64_t id : ids)
            if (auto path = cgroups_.path_of(id))
                snap.cgroup_paths[id] = *path;
        snap.scrapes = ++scrapes_;
        snap.process_cpu_seconds = process_cpu_seconds();
        snap.resident_bytes = resident_bytes();
        exporter::write_exposition(snap, opts_, text_);
        use(static_cast<const std::string&>(text_));
    }

  private:
    // The futex words, named, ranked: the top N and `other`.
    void add_locks(exporter::Snapshot& snap) {
        if (!lock_names_)
            return;
        exporter::LockWords words = probes_.read_lock_words();
        lock_names_->catch_up();
        std::vector<exporter::LockSample> samples;
        samples.reserve(words.words.size());
        for (const auto& w : words.words)
            samples.push_back({{w.key.cgroup_id, w.comm, lock_names_->name_of(w)}, w.blocked});
        timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        snap.locks = top_locks_.update(samples, words.folded,
                                       uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec));
        snap.futex_probes = true;
        snap.lock_words = words.used;
        snap.lock_words_limit = probes_.max_locks();
        snap.top_locks = top_locks_n_;
    }

    std::mutex mu_;
    exporter::Probes& probes_;
    exporter::ExpositionOptions opts_;
    exporter::CgroupPaths cgroups_;
    uint32_t top_locks_n_;
    exporter::TopLocks top_locks_;
    std::unique_ptr<exporter::LockNames> lock_names_;
    uint64_t scrapes_ = 0;
    std::string text_;  // the last exposition: its memory serves the next one
};

// Waits for SIGINT or SIGTERM (blocked since the start) for up to TIMEOUT_S seconds (< 0:
// for ever); true when one came.
bool wait_for_stop(const sigset_t& set, double timeout_s) {
    for (;;) {
        int sig;
        if (timeout_s < 0) {
            sig = sigwaitinfo(&set, nullptr);
        } else {
            struct timespec ts;
            ts.tv_sec = time_t(timeout_s);
            ts.tv_nsec = long((timeout_s - double(ts.tv_sec)) * 1e9);
            sig = sigtimedwait(&set, nullptr, &ts);
        }
        if (sig > 0)
            return true;
        if (errno == EAGAIN)
            return false;
        // EINTR: wait again
    }
}

int exporter_main(int argc, char** argv) {
    // A scrape's snapshot and text are tens of megabytes with many series: from the heap they
    // would stay resident after it (glibc raises its mmap threshold to the largest block
    // freed, and keeps an arena per server thread); mapped apart, they go back at once.
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    CLI::App app{
        "Context switches, switch cost, wakeup-to-run and handoff latency of every task, by\n"
        "cgroup and command, as Prometheus metrics. See docs/exporter.md.",
        "concurrency-exporter"};
    Options o;
    app.add_option("--listen", o.listen,
                   "serve /metrics over HTTP at ADDRESS:PORT (default 127.0.0.1:9581; :PORT for "
                   "every address)")
        ->type_name("ADDR:PORT");
    app.add_option("--textfile", o.textfile,
                   "write DIR/concurrency_exporter.prom for node_exporter's textfile collector "
                   "(replaced atomically; DIR must be root's alone)")
        ->type_name("DIR");
    app.add_option("--interval", o.interval_s, "seconds between --textfile writes (default 15)")
        ->check(CLI::Range(0.1, 3600.0));
    app.add_option("--max-series", o.max_series,
                   "series (cgroup, command pairs) kept; the rest is folded into one "
                   "_overflow series (default 512)");
    app.add_option("--top-locks", o.top_locks,
                   "futex words exported as series of their own, the top N by blocked time "
                   "over the last --lock-window; the rest is one _other series (default 10; "
                   "0: futex waits are not looked for)");
    app.add_option("--lock-window", o.lock_window_s,
                   "seconds of blocked time the top locks are ranked by (default 60)")
        ->check(CLI::Range(0.1, 86400.0));
    app.add_option("--max-locks", o.max_locks,
                   "futex words the kernel keeps apart; sleeps on the rest go to the _other "
                   "series (default 1024)");
    app.add_option("--cgroup", o.cgroup,
                   "only the tasks of this cgroup v2 directory and its descendants")
        ->type_name("PATH");
    app.add_flag("--coarsen", o.coarsen,
                 "histogram buckets at powers of two only: up to 8 times fewer bucket series");
    app.add_flag("--poll", o.poll,
                 "also trace epoll_wait, poll and select (calls, events, blocked time): off by "
                 "default, as their syscall tracepoints put every system call of the machine on "
                 "the kernel's slower entry and exit path; needs root or CAP_DAC_READ_SEARCH");
    app.add_flag("--bpf-stats,!--no-bpf-stats", o.bpf_stats,
                 "turn kernel.bpf_stats_enabled on while running, for the exporter's BPF run "
                 "time and run counts as metrics (off by default: it costs every BPF program "
                 "of the machine two clock reads a run)");
    app.add_flag("-v,--verbose", o.verbose, "show libbpf's messages");
    if (!tk::parse_command_line(app, argc, argv))
        return 0;  // --help printed
    if (o.listen.empty() && o.textfile.empty())
        o.listen = "127.0.0.1:9581";

    // signals are taken synchronously below; blocked before any thread starts
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigprocmask(SIG_BLOCK, &stop, nullptr);
    signal(SIGPIPE, SIG_IGN);

    // every option checked, and the privileges, before the port is taken; the port and the
    // directory before anything is loaded (a second instance says so at once)
    std::optional<ListenAddress> address;
    if (!o.listen.empty())
        address = parse_listen(o.listen);
    if (o.max_series < 1 || o.max_series > kMaxSeries)
        throw UserError("--max-series " + std::to_string(o.max_series) + ": give 1 to " +
                        std::to_string(kMaxSeries) + " series");
    if (o.max_locks < 1 || o.max_locks > kMaxLocks)
        throw UserError("--max-locks " + std::to_string(o.max_locks) + ": give 1 to " +
                        std::to_string(kMaxLocks) + " words");
    if (o.top_locks > o.max_locks)
        throw UserError("--top-locks " + std::to_string(o.top_locks) +
                        ": give at most --max-locks (" + std::to_string(o.max_locks) + ")");
    const std::string cgroup_root = exporter::cgroup2_root();
    exporter::ProbeOptions popts;
    popts.max_series = o.max_series;
    popts.futex = o.top_locks > 0;
    popts.poll = o.poll;
    popts.max_locks = o.max_locks;
    popts.verbose = o.verbose;
    popts.bpf_stats = o.bpf_stats;
    if (!o.cgroup.empty())
        popts.filter = exporter::cgroup_filter(o.cgroup, cgroup_root);
    std::optional<exporter::TextfileWriter> textfile;
    if (!o.textfile.empty())
        textfile.emplace(o.textfile);
    tk::KernelFeatures::get().require_tracing("concurrency-exporter");

    httplib::Server server;
    // httplib's default is SO_REUSEPORT, with which a second exporter would share the port
    // silently (each getting some of the scrapes); SO_REUSEADDR alone lets a restart take
    // the port back from connections in TIME_WAIT, and refuses a second listener
    server.set_socket_options([](int sock) {
        int yes = 1;
        setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    if (address) {
        errno = 0;
        if (!server.bind_to_port(address->host, address->port)) {
            int err = errno ? errno : EADDRINUSE;
            throw UserError(tk::errno_text("cannot listen on " + address->text(), err) +
                            (err == EADDRINUSE ? " (is another exporter running there? give "
                                                 "another --listen)"
                                               : ""));
        }
    }

    exporter::Probes probes(popts);
    for (const auto& w : probes.warnings())
        fprintf(stderr, "concurrency-exporter: %s\n", w.c_str());

    exporter::ExpositionOptions eopts;
    eopts.buckets = o.coarsen ? exporter::Buckets::Coarse : exporter::Buckets::Exact;
    Exposer exposer(probes, eopts, cgroup_root, o.top_locks, o.lock_window_s);

    std::thread http;
    if (address) {
        server.Get("/metrics", [&](const httplib::Request&, httplib::Response& res) {
            exposer.with_text([&](const std::string& text) {
                res.set_content(text, "text/plain; version=0.0.4; charset=utf-8");
            });
        });
        server.Get("/", [](const httplib::Request&, httplib::Response& res) {
            res.set_content("concurrency-exporter: the metrics are at /metrics\n", "text/plain");
        });
        http = std::thread([&] { server.listen_after_bind(); });
        fprintf(stderr, "concurrency-exporter: serving http://%s/metrics\n",
                address->text().c_str());
    }
    if (textfile)
        fprintf(stderr, "concurrency-exporter: writing %s every %g s\n", textfile->path().c_str(),
                o.interval_s);

    for (;;) {
        if (textfile)
            exposer.with_text([&](const std::string& text) { textfile->write(text); });
        if (wait_for_stop(stop, textfile ? o.interval_s : -1))
            break;
    }
    if (address) {
        server.stop();
        http.join();
    }
    probes.detach();
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return tk::run_tool("concurrency-exporter", [&] { return exporter_main(argc, argv); });
}
