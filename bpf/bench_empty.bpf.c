// SPDX-License-Identifier: GPL-2.0
/*
 * Empty programs on the tracepoints the tracers use: the benchmarks' floor, what merely
 * having BPF attached there costs (tests/bench/ctxswitch-overhead, lockwait-overhead).
 * tests/bench/empty_probes.cpp loads one set, by the prefix of its programs' names:
 *   ctxswitch_*       empty, on ctxswitch-trace's tracepoints
 *   ctxswitchclock_*  the same, but each reads the clock once where ctxswitch-trace must
 *                     (sched_switch, sched_exit_tp, sched_waking, sched_wakeup_new): the
 *                     least any tracer of DESIGN.md's switch cost, wakeup-to-run and
 *                     on/off-CPU times can do there
 *   lockwait_*        empty, on lockwait-trace's tracepoints
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

/* ctxswitch-trace */
SEC("tp_btf/sched_switch")
int BPF_PROG(ctxswitch_switch) { return 0; }

SEC("tp_btf/sched_exit_tp")
int BPF_PROG(ctxswitch_schedule_exit) { return 0; }

SEC("tp_btf/sched_waking")
int BPF_PROG(ctxswitch_waking) { return 0; }

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(ctxswitch_wakeup_new) { return 0; }

SEC("tp_btf/sched_process_fork")
int BPF_PROG(ctxswitch_fork) { return 0; }

SEC("tp_btf/sched_process_exit")
int BPF_PROG(ctxswitch_exit) { return 0; }

SEC("tp_btf/sched_migrate_task")
int BPF_PROG(ctxswitch_migrate) { return 0; }

/* ctxswitch-trace's tracepoints, with the clock reads its definitions need */
__u64 last_ts = 0; /* a store the compiler cannot drop */

static __always_inline int read_clock(void)
{
    last_ts = bpf_ktime_get_ns();
    return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(ctxswitchclock_switch) { return read_clock(); }

SEC("tp_btf/sched_exit_tp")
int BPF_PROG(ctxswitchclock_schedule_exit) { return read_clock(); }

SEC("tp_btf/sched_waking")
int BPF_PROG(ctxswitchclock_waking) { return read_clock(); }

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(ctxswitchclock_wakeup_new) { return read_clock(); }

SEC("tp_btf/sched_process_fork")
int BPF_PROG(ctxswitchclock_fork) { return 0; }

SEC("tp_btf/sched_process_exit")
int BPF_PROG(ctxswitchclock_exit) { return 0; }

SEC("tp_btf/sched_migrate_task")
int BPF_PROG(ctxswitchclock_migrate) { return 0; }

/* epoll-trace's syscall probes, on every syscall's entry and return (lockwait-trace's too) */
SEC("tp_btf/sys_enter")
int BPF_PROG(syscalls_sys_enter) { return 0; }

SEC("tp_btf/sys_exit")
int BPF_PROG(syscalls_sys_exit) { return 0; }

/* lockwait-trace (default mode: no uprobes) */
SEC("tp_btf/sys_enter")
int BPF_PROG(lockwait_sys_enter) { return 0; }

SEC("tp_btf/sys_exit")
int BPF_PROG(lockwait_sys_exit) { return 0; }

SEC("tp_btf/sched_switch")
int BPF_PROG(lockwait_switch) { return 0; }

SEC("tp_btf/sched_waking")
int BPF_PROG(lockwait_waking) { return 0; }

SEC("tp_btf/sched_process_fork")
int BPF_PROG(lockwait_fork) { return 0; }

SEC("raw_tp/sched_process_exec")
int BPF_PROG(lockwait_exec) { return 0; }

SEC("raw_tp/contention_begin")
int BPF_PROG(lockwait_contention_begin) { return 0; }

SEC("raw_tp/contention_end")
int BPF_PROG(lockwait_contention_end) { return 0; }
