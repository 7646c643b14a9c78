/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * lockwait-trace: the plain-C data shared by bpf/lockwait.bpf.c and the C++ front end.
 * Times are nanoseconds from bpf_ktime_get_ns(); "blocked time" and "handoff latency"
 * mean what DESIGN.md section 5 says:
 *   blocked time     the off-CPU time inside a futex wait call: from the sched_switch that
 *                    puts the waiter to sleep inside the call to it running again, summed
 *                    over every sleep inside that call (not the syscall's duration)
 *   handoff latency  from the sched_waking done by the waker (in its own context) to the
 *                    waiter running on a CPU again
 */
#ifndef TOOLKIT_LOCKWAIT_H
#define TOOLKIT_LOCKWAIT_H

#include "hist.h"
#include "process_events.h"

#define LW_COMM_LEN 16
#define LW_MAX_THREADS 16384   /* live-thread index, exited-thread records (--max-threads) */
#define LW_MAX_LOCK_ROWS 4096  /* (futex word, thread) rows (--max-locks) */
#define LW_MAX_WAKE_PAIRS 8192 /* (futex word, waiter, waker) rows */
/* distinct stacks kept (--stacks, kernel locks), and (futex word, waiter stack, waker stack)
 * rows (--max-stacks) */
#define LW_MAX_STACKS 8192
#define LW_STACK_DEPTH 64      /* frames kept per stack */
#define LW_MAX_KLOCK_ROWS 4096 /* (kernel lock, kernel stack) rows */
#define LW_MAX_ULOCKS 2048     /* pthread objects seen by the uprobes (at most; --max-locks) */
#define LW_MAX_HELD 16384      /* (thread, mutex) pairs held right now (uprobes) */
#define LW_OWNERS 4            /* owners of a word kept per waiting thread */
#define LW_SITE_WORDS 32       /* user stack words kept from a row's first wait (256 bytes) */

/*
 * Operations, one index per kind of futex call: the futex(2) commands are op &
 * FUTEX_CMD_MASK (0..13), the futex2 syscalls follow. Counted per thread and in total.
 */
#define LW_FUTEX_WAIT 0
#define LW_FUTEX_WAKE 1
#define LW_FUTEX_FD 2
#define LW_FUTEX_REQUEUE 3
#define LW_FUTEX_CMP_REQUEUE 4
#define LW_FUTEX_WAKE_OP 5
#define LW_FUTEX_LOCK_PI 6
#define LW_FUTEX_UNLOCK_PI 7
#define LW_FUTEX_TRYLOCK_PI 8
#define LW_FUTEX_WAIT_BITSET 9
#define LW_FUTEX_WAKE_BITSET 10
#define LW_FUTEX_WAIT_REQUEUE_PI 11
#define LW_FUTEX_CMP_REQUEUE_PI 12
#define LW_FUTEX_LOCK_PI2 13
#define LW_SYS_FUTEX_WAIT 14    /* futex_wait(2), Linux 6.7 */
#define LW_SYS_FUTEX_WAKE 15    /* futex_wake(2), Linux 6.7 */
#define LW_SYS_FUTEX_WAITV 16   /* futex_waitv(2), Linux 5.16 */
#define LW_SYS_FUTEX_REQUEUE 17 /* futex_requeue(2), Linux 6.7 */
#define LW_OP_INVALID 18        /* a futex(2) command the kernel does not know */
#define LW_OPS 19

#define LW_FUTEX_PRIVATE_FLAG 128
#define LW_FUTEX_TID_MASK 0x3fffffff /* the owner's tid in a PI or robust futex word */
#define LW_FUTEX_CLOCK_REALTIME 256
#define LW_FUTEX_CMD_MASK (~(LW_FUTEX_PRIVATE_FLAG | LW_FUTEX_CLOCK_REALTIME))
#define LW_FUTEX2_PRIVATE 128 /* futex2 flags: FUTEX2_PRIVATE */

/* What a call does to its word: waits on it, wakes its waiters, or neither. */
#define LW_CLASS_WAIT 0
#define LW_CLASS_WAKE 1
#define LW_CLASS_OTHER 2

/* The operation index of a futex(2) call with op word `op`. */
static inline unsigned int lw_futex_op(int op)
{
    unsigned int cmd = (unsigned int)op & (unsigned int)LW_FUTEX_CMD_MASK;

    return cmd <= LW_FUTEX_LOCK_PI2 ? cmd : LW_OP_INVALID;
}

static inline int lw_op_class(unsigned int op)
{
    switch (op) {
        case LW_FUTEX_WAIT:
        case LW_FUTEX_WAIT_BITSET:
        case LW_FUTEX_LOCK_PI:
        case LW_FUTEX_LOCK_PI2:
        case LW_FUTEX_WAIT_REQUEUE_PI:
        case LW_SYS_FUTEX_WAIT:
        case LW_SYS_FUTEX_WAITV:
            return LW_CLASS_WAIT;
        case LW_FUTEX_WAKE:
        case LW_FUTEX_WAKE_BITSET:
        case LW_FUTEX_WAKE_OP:
        case LW_FUTEX_UNLOCK_PI:
        case LW_FUTEX_REQUEUE:
        case LW_FUTEX_CMP_REQUEUE:
        case LW_FUTEX_CMP_REQUEUE_PI:
        case LW_SYS_FUTEX_WAKE:
        case LW_SYS_FUTEX_REQUEUE:
            return LW_CLASS_WAKE;
        default:
            return LW_CLASS_OTHER;
    }
}

/* How a wait call returned. */
#define LW_OUT_WOKEN 0    /* 0: woken by a wake (LOCK_PI: acquired; futex_waitv: index) */
#define LW_OUT_EAGAIN 1   /* EAGAIN: the word no longer held the expected value */
#define LW_OUT_TIMEDOUT 2 /* ETIMEDOUT */
#define LW_OUT_EINTR 3    /* EINTR or a restart (ERESTARTSYS ...): a signal came */
#define LW_OUT_ERROR 4    /* any other error (EFAULT, EINVAL, EDEADLK ...) */
#define LW_OUTCOMES 5

/* Flags of a (futex word, thread) row. */
#define LW_LF_SHARED 1 /* a call without FUTEX_PRIVATE_FLAG: a process-shared word */
#define LW_LF_PI 2     /* priority-inheritance operations */

/* One futex word as seen by one thread: key (pid, address, tid). Only that thread updates
 * its row (at its own syscall exit), so no atomics are needed; user space adds the rows of
 * a word up. */
struct lw_lock_key {
    __u32 pid; /* thread group */
    __u32 tid;
    __u64 uaddr;
};

struct lw_lock_row {
    __u64 waits;   /* wait calls on this word */
    __u64 blocked; /* waits that went to sleep inside the call */
    __u64 outcome[LW_OUTCOMES];
    __u64 blocked_ns;  /* blocked time of those waits */
    __u64 wait_ns;     /* time in the wait calls, enter to exit */
    __u64 handoffs;    /* blocked waits woken by a task (not an interrupt), latency measured */
    __u64 handoff_ns;  /* their handoff latency */
    __u64 wakes;       /* wake calls on this word */
    __u64 woken;       /* waiters those calls woke */
    __u64 requeued;    /* waiters they moved to another word (REQUEUE, CMP_REQUEUE) */
    __u64 other_calls; /* TRYLOCK_PI, FD, unknown commands */
    __u64 user_sp;     /* the caller's stack pointer at its first call on the word */
    __u32 flags;       /* LW_LF_* */
    __u32 ops_seen;    /* bit (1 << op) for every operation used on the word */
    /* Who held the word when this thread's waits blocked (lw_call.owner), by blocked
     * waits: the first LW_OWNERS owners, the rest in owner_other. User space keeps only
     * tids of traced threads, and shows them for mutexes. */
    __u32 owner_tid[LW_OWNERS];
    __u32 owner_blocked[LW_OWNERS];
    __u64 owner_other;
    /* What kind of object the word is, as evidence for user space (kinds.h): where the
     * thread's first wait and first wake on the word were called from, the value that
     * wait expected (a live thread's tid: a join), and the user registers and stack at
     * that wait, unwound in user space through the C library's CFI (it has no frame
     * pointers). Recorded once per row, so the common call pays one compare. */
    __u64 wait_ip;                   /* user IP after the first wait's syscall; 0: none */
    __u64 wake_ip;                   /* ... after the first wake's */
    __u64 wait_val;                  /* the value the first wait expected */
    __u64 wait_sp, wait_bp;          /* rsp and rbp at the first wait */
    __u64 wait_stack[LW_SITE_WORDS]; /* the user stack from wait_sp up (0s if unreadable) */
    struct hist h_blocked;           /* blocked time of blocked waits */
    struct hist h_wait;              /* time in the wait calls */
    struct hist h_handoff;           /* handoff latency */
};

/* Who woke whom on one word: only blocked waits that a task (not an interrupt) woke. */
struct lw_wake_key {
    __u32 pid;
    __u32 waiter_tid;
    __u64 uaddr;
    __u32 waker_tid;
    __u32 waker_pid;
};

struct lw_wake_row {
    __u64 count;    /* blocked waits this waker woke */
    __u64 handoffs; /* ... whose handoff latency was measured */
    __u64 handoff_ns;
    __u64 by_futex_wake; /* the waker was inside a traced futex wake call */
    char waker_comm[LW_COMM_LEN];
};

/* --stacks: blocked time by (word, waiter stack, waker stack); -1 is "no stack". */
struct lw_stack_key {
    __u32 pid;
    __s32 waiter_stack;
    __u64 uaddr;
    __s32 waker_stack;
    __u32 waker_pid; /* the stack's address space (0: no waker) */
};

struct lw_stack_row {
    __u64 count;
    __u64 blocked_ns;
};

/* Kernel lock contention (lock:contention_begin/end) of traced tasks. */
#define LW_LCB_F_SPIN (1U << 0)
#define LW_LCB_F_READ (1U << 1)
#define LW_LCB_F_WRITE (1U << 2)
#define LW_LCB_F_RT (1U << 3)
#define LW_LCB_F_PERCPU (1U << 4)
#define LW_LCB_F_MUTEX (1U << 5)

struct lw_klock_key {
    __u64 lock;  /* the lock's kernel address */
    __s32 stack; /* kernel stack at contention_begin (-1 if none) */
    __u32 flags; /* LW_LCB_F_* of the first contention_begin */
    __u32 pid;
    __u32 _pad;
};

struct lw_klock_row {
    __u64 count;
    __u64 total_ns;
    __u64 max_ns;
};

/* --uprobes: libc's pthread functions. The kinds of object and call. */
#define LW_U_MUTEX 0
#define LW_U_RWLOCK_READ 1
#define LW_U_RWLOCK_WRITE 2
#define LW_U_COND 3
#define LW_U_MUTEX_TRY 4 /* pthread_mutex_trylock (cookie only; stats go to MUTEX) */
#define LW_U_KINDS 4

struct lw_ulock_key {
    __u32 pid;
    __u32 kind; /* LW_U_MUTEX, LW_U_RWLOCK_READ/WRITE, LW_U_COND */
    __u64 addr;
};

/* Per CPU (many threads update one object), added up in user space. */
struct lw_ulock_row {
    __u64 acquires;   /* successful lock calls (mutex, rwlock), cond waits (cond) */
    __u64 acquire_ns; /* time in those calls: lock call entry to return */
    __u64 try_busy;   /* pthread_mutex_trylock that found it taken */
    __u64 holds;      /* unlocks matched to an acquisition by the same thread */
    __u64 hold_ns;    /* acquisition to unlock */
    __u64 max_hold_ns;
    __u64 cond_mutex; /* LW_U_COND: the mutex its last wait was called with */
    struct hist h_acquire;
    struct hist h_hold;
};

struct lw_held_key {
    __u32 tid;
    __u32 kind;
    __u64 addr;
};

/* Per-thread counters: with the task while it lives, copied into `exited` when it ends. */
struct lw_thread_stats {
    __u32 tid;
    __u32 pid;
    char comm[LW_COMM_LEN];
    __u64 calls[LW_OPS]; /* futex calls by operation */
    __u64 waits;
    __u64 blocked;
    __u64 blocked_ns;
    __u64 wait_ns;
    __u64 wakes;
    __u64 woken;
    __u64 klock_waits; /* kernel lock contentions */
    __u64 klock_ns;
    __u64 user_sp; /* stack pointer at its latest first call on a word (names stack words) */
    /* its life, for the share of the threads' time a lock took (bpf_ktime_get_ns) */
    __u64 start_ns; /* forked at; 0: it was there before the trace began */
    __u64 end_ns;   /* exited at; 0: alive when read */
};

/* A futex call in flight, and what happened to the caller inside it. */
struct lw_call {
    __u64 ts; /* a wait call entered at; 0 when not in a wait call */
    __u64 uaddr;
    __u64 arg;        /* val (nr_wake for requeues), or the futex_waitv array */
    __u64 off_ts;     /* went to sleep inside the call at; 0 while on a CPU */
    __u64 blocked_ns; /* sleeps inside the call so far */
    __u64 wake_ts;    /* sched_waking while asleep inside the call; 0 if none */
    __u64 handoff_ns; /* wake -> running, of the last wake */
    __u64 woken_at;   /* the last sched_waking while asleep inside the call (kept) */
    __u32 op;         /* LW_FUTEX_* / LW_SYS_* */
    __u32 flags;      /* LW_LF_* */
    __u32 sleeps;
    __u32 waker_tid; /* 0: woken from an interrupt, or not woken */
    __u32 waker_pid;
    __u32 waker_in_wake;
    __s32 waker_stack;
    __u32 nr;     /* futex_waitv: entries */
    __u32 active; /* in a futex call (of any kind) */
    /* a wait's owner at its entry: the tid in the word (PI and robust mutexes), else the
     * int 8 bytes on, where a glibc pthread_mutex_t keeps its owner (__owner); 0: unread */
    __u32 owner;
    char waker_comm[LW_COMM_LEN];
};

struct lw_klock_slot {
    __u64 lock;
    __u64 ts;
    __u32 flags;
    __s32 stack;
};

/* Everything the kernel side keeps per traced task (task-local storage). */
struct lw_task_state {
    __u32 follow;    /* trace what it forks and clones */
    __u32 announced; /* its process was reported to user space (for /proc/PID/maps) */
    struct lw_call call;
    struct lw_klock_slot klock[2]; /* contention_begin..end in flight, nested once */
    __u64 ulock_addr;              /* uprobes: lock call in flight */
    __u64 ulock_ts;
    __u32 ulock_kind;
    __u32 _pad;
    __u64 ucond_mutex; /* pthread_cond_wait in flight: its mutex */
    struct lw_thread_stats stats;
    /* The row of the thread's "hot" word, kept here rather than in `locks`, so that the
     * common case (a thread calling on the same word again) costs no hash lookup. A word's
     * row is either here or in `locks`, never both: the newest word the thread uses takes
     * this slot, and the word it held moves to `locks` for good (as it does when the
     * thread ends). User space reads it with the rest of the state. */
    __u64 hot_uaddr;
    __u32 hot_used;
    __u32 _pad2;
    struct lw_lock_row hot;
};

/* Global counters (one per-CPU slot of `totals`), indexed by lw_counter. */
enum lw_counter {
    LW_C_FUTEX_CALLS = 0, /* every futex syscall of the traced tasks */
    LW_C_WAIT_CALLS,
    LW_C_WAKE_CALLS,
    LW_C_OTHER_CALLS,
    LW_C_BLOCKED_WAITS, /* wait calls that went to sleep inside the call */
    LW_C_WOKEN_BY_TASK, /* blocked waits with a waker (sched_waking in task context) */
    LW_C_WOKEN_BY_IRQ,  /* ... woken from an interrupt (a timeout, a device) */
    LW_C_FORKS,
    LW_C_EXITS,
    LW_C_KLOCK_WAITS,      /* kernel lock contentions of traced tasks */
    LW_C_ULOCK_HITS,       /* uprobe hits that were for traced tasks */
    LW_C_STACKS,           /* user stacks captured */
    LW_C_SWITCH_IN_UNSEEN, /* a wait that slept returned without a sched_switch bringing it in */
    /* what did not fit, printed as `dropped` */
    LW_C_DROP_STORAGE,    /* task state could not be created */
    LW_C_DROP_LOCK_ROWS,  /* `locks` full */
    LW_C_DROP_WAKE_PAIRS, /* `wakers` full */
    LW_C_DROP_STACKS,     /* bpf_get_stackid failed (map full, hash collision, fault) */
    LW_C_DROP_STACK_ROWS, /* `stack_waits` full */
    LW_C_DROP_KLOCK,      /* `klocks` full, or nesting deeper than two */
    LW_C_DROP_ULOCK,      /* `ulocks` or `held` full */
    LW_C_DROP_EXITED,     /* exited-thread record did not fit */
    LW_C_DROP_LIVE,       /* live-thread index full */
    LW_C_DROP_EVENTS,     /* ring buffer full */
    LW_COUNTERS,
};

struct lw_totals {
    __u64 c[LW_COUNTERS];
    __u64 calls[LW_OPS];
};

/* Histograms of everything traced together (per-CPU `hists`). */
enum lw_hist_id {
    LW_H_BLOCKED = 0, /* blocked time of blocked waits */
    LW_H_WAIT,        /* time in the wait calls */
    LW_H_HANDOFF,     /* handoff latency */
    LW_H_KLOCK,       /* kernel lock contention: contention_begin -> end */
    LW_H_UACQUIRE,    /* uprobes: pthread lock call duration */
    LW_H_UHOLD,       /* uprobes: acquisition -> unlock */
    LW_HISTS,
};

/* Ring buffer events: struct process_event of process_events.h. */

#endif
