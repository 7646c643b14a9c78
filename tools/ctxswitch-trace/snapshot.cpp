#include "snapshot.h"

#include <map>

namespace ctxswitch {

tk::Histogram Snapshot::wakeup_to_run() const {
    tk::Histogram h;
    for (int k = 0; k < CS_KINDS; k++)
        h.merge(hists[size_t(CS_H_WAKEUP_TO_RUN + k)]);
    return h;
}

static void add_stats(cs_thread_stats& to, const cs_thread_stats& s) {
    to.voluntary += s.voluntary;
    to.involuntary += s.involuntary;
    to.migrations += s.migrations;
    to.on_cpu_ns += s.on_cpu_ns;
    to.off_cpu_ns += s.off_cpu_ns;
    to.off_cpu_count += s.off_cpu_count;
    to.wait_ns += s.wait_ns;
    to.wait_count += s.wait_count;
    to.handoff_ns += s.handoff_ns;
    to.handoff_count += s.handoff_count;
    to.user_switches += s.user_switches;
    for (int k = 0; k < CS_KINDS; k++) {
        to.switch_in_cost_ns[k] += s.switch_in_cost_ns[k];
        to.switch_in_count[k] += s.switch_in_count[k];
    }
}

std::vector<ProcessRow> Snapshot::processes() const {
    std::map<uint32_t, ProcessRow> by_pid;
    for (auto& t : threads) {
        auto& p = by_pid[t.stats.pid];
        p.pid = t.stats.pid;
        if (p.comm.empty() || t.stats.tid == t.stats.pid)
            p.comm = t.comm;
        p.threads++;
        add_stats(p.sum, t.stats);
    }
    std::vector<ProcessRow> out;
    for (auto& [pid, row] : by_pid)
        out.push_back(row);
    return out;
}

const std::vector<NamedHist>& named_histograms() {
    static const std::vector<NamedHist> list = {
        {"switch_cost_thread", "switch cost: thread switch (prev and next share an mm)",
         CS_H_SWITCH_COST + CS_KIND_THREAD},
        {"switch_cost_process", "switch cost: process switch (different mm)",
         CS_H_SWITCH_COST + CS_KIND_PROCESS},
        {"switch_cost_kernel", "switch cost: to or from a kernel thread or idle",
         CS_H_SWITCH_COST + CS_KIND_KERNEL},
        {"wakeup_to_run", "wakeup-to-run latency: all", -1},
        {"wakeup_to_run_thread",
         "wakeup-to-run latency: CPU taken from a thread of the same process",
         CS_H_WAKEUP_TO_RUN + CS_KIND_THREAD},
        {"wakeup_to_run_process", "wakeup-to-run latency: CPU taken from another process",
         CS_H_WAKEUP_TO_RUN + CS_KIND_PROCESS},
        {"wakeup_to_run_kernel", "wakeup-to-run latency: CPU taken from idle or a kernel thread",
         CS_H_WAKEUP_TO_RUN + CS_KIND_KERNEL},
        {"handoff_same_process", "handoff latency: woken by a thread of the same process",
         CS_H_HANDOFF_SAME},
        {"handoff_cross_process", "handoff latency: woken by another traced process",
         CS_H_HANDOFF_CROSS},
        {"off_cpu", "off-CPU time (asleep until running again)", CS_H_OFF_CPU},
        {"on_cpu", "on-CPU slice (switched in until switched out)", CS_H_ON_CPU},
    };
    return list;
}

}  // namespace ctxswitch
