#include "report.h"
#include "text.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <map>
#include <sstream>

namespace lockwait {

using tk::base_name;
using tk::format_ns;
using tk::format_percentile_ns;
using tk::hex;

namespace {

std::string ops_list(uint32_t ops_seen, const char* sep) {
    std::string out;
    for (unsigned op = 0; op < LW_OPS; op++)
        if (ops_seen & (1U << op))
            out += (out.empty() ? "" : sep) + std::string(op_name(op));
    return out;
}

// "FUTEX_WAIT_BITSET" -> "WAIT_BITSET" for narrow columns
std::string short_ops(uint32_t ops_seen) {
    std::string out;
    for (unsigned op = 0; op < LW_OPS; op++) {
        if (!(ops_seen & (1U << op)))
            continue;
        std::string n = op_name(op);
        if (n.rfind("FUTEX_", 0) == 0)
            n = n.substr(6);
        out += (out.empty() ? "" : ",") + n;
    }
    return out;
}

std::string frame_text(const Frame& f) {
    if (f.function.empty() && !f.module.empty() && f.module != "[kernel]")
        return hex(f.address) + " [" + f.module + "+" + hex(f.module_offset) + "]";
    std::string out = f.function.empty() ? hex(f.address) : f.function;
    if (f.inlined)
        out = "(inlined) " + out;
    if (!f.file.empty())
        out += " " + base_name(f.file) + ":" + std::to_string(f.line);
    if (!f.module.empty() && f.module != "[kernel]")
        out += " [" + f.module + "]";
    return out;
}

void render_stack(std::ostringstream& out, const Stack& s, const char* indent, size_t max_frames) {
    size_t n = std::min(s.frames.size(), max_frames);
    for (size_t i = 0; i < n; i++)
        out << indent << frame_text(s.frames[i]) << "\n";
    if (n < s.frames.size())
        out << indent << "... " << s.frames.size() - n << " more frames\n";
    if (s.truncated)
        out << indent << "(stack cut short: no frame pointer beyond this point)\n";
}

nlohmann::json frames_json(const std::vector<Frame>& frames) {
    auto a = nlohmann::json::array();
    for (const auto& f : frames) {
        nlohmann::json j = {
            {"address", hex(f.address)}, {"function", f.function}, {"module", f.module}};
        if (!f.module.empty() && f.module != "[kernel]")
            j["module_offset"] = hex(f.module_offset);
        if (!f.file.empty())
            j["file"] = f.file, j["line"] = f.line;
        if (f.inlined)
            j["inlined"] = true;
        a.push_back(j);
    }
    return a;
}

nlohmann::json thread_json(const lw_thread_stats& t) {
    uint64_t calls = 0;
    nlohmann::json by_op = nlohmann::json::object();
    uint64_t other = 0;
    for (unsigned op = 0; op < LW_OPS; op++) {
        calls += t.calls[op];
        if (t.calls[op])
            by_op[op_name(op)] = t.calls[op];
        if (lw_op_class(op) == LW_CLASS_OTHER)
            other += t.calls[op];
    }
    return {
        {"futex_calls", calls},
        {"wait_calls", t.waits},
        {"wake_calls", t.wakes},
        {"other_calls", other},
        {"blocked_waits", t.blocked},
        {"blocked_ns_total", t.blocked_ns},
        {"wait_ns_total", t.wait_ns},
        {"woken", t.woken},
        {"kernel_lock_waits", t.klock_waits},
        {"kernel_lock_ns_total", t.klock_ns},
        {"calls_by_op", by_op},
    };
}

// Strips the parameter list of a demangled name ("f(int) const" -> "f"), for flame graphs.
std::string bare_function(std::string name) {
    if (name.size() > 6 && name.compare(name.size() - 6, 6, " const") == 0)
        name.resize(name.size() - 6);
    if (name.empty() || name.back() != ')')
        return name;
    auto ends_with = [](const std::string& s, const char* tail) {
        size_t n = strlen(tail);
        return s.size() >= n && s.compare(s.size() - n, n, tail) == 0;
    };
    if (ends_with(name, "operator()"))
        return name;  // the name, not a parameter list
    int depth = 0;
    for (size_t i = name.size(); i-- > 0;) {
        if (name[i] == ')')
            depth++;
        if (name[i] == '(' && --depth == 0) {
            std::string bare = name.substr(0, i);
            return bare.empty() || ends_with(bare, "operator") ? name : bare;
        }
    }
    return name;
}

std::string frame_name(const Frame& f) {
    return !f.function.empty() ? bare_function(f.function)
           : f.module.empty()  ? hex(f.address)
                               : f.module + "+" + hex(f.module_offset);
}

}  // namespace

const char* op_name(unsigned op) {
    static const char* names[LW_OPS] = {"FUTEX_WAIT",
                                        "FUTEX_WAKE",
                                        "FUTEX_FD",
                                        "FUTEX_REQUEUE",
                                        "FUTEX_CMP_REQUEUE",
                                        "FUTEX_WAKE_OP",
                                        "FUTEX_LOCK_PI",
                                        "FUTEX_UNLOCK_PI",
                                        "FUTEX_TRYLOCK_PI",
                                        "FUTEX_WAIT_BITSET",
                                        "FUTEX_WAKE_BITSET",
                                        "FUTEX_WAIT_REQUEUE_PI",
                                        "FUTEX_CMP_REQUEUE_PI",
                                        "FUTEX_LOCK_PI2",
                                        "futex_wait",
                                        "futex_wake",
                                        "futex_waitv",
                                        "futex_requeue",
                                        "invalid"};
    return op < LW_OPS ? names[op] : "invalid";
}

const char* outcome_name(unsigned outcome) {
    static const char* names[LW_OUTCOMES] = {"woken", "eagain", "timedout", "interrupted", "error"};
    return outcome < LW_OUTCOMES ? names[outcome] : "?";
}

std::string kernel_lock_type(uint32_t flags) {
    std::string type;
    if (flags & LW_LCB_F_MUTEX)
        type = flags & LW_LCB_F_SPIN ? "mutex (spinning)" : "mutex";
    else if (flags & LW_LCB_F_RT)
        type = "rt-mutex";
    else if (flags & LW_LCB_F_PERCPU)
        type = "percpu-rwsem";
    else if (flags & LW_LCB_F_SPIN)
        type = flags & (LW_LCB_F_READ | LW_LCB_F_WRITE) ? "rwlock" : "spinlock";
    else if (flags & (LW_LCB_F_READ | LW_LCB_F_WRITE))
        type = "rwsem";
    else
        type = "lock";
    if (flags & LW_LCB_F_READ)
        type += " (read)";
    if (flags & LW_LCB_F_WRITE)
        type += " (write)";
    return type;
}

std::vector<ProcessRow> Report::processes() const {
    std::map<uint32_t, ProcessRow> by_pid;
    for (const auto& t : threads) {
        auto& p = by_pid[t.stats.pid];
        p.pid = t.stats.pid;
        if (p.comm.empty() || t.stats.tid == t.stats.pid)
            p.comm = t.comm;
        p.threads++;
        for (int i = 0; i < LW_OPS; i++)
            p.sum.calls[i] += t.stats.calls[i];
        p.sum.waits += t.stats.waits;
        p.sum.blocked += t.stats.blocked;
        p.sum.blocked_ns += t.stats.blocked_ns;
        p.sum.wait_ns += t.stats.wait_ns;
        p.sum.wakes += t.stats.wakes;
        p.sum.woken += t.stats.woken;
        p.sum.klock_waits += t.stats.klock_waits;
        p.sum.klock_ns += t.stats.klock_ns;
    }
    std::vector<ProcessRow> out;
    for (auto& [pid, p] : by_pid)
        out.push_back(p);
    return out;
}

uint64_t Report::blocked_ns_total() const {
    uint64_t total = 0;
    for (const auto& t : threads)
        total += t.stats.blocked_ns;
    return total;
}

uint64_t Report::blocked_ns_of(WaitClass c) const {
    uint64_t total = 0;
    for (const auto& l : locks)
        if (kind_info(l.kind).wait_class == c)
            total += l.blocked_ns;
    return total;
}

uint64_t Report::kernel_lock_ns_total() const {
    uint64_t total = 0;
    for (const auto& t : threads)
        total += t.stats.klock_ns;
    return total;
}

uint64_t Report::threads_time_ns() const {
    uint64_t total = 0;
    for (const auto& t : threads) {
        uint64_t from = std::max<uint64_t>(t.stats.start_ns, started_ns);
        uint64_t to = t.stats.end_ns ? t.stats.end_ns : read_ns;
        if (to > from)
            total += to - from;
    }
    return total;
}

namespace {

// The usual questions: which lock is the most contended and what share of the threads' time
// (and of their blocked time) went to it; whether the threads mostly waited for locks (contention:
// mutexes, rwlocks, kernel locks) or for something to happen (work, a signal, a thread's end).
struct Verdict {
    const Lock* top = nullptr;  // the contended lock with the most blocked time
    uint64_t all_ns = 0;        // futex blocked time and kernel lock waits of every thread
    uint64_t locks_ns = 0, events_ns = 0, other_ns = 0;
    uint64_t threads_ns = 0;  // the threads' time (0: the window is not known)
    size_t threads = 0;
    double share(uint64_t ns) const { return all_ns ? double(ns) / double(all_ns) : 0.0; }
    double share_of_threads(uint64_t ns) const {
        return threads_ns ? double(ns) / double(threads_ns) : 0.0;
    }
    const char* mostly() const {
        if (!locks_ns && !events_ns)
            return "nothing";
        return locks_ns >= events_ns ? "locks" : "events";
    }
};

Verdict verdict_of(const Report& r) {
    Verdict v;
    for (const auto& l : r.locks)
        if (kind_info(l.kind).wait_class == WaitClass::Contention && l.blocked_ns &&
            (!v.top || l.blocked_ns > v.top->blocked_ns))
            v.top = &l;
    v.all_ns = r.blocked_ns_total() + r.kernel_lock_ns_total();
    v.locks_ns = r.blocked_ns_of(WaitClass::Contention) + r.kernel_lock_ns_total();
    v.events_ns = r.blocked_ns_of(WaitClass::Event);
    v.other_ns = r.blocked_ns_of(WaitClass::Other);
    v.threads_ns = r.threads_time_ns();
    v.threads = r.threads.size();
    return v;
}

void render_verdict(std::ostringstream& out, const Report& r) {
    Verdict v = verdict_of(r);
    out << "verdict: ";
    if (v.top) {
        out << tk::strprintf("most contended lock %s (%s, pid %u): %s blocked, ",
                             v.top->name.c_str(), kind_name(v.top->kind), v.top->pid,
                             format_ns(double(v.top->blocked_ns)).c_str());
        if (v.threads_ns)
            out << tk::strprintf("%.0f%% of the threads' time (%zu thread%s, %s), ",
                                 100 * v.share_of_threads(v.top->blocked_ns), v.threads,
                                 v.threads == 1 ? "" : "s",
                                 format_ns(double(v.threads_ns)).c_str());
        out << tk::strprintf("%.0f%% of their blocked time", 100 * v.share(v.top->blocked_ns));
    } else
        out << "no contended lock";
    out << "; threads waited " << format_ns(double(v.locks_ns)) << " for locks and "
        << format_ns(double(v.events_ns)) << " for something to happen";
    if (v.locks_ns || v.events_ns)
        out << (v.locks_ns >= v.events_ns ? ": mostly for locks" : ": mostly for work or events");
    if (v.other_ns)
        out << " (" << format_ns(double(v.other_ns)) << " on words of unknown kind or raw futexes)";
    out << "\n";
}

// The run and the totals: what was traced, how it ended, the futex calls by kind.
void render_summary(std::ostringstream& out, const Report& r) {
    out << tk::run_headline("lockwait-trace", r);
    out << "\n";
    render_verdict(out, r);

    auto procs = r.processes();
    const auto& handoff = r.hists[LW_H_HANDOFF];
    out << tk::strprintf(
        "futex: %" PRIu64 " call%s by %zu thread%s in %zu process%s: %" PRIu64 " waits (%" PRIu64
        " blocked, %s blocked in total), %" PRIu64 " wakes, %" PRIu64 " other\n",
        r.counter(LW_C_FUTEX_CALLS), r.counter(LW_C_FUTEX_CALLS) == 1 ? "" : "s", r.threads.size(),
        r.threads.size() == 1 ? "" : "s", procs.size(), procs.size() == 1 ? "" : "es",
        r.counter(LW_C_WAIT_CALLS), r.counter(LW_C_BLOCKED_WAITS),
        format_ns(double(r.blocked_ns_total())).c_str(), r.counter(LW_C_WAKE_CALLS),
        r.counter(LW_C_OTHER_CALLS));
    std::string by_op;
    for (unsigned op = 0; op < LW_OPS; op++)
        if (r.calls[op])
            by_op +=
                tk::strprintf("%s%s %" PRIu64, by_op.empty() ? "" : ", ", op_name(op), r.calls[op]);
    if (!by_op.empty())
        out << "  by operation: " << by_op << "\n";
    out << tk::strprintf("  blocked waits woken by a task: %" PRIu64
                         " (handoff p50 %s, p99 %s); by an interrupt (timeout, "
                         "device): %" PRIu64 "\n",
                         r.counter(LW_C_WOKEN_BY_TASK), format_percentile_ns(handoff, 50).c_str(),
                         format_percentile_ns(handoff, 99).c_str(), r.counter(LW_C_WOKEN_BY_IRQ));
}

const char* wait_class_title(WaitClass c) {
    switch (c) {
        case WaitClass::Contention:
            return "contention: locks by blocked time";
        case WaitClass::Event:
            return "waiting for something to happen (conditions, semaphores, joins, barriers, "
                   "once, atomic waits), by blocked time";
        default:
            return "other futex words (raw futex, unknown kind), by blocked time";
    }
}

// One row per lock of one class, by blocked time.
void render_lock_table(std::ostringstream& out, const Report& r, WaitClass c, size_t top) {
    std::vector<const Lock*> rows;
    for (const auto& l : r.locks)
        if (kind_info(l.kind).wait_class == c)
            rows.push_back(&l);
    if (rows.empty())
        return;
    size_t shown = std::min(rows.size(), top);
    out << "\n"
        << wait_class_title(c)
        << (shown < rows.size() ? tk::strprintf(" (top %zu of %zu, -v for all)", shown, rows.size())
                                : "")
        << ":\n";
    out << tk::strprintf("  %7s  %-14s  %-34s %-11s %8s %8s %10s %10s %10s %8s %8s  %s\n", "PID",
                         "ADDRESS", "LOCK", "KIND", "WAITS", "BLOCKED", "BLOCKED-T", "AVG", "P99",
                         "WAKES", "WOKEN", "OPS");
    for (size_t i = 0; i < shown; i++) {
        const Lock& l = *rows[i];
        std::string name = l.name.size() > 34 ? l.name.substr(0, 33) + "~" : l.name;
        out << tk::strprintf("  %7u  %-14s  %-34s %-11s %8" PRIu64 " %8" PRIu64
                             " %10s %10s %10s %8" PRIu64 " %8" PRIu64 "  %s\n",
                             l.pid, hex(l.address).c_str(), name.c_str(), kind_name(l.kind),
                             l.waits, l.blocked, format_ns(double(l.blocked_ns)).c_str(),
                             tk::format_mean_ns(l.blocked_ns, l.blocked).c_str(),
                             format_percentile_ns(l.h_blocked, 99).c_str(), l.wakes, l.woken,
                             short_ops(l.ops_seen).c_str());
    }
}

// One lock in detail: its waits and how they returned, its wakes, waiters and wakers.
void render_lock_detail(std::ostringstream& out, const Lock& l, const ReportOptions& opts) {
    out << "\n"
        << l.name << " (pid " << l.pid << ", " << hex(l.address) << ", "
        << (l.flags & LW_LF_SHARED ? "process-shared" : "private")
        << (l.flags & LW_LF_PI ? ", PI" : "") << "; " << ops_list(l.ops_seen, " ") << ")\n";
    out << "  kind " << kind_name(l.kind) << ": " << l.kind_evidence << "\n";
    if (l.waits) {
        out << tk::strprintf("  %" PRIu64 " waits, %" PRIu64 " blocked for %s (avg %s); returned:",
                             l.waits, l.blocked, format_ns(double(l.blocked_ns)).c_str(),
                             tk::format_mean_ns(l.blocked_ns, l.blocked).c_str());
        for (unsigned o = 0; o < LW_OUTCOMES; o++)
            out << " " << outcome_name(o) << " " << l.outcome[o];
        out << tk::strprintf("; time in the call avg %s\n",
                             tk::format_mean_ns(l.wait_ns, l.waits).c_str());
    }
    if (!l.cond_mutex.empty())
        out << "  used with mutex " << l.cond_mutex << " (its pthread_cond_wait calls)\n";
    if (!l.owners.empty()) {
        out << "  held by, when its waits blocked:";
        size_t no = std::min(l.owners.size(), opts.verbose ? SIZE_MAX : size_t(5));
        for (size_t k = 0; k < no; k++) {
            const Owner& o = l.owners[k];
            out << (k ? ", " : " ") << "tid " << o.tid << " (" << o.comm
                << (o.pid != l.pid ? ", pid " + std::to_string(o.pid) : "") << ") " << o.blocked;
        }
        if (no < l.owners.size())
            out << tk::strprintf(", ... %zu more", l.owners.size() - no);
        out << "\n";
    }
    if (l.wakes)
        out << tk::strprintf("  %" PRIu64 " wakes woke %" PRIu64 " waiters", l.wakes, l.woken)
            << (l.requeued ? tk::strprintf(" and requeued %" PRIu64, l.requeued) : "") << "\n";
    size_t nw = std::min(l.waiters.size(), opts.verbose ? SIZE_MAX : size_t(5));
    for (size_t k = 0; k < nw; k++) {
        const auto& w = l.waiters[k];
        out << tk::strprintf(
            "  waiter tid %-7u %-16s %8" PRIu64 " waits %8" PRIu64 " blocked %10s\n", w.tid,
            w.comm.c_str(), w.waits, w.blocked, format_ns(double(w.blocked_ns)).c_str());
    }
    if (nw < l.waiters.size())
        out << tk::strprintf("  ... %zu more waiters\n", l.waiters.size() - nw);
    size_t nk = std::min(l.wakers.size(), opts.verbose ? SIZE_MAX : size_t(5));
    for (size_t k = 0; k < nk; k++) {
        const auto& p = l.wakers[k];
        out << tk::strprintf(
            "  woken: tid %-7u %-16s by tid %-7u %-16s %8" PRIu64 " times, handoff avg %s%s\n",
            p.waiter_tid, p.waiter_comm.c_str(), p.waker_tid, p.waker_comm.c_str(), p.count,
            tk::format_mean_ns(p.handoff_ns, p.handoffs).c_str(),
            p.waker_pid != l.pid ? tk::strprintf(" (waker in pid %u)", p.waker_pid).c_str() : "");
    }
    if (nk < l.wakers.size())
        out << tk::strprintf("  ... %zu more waker/waiter pairs\n", l.wakers.size() - nk);
    if (l.blocked && opts.verbose)
        out << l.h_blocked.render("  blocked time, " + l.name);
}

void render_busiest_locks(std::ostringstream& out, const Report& r, const ReportOptions& opts,
                          size_t top) {
    size_t detailed = std::min(r.locks.size(), opts.verbose ? top : size_t(3));
    for (size_t i = 0; i < detailed; i++) {
        const Lock& l = r.locks[i];
        if (l.waits || l.wakes)
            render_lock_detail(out, l, opts);
    }
}

// The blocked-time and handoff histograms of all locks together.
void render_histograms(std::ostringstream& out, const Report& r) {
    out << "\n"
        << r.hists[LW_H_BLOCKED].render("blocked time (off-CPU inside a futex wait), all locks")
        << "\n";
    out << r.hists[LW_H_HANDOFF].render("handoff latency (waker's sched_waking -> waiter running)")
        << "\n";
    out << "time in the wait calls (enter -> exit): " << r.hists[LW_H_WAIT].summary() << "\n";
}

// One row per thread, by blocked time.
void render_threads(std::ostringstream& out, const Report& r, const ReportOptions& opts) {
    auto threads = r.threads;
    std::sort(threads.begin(), threads.end(), [](const ThreadRow& a, const ThreadRow& b) {
        return a.stats.blocked_ns != b.stats.blocked_ns ? a.stats.blocked_ns > b.stats.blocked_ns
                                                        : a.stats.tid < b.stats.tid;
    });
    size_t nt = opts.verbose ? threads.size() : std::min<size_t>(threads.size(), 20);
    out << "\nper thread:\n"
        << tk::strprintf("  %8s %8s %-16s %9s %9s %9s %9s %10s %9s\n", "TID", "PID", "COMM",
                         "CALLS", "WAITS", "BLOCKED", "WAKES", "BLOCKED-T", "KLOCKS");
    for (size_t i = 0; i < nt; i++) {
        const auto& t = threads[i].stats;
        uint64_t calls = 0;
        for (int op = 0; op < LW_OPS; op++)
            calls += t.calls[op];
        out << tk::strprintf("  %8u %8u %-16s %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %9" PRIu64
                             " %10s %9" PRIu64 "\n",
                             t.tid, t.pid, threads[i].comm.c_str(), calls, uint64_t(t.waits),
                             uint64_t(t.blocked), uint64_t(t.wakes),
                             format_ns(double(t.blocked_ns)).c_str(), uint64_t(t.klock_waits));
    }
    if (nt < threads.size())
        out << tk::strprintf("  ... %zu more threads (-v or --json for all)\n",
                             threads.size() - nt);
}

// --stacks: the waiter's and the waker's stack of each kind of blocked wait, and what
// stopped the walks short.
void render_stacks(std::ostringstream& out, const Report& r, const ReportOptions& opts) {
    size_t ns = std::min(r.stacks.size(), opts.verbose ? SIZE_MAX : opts.top);
    out << "\nstacks of blocked waits by blocked time (" << ns << " of " << r.stacks.size()
        << "):\n";
    for (size_t i = 0; i < ns; i++) {
        const auto& e = r.stacks[i];
        out << tk::strprintf("  #%zu %s (pid %u): %" PRIu64 " blocked waits, %s blocked\n", i + 1,
                             e.lock_name.c_str(), e.pid, e.count,
                             format_ns(double(e.blocked_ns)).c_str());
        if (e.has_waiter) {
            out << "    waiter:\n";
            render_stack(out, e.waiter, "      ", opts.verbose ? 64 : 12);
        } else {
            out << "    waiter: no stack (not captured)\n";
        }
        if (e.has_waker) {
            out << tk::strprintf("    waker (pid %u):\n", e.waker_pid);
            render_stack(out, e.waker, "      ", opts.verbose ? 64 : 12);
        } else {
            out << "    waker: none (woken by an interrupt, or its stack was not captured)\n";
        }
    }
    if (!r.short_stack_note.empty())
        out << "  note: " << r.short_stack_note << "\n";
    if (!r.unnamed_frames_note.empty())
        out << "  note: " << r.unnamed_frames_note << "\n";
    if (r.stacks.empty())
        out << "  none: no wait blocked\n";
}

// Kernel lock contention of the traced tasks, by site.
void render_kernel_locks(std::ostringstream& out, const Report& r, const ReportOptions& opts,
                         size_t top) {
    uint64_t total = 0;
    for (const auto& k : r.kernel_locks)
        total += k.total_ns;
    size_t nk = std::min(r.kernel_locks.size(), top);
    out << tk::strprintf("\nkernel lock contention of the traced tasks: %" PRIu64
                         " waits, %s in total",
                         r.counter(LW_C_KLOCK_WAITS), format_ns(double(total)).c_str());
    if (r.kernel_locks.empty()) {
        out << "\n";
    } else {
        out << tk::strprintf(" (top %zu of %zu sites)\n", nk, r.kernel_locks.size())
            << tk::strprintf("  %-18s %-36s %8s %10s %10s %10s  %s\n", "TYPE", "WHERE", "COUNT",
                             "TOTAL", "AVG", "MAX", "LOCK");
        for (size_t i = 0; i < nk; i++) {
            const auto& k = r.kernel_locks[i];
            out << tk::strprintf("  %-18s %-36s %8" PRIu64 " %10s %10s %10s  %s\n", k.type.c_str(),
                                 k.where.c_str(), k.count, format_ns(double(k.total_ns)).c_str(),
                                 tk::format_mean_ns(k.total_ns, k.count).c_str(),
                                 format_ns(double(k.max_ns)).c_str(), hex(k.address).c_str());
            if (opts.verbose || i == 0) {
                Stack s;
                s.frames = k.stack;
                render_stack(out, s, "      ", opts.verbose ? 64 : 8);
            }
        }
    }
}

// --uprobes: libc's pthread calls, per object.
void render_pthread_calls(std::ostringstream& out, const Report& r, size_t top) {
    uint64_t hits = r.counter(LW_C_ULOCK_HITS);
    out << "\npthread calls (uprobes on libc.so.6 in " << r.uprobe_processes
        << (r.uprobe_processes == 1 ? " process): " : " processes): ") << hits << " hits";
    if (r.uprobe_ns_per_hit > 0)
        out << tk::strprintf(", %s per hit => about %s added to the workload\n  (uprobe cost %s)\n",
                             format_ns(r.uprobe_ns_per_hit).c_str(),
                             format_ns(r.uprobe_ns_per_hit * double(hits)).c_str(),
                             r.uprobe_cost_how.c_str());
    else
        out << "; uprobe cost " << r.uprobe_cost_how << "\n";
    size_t nu = std::min(r.user_locks.size(), top);
    out << tk::strprintf("  %7s  %-28s %-14s %9s %10s %10s %9s %10s %10s %10s %8s\n", "PID",
                         "OBJECT", "KIND", "ACQUIRES", "ACQ avg", "ACQ p99", "HOLDS", "HOLD avg",
                         "HOLD p99", "HOLD max", "TRYBUSY");
    for (size_t i = 0; i < nu; i++) {
        const auto& u = r.user_locks[i];
        std::string name = u.name.size() > 28 ? u.name.substr(0, 27) + "~" : u.name;
        out << tk::strprintf("  %7u  %-28s %-14s %9" PRIu64 " %10s %10s %9" PRIu64
                             " %10s %10s %10s %8" PRIu64 "\n",
                             u.pid, name.c_str(), u.kind.c_str(), u.acquires,
                             tk::format_mean_ns(u.acquire_ns, u.acquires).c_str(),
                             format_percentile_ns(u.h_acquire, 99).c_str(), u.holds,
                             tk::format_mean_ns(u.hold_ns, u.holds).c_str(),
                             format_percentile_ns(u.h_hold, 99).c_str(),
                             u.holds ? format_ns(double(u.max_hold_ns)).c_str() : "-", u.try_busy);
    }
    if (nu < r.user_locks.size())
        out << tk::strprintf("  ... %zu more\n", r.user_locks.size() - nu);
    out << "  (cond: ACQUIRES are waits, ACQ the time in pthread_cond_wait)\n";
}

// What did not fit, and waits whose end was not seen.
void render_dropped(std::ostringstream& out, const Report& r) {
    uint64_t dropped = 0;
    for (int c = LW_C_DROP_STORAGE; c < LW_COUNTERS; c++)
        dropped += r.counters[size_t(c)];
    out << tk::strprintf("\ndropped: %" PRIu64, dropped);
    if (dropped)
        out << tk::strprintf(" (task state %" PRIu64 ", lock rows %" PRIu64 ", waker pairs %" PRIu64
                             ", stacks %" PRIu64 ", stack rows %" PRIu64 ", kernel locks %" PRIu64
                             ", pthread objects %" PRIu64 ", exited threads %" PRIu64
                             ", live index %" PRIu64 ", events %" PRIu64 ")",
                             r.counter(LW_C_DROP_STORAGE), r.counter(LW_C_DROP_LOCK_ROWS),
                             r.counter(LW_C_DROP_WAKE_PAIRS), r.counter(LW_C_DROP_STACKS),
                             r.counter(LW_C_DROP_STACK_ROWS), r.counter(LW_C_DROP_KLOCK),
                             r.counter(LW_C_DROP_ULOCK), r.counter(LW_C_DROP_EXITED),
                             r.counter(LW_C_DROP_LIVE), r.counter(LW_C_DROP_EVENTS));
    out << "\n";
    if (r.counter(LW_C_DROP_STACKS) + r.counter(LW_C_DROP_STACK_ROWS))
        out << "note: stacks were dropped (a stack map full, or two stacks hashed to one slot): "
               "--max-stacks N keeps more\n";
    if (r.counter(LW_C_SWITCH_IN_UNSEEN))
        out << tk::strprintf(
            "note: %" PRIu64
            " blocked waits returned without a sched_switch seen bringing the waiter back: "
            "their blocked time ends at the call's return, their handoff is not measured\n",
            r.counter(LW_C_SWITCH_IN_UNSEEN));
}

}  // namespace

std::string text_report(const Report& r, const ReportOptions& opts) {
    std::ostringstream out;
    const size_t top = opts.verbose ? SIZE_MAX : opts.top;
    render_summary(out, r);
    for (WaitClass c : {WaitClass::Contention, WaitClass::Event, WaitClass::Other})
        render_lock_table(out, r, c, top);
    render_busiest_locks(out, r, opts, top);
    render_histograms(out, r);
    render_threads(out, r, opts);
    if (r.stacks_enabled)
        render_stacks(out, r, opts);
    if (r.kernel_locks_enabled)
        render_kernel_locks(out, r, opts, top);
    if (r.uprobes_enabled)
        render_pthread_calls(out, r, top);
    render_dropped(out, r);
    out << tk::probe_notes(r, opts.verbose);
    return out.str();
}

namespace {

// One futex word: its counts, how its waits returned, histograms, waiters and wakers.
nlohmann::json lock_json(const Lock& l) {
    nlohmann::json lj = {
        {"pid", l.pid},
        {"address", hex(l.address)},
        {"name", l.name},
        {"name_kind", tk::lock_name_kind_name(l.name_kind)},
        {"kind", kind_name(l.kind)},
        {"kind_class", wait_class_name(kind_info(l.kind).wait_class)},
        {"kind_evidence", l.kind_evidence},
        {"shared", bool(l.flags & LW_LF_SHARED)},
        {"pi", bool(l.flags & LW_LF_PI)},
        {"ops", nlohmann::json::array()},
        {"waits", l.waits},
        {"blocked", l.blocked},
        {"blocked_ns_total", l.blocked_ns},
        {"wait_ns_total", l.wait_ns},
        {"handoffs", l.handoffs},
        {"handoff_ns_total", l.handoff_ns},
        {"wakes", l.wakes},
        {"woken", l.woken},
        {"requeued", l.requeued},
        {"other_calls", l.other_calls},
    };
    for (unsigned op = 0; op < LW_OPS; op++)
        if (l.ops_seen & (1U << op))
            lj["ops"].push_back(op_name(op));
    nlohmann::json outcomes = nlohmann::json::object();
    for (unsigned o = 0; o < LW_OUTCOMES; o++)
        outcomes[outcome_name(o)] = l.outcome[o];
    lj["outcomes"] = outcomes;
    lj["histograms"] = {{"blocked", l.h_blocked.to_json()},
                        {"wait_call", l.h_wait.to_json()},
                        {"handoff", l.h_handoff.to_json()}};
    auto& waiters = lj["waiters"] = nlohmann::json::array();
    for (const auto& w : l.waiters)
        waiters.push_back({{"tid", w.tid},
                           {"comm", w.comm},
                           {"waits", w.waits},
                           {"blocked", w.blocked},
                           {"blocked_ns_total", w.blocked_ns}});
    if (!l.cond_mutex.empty())
        lj["cond_mutex"] = l.cond_mutex;
    auto& owners = lj["owners"] = nlohmann::json::array();
    for (const auto& o : l.owners)
        owners.push_back(
            {{"tid", o.tid}, {"pid", o.pid}, {"comm", o.comm}, {"blocked", o.blocked}});
    auto& wakers = lj["wakers"] = nlohmann::json::array();
    for (const auto& p : l.wakers)
        wakers.push_back({{"waiter_tid", p.waiter_tid},
                          {"waiter_comm", p.waiter_comm},
                          {"waker_tid", p.waker_tid},
                          {"waker_pid", p.waker_pid},
                          {"waker_comm", p.waker_comm},
                          {"count", p.count},
                          {"handoffs", p.handoffs},
                          {"handoff_ns_total", p.handoff_ns},
                          {"by_futex_wake", p.by_futex_wake}});
    return lj;
}

nlohmann::json stacks_json(const std::vector<StackEntry>& stacks) {
    auto sj = nlohmann::json::array();
    for (const auto& e : stacks) {
        nlohmann::json row = {{"pid", e.pid},        {"address", hex(e.address)},
                              {"lock", e.lock_name}, {"comm", e.comm},
                              {"count", e.count},    {"blocked_ns_total", e.blocked_ns}};
        if (e.has_waiter)
            row["waiter_stack"] = frames_json(e.waiter.frames),
            row["waiter_truncated"] = e.waiter.truncated;
        if (e.has_waker) {
            row["waker_pid"] = e.waker_pid;
            row["waker_stack"] = frames_json(e.waker.frames);
            row["waker_truncated"] = e.waker.truncated;
        }
        sj.push_back(row);
    }
    return sj;
}

nlohmann::json stack_summary_json(const Report& r) {
    return {{"user_stacks", r.user_stacks},
            {"short_stacks", r.short_user_stacks},
            {"note", r.short_stack_note},
            {"unnamed_frames", r.unnamed_frames},
            {"unnamed_frames_note", r.unnamed_frames_note},
            {"captured", r.counter(LW_C_STACKS)}};
}

nlohmann::json kernel_locks_json(const std::vector<KernelLock>& kernel_locks) {
    auto kj = nlohmann::json::array();
    for (const auto& k : kernel_locks)
        kj.push_back({{"address", hex(k.address)},
                      {"type", k.type},
                      {"flags", k.flags},
                      {"where", k.where},
                      {"pid", k.pid},
                      {"count", k.count},
                      {"total_ns", k.total_ns},
                      {"max_ns", k.max_ns},
                      {"stack", frames_json(k.stack)}});
    return kj;
}

nlohmann::json uprobes_json(const Report& r) {
    nlohmann::json u;
    u["hits"] = r.counter(LW_C_ULOCK_HITS);
    u["cost_per_hit_ns"] = r.uprobe_ns_per_hit;
    u["cost_how"] = r.uprobe_cost_how;
    u["estimated_overhead_ns"] = r.uprobe_ns_per_hit * double(r.counter(LW_C_ULOCK_HITS));
    u["processes"] = r.uprobe_processes;
    auto& ul = u["locks"] = nlohmann::json::array();
    for (const auto& x : r.user_locks) {
        ul.push_back(
            {{"pid", x.pid},
             {"address", hex(x.address)},
             {"name", x.name},
             {"kind", x.kind},
             {"acquires", x.acquires},
             {"acquire_ns_total", x.acquire_ns},
             {"try_busy", x.try_busy},
             {"holds", x.holds},
             {"hold_ns_total", x.hold_ns},
             {"max_hold_ns", x.max_hold_ns},
             {"histograms", {{"acquire", x.h_acquire.to_json()}, {"hold", x.h_hold.to_json()}}}});
        if (x.mutex)
            ul.back()["mutex"] = x.mutex_name;
    }
    return u;
}

nlohmann::json dropped_json(const Report& r) {
    return {
        {"task_state", r.counter(LW_C_DROP_STORAGE)},
        {"lock_rows", r.counter(LW_C_DROP_LOCK_ROWS)},
        {"waker_pairs", r.counter(LW_C_DROP_WAKE_PAIRS)},
        {"stacks", r.counter(LW_C_DROP_STACKS)},
        {"stack_rows", r.counter(LW_C_DROP_STACK_ROWS)},
        {"kernel_locks", r.counter(LW_C_DROP_KLOCK)},
        {"pthread_objects", r.counter(LW_C_DROP_ULOCK)},
        {"exited_threads", r.counter(LW_C_DROP_EXITED)},
        {"live_index", r.counter(LW_C_DROP_LIVE)},
        {"events", r.counter(LW_C_DROP_EVENTS)},
    };
}

// Per kind: the futex words and their waits, blocked waits, blocked time and wakes (every
// kind, zeros included, so a reader need not know the list).
nlohmann::json kinds_json(const Report& r) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& k : all_kinds())
        out[k.name] = {{"class", wait_class_name(k.wait_class)},
                       {"locks", 0},
                       {"waits", 0},
                       {"blocked", 0},
                       {"blocked_ns_total", 0},
                       {"wakes", 0}};
    for (const auto& l : r.locks) {
        auto& k = out[kind_name(l.kind)];
        k["locks"] = k["locks"].get<uint64_t>() + 1;
        k["waits"] = k["waits"].get<uint64_t>() + l.waits;
        k["blocked"] = k["blocked"].get<uint64_t>() + l.blocked;
        k["blocked_ns_total"] = k["blocked_ns_total"].get<uint64_t>() + l.blocked_ns;
        k["wakes"] = k["wakes"].get<uint64_t>() + l.wakes;
    }
    return out;
}

nlohmann::json verdict_json(const Report& r) {
    Verdict v = verdict_of(r);
    nlohmann::json out = {{"blocked_ns_total", v.all_ns},   {"locks_ns", v.locks_ns},
                          {"events_ns", v.events_ns},       {"other_ns", v.other_ns},
                          {"mostly", v.mostly()},           {"most_contended", nullptr},
                          {"threads_time_ns", v.threads_ns}};
    if (v.top)
        out["most_contended"] = {
            {"pid", v.top->pid},
            {"address", hex(v.top->address)},
            {"name", v.top->name},
            {"kind", kind_name(v.top->kind)},
            {"blocked_ns_total", v.top->blocked_ns},
            {"share_of_blocked", v.share(v.top->blocked_ns)},
            {"share_of_threads_time", v.threads_ns
                                          ? nlohmann::json(v.share_of_threads(v.top->blocked_ns))
                                          : nlohmann::json(nullptr)}};
    return out;
}

}  // namespace

nlohmann::json json_report(const Report& r) {
    nlohmann::json j = tk::run_json("lockwait-trace", r);
    auto procs = r.processes();
    j["totals"] = {
        {"futex_calls", r.counter(LW_C_FUTEX_CALLS)},
        {"wait_calls", r.counter(LW_C_WAIT_CALLS)},
        {"wake_calls", r.counter(LW_C_WAKE_CALLS)},
        {"other_calls", r.counter(LW_C_OTHER_CALLS)},
        {"blocked_waits", r.counter(LW_C_BLOCKED_WAITS)},
        {"blocked_ns_total", r.blocked_ns_total()},
        {"woken_by_task", r.counter(LW_C_WOKEN_BY_TASK)},
        {"woken_by_interrupt", r.counter(LW_C_WOKEN_BY_IRQ)},
        {"locks", r.locks.size()},
        {"threads", r.threads.size()},
        {"processes", procs.size()},
        {"forks", r.counter(LW_C_FORKS)},
        {"exits", r.counter(LW_C_EXITS)},
        {"kernel_lock_waits", r.counter(LW_C_KLOCK_WAITS)},
        {"switch_in_unseen", r.counter(LW_C_SWITCH_IN_UNSEEN)},
    };
    nlohmann::json by_op = nlohmann::json::object();
    for (unsigned op = 0; op < LW_OPS; op++)
        by_op[op_name(op)] = r.calls[op];
    j["calls_by_op"] = by_op;
    j["histograms"] = {
        {"blocked", r.hists[LW_H_BLOCKED].to_json()},
        {"wait_call", r.hists[LW_H_WAIT].to_json()},
        {"handoff", r.hists[LW_H_HANDOFF].to_json()},
    };
    if (r.kernel_locks_enabled)
        j["histograms"]["kernel_lock"] = r.hists[LW_H_KLOCK].to_json();
    if (r.uprobes_enabled) {
        j["histograms"]["pthread_acquire"] = r.hists[LW_H_UACQUIRE].to_json();
        j["histograms"]["pthread_hold"] = r.hists[LW_H_UHOLD].to_json();
    }

    auto& locks = j["locks"] = nlohmann::json::array();
    for (const auto& l : r.locks)
        locks.push_back(lock_json(l));
    j["kinds"] = kinds_json(r);
    j["verdict"] = verdict_json(r);

    auto& pj = j["processes"] = nlohmann::json::array();
    for (const auto& p : procs) {
        auto row = thread_json(p.sum);
        row["pid"] = p.pid;
        row["comm"] = p.comm;
        row["threads"] = p.threads;
        pj.push_back(row);
    }
    j["threads"] = tk::threads_json(r.threads, thread_json);

    if (r.stacks_enabled) {
        j["stacks"] = stacks_json(r.stacks);
        j["stack_summary"] = stack_summary_json(r);
    }
    if (r.kernel_locks_enabled)
        j["kernel_locks"] = kernel_locks_json(r.kernel_locks);
    if (r.uprobes_enabled)
        j["uprobes"] = uprobes_json(r);

    j["dropped"] = dropped_json(r);
    j["mappings_captured"] = r.maps_captured;
    return j;
}

std::vector<tk::FlameStack> wait_stacks(const Report& r, WakerFrames wakers) {
    std::vector<tk::FlameStack> out;
    for (const auto& e : r.stacks) {
        if (!e.has_waiter || !e.blocked_ns)
            continue;
        tk::FlameStack st;
        st.ns = e.blocked_ns;
        st.frames.push_back(
            {e.comm.empty() ? "pid " + std::to_string(e.pid) : e.comm, tk::FlameKind::task});
        for (auto it = e.waiter.frames.rbegin(); it != e.waiter.frames.rend(); ++it)
            st.frames.push_back({frame_name(*it), tk::FlameKind::user});
        st.frames.push_back({"[lock " + e.lock_name + "]", tk::FlameKind::lock});
        if (wakers == WakerFrames::on_top && e.has_waker)
            for (const auto& f : e.waker.frames)
                st.frames.push_back({frame_name(f), tk::FlameKind::waker});
        out.push_back(std::move(st));
    }
    return out;
}

std::string folded_stacks(const Report& r) {
    return tk::folded_text(wait_stacks(r, WakerFrames::left_out));
}

std::string flame_graph(const Report& r, const std::string& command) {
    tk::FlameGraphText text;
    text.title = "lockwait-trace: blocked time by waiter stack, lock, and waker stack";
    text.subtitle = command;
    text.measure = "blocked";
    return tk::flame_graph_svg(wait_stacks(r, WakerFrames::on_top), text);
}

}  // namespace lockwait
