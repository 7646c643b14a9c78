// cpuio: N workers as processes, threads, or coroutines on one thread, doing CPU-bound work
// (hashing a buffer) or IO-bound waiting (a timerfd per operation), for a list of worker
// counts. The throughput table shows where more workers help: IO-bound work scales with
// workers in every model (coroutines included, on one thread); CPU-bound work scales only
// up to the number of CPUs, and not at all for coroutines.
#include <cinttypes>
#include <cstdio>
#include <iostream>
#include <thread>

#include "common/child.h"
#include "common/cli.h"
#include "common/cpus.h"
#include "common/json_output.h"
#include "common/rusage.h"
#include "common/shm.h"
#include "common/work.h"
#include "cpuio/scheduler.h"
#include "cpuio/worker.h"
#include "errors.h"

namespace {

using cpuio::Kind;

struct Options {
    std::string model = "thread";
    Kind kind = Kind::cpu;
    std::vector<unsigned> worker_counts{1, 2, 4, 8};
    cpuio::Work work;
    double duration_s = 0;
    wl::CpuList cpus;
};

struct Step {
    unsigned workers = 0;
    uint64_t ops = 0, errors = 0, user_switches = 0;
    double elapsed_s = 0;
    wl::Usage usage;
    tk::Histogram op;
    bool verified = false;
    double ops_per_sec() const { return elapsed_s > 0 ? double(ops) / elapsed_s : 0.0; }
};

Step run_threads(const Options& o, unsigned n) {
    Step s;
    wl::StartLine start;
    std::vector<cpuio::WorkerResult> results(n);
    std::vector<std::thread> threads;
    for (unsigned i = 0; i < n; i++)
        threads.emplace_back([&, i] {
            o.cpus.pin(i);
            results[i] = cpuio::run_worker(o.work, &start, nullptr, nullptr);
        });
    uint64_t t0 = start.start_when_ready(n, o.duration_s);
    for (auto& t : threads)
        t.join();
    s.elapsed_s = double(wl::now_ns() - t0) / 1e9;
    for (auto& r : results)
        s.ops += r.ops, s.errors += r.errors, s.op.merge(r.op);
    return s;
}

Step run_processes(const Options& o, unsigned n) {
    Step s;
    wl::Shared<wl::StartLine> start;
    std::vector<wl::Child> children;
    for (unsigned i = 0; i < n; i++)
        children.push_back(wl::Child::spawn([&, i](int fd) {
            o.cpus.pin(i);
            wl::send_result(fd, cpuio::run_worker(o.work, start.get(), nullptr, nullptr).to_json());
            return 0;
        }));
    uint64_t t0 = start->start_when_ready(n, o.duration_s);
    for (unsigned i = 0; i < n; i++) {
        auto r = cpuio::WorkerResult::from_json(children[i].read_result());
        int status = children[i].wait();
        if (status != 0)
            throw tk::UserError("worker process " + std::to_string(i) + " " +
                                wl::describe_status(status));
        s.ops += r.ops, s.errors += r.errors, s.op.merge(r.op);
    }
    s.elapsed_s = double(wl::now_ns() - t0) / 1e9;
    return s;
}

Step run_coroutines(const Options& o, unsigned n) {
    Step s;
    o.cpus.pin(0);
    cpuio::Scheduler sched;
    std::vector<cpuio::WorkerResult> results(n);
    wl::StartLine start;  // opened at once: all coroutines start in the first round anyway
    for (unsigned i = 0; i < n; i++)
        sched.spawn([&, i] {
            results[i] = cpuio::run_worker(
                o.work, &start, [&](int fd) { sched.wait_readable(fd); }, [&] { sched.yield(); });
        });
    uint64_t t0 = wl::now_ns();
    if (o.duration_s > 0)
        start.deadline_ns = t0 + uint64_t(o.duration_s * 1e9);
    start.go = 1;  // nobody waits on it: the coroutines have not run yet
    sched.run();
    s.elapsed_s = double(wl::now_ns() - t0) / 1e9;
    for (auto& r : results)
        s.ops += r.ops, s.errors += r.errors, s.op.merge(r.op);
    s.user_switches = sched.switches();
    return s;
}

Step run_step(const Options& o, unsigned n) {
    wl::Usage before = wl::workload_usage();
    Step s = o.model == "thread"    ? run_threads(o, n)
             : o.model == "process" ? run_processes(o, n)
                                    : run_coroutines(o, n);
    s.usage = wl::workload_usage().since(before);
    s.workers = n;
    s.verified = s.errors == 0 && s.ops > 0 && (o.work.ops == 0 || s.ops == o.work.ops * n) &&
                 s.op.count() == s.ops;
    return s;
}

std::string what_text(const Options& o) {
    char buf[128];
    if (o.kind == Kind::cpu)
        snprintf(buf, sizeof buf, "CPU-bound: hash %zu bytes per operation", o.work.buffer->size());
    else
        snprintf(buf, sizeof buf, "IO-bound: wait for a %" PRIu64 " us timerfd per operation",
                 o.work.wait_us);
    return buf;
}

nlohmann::json to_json(const Options& o, const std::vector<Step>& steps) {
    nlohmann::json j;
    j["workload"] = "cpuio";
    j["schema_version"] = wl::kSchemaVersion;
    j["model"] = o.model;
    j["kind"] = o.kind == Kind::cpu ? "cpu" : "io";
    j["work_bytes"] = o.kind == Kind::cpu ? nlohmann::json(o.work.buffer->size()) : nullptr;
    j["wait_us"] = o.kind == Kind::io ? nlohmann::json(o.work.wait_us) : nullptr;
    j["ops_per_worker"] = o.work.ops ? nlohmann::json(o.work.ops) : nullptr;
    j["duration_s"] = o.duration_s > 0 ? nlohmann::json(o.duration_s) : nullptr;
    j["cpus"] = o.cpus.describe();
    j["online_cpus"] = std::thread::hardware_concurrency();
    auto arr = nlohmann::json::array();
    bool all = !steps.empty();
    for (const auto& s : steps) {
        double base = steps.front().ops_per_sec();
        arr.push_back(
            {{"workers", s.workers},
             {"ops", s.ops},
             {"elapsed_s", s.elapsed_s},
             {"ops_per_sec", s.ops_per_sec()},
             {"speedup", base > 0 ? s.ops_per_sec() / base : 0.0},
             {"cpu_s", s.usage.cpu_s},
             {"cpus_used", s.elapsed_s > 0 ? s.usage.cpu_s / s.elapsed_s : 0.0},
             {"op", s.op.to_json()},
             {"op_p50_ns", s.op.percentile(50)},
             {"op_p99_ns", s.op.percentile(99)},
             {"voluntary_switches", s.usage.switches.voluntary},
             {"involuntary_switches", s.usage.switches.involuntary},
             {"switches_per_op", s.ops ? double(s.usage.switches.total()) / double(s.ops) : 0.0},
             {"user_switches", s.user_switches},
             {"errors", s.errors},
             {"verified", s.verified}});
        all = all && s.verified;
    }
    j["steps"] = arr;
    j["verified"] = all;
    return j;
}

std::string to_text(const Options& o, const std::vector<Step>& steps) {
    std::string out;
    char line[512];
    snprintf(line, sizeof line, "cpuio: %s workers%s, %s, CPUs: %s (%u online)\n", o.model.c_str(),
             o.model == "coroutine" ? " (all on one thread)" : "", what_text(o).c_str(),
             o.cpus.describe().c_str(), std::thread::hardware_concurrency());
    out += line;
    out += o.work.ops ? "  " + std::to_string(o.work.ops) + " operations per worker\n\n"
                      : "  " + std::to_string(o.duration_s) + " s per worker count\n\n";
    out +=
        "  workers  ops       elapsed   ops/s       speedup  CPUs used  op p50     op p99     "
        "switches/op  verified\n";
    for (const auto& s : steps) {
        double base = steps.front().ops_per_sec();
        snprintf(
            line, sizeof line,
            "  %-7u  %-8" PRIu64 "  %-8.3f  %-10.1f  %-7.2f  %-9.2f  %-9s  %-9s  %-11.2f  %s\n",
            s.workers, s.ops, s.elapsed_s, s.ops_per_sec(), base > 0 ? s.ops_per_sec() / base : 0.0,
            s.elapsed_s > 0 ? s.usage.cpu_s / s.elapsed_s : 0.0,
            tk::format_ns(double(s.op.percentile(50))).c_str(),
            tk::format_ns(double(s.op.percentile(99))).c_str(),
            s.ops ? double(s.usage.switches.total()) / double(s.ops) : 0.0,
            s.verified ? "yes" : "NO");
        out += line;
    }
    out += "\n" + steps.back().op.render("operation time with " +
                                         std::to_string(steps.back().workers) + " workers");
    return out;
}

int run(int argc, char** argv) {
    CLI::App app{
        "Workers as processes, threads or coroutines doing CPU-bound or IO-bound "
        "operations; throughput against the number of workers.",
        "cpuio"};
    Options o;
    std::string kind_text = "cpu", cpu_text, json_dest;
    uint64_t ops = 0;
    size_t work_bytes = 256 * 1024;
    app.add_option("--model", o.model, "process, thread or coroutine")->capture_default_str();
    app.add_option("--kind", kind_text, "cpu (hash a buffer) or io (wait for a timerfd)")
        ->capture_default_str();
    app.add_option("-w,--workers", o.worker_counts, "worker counts to run, e.g. 1,2,4,8")
        ->delimiter(',')
        ->capture_default_str()
        ->check(wl::kNonNegative);
    app.add_option("-n,--ops", ops,
                   "operations per worker (default: cpu 1000, io 200; with -d only: unlimited)")
        ->check(wl::kNonNegative);
    app.add_option("-d,--duration", o.duration_s,
                   "seconds per worker count (with -n: whichever first)")
        ->check(CLI::PositiveNumber);
    app.add_option("--work-bytes", work_bytes, "cpu: bytes hashed per operation")
        ->capture_default_str()
        ->check(wl::kNonNegative);
    app.add_option("--wait-us", o.work.wait_us, "io: timer per operation, microseconds")
        ->capture_default_str()
        ->check(wl::kNonNegative);
    app.add_option("--cpu", cpu_text,
                   "pin worker i to LIST[i mod len]; coroutines: the thread to LIST[0]");
    app.add_option("--json", json_dest, "write the JSON report to FILE, or to stdout with -");
    wl::parse_options(app, argc, argv);

    if (o.model != "process" && o.model != "thread" && o.model != "coroutine")
        throw tk::UserError(
            "--model " + o.model + " is not a model: use process, thread or coroutine", 2);
    if (kind_text == "cpu")
        o.kind = Kind::cpu;
    else if (kind_text == "io")
        o.kind = Kind::io;
    else
        throw tk::UserError("--kind " + kind_text + " is not a kind: use cpu or io", 2);
    o.work.kind = o.kind;
    if (o.worker_counts.empty())
        throw tk::UserError("-w needs at least one worker count", 2);
    for (unsigned n : o.worker_counts)
        if (n < 1 || n > 1024)
            throw tk::UserError("-w " + std::to_string(n) + ": use 1 to 1024 workers", 2);
    if (work_bytes < 1 || work_bytes > (size_t(1) << 30))
        throw tk::UserError("--work-bytes must be 1 to 1 GiB", 2);
    if (o.work.wait_us < 1 || o.work.wait_us > 10000000)
        throw tk::UserError("--wait-us must be 1 to 10000000", 2);
    bool count_given = app.count("--ops") > 0;
    if (count_given && ops == 0)
        throw tk::UserError("-n 0: at least one operation is needed", 2);
    o.work.ops = count_given ? ops : o.duration_s > 0 ? 0 : o.kind == Kind::cpu ? 1000 : 200;
    wl::check_json_dest(json_dest);
    if (!cpu_text.empty())
        o.cpus = wl::CpuList::parse(cpu_text);

    auto buffer = wl::make_work_buffer(o.kind == Kind::cpu ? work_bytes : 1);
    o.work.buffer = &buffer;
    o.work.expected_hash = wl::hash_bytes(buffer.data(), buffer.size());

    std::vector<Step> steps;
    for (unsigned n : o.worker_counts)
        steps.push_back(run_step(o, n));

    if (wl::wants_text(json_dest))
        std::cout << to_text(o, steps) << std::flush;
    auto j = to_json(o, steps);
    wl::write_json(j, json_dest);
    if (!j["verified"].get<bool>()) {
        std::fprintf(stderr,
                     "cpuio: verification failed: wrong hashes, timer expirations or "
                     "operation counts (see the table)\n");
        return wl::kExitNotVerified;
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return wl::guarded_main("cpuio", [&] { return run(argc, argv); });
}
