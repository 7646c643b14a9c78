#include "report.h"
#include "text.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <sstream>

namespace epolltrace {

using tk::format_ns;

namespace {

std::string p50(const tk::Histogram& h) {
    return tk::format_percentile_ns(h, 50);
}
std::string pct(double share) {
    return tk::strprintf("%.1f%%", 100.0 * share);
}

// A histogram of counts (events, fds): the summary in plain numbers and one row per bucket.
std::string render_counts(const tk::Histogram& h, const std::string& title, const char* unit,
                          int bar = 40) {
    std::string out = title + "\n";
    if (h.empty())
        return out + "  count 0\n";
    out += tk::strprintf("  count %" PRIu64 "  min %" PRIu64 "  mean %.2f  p50 %" PRIu64
                         "  p90 %" PRIu64 "  p99 %" PRIu64 "  max %" PRIu64 " %s\n",
                         h.count(), h.min(), h.mean(), h.percentile(50), h.percentile(90),
                         h.percentile(99), h.max(), unit);
    uint64_t peak = 0;
    for (uint32_t b = 0; b < HIST_BUCKETS; b++)
        peak = std::max(peak, h.bucket(b));
    out += tk::strprintf("  %17s : %-10s %s\n", unit, "calls", "distribution");
    for (uint32_t b = 0; b < HIST_BUCKETS; b++) {
        if (!h.bucket(b))
            continue;
        uint64_t low = hist_bucket_low(b), high = hist_bucket_low(b + 1) - 1;
        std::string range =
            low == high ? std::to_string(low) : std::to_string(low) + " .. " + std::to_string(high);
        int stars = int((h.bucket(b) * uint64_t(bar) + peak - 1) / peak);
        out += tk::strprintf("  %17s : %-10" PRIu64 " |%-*s|\n", range.c_str(), h.bucket(b), bar,
                             std::string(size_t(stars), '*').c_str());
    }
    return out;
}

std::string render(const Snapshot& s, const NamedHist& nh, const tk::Histogram& h,
                   const std::string& prefix = "") {
    (void)s;
    std::string title = prefix + nh.title;
    if (std::string(nh.unit) != "ns")
        return render_counts(h, title, nh.unit);
    return h.render(title);
}

bool measured(const Snapshot& s, int hist_id) {
    switch (hist_id) {
        case EP_H_BLOCKED:
        case EP_H_CPU_IN_CALL:
            return s.coverage.switches;
        case EP_H_READY_TO_RETURN:
        case EP_H_READY_WAIT_CPU:
        case EP_H_READY_RUN:
            return s.coverage.wakeups;
        default:
            return true;
    }
}

std::string loop_title(const Loop& l) {
    std::string what = l.family() == Family::Epoll
                           ? "epoll instance (epfd " + std::to_string(l.key) + ")"
                           : std::string(family_name(l.family())) + " calls";
    return tk::strprintf("pid %u (%s), %s", l.pid, l.comm.c_str(), what.c_str());
}

std::string cost_table(const Loop& l) {
    if (l.cost.empty())
        return "";
    std::string out = "  on-CPU time per call by fds watched" +
                      std::string(l.family() == Family::Epoll ? " (interest list size)" : "") +
                      ":\n";
    out += tk::strprintf("    %-13s %10s %10s %10s   %10s %10s %10s\n", "FDS", "AT ONCE", "p50",
                         "mean", "SLEPT", "p50", "mean");
    for (size_t i = 0; i < l.cost.size();) {
        // the two rows of a bucket side by side: calls that returned at once, calls that slept
        const CostRow* rows[2] = {nullptr, nullptr};
        uint32_t bucket = l.cost[i].bucket;
        for (; i < l.cost.size() && l.cost[i].bucket == bucket; i++)
            rows[l.cost[i].slept] = &l.cost[i];
        const CostRow& any = rows[0] ? *rows[0] : *rows[1];
        std::string range =
            bucket == 0 ? "0-1"
                        : tk::strprintf("%" PRIu64 "-%" PRIu64, any.fds_low(), any.fds_high());
        std::string cells;
        for (auto* r : rows)
            cells += r ? tk::strprintf("%10" PRIu64 " %10s %10s   ", r->cpu.count(),
                                       p50(r->cpu).c_str(), format_ns(r->cpu.mean()).c_str())
                       : tk::strprintf("%10s %10s %10s   ", "0", "-", "-");
        while (!cells.empty() && cells.back() == ' ')
            cells.pop_back();
        out += tk::strprintf("    %-13s %s\n", range.c_str(), cells.c_str());
    }
    return out;
}

std::string loop_detail(const Snapshot& s, const Loop& l, const ReportOptions& opts) {
    std::ostringstream out;
    const auto& c = l.c;
    out << loop_title(l) << ":\n";
    if (l.family() == Family::Epoll) {
        out << tk::strprintf("  interest list: size %" PRId64 " (ADD %" PRIu64 ", MOD %" PRIu64
                             ", DEL %" PRIu64 ", failed %" PRIu64 "); edge-triggered %" PRIu64
                             ", EPOLLEXCLUSIVE %" PRIu64 ", EPOLLONESHOT %" PRIu64 "\n",
                             l.interest_size, c.ctl_add, c.ctl_mod, c.ctl_del, c.ctl_failed,
                             l.registered_with(1u << 31), l.registered_with(1u << 28),
                             l.registered_with(1u << 30));
        if (c.calls)
            out << tk::strprintf(
                "  maxevents up to %" PRIu64 ": a call returned it full %" PRIu64 " times (%s)%s\n",
                c.maxevents, c.full, pct(c.calls ? double(c.full) / double(c.calls) : 0).c_str(),
                c.full * 10 > c.calls && c.calls ? ": maxevents may be too small" : "");
    }
    if (c.calls == 0) {
        out << "  no waiting calls\n";
    } else {
        out << tk::strprintf(
            "  %" PRIu64 " calls: %" PRIu64 " slept, %" PRIu64
            " found events ready on entry, %" PRIu64 " returned events after a wakeup; %" PRIu64
            " timeouts, %" PRIu64 " non-blocking (%s), %" PRIu64 " errors (%" PRIu64 " EINTR)\n",
            c.calls, c.blocked_calls, c.ready_on_entry, c.woken_calls, c.timeouts, c.nonblocking,
            pct(l.nonblocking_share()).c_str(), c.errors, c.interrupted);
        if (s.coverage.wakeups)
            out << tk::strprintf(
                "  spurious: %" PRIu64 " woken but asleep again in the same call, %" PRIu64
                " returned 0 events before the timeout; herd: %" PRIu64
                " woken in one burst with another waiter, %" PRIu64 " of them for nothing\n",
                c.spurious_sleeps, c.spurious_zero, c.herd_wakeups, c.herd_wasted);
        if (c.overruns)
            out << tk::strprintf(
                "  overrun: %" PRIu64
                " timed-out calls returned after their timeout by p50 %s, max %s\n",
                c.overruns, p50(l.hist(EP_H_OVERRUN)).c_str(),
                format_ns(double(l.hist(EP_H_OVERRUN).max())).c_str());
    }
    if (!l.wakers.empty()) {
        out << "  woken by (calls that then returned events):\n";
        size_t n = opts.verbose ? l.wakers.size() : std::min(l.wakers.size(), opts.top);
        for (size_t i = 0; i < n; i++)
            out << tk::strprintf("    %10" PRIu64 "  %s\n", l.wakers[i].count,
                                 l.wakers[i].describe().c_str());
        if (n < l.wakers.size())
            out << tk::strprintf("    ... %zu more (-v)\n", l.wakers.size() - n);
    }
    if (!l.fds.empty()) {
        bool epoll = l.family() == Family::Epoll;
        out << "  fds (most often ready first):\n";
        if (epoll)
            out << tk::strprintf("    %6s %10s %-16s %-26s %s\n", "FD", "READY", "RETURNED",
                                 "INTEREST", "ADD/MOD/DEL");
        else
            out << tk::strprintf("    %6s %10s %s\n", "FD", "READY", "RETURNED");
        size_t n = opts.verbose ? l.fds.size() : std::min(l.fds.size(), opts.top);
        for (size_t i = 0; i < n; i++) {
            const auto& f = l.fds[i];
            std::string returned = event_mask_text(f.info.returned_mask);
            if (!epoll) {
                out << tk::strprintf("    %6d %10" PRIu64 " %s\n", f.fd, uint64_t(f.info.ready),
                                     returned.c_str());
                continue;
            }
            std::string interest =
                event_mask_text(f.info.interest) + (f.registered() ? "" : " (removed)");
            out << tk::strprintf("    %6d %10" PRIu64 " %-16s %-26s %u/%u/%u\n", f.fd,
                                 uint64_t(f.info.ready), returned.c_str(), interest.c_str(),
                                 f.info.adds, f.info.mods, f.info.dels);
        }
        if (n < l.fds.size())
            out << tk::strprintf("    ... %zu more (-v)\n", l.fds.size() - n);
    }
    if (s.coverage.switches)
        out << cost_table(l);
    if (opts.verbose) {
        for (auto& nh : named_histograms())
            if (measured(s, nh.id))
                out << "\n" << render(s, nh, l.hist(nh.id), "  ");
    }
    return out.str();
}

}  // namespace

std::string summary_lines(const Snapshot& s) {
    std::ostringstream out;
    for (Family f : {Family::Epoll, Family::Poll, Family::Select}) {
        uint64_t calls = 0, events = 0, errors = 0, nonblocking = 0;
        for (auto& l : s.loops)
            if (l.family() == f)
                calls += l.c.calls, events += l.c.events, errors += l.c.errors,
                    nonblocking += l.c.nonblocking;
        if (!calls)
            continue;
        out << tk::strprintf("%s: %" PRIu64 " calls returned %" PRIu64
                             " events (%.2f per call), %s non-blocking",
                             family_name(f), calls, events,
                             calls > errors ? double(events) / double(calls - errors) : 0.0,
                             pct(double(nonblocking) / double(calls)).c_str());
        if (s.coverage.switches)
            out << "; blocked p50 " << p50(s.merged(EP_H_BLOCKED, f));
        if (s.coverage.wakeups) {
            auto r = s.merged(EP_H_READY_TO_RETURN, f);
            out << "; ready-to-return p50 " << p50(r);
            if (!r.empty())
                out << " (waiting for a CPU " << p50(s.merged(EP_H_READY_WAIT_CPU, f)) << ")";
        }
        if (nonblocking * 2 > calls)
            out << "; mostly non-blocking: the loop busy-polls";
        out << "\n";
    }
    std::string text = out.str();
    return text.empty() ? "no epoll_wait, poll or select call returned in the traced tasks\n"
                        : text;
}

namespace {

// The ready-to-return p50 of a loop, with the part spent waiting for a CPU.
std::string ready_cell(const Snapshot& s, const Loop& l) {
    if (!s.coverage.wakeups)
        return std::string("-");
    const auto& r = l.hist(EP_H_READY_TO_RETURN);
    if (r.empty())
        return std::string("-");
    return p50(r) + " (" + p50(l.hist(EP_H_READY_WAIT_CPU)) + ")";
}

// Calls by syscall, events, timeouts, errors.
void render_totals(std::ostringstream& out, const Snapshot& s) {
    out << tk::strprintf(
        "totals: epoll_wait calls %" PRIu64 " (epoll_wait %" PRIu64 ", epoll_pwait %" PRIu64
        ", epoll_pwait2 %" PRIu64 "), epoll_ctl %" PRIu64 ", poll %" PRIu64 " (poll %" PRIu64
        ", ppoll %" PRIu64 "), select %" PRIu64 " (select %" PRIu64 ", pselect6 %" PRIu64 ")\n",
        s.epoll_wait_calls(), s.calls_of(EP_SYS_EPOLL_WAIT), s.calls_of(EP_SYS_EPOLL_PWAIT),
        s.calls_of(EP_SYS_EPOLL_PWAIT2), s.counter(EP_C_CTL), s.poll_calls(),
        s.calls_of(EP_SYS_POLL), s.calls_of(EP_SYS_PPOLL), s.select_calls(),
        s.calls_of(EP_SYS_SELECT), s.calls_of(EP_SYS_PSELECT6));
    out << tk::strprintf("        events returned %" PRIu64 ", timeouts %" PRIu64
                         ", non-blocking calls %" PRIu64 ", errors %" PRIu64 "; threads %zu\n",
                         s.counter(EP_C_EVENTS), s.counter(EP_C_TIMEOUTS),
                         s.counter(EP_C_NONBLOCKING), s.counter(EP_C_ERRORS), s.threads.size());
}

// One row per epoll instance.
void render_epoll_table(std::ostringstream& out, const Snapshot& s) {
    out << "\nepoll instances:\n"
        << tk::strprintf("  %8s %-16s %5s %9s %9s %7s %6s %8s %8s %11s %22s %10s %5s\n", "PID",
                         "COMM", "EPFD", "CALLS", "EVENTS", "EV/CALL", "FULL", "TIMEOUTS",
                         "NONBLOCK", "BLOCKED p50", "READY p50 (CPU WAIT)", "BUSY p50", "FDS");
    for (auto& l : s.loops) {
        if (l.family() != Family::Epoll)
            continue;
        out << tk::strprintf(
            "  %8u %-16s %5d %9" PRIu64 " %9" PRIu64 " %7.2f %6" PRIu64 " %8" PRIu64
            " %8s %11s %22s %10s %5" PRId64 "\n",
            l.pid, l.comm.c_str(), l.key, l.c.calls, l.c.events, l.events_per_call(), l.c.full,
            l.c.timeouts, pct(l.nonblocking_share()).c_str(),
            s.coverage.switches ? p50(l.hist(EP_H_BLOCKED)).c_str() : "-", ready_cell(s, l).c_str(),
            p50(l.hist(EP_H_LOOP_BUSY)).c_str(), l.interest_size);
    }
}

// One row per process's poll and select calls.
void render_poll_select_table(std::ostringstream& out, const Snapshot& s) {
    out << "\npoll and select:\n"
        << tk::strprintf("  %8s %-16s %-6s %9s %9s %7s %7s %8s %8s %11s %22s %12s\n", "PID", "COMM",
                         "KIND", "CALLS", "EVENTS", "EV/CALL", "FDS p50", "TIMEOUTS", "NONBLOCK",
                         "BLOCKED p50", "READY p50 (CPU WAIT)", "CPU/CALL p50");
    for (auto& l : s.loops) {
        if (l.family() == Family::Epoll)
            continue;
        out << tk::strprintf("  %8u %-16s %-6s %9" PRIu64 " %9" PRIu64 " %7.2f %7" PRIu64
                             " %8" PRIu64 " %8s %11s %22s %12s\n",
                             l.pid, l.comm.c_str(), family_name(l.family()), l.c.calls, l.c.events,
                             l.events_per_call(), l.hist(EP_H_FDS_PER_CALL).percentile(50),
                             l.c.timeouts, pct(l.nonblocking_share()).c_str(),
                             s.coverage.switches ? p50(l.hist(EP_H_BLOCKED)).c_str() : "-",
                             ready_cell(s, l).c_str(),
                             s.coverage.switches ? p50(l.hist(EP_H_CPU_IN_CALL)).c_str() : "-");
    }
}

// One row per thread, by calls.
void render_threads(std::ostringstream& out, const Snapshot& s, const ReportOptions& opts) {
    auto threads = s.threads;
    std::sort(threads.begin(), threads.end(), [](const ThreadRow& a, const ThreadRow& b) {
        uint64_t ca = a.stats.calls[0] + a.stats.calls[1] + a.stats.calls[2];
        uint64_t cb = b.stats.calls[0] + b.stats.calls[1] + b.stats.calls[2];
        return ca != cb ? ca > cb : a.stats.tid < b.stats.tid;
    });
    size_t shown = opts.verbose ? threads.size() : std::min(threads.size(), opts.max_threads);
    out << "\nper thread:\n"
        << tk::strprintf("  %8s %8s %-16s %8s %8s %8s %6s %9s %10s %10s %10s %10s %10s\n", "TID",
                         "PID", "COMM", "EPOLL", "POLL", "SELECT", "CTL", "EVENTS", "IN-CALL",
                         "BLOCKED", "CPU", "READY avg", "BUSY avg");
    for (size_t i = 0; i < shown; i++) {
        const auto& t = threads[i].stats;
        out << tk::strprintf(
            "  %8u %8u %-16s %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %6" PRIu64 " %9" PRIu64
            " %10s %10s %10s %10s %10s\n",
            t.tid, t.pid, threads[i].comm.c_str(), uint64_t(t.calls[EP_EPOLL]),
            uint64_t(t.calls[EP_POLL]), uint64_t(t.calls[EP_SELECT]), uint64_t(t.ctl_calls),
            uint64_t(t.events), format_ns(double(t.in_call_ns)).c_str(),
            s.coverage.switches ? format_ns(double(t.blocked_ns)).c_str() : "-",
            s.coverage.switches ? format_ns(double(t.cpu_in_call_ns)).c_str() : "-",
            tk::format_mean_ns(t.ready_ns, t.ready_count).c_str(),
            tk::format_mean_ns(t.busy_ns, t.busy_count).c_str());
    }
    if (shown < threads.size())
        out << tk::strprintf("  ... %zu more threads (-v or --json for all)\n",
                             threads.size() - shown);
}

// The histograms of all loops merged.
void render_all_loops(std::ostringstream& out, const Snapshot& s) {
    out << "\nall loops together:\n";
    for (auto& nh : named_histograms()) {
        if (!measured(s, nh.id))
            continue;
        auto h = s.merged(nh.id);
        bool full =
            nh.id == EP_H_BLOCKED || nh.id == EP_H_READY_TO_RETURN || nh.id == EP_H_EVENTS_PER_CALL;
        if (full)
            out << "\n" << render(s, nh, h);
        else if (std::string(nh.unit) == "ns")
            out << nh.title << ": " << h.summary() << "\n";
    }
}

// What did not fit, and events no fd could be given.
void render_dropped(std::ostringstream& out, const Snapshot& s) {
    out << "\n"
        << tk::strprintf("dropped: %" PRIu64 " (task state %" PRIu64 ", loops %" PRIu64
                         ", cost histograms %" PRIu64 ", fds %" PRIu64 ", wakers %" PRIu64
                         ", exited threads %" PRIu64 ", live threads %" PRIu64
                         ", processes %" PRIu64 ")",
                         s.dropped(), s.counter(EP_C_DROP_STORAGE), s.counter(EP_C_DROP_LOOPS),
                         s.counter(EP_C_DROP_SIZE_HISTS), s.counter(EP_C_DROP_FDS),
                         s.counter(EP_C_DROP_WAKERS), s.counter(EP_C_DROP_EXITED),
                         s.counter(EP_C_DROP_LIVE), s.counter(EP_C_DROP_TARGETS))
        << tk::strprintf("; events not attributed to an fd: %" PRIu64
                         " beyond the per-call read limit, %" PRIu64
                         " with unknown epoll_data; unreadable user buffers %" PRIu64 "\n",
                         s.counter(EP_C_EVENTS_UNREAD), s.counter(EP_C_EVENTS_UNMAPPED),
                         s.counter(EP_C_READ_FAULTS));
}

}  // namespace

std::string text_report(const Snapshot& s, const ReportOptions& opts) {
    std::ostringstream out;
    out << tk::run_headline("epoll-trace", s);
    out << "\n" << summary_lines(s) << "\n";
    render_totals(out, s);
    bool any_epoll = false, any_other = false;
    for (auto& l : s.loops)
        (l.family() == Family::Epoll ? any_epoll : any_other) = true;
    if (any_epoll)
        render_epoll_table(out, s);
    if (any_other)
        render_poll_select_table(out, s);
    for (auto& l : s.loops)
        out << "\n" << loop_detail(s, l, opts);
    if (!s.threads.empty())
        render_threads(out, s, opts);
    if (!s.loops.empty())
        render_all_loops(out, s);
    render_dropped(out, s);
    out << tk::probe_notes(s, opts.verbose);
    return out.str();
}

}  // namespace epolltrace
