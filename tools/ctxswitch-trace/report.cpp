#include "report.h"
#include "text.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace ctxswitch {

using tk::format_ns;

namespace {

const char* kind_name(int k) {
    switch (k) {
        case CS_KIND_THREAD:
            return "thread";
        case CS_KIND_PROCESS:
            return "process";
        default:
            return "kernel";
    }
}

}  // namespace

std::string handoff_comparison(const Snapshot& s) {
    const auto& same = s.hist(CS_H_HANDOFF_SAME);
    const auto& cross = s.hist(CS_H_HANDOFF_CROSS);
    if (same.empty() && cross.empty())
        return "handoff: no traced task woke another traced task, so there is no thread vs "
               "process handoff to compare";
    if (!same.empty() && !cross.empty()) {
        double ratio =
            double(same.percentile(50)) / double(std::max<uint64_t>(1, cross.percentile(50)));
        return tk::strprintf("handoff p50: %s between threads of one process (%" PRIu64
                             ") vs %s between processes (%" PRIu64
                             "): thread handoff is %.2fx process handoff",
                             format_ns(double(same.percentile(50))).c_str(), same.count(),
                             format_ns(double(cross.percentile(50))).c_str(), cross.count(), ratio);
    }
    if (!same.empty())
        return tk::strprintf("handoff p50: %s between threads of one process (%" PRIu64
                             " handoffs); none between processes",
                             format_ns(double(same.percentile(50))).c_str(), same.count());
    return tk::strprintf("handoff p50: %s between processes (%" PRIu64
                         " handoffs); none between threads of one process",
                         format_ns(double(cross.percentile(50))).c_str(), cross.count());
}

namespace {

// The in-kernel switch cost by kind, in one line.
void render_switch_cost_line(std::ostringstream& out, const Snapshot& s) {
    if (s.switch_cost_measured) {
        out << "in-kernel switch cost p50:";
        for (int k = 0; k < CS_KINDS; k++) {
            const auto& h = s.hist(CS_H_SWITCH_COST + k);
            out << " " << kind_name(k) << " " << tk::format_percentile_ns(h, 50);
            out << (k + 1 < CS_KINDS ? "," : "\n");
        }
    }
    out << "\n";
}

// Switches, migrations and wakeups in all, against the workload's own getrusage, and the
// user-level switches when counted.
void render_totals(std::ostringstream& out, const Snapshot& s,
                   const std::vector<ProcessRow>& procs) {
    out << tk::strprintf(
        "totals: %" PRIu64 " switches (%" PRIu64 " voluntary, %" PRIu64 " involuntary), %" PRIu64
        " migrations, %" PRIu64 " wakeups; %zu threads in %zu processes\n",
        s.counter(CS_C_SWITCHES), s.counter(CS_C_VOLUNTARY), s.counter(CS_C_INVOLUNTARY),
        s.counter(CS_C_MIGRATIONS), s.counter(CS_C_WAKEUPS), s.threads.size(), procs.size());
    if (s.workload_rusage) {
        uint64_t nv = uint64_t(s.workload_rusage->ru_nvcsw),
                 ni = uint64_t(s.workload_rusage->ru_nivcsw);
        uint64_t traced = s.counter(CS_C_VOLUNTARY) + s.counter(CS_C_INVOLUNTARY);
        double diff = nv + ni ? 100.0 * (double(traced) - double(nv + ni)) / double(nv + ni) : 0.0;
        out << tk::strprintf("  cross-check: the workload's getrusage counts %" PRIu64
                             " switches (%" PRIu64 " + %" PRIu64 "); traced %" PRIu64
                             " (%+.2f%%)\n",
                             nv + ni, nv, ni, traced, diff);
    }

    if (!s.user_switch_function.empty())
        out << tk::strprintf("user-level switches: %" PRIu64
                             " calls of %s by traced tasks; each uprobe hit costs about %s "
                             "here (measured now), far more than the switch itself\n",
                             s.counter(CS_C_USER_SWITCHES), s.user_switch_function.c_str(),
                             format_ns(s.uprobe_cost_ns).c_str());
}

void render_processes(std::ostringstream& out, const std::vector<ProcessRow>& procs) {
    out << "\nper process:\n"
        << tk::strprintf("  %8s %-16s %7s %10s %11s %6s %10s %10s %10s %10s\n", "PID", "COMM",
                         "THREADS", "VOLUNTARY", "INVOLUNTARY", "MIGR", "ON-CPU", "OFF-CPU",
                         "WAIT avg", "HANDOFF avg");
    for (auto& p : procs)
        out << tk::strprintf(
            "  %8u %-16s %7u %10" PRIu64 " %11" PRIu64 " %6" PRIu64 " %10s %10s %10s %10s\n", p.pid,
            p.comm.c_str(), p.threads, uint64_t(p.sum.voluntary), uint64_t(p.sum.involuntary),
            uint64_t(p.sum.migrations), format_ns(double(p.sum.on_cpu_ns)).c_str(),
            format_ns(double(p.sum.off_cpu_ns)).c_str(),
            tk::format_mean_ns(p.sum.wait_ns, p.sum.wait_count).c_str(),
            tk::format_mean_ns(p.sum.handoff_ns, p.sum.handoff_count).c_str());
}

// One row per thread, by switches.
void render_threads(std::ostringstream& out, const Snapshot& s, const ReportOptions& opts) {
    auto threads = s.threads;
    std::sort(threads.begin(), threads.end(), [](const ThreadRow& a, const ThreadRow& b) {
        uint64_t sa = a.stats.voluntary + a.stats.involuntary,
                 sb = b.stats.voluntary + b.stats.involuntary;
        return sa != sb ? sa > sb : a.stats.tid < b.stats.tid;
    });
    size_t shown = opts.verbose ? threads.size() : std::min(threads.size(), opts.max_threads);
    out << "\nper thread:\n"
        << tk::strprintf("  %8s %8s %-16s %10s %11s %6s %10s %10s %10s %10s %12s\n", "TID", "PID",
                         "COMM", "VOLUNTARY", "INVOLUNTARY", "MIGR", "ON-CPU", "OFF-CPU",
                         "WAIT avg", "HANDOFF avg", "SWITCH-IN avg");
    for (size_t i = 0; i < shown; i++) {
        const auto& t = threads[i].stats;
        uint64_t cost = 0, n = 0;
        for (int k = 0; k < CS_KINDS; k++)
            cost += t.switch_in_cost_ns[k], n += t.switch_in_count[k];
        out << tk::strprintf(
            "  %8u %8u %-16s %10" PRIu64 " %11" PRIu64 " %6" PRIu64 " %10s %10s %10s %10s %12s\n",
            t.tid, t.pid, threads[i].comm.c_str(), uint64_t(t.voluntary), uint64_t(t.involuntary),
            uint64_t(t.migrations), format_ns(double(t.on_cpu_ns)).c_str(),
            format_ns(double(t.off_cpu_ns)).c_str(),
            tk::format_mean_ns(t.wait_ns, t.wait_count).c_str(),
            tk::format_mean_ns(t.handoff_ns, t.handoff_count).c_str(),
            s.switch_cost_measured ? tk::format_mean_ns(cost, n).c_str() : "-");
    }
    if (shown < threads.size())
        out << tk::strprintf("  ... %zu more threads (-v or --json for all)\n",
                             threads.size() - shown);
}

void render_histograms(std::ostringstream& out, const Snapshot& s, const ReportOptions& opts) {
    out << "\n";
    for (auto& nh : named_histograms()) {
        if (nh.id >= CS_H_SWITCH_COST && nh.id < CS_H_SWITCH_COST + CS_KINDS &&
            !s.switch_cost_measured)
            continue;
        tk::Histogram h = nh.id < 0 ? s.wakeup_to_run() : s.hist(nh.id);
        // the per-kind wakeup splits only in verbose mode, the merged one always
        if (!opts.verbose && nh.id >= CS_H_WAKEUP_TO_RUN && nh.id < CS_H_WAKEUP_TO_RUN + CS_KINDS) {
            out << nh.title << ": " << h.summary() << "\n\n";
            continue;
        }
        out << h.render(nh.title) << "\n";
    }
    if (!s.switch_cost_measured)
        out << "switch cost: not measured (the kernel has no usable sched_exit_tp)\n";
}

void render_dropped(std::ostringstream& out, const Snapshot& s) {
    uint64_t dropped =
        s.counter(CS_C_DROP_STORAGE) + s.counter(CS_C_DROP_EXITED) + s.counter(CS_C_DROP_LIVE);
    if (s.stacks.enabled)
        dropped += s.counter(CS_C_DROP_STACK_IDS) + s.counter(CS_C_DROP_STACK_ROWS) +
                   s.counter(CS_C_DROP_EVENTS);
    out << tk::strprintf("dropped: %" PRIu64 " (task state %" PRIu64
                         ", exited-thread records %" PRIu64 ", live-thread index %" PRIu64,
                         dropped, s.counter(CS_C_DROP_STORAGE), s.counter(CS_C_DROP_EXITED),
                         s.counter(CS_C_DROP_LIVE));
    if (s.stacks.enabled)
        out << tk::strprintf(
            ", stacks not kept %" PRIu64 ", off-CPU periods without a stack row %" PRIu64
            " (%s), processes not reported %" PRIu64,
            s.counter(CS_C_DROP_STACK_IDS), s.counter(CS_C_DROP_STACK_ROWS),
            format_ns(double(s.counter(CS_C_DROP_STACK_NS))).c_str(), s.counter(CS_C_DROP_EVENTS));
    out << ")";
    if (s.switch_cost_measured)
        out << tk::strprintf("; switch cost unmatched (first runs of new tasks): %" PRIu64,
                             s.counter(CS_C_COST_UNMATCHED));
    out << "\n";
    if (s.stacks.enabled && s.counter(CS_C_DROP_STACK_IDS) + s.counter(CS_C_DROP_STACK_ROWS))
        out << "note: stacks were dropped (a stack map full, or two stacks hashed to one slot): "
               "--max-stacks N keeps more\n";
}

}  // namespace

std::string text_report(const Snapshot& s, const ReportOptions& opts) {
    std::ostringstream out;
    out << tk::run_headline("ctxswitch-trace", s);
    out << "\n" << handoff_comparison(s) << "\n";
    render_switch_cost_line(out, s);
    auto procs = s.processes();
    render_totals(out, s, procs);
    render_processes(out, procs);
    render_threads(out, s, opts);
    render_histograms(out, s, opts);
    if (s.stacks.enabled)
        out << stacks_text(s.stacks, s.hist(CS_H_OFF_CPU).sum(),
                           opts.verbose ? s.stacks.entries.size() : opts.top_stacks,
                           opts.verbose ? 127 : 12)
            << "\n";
    render_dropped(out, s);
    out << tk::probe_notes(s, opts.verbose);
    return out.str();
}

static nlohmann::json stats_json(const cs_thread_stats& t) {
    nlohmann::json j = {
        {"voluntary", t.voluntary},         {"involuntary", t.involuntary},
        {"migrations", t.migrations},       {"on_cpu_ns", t.on_cpu_ns},
        {"off_cpu_ns", t.off_cpu_ns},       {"off_cpu_count", t.off_cpu_count},
        {"wait_ns_total", t.wait_ns},       {"wait_count", t.wait_count},
        {"handoff_ns_total", t.handoff_ns}, {"handoff_count", t.handoff_count},
        {"user_switches", t.user_switches},
    };
    nlohmann::json cost = nlohmann::json::object();
    for (int k = 0; k < CS_KINDS; k++)
        cost[kind_name(k)] = {{"count", t.switch_in_count[k]},
                              {"ns_total", t.switch_in_cost_ns[k]}};
    j["switch_in_cost"] = cost;
    return j;
}

nlohmann::json json_report(const Snapshot& s) {
    nlohmann::json j = tk::run_json("ctxswitch-trace", s);
    j["comparison"] = handoff_comparison(s);
    auto procs = s.processes();
    j["totals"] = {
        {"switches", s.counter(CS_C_SWITCHES)},
        {"voluntary", s.counter(CS_C_VOLUNTARY)},
        {"involuntary", s.counter(CS_C_INVOLUNTARY)},
        {"migrations", s.counter(CS_C_MIGRATIONS)},
        {"wakeups", s.counter(CS_C_WAKEUPS)},
        {"forks", s.counter(CS_C_FORKS)},
        {"exits", s.counter(CS_C_EXITS)},
        {"threads", s.threads.size()},
        {"processes", procs.size()},
    };
    j["switch_cost_measured"] = s.switch_cost_measured;
    nlohmann::json hists = nlohmann::json::object();
    for (auto& nh : named_histograms()) {
        if (nh.id >= CS_H_SWITCH_COST && nh.id < CS_H_SWITCH_COST + CS_KINDS &&
            !s.switch_cost_measured)
            continue;
        hists[nh.name] = (nh.id < 0 ? s.wakeup_to_run() : s.hist(nh.id)).to_json();
    }
    j["histograms"] = hists;
    auto& pj = j["processes"] = nlohmann::json::array();
    for (auto& p : procs) {
        auto row = stats_json(p.sum);
        row["pid"] = p.pid;
        row["comm"] = p.comm;
        row["threads"] = p.threads;
        pj.push_back(row);
    }
    j["threads"] = tk::threads_json(s.threads, stats_json);
    j["dropped"] = {
        {"task_state", s.counter(CS_C_DROP_STORAGE)},
        {"exited_threads", s.counter(CS_C_DROP_EXITED)},
        {"live_index", s.counter(CS_C_DROP_LIVE)},
    };
    if (s.stacks.enabled) {
        j["dropped"]["stack_ids"] = s.counter(CS_C_DROP_STACK_IDS);
        j["dropped"]["stack_rows"] = s.counter(CS_C_DROP_STACK_ROWS);
        j["dropped"]["stack_rows_off_cpu_ns"] = s.counter(CS_C_DROP_STACK_NS);
        j["dropped"]["process_events"] = s.counter(CS_C_DROP_EVENTS);
        j["offcpu_stacks"] = stacks_json(s.stacks);
    }
    j["switch_cost_unmatched"] = s.counter(CS_C_COST_UNMATCHED);
    if (!s.user_switch_function.empty())
        j["user_switches"] = {{"function", s.user_switch_function},
                              {"count", s.counter(CS_C_USER_SWITCHES)},
                              {"uprobe_cost_ns", s.uprobe_cost_ns}};
    if (s.workload_status && s.workload_rusage)
        j["workload"]["rusage"] = {{"nvcsw", s.workload_rusage->ru_nvcsw},
                                   {"nivcsw", s.workload_rusage->ru_nivcsw}};
    return j;
}

}  // namespace ctxswitch
