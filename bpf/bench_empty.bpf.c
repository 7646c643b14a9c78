// SPDX-License-Identifier: GPL-2.0
/*
 * Empty programs on the tracepoints ctxswitch-trace uses: the benchmark's floor, what
 * merely having BPF attached there costs (tests/bench/ctxswitch-overhead).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/sched_switch")
int BPF_PROG(empty_switch) { return 0; }

SEC("tp_btf/sched_exit_tp")
int BPF_PROG(empty_schedule_exit) { return 0; }

SEC("tp_btf/sched_waking")
int BPF_PROG(empty_waking) { return 0; }

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(empty_wakeup_new) { return 0; }

SEC("tp_btf/sched_process_fork")
int BPF_PROG(empty_fork) { return 0; }

SEC("tp_btf/sched_process_exit")
int BPF_PROG(empty_exit) { return 0; }

SEC("tp_btf/sched_migrate_task")
int BPF_PROG(empty_migrate) { return 0; }
