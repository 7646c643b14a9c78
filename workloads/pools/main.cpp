// pools: the same small CPU task run by a thread pool, a new thread per task, a process pool
// and a new process (fork) per task, with W tasks in flight (a closed loop: a slot gets its
// next task as soon as its previous one completes). Per-task latency (submit to completion
// seen by the dispatcher), tasks per second and context switches per task show what
// creating a thread or a process per task costs against reusing one.
#include <cinttypes>
#include <cstdio>
#include <iostream>

#include "common/cli.h"
#include "common/cpus.h"
#include "common/json_output.h"
#include "common/rusage.h"
#include "common/work.h"
#include "errors.h"
#include "histogram.h"
#include "pools/executors.h"

namespace {

using pools::Mode;

struct Options {
    std::vector<Mode> modes;
    unsigned workers = 2;
    uint64_t tasks = 0;  // 0: until the deadline
    double duration_s = 0;
    size_t task_bytes = 16384;
    wl::CpuList cpus;
};

struct Run {
    Mode mode;
    uint64_t submitted = 0, completed = 0;
    uint64_t wrong_results = 0, unexpected = 0, bad_exits = 0;
    tk::Histogram latency;
    double elapsed_s = 0;
    wl::Usage usage;
    bool verified(const Options& o) const {
        return completed > 0 && completed == submitted && (o.tasks == 0 || completed == o.tasks) &&
               wrong_results == 0 && unexpected == 0 && bad_exits == 0 &&
               latency.count() == completed;
    }
    double per_sec() const { return elapsed_s > 0 ? double(completed) / elapsed_s : 0.0; }
    double switches_per_task() const {
        return completed ? double(usage.switches.total()) / double(completed) : 0.0;
    }
};

Run run_mode(const Options& o, Mode mode, const pools::TaskWork& work, uint64_t expected) {
    Run r;
    r.mode = mode;
    wl::Usage before = wl::workload_usage();
    uint64_t start = wl::now_ns();
    uint64_t deadline = o.duration_s > 0 ? start + uint64_t(o.duration_s * 1e9) : 0;
    auto executor = pools::make_executor(mode, o.workers, work, o.cpus);
    std::vector<uint64_t> slot_task(o.workers, UINT64_MAX), slot_submit(o.workers, 0);
    std::vector<bool> done;  // by task id: completed once already
    auto can_submit = [&] {
        if (o.tasks && r.submitted >= o.tasks)
            return false;
        return !(deadline && wl::now_ns() >= deadline);
    };
    auto submit = [&](uint32_t slot) {
        uint64_t id = r.submitted++;
        done.push_back(false);
        slot_task[slot] = id;
        slot_submit[slot] = wl::now_ns();
        executor->submit({id, slot, 0});
    };
    uint64_t in_flight = 0;
    for (uint32_t slot = 0; slot < o.workers && can_submit(); slot++, in_flight++)
        submit(slot);
    while (in_flight > 0) {
        pools::Completion c = executor->next_completion();
        uint64_t now = wl::now_ns();
        in_flight--;
        // Each completion must be for the task its slot holds, and the first one for it.
        if (c.slot >= o.workers || slot_task[c.slot] != c.id || c.id >= done.size() || done[c.id]) {
            r.unexpected++;
            continue;
        }
        done[c.id] = true;
        slot_task[c.slot] = UINT64_MAX;
        r.completed++;
        if (c.result != expected)
            r.wrong_results++;
        r.latency.record(now - slot_submit[c.slot]);
        if (can_submit()) {
            submit(c.slot);
            in_flight++;
        }
    }
    r.bad_exits = executor->finish();
    executor.reset();
    r.elapsed_s = double(wl::now_ns() - start) / 1e9;
    r.usage = wl::workload_usage().since(before);
    return r;
}

nlohmann::json to_json(const Options& o, const std::vector<Run>& runs) {
    nlohmann::json j;
    j["workload"] = "pools";
    j["schema_version"] = wl::kSchemaVersion;
    j["workers"] = o.workers;
    j["tasks"] = o.tasks ? nlohmann::json(o.tasks) : nullptr;
    j["duration_s"] = o.duration_s > 0 ? nlohmann::json(o.duration_s) : nullptr;
    j["task_bytes"] = o.task_bytes;
    j["cpus"] = o.cpus.describe();
    auto arr = nlohmann::json::array();
    bool all = true;
    for (const auto& r : runs) {
        arr.push_back({{"mode", pools::mode_name(r.mode)},
                       {"tasks", r.completed},
                       {"submitted", r.submitted},
                       {"elapsed_s", r.elapsed_s},
                       {"tasks_per_sec", r.per_sec()},
                       {"latency", r.latency.to_json()},
                       {"latency_p50_ns", r.latency.percentile(50)},
                       {"latency_p99_ns", r.latency.percentile(99)},
                       {"cpu_s", r.usage.cpu_s},
                       {"voluntary_switches", r.usage.switches.voluntary},
                       {"involuntary_switches", r.usage.switches.involuntary},
                       {"switches_per_task", r.switches_per_task()},
                       {"wrong_results", r.wrong_results},
                       {"unexpected_completions", r.unexpected},
                       {"bad_exits", r.bad_exits},
                       {"verified", r.verified(o)}});
        all = all && r.verified(o);
    }
    j["runs"] = arr;
    j["verified"] = all;
    return j;
}

std::string to_text(const Options& o, const std::vector<Run>& runs) {
    std::string out;
    char line[512];
    snprintf(line, sizeof line,
             "pools: tasks hashing %zu bytes, %u in flight (one per worker), %s, CPUs: %s\n\n",
             o.task_bytes, o.workers,
             o.tasks ? (std::to_string(o.tasks) + " tasks per mode").c_str()
                     : (std::to_string(o.duration_s) + " s per mode").c_str(),
             o.cpus.describe().c_str());
    out += line;
    out +=
        "  mode             tasks     tasks/s     latency p50  latency p99  CPU s    "
        "switches/task  verified\n";
    for (const auto& r : runs) {
        snprintf(line, sizeof line,
                 "  %-15s  %-8" PRIu64 "  %-10.0f  %-11s  %-11s  %-7.3f  %-13.2f  %s\n",
                 pools::mode_name(r.mode), r.completed, r.per_sec(),
                 tk::format_ns(double(r.latency.percentile(50))).c_str(),
                 tk::format_ns(double(r.latency.percentile(99))).c_str(), r.usage.cpu_s,
                 r.switches_per_task(), r.verified(o) ? "yes" : "NO");
        out += line;
    }
    for (const auto& r : runs)
        out += "\n" + r.latency.render(std::string("task latency, ") + pools::mode_name(r.mode) +
                                       " (submit to completion)");
    return out;
}

int run(int argc, char** argv) {
    CLI::App app{
        "Thread pool vs a thread per task, process pool vs fork per task: per-task "
        "latency, tasks per second, switches per task.",
        "pools"};
    Options o;
    std::string mode_text = "all", cpu_text, json_dest;
    uint64_t tasks = 0;
    app.add_option("--mode", mode_text,
                   "thread-pool, thread-per-task, process-pool, fork-per-task, or all")
        ->capture_default_str();
    app.add_option("-w,--workers", o.workers, "pool size = tasks in flight")
        ->capture_default_str()
        ->check(wl::kNonNegative);
    app.add_option("-n,--tasks", tasks, "tasks per mode (default 2000; with -d only: unlimited)")
        ->check(wl::kNonNegative);
    app.add_option("-d,--duration", o.duration_s, "seconds per mode (with -n: whichever first)")
        ->check(CLI::PositiveNumber);
    app.add_option("--task-bytes", o.task_bytes, "bytes each task hashes (0: an empty task)")
        ->capture_default_str()
        ->check(wl::kNonNegative);
    app.add_option("--cpu", cpu_text, "pin worker (slot) i to LIST[i mod len] (default: unpinned)");
    app.add_option("--json", json_dest, "write the JSON report to FILE, or to stdout with -");
    wl::parse_options(app, argc, argv);

    if (mode_text == "all") {
        o.modes = pools::all_modes();
    } else {
        for (Mode m : pools::all_modes())
            if (mode_text == pools::mode_name(m))
                o.modes.push_back(m);
        if (o.modes.empty())
            throw tk::UserError("--mode " + mode_text +
                                    " is not a mode: use thread-pool, thread-per-task, "
                                    "process-pool, fork-per-task or all",
                                2);
    }
    if (o.workers < 1 || o.workers > 1024)
        throw tk::UserError("-w " + std::to_string(o.workers) + ": use 1 to 1024 workers", 2);
    if (o.task_bytes > (size_t(1) << 30))
        throw tk::UserError("--task-bytes must be at most 1 GiB", 2);
    bool count_given = app.count("--tasks") > 0;
    if (count_given && tasks == 0)
        throw tk::UserError("-n 0: at least one task is needed", 2);
    o.tasks = count_given ? tasks : o.duration_s > 0 ? 0 : 2000;
    wl::check_json_dest(json_dest);
    if (!cpu_text.empty())
        o.cpus = wl::CpuList::parse(cpu_text);

    auto buffer = wl::make_work_buffer(o.task_bytes);
    pools::TaskWork work{&buffer};
    uint64_t expected = pools::run_task(work);

    std::vector<Run> runs;
    for (Mode m : o.modes)
        runs.push_back(run_mode(o, m, work, expected));

    if (wl::wants_text(json_dest))
        std::cout << to_text(o, runs) << std::flush;
    auto j = to_json(o, runs);
    wl::write_json(j, json_dest);
    if (!j["verified"].get<bool>()) {
        std::fprintf(stderr,
                     "pools: verification failed: lost, repeated or wrong task results, or "
                     "a worker exited badly (see the table)\n");
        return wl::kExitNotVerified;
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return wl::guarded_main("pools", [&] { return run(argc, argv); });
}
