/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The timeline mode (--perfetto): the fixed-size record every tracer streams through its
 * ring buffer `timeline_ring` (bpf/timeline.bpf.h), read by lib/bpf/timeline_recorder and
 * turned into a Perfetto trace by lib/timeline. Plain C, shared by both sides.
 *
 * Times are bpf_ktime_get_ns() (CLOCK_MONOTONIC); user space moves them to CLOCK_BOOTTIME,
 * Perfetto's default clock.
 */
#ifndef TOOLKIT_TIMELINE_H
#define TOOLKIT_TIMELINE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define TL_COMM_LEN 16

/* What a record says. The scheduler's events become ftrace events in per-CPU bundles,
 * the rest track events on the thread's track. */
enum tl_kind {
    TL_SWITCH = 1,      /* sched_switch: pid (prev) leaves, other_pid (next) runs */
    TL_WAKING = 2,      /* sched_waking: pid (current, the waker) wakes other_pid */
    TL_WAKEUP_NEW = 3,  /* sched_wakeup_new: pid (the parent) starts other_pid */
    TL_RENAME = 4,      /* task_rename: pid's comm becomes other_comm */
    TL_EXIT = 5,        /* sched_process_exit: pid ends */
    TL_USER_SWITCH = 6, /* --user-switch: pid called the user-level switch function */
    TL_LOCK_WAIT = 7,   /* lockwait-trace: pid waited on a futex word and slept (a span) */
    TL_CALL = 8,        /* epoll-trace: pid's epoll_wait/poll/select call (a span) */
};

/* Bits of tl_record.flags */
#define TL_F_PREEMPT 1 /* TL_SWITCH: prev was preempted (still runnable) */

/* The scheduler's part of a record */
struct tl_sched {
    __u32 state;      /* TL_SWITCH: prev's raw __state; wakeups: the target CPU */
    __u32 exit_state; /* TL_SWITCH: prev's exit_state */
};

/* A span of time on pid's track (ts to end): a lock wait, a call */
struct tl_span {
    __u64 end;
    __u64 addr;  /* what it was about: a futex word; TL_CALL: the system call (the tool's enum) */
    __u64 value; /* TL_LOCK_WAIT: blocked time inside the call; TL_CALL: its return value */
    __u64 at;    /* when a wakeup let it go (0: none); TL_LOCK_WAIT: by other_pid */
};

struct tl_record {
    __u64 ts;
    __u16 kind;  /* enum tl_kind */
    __u16 flags; /* TL_F_* */
    __u32 cpu;
    __u32 lost; /* records this CPU could not reserve before this one (a running count) */
    __u32 pid;  /* the task the event is about or, for a wakeup, the waker */
    __u32 tgid;
    __u32 other_pid; /* next (TL_SWITCH), wakee (wakeups), waker (TL_LOCK_WAIT) */
    __u32 other_tgid;
    __s32 prio;
    __s32 other_prio;
    __u32 _pad;
    union {
        struct tl_sched sched; /* TL_SWITCH, TL_WAKING, TL_WAKEUP_NEW */
        struct tl_span span;   /* TL_LOCK_WAIT, TL_CALL */
    };
    char comm[TL_COMM_LEN];       /* of pid */
    char other_comm[TL_COMM_LEN]; /* of other_pid; TL_RENAME: the new name */
};

#endif
