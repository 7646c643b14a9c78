/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * ctxswitch-trace: the plain-C data shared by bpf/ctxswitch.bpf.c and the C++ front end.
 * Every time is in nanoseconds from bpf_ktime_get_ns(). What each number means is
 * defined in DESIGN.md section 5; the names here follow it.
 */
#ifndef TOOLKIT_CTXSWITCH_H
#define TOOLKIT_CTXSWITCH_H

#include "hist.h"

#define CS_COMM_LEN 16
#define CS_MAX_THREADS 65536 /* exited-thread records and live-thread index */
/* --stacks: distinct stacks kept, and (process, sleeper stacks, waker) rows (--max-stacks) */
#define CS_MAX_STACKS 16384
#define CS_STACK_DEPTH 127 /* frames kept per stack (the kernel's most) */

/*
 * What ran on the CPU together with the traced task, for splitting switch cost and
 * wakeup-to-run latency:
 *   THREAD   prev and next share an mm (threads of one process)
 *   PROCESS  prev and next are user tasks with different mms
 *   KERNEL   one of them is a kernel thread or the idle task (no mm)
 */
#define CS_KIND_THREAD 0
#define CS_KIND_PROCESS 1
#define CS_KIND_KERNEL 2
#define CS_KINDS 3

/* The histograms, one per-CPU slot each in the `hists` array. */
enum cs_hist_id {
    /* switch cost: sched_switch -> sched_exit_tp on the same CPU, by kind */
    CS_H_SWITCH_COST = 0, /* + CS_KIND_* */
    /* wakeup-to-run: woken (sched_waking) or preempted while runnable -> running,
     * by what ran on the CPU just before (CS_KIND_*) */
    CS_H_WAKEUP_TO_RUN = 3, /* + CS_KIND_* */
    /* handoff: traced A woke traced B -> B runs; same process / different processes */
    CS_H_HANDOFF_SAME = 6,
    CS_H_HANDOFF_CROSS = 7,
    /* off-CPU: left the CPU in a sleeping state -> running again */
    CS_H_OFF_CPU = 8,
    /* on-CPU slice: switched in -> switched out */
    CS_H_ON_CPU = 9,
    CS_HISTS = 10,
};

/* Global counters (one per-CPU slot of `totals`), indexed by cs_counter. */
enum cs_counter {
    CS_C_SWITCHES = 0,   /* switch-outs of traced tasks = voluntary + involuntary */
    CS_C_VOLUNTARY,      /* left the CPU in a sleeping state (!preempt && state != RUNNING) */
    CS_C_INVOLUNTARY,    /* preempted or yielded while runnable */
    CS_C_MIGRATIONS,     /* sched_migrate_task of traced tasks */
    CS_C_WAKEUPS,        /* sched_waking of traced tasks */
    CS_C_FORKS,          /* tasks that became traced by fork or clone */
    CS_C_EXITS,          /* traced tasks that died (their final switch) */
    CS_C_COST_UNMATCHED, /* sched_switch with no sched_exit_tp in the next task
                            (first run of a new task returns through ret_from_fork) */
    CS_C_USER_SWITCHES,  /* calls of the user-level switch function (--user-switch uprobe) */
    /* what did not fit, printed as `dropped` */
    CS_C_DROP_STORAGE, /* task state could not be created (out of memory, map full) */
    CS_C_DROP_EXITED,  /* exited thread's record did not fit in `exited` */
    CS_C_DROP_LIVE,    /* live-thread index `live` full */
    /* --stacks */
    CS_C_DROP_STACK_IDS,  /* a stack not kept: the stack map full (or a hash collision) */
    CS_C_DROP_STACK_ROWS, /* an off-CPU period not added: `offcpu_stacks` full */
    CS_C_DROP_STACK_NS,   /* ... its off-CPU time, in ns */
    CS_C_DROP_EVENTS,     /* a process not reported to user space: `events` ring full */
    CS_COUNTERS,
};

/* Per-thread counters: kept with the task while it lives, copied into `exited` at its
 * final switch. The sums let user space print means per thread and per process. */
struct cs_thread_stats {
    __u32 tid;
    __u32 pid; /* thread group id */
    char comm[CS_COMM_LEN];
    __u64 voluntary;
    __u64 involuntary;
    __u64 migrations;
    __u64 on_cpu_ns;  /* total time on a CPU */
    __u64 off_cpu_ns; /* total time asleep (off-CPU, DESIGN.md 5) */
    __u64 off_cpu_count;
    __u64 wait_ns; /* total wakeup-to-run latency */
    __u64 wait_count;
    __u64 handoff_ns; /* total handoff latency into this thread */
    __u64 handoff_count;
    __u64 switch_in_cost_ns[CS_KINDS]; /* switch cost of the switches into this thread */
    __u64 switch_in_count[CS_KINDS];
    __u64 user_switches; /* calls of the --user-switch function (a uprobe) */
};

/*
 * --stacks: off-CPU time by the sleeper's stacks and its waker's (offcputime joined to
 * offwaketime). Stack ids index the `stacks` map; -1: none (a kernel thread has no user
 * stack; a waker in interrupt context none either) or not kept (counted in
 * CS_C_DROP_STACK_IDS).
 */
struct cs_stack_key {
    __u32 pid; /* the sleeper's process */
    __s32 user_stack;
    __s32 kernel_stack;
    __s32 waker_user_stack;
    __s32 waker_kernel_stack;
    __u32 waker_pid;              /* 0: an interrupt, or no wakeup seen */
    char waker_comm[CS_COMM_LEN]; /* "" when no wakeup was seen */
    __u32 execs; /* the sleeper's execs while traced: which image the user stack is of */
};

struct cs_stack_value {
    __u64 off_cpu_ns;
    __u64 count; /* off-CPU periods */
};

/* What a sleeping task keeps for --stacks until it runs again. */
struct cs_sleep_stacks {
    __s32 user_stack, kernel_stack;             /* at its switch-out */
    __s32 waker_user_stack, waker_kernel_stack; /* at the sched_waking that woke it */
    __u32 waker_pid;
    __u32 woken; /* the waker fields are set */
    char waker_comm[CS_COMM_LEN];
    __u32 execs; /* execs of its process while traced (a new thread inherits the count) */
    __u32 _pad;
};

/* Everything the kernel side keeps per traced task (task-local storage). */
struct cs_task_state {
    __u64 on_ts;       /* switched in at; 0 while off the CPU */
    __u64 off_ts;      /* went to sleep at; 0 unless sleeping */
    __u64 runnable_ts; /* woken or preempted at; 0 unless waiting for a CPU */
    __u32 waker_tid;   /* traced task that woke it (0: woken by someone untraced) */
    __u32 waker_pid;
    __u32 follow;    /* trace what it forks and clones */
    __u32 announced; /* --stacks: its process was reported to user space (process_events.h) */
    struct cs_thread_stats stats;
    struct cs_sleep_stacks sleep; /* --stacks */
};

/*
 * Per CPU: who runs there now (so that a wakeup need not look up the waker's state, nor
 * ask for current and its registers), the switch in flight (sched_switch -> sched_exit_tp),
 * and the cost of the last one, which is added to the switched-in task's counters at its
 * next switch-out (where its state is at hand anyway, sparing sched_exit_tp a task-state
 * lookup).
 */
struct cs_cpu_state {
    __u32 cur_tid;    /* the task switched in last on this CPU */
    __u32 cur_traced; /* ... and whether it is traced */
    __u32 cur_pid;    /* ... its tgid, when traced (tp_btf) */
    __u32 _pad;
    __u64 cur_stack; /* ... the base of its kernel stack, when traced (tp_btf) */
    __u64 ts;        /* sched_switch time; 0 when nothing is in flight */
    __u32 next_tid;
    __u32 kind;
    __u64 cost;     /* the last measured switch cost, 0 once handed over */
    __u32 cost_tid; /* the task it was measured for */
    __u32 cost_kind;
};

#endif
