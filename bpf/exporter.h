/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * concurrency-exporter: the plain-C data shared by bpf/exporter.bpf.c and the C++ exporter.
 * The meaning of every number follows DESIGN.md section 5 and bpf/ctxswitch.h; what differs
 * from ctxswitch-trace is the scope (every task of the machine, or of one cgroup subtree)
 * and the aggregation: by series, a (cgroup, comm) pair, rather than for the whole run.
 */
#ifndef TOOLKIT_EXPORTER_H
#define TOOLKIT_EXPORTER_H

#include "hist.h"

#define EXP_COMM_LEN 16
#define EXP_DEFAULT_MAX_SERIES 512
#define EXP_DEFAULT_MAX_LOCKS 1024

/*
 * Series slots. Slot 0 is the overflow series: everything of a (cgroup, comm) pair that
 * found no free slot is folded into it. Slots 1..max_series are handed out in the kernel,
 * in order, as new pairs are seen; `series` maps each pair to its slot, and user space
 * reads it to label the slots. A task keeps its slot in its state (exp_task_state.slot):
 */
#define EXP_SLOT_OVERFLOW 0
#define EXP_SLOT_UNRESOLVED 0xFFFFFFFEu /* not looked up yet, or its comm changed */
#define EXP_SLOT_IGNORED 0xFFFFFFFFu    /* outside the --cgroup filter: not counted */

/* The key of a series. */
struct exp_series_key {
    __u64 cgroup_id; /* the cgroup v2 id (the inode number of its directory) */
    char comm[EXP_COMM_LEN];
};

/* The families of waiting calls. */
#define EXP_POLL_EPOLL 0
#define EXP_POLL_POLL 1
#define EXP_POLL_SELECT 2
#define EXP_POLL_FAMILIES 3

/* The histograms of a series, at hists[slot * EXP_HISTS + id]. */
enum exp_hist_id {
    /* switch cost of the switches into a task of the series (CS_KIND_* order) */
    EXP_H_SWITCH_COST = 0, /* + thread, process, kernel */
    EXP_H_WAKEUP_TO_RUN = 3,
    EXP_H_HANDOFF_SAME = 4,  /* woken by a user task of the same process */
    EXP_H_HANDOFF_CROSS = 5, /* ... of another process */
    /* the waiting calls epoll_wait, epoll_pwait(2), poll, ppoll, select, pselect6, each
     * + EXP_POLL_* (by family) */
    EXP_H_POLL_BLOCKED = 6,         /* time asleep in a call that slept */
    EXP_H_POLL_READY_TO_RETURN = 9, /* woken inside the call to its return, if it returned events */
    EXP_H_POLL_EVENTS = 12,         /* events (ready fds) a call returned (a count, not ns) */
    EXP_HISTS = 15,
};

#define EXP_KIND_THREAD 0
#define EXP_KIND_PROCESS 1
#define EXP_KIND_KERNEL 2
#define EXP_KINDS 3

/* One histogram of one series, shared by the CPUs (atomic adds): per-CPU copies would
 * cost memory in proportion to the CPUs, which on a fleet's large machines is the
 * exporter's whole budget. No min and max: Prometheus has no place for them; and no count:
 * user space adds up the buckets, so that a scrape's _count always equals its +Inf bucket
 * (a separate count, added apart, could be one behind). */
struct exp_hist {
    __u64 sum; /* ns */
    __u64 buckets[HIST_BUCKETS];
};

/* The counters of a series, at counters[slot]. */
enum exp_series_counter {
    EXP_SC_VOLUNTARY = 0, /* switched out asleep (the kernel's nvcsw rule) */
    EXP_SC_INVOLUNTARY,   /* switched out runnable (nivcsw) */
    EXP_SC_MIGRATIONS,    /* sched_migrate_task */
    EXP_SC_POLL_CALLS,    /* waiting calls that returned, + EXP_POLL_* */
    EXP_SC_POLL_ERRORS = EXP_SC_POLL_CALLS + EXP_POLL_FAMILIES, /* ... that failed (EINTR ...) */
    EXP_SERIES_COUNTERS = EXP_SC_POLL_ERRORS + EXP_POLL_FAMILIES,
};

struct exp_series_counters {
    __u64 c[EXP_SERIES_COUNTERS];
};

/*
 * Kernel lock contention (lock:contention_begin -> contention_end in one task), by the
 * kind of lock the begin's flags say (LCB_F_* of include/trace/events/lock.h), machine-wide:
 * klock_hists[kind].
 */
#define EXP_LCB_F_SPIN (1U << 0)
#define EXP_LCB_F_READ (1U << 1)
#define EXP_LCB_F_WRITE (1U << 2)
#define EXP_LCB_F_RT (1U << 3)
#define EXP_LCB_F_PERCPU (1U << 4)
#define EXP_LCB_F_MUTEX (1U << 5)

enum exp_klock_kind {
    EXP_KL_SPINLOCK = 0,
    EXP_KL_RWLOCK_READ,
    EXP_KL_RWLOCK_WRITE,
    EXP_KL_MUTEX,
    EXP_KL_RWSEM_READ,
    EXP_KL_RWSEM_WRITE,
    EXP_KL_PERCPU_RWSEM_READ,
    EXP_KL_PERCPU_RWSEM_WRITE,
    EXP_KL_RT_MUTEX,
    EXP_KL_OTHER,
    EXP_KLOCK_KINDS,
};

/*
 * Futex blocked time by word (lockwait-trace's definition, DESIGN.md section 5: the time a
 * futex wait spent asleep, sched_switch out to sched_switch in), per (cgroup, process,
 * futex word). Lock slots work like series slots: slot 0 gathers the sleeps whose word found
 * the table (--max-locks) full; `locks` maps a word to its slot and the process's command;
 * lock_hists[slot] is its histogram of blocked time, one observation per sleep (seen at
 * sched_switch: bpf/exporter.bpf.c). User space names the word (its data symbol, else its
 * mapping), keeps the top N by blocked time over a window as series of their own and adds
 * the rest into one `other` series.
 */
#define EXP_LOCK_SLOT_OTHER 0

struct exp_lock_key {
    __u64 cgroup_id; /* of the waiting task */
    __u64 uaddr;     /* the futex word */
    __u32 tgid;      /* the process it lies in (a process-shared word: each process's own) */
    __u32 _pad;
};

struct exp_lock_value {
    __u32 slot;
    char comm[EXP_COMM_LEN]; /* the process's command (its thread-group leader's name) */
};

/* The exporter's own counters (one per-CPU slot of `totals`). */
enum exp_counter {
    EXP_C_FOLDED = 0,     /* task lookups that found the series table full: folded into slot 0 */
    EXP_C_SLOT_RACES,     /* slots lost to two CPUs adding the same pair at once */
    EXP_C_DROP_STORAGE,   /* task state could not be created */
    EXP_C_COST_UNMATCHED, /* sched_switch without its sched_exit_tp (ret_from_fork) */
    EXP_C_DROP_KLOCK,     /* a contention begun while another of the task's was in flight */
    EXP_C_LOCKS_FOLDED,   /* futex sleeps whose word found the lock table full */
    EXP_C_LOCK_RACES,     /* lock slots lost to two CPUs adding the same word at once */
    EXP_C_DROP_EVENTS,    /* process reports lost: the ring buffer was full */
    EXP_COUNTERS,
};

/* Per task (task-local storage). */
struct exp_task_state {
    __u64 cgroup_id;   /* the cgroup its slot was looked up in */
    __u64 runnable_ts; /* woken or preempted at; 0 unless waiting for a CPU */
    __u32 slot;        /* EXP_SLOT_* or a series slot */
    __u32 waker_pid;   /* tgid of the user task that woke it; 0: no such waker */
    __u64 klock;       /* the kernel lock it contends for now (contention_begin), or 0 */
    __u64 klock_ts;
    __u32 klock_kind;
    __u32 futex_slot;      /* the lock slot of the word it sleeps on (if futex_off_ts) */
    __u64 futex_off_ts;    /* asleep in a futex wait since; 0 when running or not in one */
    __u32 poll_active;     /* in a waiting call (epoll_wait, poll, select ...): its family + 1 */
    __u32 poll_slept;      /* it went to sleep in the call */
    __u64 poll_off_ts;     /* asleep in the call since; 0 when running */
    __u64 poll_blocked_ns; /* its time asleep so far */
    __u64 poll_woken_ts;   /* its last wakeup in the call; 0 after a sleep it did not end */
};

/* Per CPU: who runs here now (for the wakeups it does), and the switch in flight. */
struct exp_cpu_state {
    __u64 cur_stack; /* the base of the running task's kernel stack */
    __u32 cur_tid;
    __u32 cur_pid; /* its tgid; 0 for a kernel thread or idle (not a handoff waker) */
    __u64 ts;      /* sched_switch time; 0 when nothing is in flight */
    __u32 slot;    /* the series of the task switched in */
    __u32 kind;
};

#endif
