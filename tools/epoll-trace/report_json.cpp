// The JSON report (docs/epoll-trace.md has the schema). `totals` and `instances[]` are a
// contract other tools check: their names do not change.
#include "report.h"

namespace epolltrace {

using nlohmann::json;

namespace {

json histograms_json(const Snapshot& s, const Loop* l) {
    json h = json::object();
    for (auto& nh : named_histograms()) {
        bool measured = true;
        if (nh.id == EP_H_BLOCKED || nh.id == EP_H_CPU_IN_CALL)
            measured = s.coverage.switches;
        if (nh.id == EP_H_READY_TO_RETURN || nh.id == EP_H_READY_WAIT_CPU ||
            nh.id == EP_H_READY_RUN)
            measured = s.coverage.wakeups;
        if (!measured)
            continue;
        json j = (l ? l->hist(nh.id) : s.merged(nh.id)).to_json();
        j["unit"] = nh.unit;  // "events"/"fds": the *_ns fields hold counts, not times
        h[nh.name] = std::move(j);
    }
    return h;
}

json loop_json(const Snapshot& s, const Loop& l) {
    const auto& c = l.c;
    json j;
    j["pid"] = l.pid;
    j["comm"] = l.comm;
    if (l.family() == Family::Epoll)
        j["epfd"] = l.key;
    else
        j["kind"] = family_name(l.family());
    j["calls"] = c.calls;
    j["events"] = c.events;
    json by = json::object();
    for (int sys = 0; sys < EP_SYSCALLS; sys++)
        if (c.by_syscall[size_t(sys)])
            by[syscall_name(sys)] = c.by_syscall[size_t(sys)];
    j["calls_by_syscall"] = by;
    j["events_per_call"] = l.events_per_call();
    j["timeouts"] = c.timeouts;
    j["nonblocking"] = c.nonblocking;
    j["nonblocking_share"] = l.nonblocking_share();
    j["errors"] = c.errors;
    j["interrupted"] = c.interrupted;
    j["blocked_calls"] = c.blocked_calls;
    j["ready_on_entry"] = c.ready_on_entry;
    j["woken_calls"] = c.woken_calls;
    j["spurious_wakeups"] = {{"asleep_again", c.spurious_sleeps},
                             {"zero_events_early", c.spurious_zero}};
    j["herd"] = {{"wakeups", c.herd_wakeups}, {"found_nothing", c.herd_wasted}};
    j["overruns"] = c.overruns;
    if (l.family() == Family::Epoll) {
        j["maxevents"] = c.maxevents;
        j["full"] = c.full;
        j["interest"] = {
            {"registered", l.interest_size},
            {"adds", c.ctl_add},
            {"mods", c.ctl_mod},
            {"dels", c.ctl_del},
            {"failed", c.ctl_failed},
            {"edge_triggered", l.registered_with(1u << 31)},
            {"exclusive", l.registered_with(1u << 28)},
            {"oneshot", l.registered_with(1u << 30)},
        };
    }
    auto& fds = j["fds"] = json::array();
    for (auto& f : l.fds) {
        json fj = {{"fd", f.fd},
                   {"ready", f.info.ready},
                   {"returned", event_mask_text(f.info.returned_mask)},
                   {"returned_mask", f.info.returned_mask}};
        if (l.family() == Family::Epoll) {
            fj["registered"] = f.registered();
            fj["interest"] = event_mask_text(f.info.interest);
            fj["interest_mask"] = f.info.interest;
            fj["data"] = f.info.data;
            fj["adds"] = f.info.adds;
            fj["mods"] = f.info.mods;
            fj["dels"] = f.info.dels;
        }
        fds.push_back(fj);
    }
    auto& wk = j["wakers"] = json::array();
    for (auto& w : l.wakers)
        wk.push_back({{"tid", w.tid},
                      {"pid", w.pid},
                      {"comm", w.comm},
                      {"context", w.interrupt ? "interrupt" : "task"},
                      {"count", w.count}});
    auto& cost = j["cost_by_fds"] = json::array();
    for (auto& r : l.cost) {
        json cj = r.cpu.to_json();
        cj.erase("buckets");
        cj["fds_low"] = r.fds_low();
        cj["fds_high"] = r.fds_high();
        cj["slept"] = r.slept;
        cost.push_back(cj);
    }
    j["histograms"] = histograms_json(s, &l);
    return j;
}

json stats_json(const ep_thread_stats& t) {
    return {
        {"epoll_calls", t.calls[EP_EPOLL]},
        {"poll_calls", t.calls[EP_POLL]},
        {"select_calls", t.calls[EP_SELECT]},
        {"epoll_ctl_calls", t.ctl_calls},
        {"events", t.events},
        {"timeouts", t.timeouts},
        {"nonblocking", t.nonblocking},
        {"errors", t.errors},
        {"in_call_ns", t.in_call_ns},
        {"blocked_ns", t.blocked_ns},
        {"cpu_in_call_ns", t.cpu_in_call_ns},
        {"ready_to_return_ns_total", t.ready_ns},
        {"ready_to_return_count", t.ready_count},
        {"loop_busy_ns_total", t.busy_ns},
        {"loop_busy_count", t.busy_count},
        {"spurious", t.spurious},
    };
}

}  // namespace

json json_report(const Snapshot& s) {
    json j = tk::run_json("epoll-trace", s);
    j["summary"] = summary_lines(s);
    j["measured"] = {{"blocked", s.coverage.switches},
                     {"ready_to_return", s.coverage.wakeups},
                     {"forks_followed", s.coverage.forks},
                     {"syscalls_missing", s.coverage.syscalls_missing}};
    json by = json::object();
    for (int sys = 0; sys < EP_SYSCALLS; sys++)
        by[syscall_name(sys)] = s.calls_of(ep_syscall(sys));
    j["totals"] = {
        {"epoll_wait_calls", s.epoll_wait_calls()},
        {"epoll_ctl_calls", s.counter(EP_C_CTL)},
        {"poll_calls", s.poll_calls()},
        {"select_calls", s.select_calls()},
        {"events_returned", s.counter(EP_C_EVENTS)},
        {"timeouts", s.counter(EP_C_TIMEOUTS)},
        {"nonblocking", s.counter(EP_C_NONBLOCKING)},
        {"errors", s.counter(EP_C_ERRORS)},
        {"calls_by_syscall", by},
        {"forks", s.counter(EP_C_FORKS)},
        {"thread_exits", s.counter(EP_C_EXITS)},
        {"threads", s.threads.size()},
    };
    auto& inst = j["instances"] = json::array();
    auto& ps = j["poll_select"] = json::array();
    for (auto& l : s.loops)
        (l.family() == Family::Epoll ? inst : ps).push_back(loop_json(s, l));
    j["histograms"] = histograms_json(s, nullptr);

    auto& procs = j["processes"] = json::array();
    for (auto& p : s.processes()) {
        json row = stats_json(p.sum);
        row["pid"] = p.pid;
        row["comm"] = p.comm;
        row["threads"] = p.threads;
        procs.push_back(row);
    }
    j["threads"] = tk::threads_json(s.threads, stats_json);
    j["dropped"] = {
        {"task_state", s.counter(EP_C_DROP_STORAGE)},
        {"loops", s.counter(EP_C_DROP_LOOPS)},
        {"cost_histograms", s.counter(EP_C_DROP_SIZE_HISTS)},
        {"fds", s.counter(EP_C_DROP_FDS)},
        {"wakers", s.counter(EP_C_DROP_WAKERS)},
        {"exited_threads", s.counter(EP_C_DROP_EXITED)},
        {"live_threads", s.counter(EP_C_DROP_LIVE)},
        {"processes", s.counter(EP_C_DROP_TARGETS)},
    };
    j["not_attributed"] = {{"events_beyond_read_limit", s.counter(EP_C_EVENTS_UNREAD)},
                           {"events_unknown_data", s.counter(EP_C_EVENTS_UNMAPPED)},
                           {"unreadable_buffers", s.counter(EP_C_READ_FAULTS)}};
    return j;
}

}  // namespace epolltrace
