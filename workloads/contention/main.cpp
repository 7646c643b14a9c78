// contention: N threads or processes contend for one lock (a mutex, a spinlock, a
// reader-writer lock, a counting semaphore, or a mutex with two condition variables in a
// producer/consumer queue) with a configurable critical section and think time. The lock is
// a named global (g_contended_mutex ...) so the lock-wait tracer can name it. The workload
// counts its own acquisitions, times every one, and checks that the lock really excluded.
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
#include "contention/locks.h"
#include "contention/worker.h"
#include "errors.h"

namespace {

using ct::Mode;

struct Report {
    ct::Config cfg;
    std::string cpus;
    std::vector<ct::WorkerResult> workers;
    tk::Histogram wait, op;
    uint64_t ops = 0, acquisitions = 0, reads = 0, writes = 0, violations = 0;
    uint64_t produced = 0, consumed = 0, produced_sum = 0, consumed_sum = 0;
    double elapsed_s = 0, duration_s = 0;
    wl::Switches switches;
    // what the protected data says afterwards
    uint64_t counter = 0, a = 0, b = 0, queue_left = 0;
    int32_t max_readers = 0, max_inside = 0;
    std::vector<std::string> problems;

    bool verified() const { return problems.empty(); }
    void check();
    nlohmann::json to_json() const;
    std::string to_text() const;
};

void Report::check() {
    for (const auto& w : workers) {
        ops += w.ops;
        acquisitions += w.lock_acquisitions;
        reads += w.reads;
        writes += w.writes;
        violations += w.violations;
        wait.merge(w.wait);
        op.merge(w.op);
        if (w.role == "producer") {
            produced += w.items;
            produced_sum += w.item_sum;
        } else if (w.role == "consumer") {
            consumed += w.items;
            consumed_sum += w.item_sum;
        }
    }
    counter = g_guarded.counter;
    a = g_guarded.a;
    b = g_guarded.b;
    queue_left = g_guarded.count;
    max_readers = g_guarded.max_readers.load();
    max_inside = g_guarded.max_inside.load();

    auto fail = [&](const std::string& what) { problems.push_back(what); };
    if (violations)
        fail(std::to_string(violations) + " overlaps or out-of-order items seen by workers");
    if (cfg.ops_per_worker) {
        uint64_t expected = cfg.mode == Mode::condvar ? cfg.ops_per_worker * cfg.producers
                                                      : cfg.ops_per_worker * cfg.workers;
        uint64_t done = cfg.mode == Mode::condvar ? produced : ops;
        if (done != expected)
            fail(std::to_string(done) + " operations done, " + std::to_string(expected) + " asked");
    }
    switch (cfg.mode) {
        case Mode::mutex:
        case Mode::spin:
            if (counter != acquisitions)
                fail("protected counter " + std::to_string(counter) +
                     " != " + std::to_string(acquisitions) + " acquisitions: updates were lost");
            break;
        case Mode::rwlock:
            if (a != writes || b != writes)
                fail("protected pair (" + std::to_string(a) + ", " + std::to_string(b) +
                     ") != writes " + std::to_string(writes));
            if (reads + writes != acquisitions)
                fail("reads + writes != acquisitions");
            break;
        case Mode::semaphore:
            if (max_inside > int32_t(cfg.permits))
                fail(std::to_string(max_inside) + " holders at once with " +
                     std::to_string(cfg.permits) + " permits");
            if (acquisitions != ops)
                fail("acquisitions != operations");
            break;
        case Mode::condvar:
            if (consumed != produced || consumed_sum != produced_sum)
                fail("consumed " + std::to_string(consumed) + " items, produced " +
                     std::to_string(produced) + " (or their values differ)");
            if (queue_left)
                fail(std::to_string(queue_left) + " items left in the queue");
            break;
    }
    if (ops == 0)
        fail("no operation done");
}

double per_op(uint64_t n, uint64_t ops) {
    return ops ? double(n) / double(ops) : 0.0;
}

nlohmann::json Report::to_json() const {
    nlohmann::json j;
    j["workload"] = "contention";
    j["schema_version"] = wl::kSchemaVersion;
    j["mode"] = ct::mode_name(cfg.mode);
    j["model"] = cfg.processes ? "process" : "thread";
    j["workers"] = cfg.workers;
    j["lock"] = {{"symbol", ct::lock_symbol(cfg.mode)},
                 {"address",
                  [&] {
                      char buf[32];
                      snprintf(buf, sizeof buf, "%p", ct::lock_address(cfg.mode));
                      return std::string(buf);
                  }()},
                 {"process_shared", cfg.processes}};
    j["ops_per_worker"] = cfg.ops_per_worker ? nlohmann::json(cfg.ops_per_worker) : nullptr;
    j["duration_s"] = duration_s ? nlohmann::json(duration_s) : nullptr;
    j["break_lock"] = cfg.break_lock;
    j["cs_ns"] = cfg.cs_ns;
    j["think_ns"] = cfg.think_ns;
    j["cpus"] = cpus;
    j["ops"] = ops;
    j["lock_acquisitions"] = acquisitions;
    j["elapsed_s"] = elapsed_s;
    j["ops_per_sec"] = elapsed_s > 0 ? double(ops) / elapsed_s : 0.0;
    j["wait"] = wait.to_json();
    j["wait_p50_ns"] = wait.percentile(50);
    j["wait_p99_ns"] = wait.percentile(99);
    j["op"] = op.to_json();
    j["op_p50_ns"] = op.percentile(50);
    j["op_p99_ns"] = op.percentile(99);
    j["voluntary_switches"] = switches.voluntary;
    j["involuntary_switches"] = switches.involuntary;
    j["switches_per_op"] = per_op(switches.total(), ops);
    if (cfg.mode == Mode::rwlock)
        j["rwlock"] = {{"read_pct", cfg.read_pct},
                       {"reads", reads},
                       {"writes", writes},
                       {"max_concurrent_readers", max_readers}};
    if (cfg.mode == Mode::semaphore)
        j["semaphore"] = {{"permits", cfg.permits}, {"max_holders", max_inside}};
    if (cfg.mode == Mode::condvar)
        j["queue"] = {{"capacity", cfg.queue},
                      {"producers", cfg.producers},
                      {"consumers", cfg.workers - cfg.producers},
                      {"produced", produced},
                      {"consumed", consumed}};
    j["checks"] = {
        {"violations", violations}, {"protected_counter", counter}, {"problems", problems}};
    auto per_worker = nlohmann::json::array();
    for (const auto& w : workers)
        per_worker.push_back({{"id", w.id},
                              {"role", w.role},
                              {"ops", w.ops},
                              {"lock_acquisitions", w.lock_acquisitions},
                              {"wait_p50_ns", w.wait.percentile(50)},
                              {"wait_p99_ns", w.wait.percentile(99)}});
    j["per_worker"] = per_worker;
    j["verified"] = verified();
    return j;
}

std::string Report::to_text() const {
    std::string out;
    char line[512];
    snprintf(line, sizeof line, "contention: %s on %s at %p, %u %s, CPUs: %s%s\n",
             ct::mode_name(cfg.mode), ct::lock_symbol(cfg.mode), ct::lock_address(cfg.mode),
             cfg.workers, cfg.processes ? "processes (process-shared lock)" : "threads",
             cpus.c_str(), cfg.break_lock ? " -- LOCK DELIBERATELY NOT TAKEN (--break-lock)" : "");
    out += line;
    snprintf(
        line, sizeof line, "  critical section %s, think time %s (both busy)%s\n",
        tk::format_ns(double(cfg.cs_ns)).c_str(), tk::format_ns(double(cfg.think_ns)).c_str(),
        cfg.mode == Mode::rwlock      ? (", " + std::to_string(cfg.read_pct) + "% reads").c_str()
        : cfg.mode == Mode::semaphore ? (", " + std::to_string(cfg.permits) + " permits").c_str()
        : cfg.mode == Mode::condvar
            ? (", queue of " + std::to_string(cfg.queue) + ", " + std::to_string(cfg.producers) +
               " producers, " + std::to_string(cfg.workers - cfg.producers) + " consumers")
                  .c_str()
            : "");
    out += line;
    snprintf(line, sizeof line,
             "  %" PRIu64 " operations in %.3f s = %.0f ops/s; %" PRIu64
             " lock acquisitions counted by the workers\n\n",
             ops, elapsed_s, elapsed_s > 0 ? double(ops) / elapsed_s : 0.0, acquisitions);
    out += line;
    out += wait.render(cfg.mode == Mode::condvar ? "wait for the lock and the condition"
                                                 : "wait for the lock (acquisition latency)");
    out += "\n" + op.render("whole operation (lock, critical section, unlock)") + "\n";
    out += "  worker  role       ops          acquisitions  wait p50     wait p99\n";
    for (const auto& w : workers) {
        snprintf(line, sizeof line, "  %-6u  %-9s  %-11" PRIu64 "  %-12" PRIu64 "  %-11s  %s\n",
                 w.id, w.role.c_str(), w.ops, w.lock_acquisitions,
                 tk::format_ns(double(w.wait.percentile(50))).c_str(),
                 tk::format_ns(double(w.wait.percentile(99))).c_str());
        out += line;
    }
    if (cfg.mode == Mode::rwlock) {
        snprintf(line, sizeof line,
                 "\nreads %" PRIu64 ", writes %" PRIu64 ", at most %d readers inside at once\n",
                 reads, writes, max_readers);
        out += line;
    }
    if (cfg.mode == Mode::semaphore) {
        snprintf(line, sizeof line, "\nat most %d holders at once (%u permits)\n", max_inside,
                 cfg.permits);
        out += line;
    }
    snprintf(line, sizeof line,
             "\ncontext switches (getrusage, whole workload): %" PRIu64 " voluntary, %" PRIu64
             " involuntary = %.2f per operation\n",
             switches.voluntary, switches.involuntary, per_op(switches.total(), ops));
    out += line;
    if (verified()) {
        out += "verified: yes (";
        if (cfg.mode == Mode::condvar)
            out += std::to_string(consumed) + " items consumed = produced, in order per producer";
        else if (cfg.mode == Mode::semaphore)
            out += "never more than " + std::to_string(cfg.permits) + " holders";
        else if (cfg.mode == Mode::rwlock)
            out += "no reader saw a writer or a half-done write";
        else
            out += "protected counter " + std::to_string(counter) + " = acquisitions, no overlap";
        out += ")\n";
    } else {
        for (const auto& p : problems)
            out += "verified: NO: " + p + "\n";
    }
    return out;
}

Mode parse_mode(const std::string& text) {
    for (Mode m : {Mode::mutex, Mode::spin, Mode::rwlock, Mode::condvar, Mode::semaphore})
        if (text == ct::mode_name(m))
            return m;
    throw tk::UserError(
        "--mode " + text + " is not a mode: use mutex, spin, rwlock, condvar or semaphore", 2);
}

// The command line as given; check_options() turns it into the run's Config.
struct CommandLine {
    ct::Config cfg;
    std::string mode_text = "mutex", model_text = "thread", cpu_text, json_dest;
    double duration_s = 0;
    uint64_t ops = 0;
};

void add_options(CLI::App& app, CommandLine& cl) {
    ct::Config& cfg = cl.cfg;
    app.add_option("--mode", cl.mode_text,
                   "mutex, spin, rwlock, condvar (producer/consumer) or semaphore")
        ->capture_default_str();
    app.add_option("--model", cl.model_text, "thread, or process (the lock is process-shared)")
        ->capture_default_str();
    app.add_option("-w,--workers", cfg.workers, "threads or processes")
        ->capture_default_str()
        ->check(wl::kNonNegative);
    app.add_option("-n,--ops", cl.ops,
                   "operations per worker; condvar: items per producer (default 20000; with -d "
                   "only: unlimited)")
        ->check(wl::kNonNegative);
    app.add_option("-d,--duration", cl.duration_s, "stop after SECONDS (with -n: whichever first)")
        ->check(CLI::PositiveNumber);
    app.add_option("--cs-ns", cfg.cs_ns, "critical section, busy, lock held")
        ->capture_default_str()
        ->check(wl::kNonNegative);
    app.add_option("--think-ns", cfg.think_ns, "think time between operations, busy, lock free")
        ->capture_default_str()
        ->check(wl::kNonNegative);
    app.add_option("--read-pct", cfg.read_pct, "rwlock: percentage of read operations")
        ->capture_default_str()
        ->check(wl::kNonNegative);
    app.add_option("--permits", cfg.permits, "semaphore: holders allowed at once")
        ->capture_default_str()
        ->check(wl::kNonNegative);
    app.add_option("--queue", cfg.queue, "condvar: queue capacity")
        ->capture_default_str()
        ->check(wl::kNonNegative);
    app.add_option("--producers", cfg.producers, "condvar: how many workers produce (default half)")
        ->check(wl::kNonNegative);
    app.add_flag("--break-lock", cfg.break_lock,
                 "mutex, spin: do not take the lock at all, to see the checks fail (testing)");
    app.add_option("--cpu", cl.cpu_text, "pin worker i to LIST[i mod len] (default: unpinned)");
    app.add_option("--json", cl.json_dest, "write the JSON report to FILE, or to stdout with -");
}

// condvar: producers and consumers out of the workers (half produce unless told).
void check_queue_roles(ct::Config& cfg) {
    if (cfg.workers < 2)
        throw tk::UserError(
            "--mode condvar needs at least 2 workers (producers and consumers): use -w 2 or "
            "more",
            2);
    if (cfg.producers == 0)
        cfg.producers = cfg.workers / 2;
    if (cfg.producers >= cfg.workers)
        throw tk::UserError("--producers must leave at least one consumer: use fewer than -w", 2);
}

// The options, checked in the order a user meets them, make the run's Config; the first
// one out of range is a UserError (exit 2).
ct::Config check_options(const CLI::App& app, const CommandLine& cl) {
    ct::Config cfg = cl.cfg;
    cfg.mode = parse_mode(cl.mode_text);
    if (cl.model_text != "thread" && cl.model_text != "process")
        throw tk::UserError(
            "--model " + cl.model_text + " is not a model here: use thread or process", 2);
    cfg.processes = cl.model_text == "process";
    if (cfg.workers < 1 || cfg.workers > 1024)
        throw tk::UserError("-w " + std::to_string(cfg.workers) + ": use 1 to 1024 workers", 2);
    if (cfg.cs_ns > 1000000000 || cfg.think_ns > 1000000000)
        throw tk::UserError("--cs-ns and --think-ns must be at most 1 s (1000000000)", 2);
    if (cfg.read_pct > 100)
        throw tk::UserError("--read-pct must be 0 to 100", 2);
    if (cfg.permits < 1)
        throw tk::UserError("--permits must be at least 1", 2);
    if (cfg.queue < 1 || cfg.queue > ct::kQueueMax)
        throw tk::UserError("--queue must be 1 to " + std::to_string(ct::kQueueMax), 2);
    if (cfg.mode == Mode::condvar)
        check_queue_roles(cfg);
    if (cfg.break_lock && cfg.mode != Mode::mutex && cfg.mode != Mode::spin)
        throw tk::UserError("--break-lock only applies to --mode mutex or spin", 2);
    if (cfg.mode != Mode::condvar && app.count("--producers")) {
        throw tk::UserError("--producers only applies to --mode condvar", 2);
    }
    bool count_given = app.count("--ops") > 0;
    if (count_given && cl.ops == 0)
        throw tk::UserError("-n 0: at least one operation is needed", 2);
    cfg.ops_per_worker = count_given ? cl.ops : cl.duration_s > 0 ? 0 : 20000;
    return cfg;
}

// The workers as processes, each sending its result back as JSON; returns when they started.
uint64_t run_processes(const ct::Config& cfg, const wl::CpuList& cpus, double duration_s,
                       ct::Control& control, std::vector<ct::WorkerResult>& results) {
    std::vector<wl::Child> children;
    for (unsigned i = 0; i < cfg.workers; i++)
        children.push_back(wl::Child::spawn([&, i](int result_fd) {
            cpus.pin(i);
            wl::send_result(result_fd, ct::run_worker(cfg, i, control).to_json());
            return 0;
        }));
    uint64_t start = control.start_when_ready(cfg.workers, duration_s);
    for (unsigned i = 0; i < cfg.workers; i++) {
        results[i] = ct::WorkerResult::from_json(children[i].read_result());
        int status = children[i].wait();
        if (status != 0)
            throw tk::UserError("worker " + std::to_string(i) + " " + wl::describe_status(status));
    }
    return start;
}

// The workers as threads; returns when they started.
uint64_t run_threads(const ct::Config& cfg, const wl::CpuList& cpus, double duration_s,
                     ct::Control& control, std::vector<ct::WorkerResult>& results) {
    std::vector<std::thread> threads;
    for (unsigned i = 0; i < cfg.workers; i++)
        threads.emplace_back([&, i] {
            cpus.pin(i);
            results[i] = ct::run_worker(cfg, i, control);
        });
    uint64_t start = control.start_when_ready(cfg.workers, duration_s);
    for (auto& t : threads)
        t.join();
    return start;
}

// The text report (unless the JSON takes stdout), the JSON, and the exit status: the
// workload's own checks decide it.
int print_report(const Report& report, const std::string& json_dest) {
    if (wl::wants_text(json_dest))
        std::cout << report.to_text() << std::flush;
    wl::write_json(report.to_json(), json_dest);
    if (!report.verified()) {
        std::fprintf(stderr, "contention: verification failed: %s: the lock did not exclude\n",
                     report.problems.front().c_str());
        return wl::kExitNotVerified;
    }
    return 0;
}

int run(int argc, char** argv) {
    CLI::App app{
        "N threads or processes contend for one named global lock; per-acquisition "
        "latency, throughput, switches per operation, and a check that the lock "
        "really excluded.",
        "contention"};
    CommandLine cl;
    add_options(app, cl);
    wl::parse_options(app, argc, argv);
    const ct::Config cfg = check_options(app, cl);
    wl::check_json_dest(cl.json_dest);
    wl::CpuList cpus;
    if (!cl.cpu_text.empty())
        cpus = wl::CpuList::parse(cl.cpu_text);

    if (cfg.processes)
        ct::share_lock_page();
    ct::init_locks(cfg.processes, cfg.permits, cfg.queue, cfg.producers);
    wl::Shared<ct::Control> control;

    Report report;
    report.cfg = cfg;
    report.cpus = cpus.describe();
    report.duration_s = cl.duration_s;
    report.workers.resize(cfg.workers);
    uint64_t start = cfg.processes
                         ? run_processes(cfg, cpus, cl.duration_s, *control, report.workers)
                         : run_threads(cfg, cpus, cl.duration_s, *control, report.workers);
    report.elapsed_s = double(wl::now_ns() - start) / 1e9;
    report.switches = wl::workload_switches();
    report.check();
    ct::destroy_locks();
    return print_report(report, cl.json_dest);
}

}  // namespace

int main(int argc, char** argv) {
    return wl::guarded_main("contention", [&] { return run(argc, argv); });
}
