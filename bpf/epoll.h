/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * epoll-trace: the plain-C data shared by bpf/epoll.bpf.c and the C++ front end.
 *
 * Every time is in nanoseconds from bpf_ktime_get_ns(). The meaning of blocked time and
 * ready-to-return latency is DESIGN.md section 5; docs/epoll-trace.md defines the rest.
 *
 * A "loop" is what the numbers are kept per: one epoll instance of a process
 * (pid, epfd), or the poll/ppoll calls of a process (pid, EP_KEY_POLL), or its
 * select/pselect6 calls (pid, EP_KEY_SELECT).
 */
#ifndef TOOLKIT_EPOLL_H
#define TOOLKIT_EPOLL_H

#include "hist.h"

#define EP_COMM_LEN 16
#define EP_MAX_THREADS 65536   /* live-thread index and exited-thread records */
#define EP_MAX_TARGETS 16384   /* traced processes alive at once */
#define EP_MAX_LOOPS 2048      /* (pid, epfd / poll / select) with their histograms */
#define EP_MAX_SIZE_HISTS 8192 /* (loop, fds bucket) cost histograms */
#define EP_MAX_FDS 65536       /* (loop, fd) interest and readiness records */
#define EP_MAX_WAKERS 8192     /* (loop, waker) counts */

/* How much of the user's buffers is read back at sys_exit to attribute readiness to fds. */
#define EP_EVENTS_READ 64 /* epoll_event entries (12 bytes each, packed on x86-64) */
#define EP_EVENT_SIZE 12
#define EP_POLLFDS_READ 256 /* struct pollfd entries (8 bytes each) */
#define EP_POLLFD_SIZE 8
#define EP_FDSET_WORDS 16 /* 64-bit words of an fd_set: FD_SETSIZE 1024 */
#define EP_SCRATCH_SIZE 2048

/* Two wakeups of different waiters by the same waker on the same CPU this close together are
 * taken to be one readiness waking several waiters (a thundering herd). */
#define EP_HERD_WINDOW_NS 20000

#define EP_TIMEOUT_NONE (~0ULL) /* wait forever */

/* loop keys besides an epfd */
#define EP_KEY_POLL (-1)
#define EP_KEY_SELECT (-2)

enum ep_family {
    EP_EPOLL = 0,
    EP_POLL = 1,   /* poll, ppoll */
    EP_SELECT = 2, /* select, pselect6 */
    EP_FAMILIES = 3,
};

/* The waiting syscalls, in the order of the per-syscall counters. */
enum ep_syscall {
    EP_SYS_EPOLL_WAIT = 0,
    EP_SYS_EPOLL_PWAIT,
    EP_SYS_EPOLL_PWAIT2,
    EP_SYS_POLL,
    EP_SYS_PPOLL,
    EP_SYS_SELECT,
    EP_SYS_PSELECT6,
    EP_SYSCALLS,
};

/* Histograms kept per loop. Times in ns; EVENTS and FDS count events and fds. */
enum ep_hist_id {
    EP_H_IN_CALL = 0,     /* enter -> exit of the call */
    EP_H_BLOCKED,         /* off-CPU time inside the call (asleep until running again) */
    EP_H_CPU_IN_CALL,     /* on-CPU time inside the call: in_call - blocked - preempted */
    EP_H_READY_TO_RETURN, /* woken inside the call -> the call returns (calls with events) */
    EP_H_READY_WAIT_CPU,  /* the part of it spent runnable, waiting for a CPU */
    EP_H_READY_RUN,       /* the rest: running in the kernel until the return */
    EP_H_EVENTS_PER_CALL, /* events returned by each call that did not fail */
    EP_H_FDS_PER_CALL,    /* fds watched: epoll interest list size, poll nfds, select bits set */
    EP_H_LOOP_BUSY,       /* previous wait call's return -> this call, on the same thread */
    EP_H_OVERRUN,         /* timed-out calls: how much later than the timeout they returned */
    EP_HISTS,
};

/* Global counters (one per-CPU slot of `totals`). */
enum ep_counter {
    EP_C_CALLS = 0,         /* + ep_syscall: sys_enter of each waiting syscall */
    EP_C_CTL = EP_SYSCALLS, /* sys_enter of epoll_ctl */
    EP_C_EVENTS,            /* events returned (sum of positive returns) */
    EP_C_TIMEOUTS,          /* returned 0 once a timeout > 0 elapsed */
    EP_C_NONBLOCKING,       /* timeout 0 */
    EP_C_ERRORS,            /* returned an error (EINTR included) */
    EP_C_FORKS,             /* processes that became traced at fork */
    EP_C_EXITS,             /* traced threads that ended */
    /* what could not be read or did not fit */
    EP_C_READ_FAULTS,     /* a user buffer could not be read */
    EP_C_EVENTS_UNREAD,   /* events beyond EP_EVENTS_READ / EP_POLLFDS_READ per call */
    EP_C_EVENTS_UNMAPPED, /* epoll events whose data matched no epoll_ctl we saw */
    EP_C_DROP_STORAGE,    /* task state could not be created */
    EP_C_DROP_LOOPS,      /* `loops` full */
    EP_C_DROP_SIZE_HISTS, /* `size_hists` full */
    EP_C_DROP_FDS,        /* `fds` or `by_data` full */
    EP_C_DROP_WAKERS,     /* `wakers` full */
    EP_C_DROP_EXITED,     /* `exited` full */
    EP_C_DROP_LIVE,       /* `live` full */
    EP_C_DROP_TARGETS,    /* `targets` full: a forked process not traced */
    EP_COUNTERS,
};

struct ep_loop_key {
    __u32 pid;
    __s32 key; /* epfd, EP_KEY_POLL or EP_KEY_SELECT */
};

/* Per loop, per CPU; user space adds the CPUs up. */
struct ep_loop {
    __u64 calls; /* calls that returned (entered while traced) */
    __u64 by_syscall[EP_SYSCALLS];
    __u64 events;          /* sum of positive returns */
    __u64 full;            /* epoll: returned maxevents events (maxevents too small?) */
    __u64 maxevents;       /* epoll: largest maxevents passed */
    __u64 timeouts;        /* 0 events after a timeout > 0 elapsed */
    __u64 nonblocking;     /* timeout 0: a poll that never waits */
    __u64 errors;          /* negative returns */
    __u64 interrupted;     /* -EINTR */
    __u64 blocked_calls;   /* slept at least once */
    __u64 ready_on_entry;  /* returned events without sleeping */
    __u64 woken_calls;     /* returned events after a wakeup inside the call */
    __u64 spurious_sleeps; /* woken inside the call, then asleep again in it */
    __u64 spurious_zero;   /* 0 events before a finite timeout > 0 elapsed */
    __u64 herd_wakeups;    /* woken in one burst with another waiter (one readiness) */
    __u64 herd_wasted;     /* of those: found nothing (asleep again, or returned 0) */
    __u64 overruns;        /* timed out later than asked */
    __u64 ctl_add, ctl_mod, ctl_del, ctl_failed;
    struct hist h[EP_HISTS];
};

/* The cost of a call by how many fds it watched: bucket = floor(log2(fds)); calls that
 * slept apart from calls that returned at once (a sleep adds the scheduler's own cost). */
#define EP_SIZE_BUCKETS 24
struct ep_size_key {
    __u32 pid;
    __s32 key;
    __u32 bucket;
    __u32 slept;
};

/* One fd of a loop: what epoll_ctl said about it, how often it came back ready. */
struct ep_fd_key {
    __u32 pid;
    __s32 key;
    __s32 fd;
    __u32 _pad;
};

#define EP_FD_REGISTERED 1
struct ep_fd_info {
    __u64 ready;         /* times it was among the returned events */
    __u64 data;          /* epoll_data registered for it */
    __u32 interest;      /* event mask of the last ADD/MOD (EPOLLIN, EPOLLET, ...) */
    __u32 returned_mask; /* OR of the event masks returned for it */
    __u32 adds, mods, dels;
    __u32 flags; /* EP_FD_REGISTERED */
};

/* One live epoll registration, found by its epoll_data: a returned event's data leads here
 * in one lookup. Its readiness is folded into the fd's ep_fd_info when the registration
 * ends (DEL, MOD to other data, or the same data registered again). */
struct ep_data_key {
    __u32 pid;
    __s32 epfd;
    __u64 data;
};

struct ep_data_info {
    __u64 ready; /* times returned since it was registered */
    __s32 fd;
    __u32 returned_mask;
};

/* Who woke a waiter whose call then returned events. */
struct ep_waker_key {
    __u32 pid;
    __s32 key;
    __u32 tid;       /* the waking task, or the task an interrupt ran on top of */
    __u32 interrupt; /* 1: the wakeup came from interrupt context (hardirq or softirq) */
};

struct ep_waker_info {
    __u64 count;
    __u32 pid;
    __u32 _pad;
    char comm[EP_COMM_LEN];
};

/* Per-thread counters: kept with the task while it lives, copied into `exited` at exit. */
struct ep_thread_stats {
    __u32 tid;
    __u32 pid;
    char comm[EP_COMM_LEN];
    __u64 calls[EP_FAMILIES];
    __u64 ctl_calls;
    __u64 events;
    __u64 timeouts;
    __u64 nonblocking;
    __u64 errors;
    __u64 in_call_ns;
    __u64 blocked_ns;
    __u64 cpu_in_call_ns;
    __u64 ready_ns; /* ready-to-return latency, summed */
    __u64 ready_count;
    __u64 busy_ns; /* loop busy time, summed */
    __u64 busy_count;
    __u64 spurious; /* spurious sleeps + zero-event early returns */
};

/* The waiting call a task is in. */
struct ep_call {
    __u64 enter_ts;
    __u64 timeout_ns;   /* EP_TIMEOUT_NONE: forever */
    __u64 buf;          /* events, ufds or readfds */
    __u64 buf2, buf3;   /* select: writefds, exceptfds */
    __u64 busy_ns;      /* loop busy time before this call (0: first call) */
    __u64 off_ts;       /* left the CPU at (0: on a CPU) */
    __u64 blocked_ns;   /* asleep inside the call, until running again */
    __u64 preempted_ns; /* preempted inside the call, until running again */
    __u64 woken_ts;     /* the wakeup that is still pending a return (0: none) */
    __u64 wait_cpu_ns;  /* runnable but not running since woken_ts */
    __u32 waker_tid, waker_pid;
    char waker_comm[EP_COMM_LEN];
    __s32 key;  /* loop key */
    __u32 size; /* maxevents, nfds, or select's n */
    __u32 fds;  /* fds watched (0 for epoll: looked up at exit) */
    __u32 spurious_sleeps;
    __u16 herd_wakeups; /* wakeups that were part of a herd */
    __u16 herd_wasted;  /* of those: asleep again, or the call returned nothing */
    __u8 active;
    __u8 sys;          /* enum ep_syscall */
    __u8 family;       /* enum ep_family */
    __u8 off_sleeping; /* the current off-CPU period is a sleep, not a preemption */
    __u8 slept;        /* slept at least once */
    __u8 waker_interrupt;
    __u8 herd_pending; /* the pending wakeup (woken_ts) is part of a herd */
    __u8 _pad;
};

/* The epoll_ctl call a task is in. */
struct ep_ctl {
    __u64 data;
    __s32 epfd, op, fd;
    __u32 events;
    __u8 active;
    __u8 has_event;
    __u8 _pad[6];
};

struct ep_task_state {
    struct ep_call call;
    struct ep_ctl ctl;
    __u64 last_exit_ts; /* the last wait call of this thread returned at */
    struct ep_thread_stats stats;
};

/* The last wakeup of a waiter inside a call on one CPU (for herd detection). */
struct ep_last_wake {
    __u64 ts;
    __u32 waker_tid;
    __u32 wakee_tid;
    __u32 interrupt;
    __u32 _pad;
};

#endif
