// SPDX-License-Identifier: GPL-2.0
/*
 * lockwait-trace, kernel side: futex waits and wakes of a set of traced tasks, attributed
 * to the futex word (the lock), the waiting thread and the waking thread; kernel lock
 * contention of the same tasks; optionally libc's pthread lock calls through uprobes.
 *
 * Which tasks are traced: those with a struct lw_task_state. It is created
 *   - by sched_process_fork for a new process forked by the launcher (launcher_tgid, the
 *     tool itself, whose own threads are never adopted), or for anything a traced task
 *     forks or clones;
 *   - by user space for -p / -t targets (through a pidfd for task storage).
 *
 * A futex call is followed from sys_enter to sys_exit (the raw syscall tracepoints, typed:
 * they run for every syscall, so the first test is on the syscall number; the classic
 * per-syscall events cost a perf record per call and a grace period each to detach, and
 * a program on them that returns 0 hides the events from perf). While a wait call is in
 * flight, sched_switch tells when the
 * caller goes to sleep inside it and when it runs again (its blocked time), and
 * sched_waking, run in the waker's context, tells who woke it and when (the handoff
 * latency ends when the waiter runs). Everything is folded into per-(word, thread) rows
 * at the caller's own sys_exit, so each row has a single writer.
 *
 * The scheduler and syscall programs exist twice: tp_btf (task-local storage, typed
 * arguments) and a raw_tp twin (state in a tid-keyed hash, fields read with CO-RE). The
 * exec, lock contention and uprobe programs only touch `current` and serve both modes
 * (btf_mode says which state map to use).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "common.bpf.h"
#include "lockwait.h"
#include "timeline.bpf.h"
#include "process_events.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define TASK_RUNNING 0
#define TASK_DEAD 0x80

#define EINTR 4
#define EAGAIN 11
#define ETIMEDOUT 110
#define ERESTARTSYS 512
#define ERESTART_RESTARTBLOCK 516

/* set by user space between open and load */
const volatile __u32 launcher_tgid = 0;     /* adopt new processes of this one (launch mode) */
const volatile bool btf_mode = true;        /* task-local storage (else the tid hash) */
const volatile bool capture_stacks = false; /* --stacks: user stacks of blocked waits */
const volatile bool capture_kstacks = true; /* kernel stacks of kernel lock contention */
/* this architecture's syscall numbers (x86-64 defaults) */
const volatile long nr_futex = 202;
const volatile long nr_futex_waitv = 449;
const volatile long nr_futex_wake = 454;
const volatile long nr_futex_wait = 455;
const volatile long nr_futex_requeue = 456;

TK_TASK_STATE(struct lw_task_state, LW_MAX_THREADS)

TK_THREAD_RECORDS(struct lw_thread_stats, LW_MAX_THREADS)

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    /* preallocated, like every map a program adds to: 7.8 KB a row with its histograms and
     * its first wait's stack window, sized by user space (--max-locks) */
    __uint(max_entries, LW_MAX_LOCK_ROWS);
    __type(key, struct lw_lock_key);
    __type(value, struct lw_lock_row);
} locks SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, LW_MAX_WAKE_PAIRS);
    __type(key, struct lw_wake_key);
    __type(value, struct lw_wake_row);
} wakers SEC(".maps");

/* --stacks (max_entries set to 1 otherwise) */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, LW_MAX_STACKS); /* sized at load: --max-stacks */
    __type(key, struct lw_stack_key);
    __type(value, struct lw_stack_row);
} stack_waits SEC(".maps");

/* user stacks (--stacks) and kernel stacks (lock contention) */
struct {
    __uint(type, BPF_MAP_TYPE_STACK_TRACE);
    __uint(max_entries, LW_MAX_STACKS);
    __uint(key_size, sizeof(__u32));
    __uint(value_size, LW_STACK_DEPTH * sizeof(__u64));
} stacks SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, LW_MAX_KLOCK_ROWS);
    __type(key, struct lw_klock_key);
    __type(value, struct lw_klock_row);
} klocks SEC(".maps");

/* --uprobes (max_entries set to 1 otherwise) */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
    /* preallocated: 5 KB per object and CPU with its histograms, sized by user space */
    __uint(max_entries, LW_MAX_ULOCKS);
    __type(key, struct lw_ulock_key);
    __type(value, struct lw_ulock_row);
} ulocks SEC(".maps");

struct lw_held {
    __u64 ts;
    __u32 kind;
    __u32 _pad;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, LW_MAX_HELD);
    __type(key, struct lw_held_key);
    __type(value, struct lw_held);
} held SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, LW_HISTS);
    __type(key, __u32);
    __type(value, struct hist);
} hists SEC(".maps");

TK_COUNTERS(struct lw_totals, LW_COUNTERS)

/* An all-zero value to create rows from: they are too large for the BPF stack. Never
 * written. (A new task state comes from TK_TASK_STATE's own template.) */
union lw_zero {
    struct lw_lock_row lock;
    struct lw_ulock_row ulock;
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, union lw_zero);
} zeros SEC(".maps");

/* stop_recording (common.bpf.h): no new futex call is recorded (calls in flight still
 * complete), so the per-thread call counts read first cover every row read after them;
 * forks and exits are still followed */

/* ---- small helpers ------------------------------------------------------------------- */

static __always_inline void *zero_value(void)
{
    __u32 zero = 0;

    return bpf_map_lookup_elem(&zeros, &zero);
}

/* Look a row up, creating it from zeros when missing; NULL (and a drop) when full. */
static __always_inline void *row_of(void *map, void *key, __u32 drop_counter)
{
    void *row = bpf_map_lookup_elem(map, key), *zero;

    if (row)
        return row;
    zero = zero_value();
    row = zero ? lookup_or_init(map, key, zero) : NULL;
    if (!row)
        count(drop_counter);
    return row;
}

/* Moves the row of the thread's hot word to `locks`; false when there is no room. */
static __always_inline bool spill_hot_slot(struct lw_task_state *s)
{
    struct lw_lock_key key = {.pid = s->stats.pid, .tid = s->stats.tid, .uaddr = s->hot_uaddr};

    if (!s->hot_used)
        return true;
    if (bpf_map_update_elem(&locks, &key, &s->hot, BPF_NOEXIST))
        return false;
    s->hot_used = 0;
    return true;
}

/* The hot slot for a word new to the thread (see struct lw_task_state): the word it held
 * moves to `locks`. NULL when that cannot be done (the new word then goes to `locks`). */
static __always_inline struct lw_lock_row *take_hot_slot(struct lw_task_state *s, __u64 uaddr)
{
    void *zero;

    if (!spill_hot_slot(s))
        return NULL;
    zero = zero_value();
    if (!zero || bpf_probe_read_kernel(&s->hot, sizeof(s->hot), zero))
        return NULL;
    s->hot_uaddr = uaddr;
    s->hot_used = 1;
    return &s->hot;
}

/* The state of `current` (syscall, exec, contention and uprobe programs serve both modes). */
static __always_inline struct lw_task_state *current_state(void)
{
    return state_of_current(btf_mode);
}

static __always_inline void emit(__u32 type, __u32 pid, __u32 tid, __u32 ppid, __u64 addr)
{
    if (!emit_process_event(type, pid, tid, ppid, addr))
        count(LW_C_DROP_EVENTS);
}

/* First futex call of a thread: report its process once, so user space reads its
 * mappings while it lives (to name the locks and symbolize stacks later). */
static __always_inline void announce(struct lw_task_state *s)
{
    s->announced = 1;
    if (!announce_process(bpf_get_current_task_btf(), s->stats.pid, s->stats.tid))
        count(LW_C_DROP_EVENTS);
}

static __always_inline __u64 user_stack_pointer(void)
{
    struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());

    return regs ? regs->sp : 0;
}

/* Where the current task entered the kernel from: the user IP after its syscall. */
static __always_inline __u64 user_ip(void)
{
    struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());

    return regs ? regs->ip : 0;
}

static __always_inline __u32 outcome_of(long ret)
{
    if (ret >= 0)
        return LW_OUT_WOKEN;
    switch (-ret) {
        case EAGAIN:
            return LW_OUT_EAGAIN;
        case ETIMEDOUT:
            return LW_OUT_TIMEDOUT;
        case EINTR:
            return LW_OUT_EINTR;
        default:
            if (-ret >= ERESTARTSYS && -ret <= ERESTART_RESTARTBLOCK)
                return LW_OUT_EINTR;
            return LW_OUT_ERROR;
    }
}

/* ---- the programs, by concern ----------------------------------------------------- */

#include "lockwait_futex.bpf.h"
#include "lockwait_sched.bpf.h"
#include "lockwait_klock.bpf.h"
#include "lockwait_uprobes.bpf.h"
