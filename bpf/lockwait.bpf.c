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

/* traced threads alive now (tid -> pid), so user space can find their task storage */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, LW_MAX_THREADS);
    __type(key, __u32);
    __type(value, __u32);
} live SEC(".maps");

/* counters of threads that ended, keyed by exit sequence number (tids can be reused) */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __uint(max_entries, LW_MAX_THREADS);
    __type(key, __u32);
    __type(value, struct lw_thread_stats);
} exited SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __uint(max_entries, LW_MAX_LOCK_ROWS);
    __type(key, struct lw_lock_key);
    __type(value, struct lw_lock_row);
} locks SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __uint(max_entries, LW_MAX_WAKE_PAIRS);
    __type(key, struct lw_wake_key);
    __type(value, struct lw_wake_row);
} wakers SEC(".maps");

/* --stacks (max_entries set to 1 otherwise) */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __uint(max_entries, LW_MAX_STACK_ROWS);
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
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __uint(max_entries, LW_MAX_KLOCK_ROWS);
    __type(key, struct lw_klock_key);
    __type(value, struct lw_klock_row);
} klocks SEC(".maps");

/* --uprobes (max_entries set to 1 otherwise) */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
    __uint(map_flags, BPF_F_NO_PREALLOC);
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

/* processes already reported to user space (tgid -> 1) */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, LW_MAX_THREADS);
    __type(key, __u32);
    __type(value, __u32);
} procs SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 64 * 1024);
} events SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, LW_HISTS);
    __type(key, __u32);
    __type(value, struct hist);
} hists SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct lw_totals);
} totals SEC(".maps");

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

__u32 exit_seq = 0;
/* stop_recording (common.bpf.h): no new futex call is recorded (calls in flight still
 * complete), so the per-thread call counts read first cover every row read after them;
 * forks and exits are still followed */

/* ---- small helpers ------------------------------------------------------------------- */

static __always_inline struct lw_totals *totals_here(void)
{
    __u32 zero = 0;

    return bpf_map_lookup_elem(&totals, &zero);
}

static __always_inline void count(__u32 which)
{
    struct lw_totals *t = totals_here();

    if (t && which < LW_COUNTERS)
        t->c[which]++;
}

static __always_inline void *zero_value(void)
{
    __u32 zero = 0;

    return bpf_map_lookup_elem(&zeros, &zero);
}

/* Look a row up, creating it from zeros when missing; NULL (and a drop) when full. */
static __always_inline void *row_of(void *map, void *key, __u32 drop_counter)
{
    void *row = bpf_map_lookup_elem(map, key);
    void *zero;

    if (row)
        return row;
    zero = zero_value();
    if (!zero)
        return NULL;
    bpf_map_update_elem(map, key, zero, BPF_NOEXIST);
    row = bpf_map_lookup_elem(map, key);
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
    struct lw_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

    if (!e) {
        count(LW_C_DROP_EVENTS);
        return;
    }
    e->type = type;
    e->pid = pid;
    e->tid = tid;
    e->ppid = ppid;
    e->_pad = 0;
    e->addr = addr;
    bpf_ringbuf_submit(e, 0);
}

/* First futex call of a thread: report its process once, so user space reads its
 * mappings while it lives (to name the locks and symbolize stacks later). */
static __always_inline void announce(struct lw_task_state *s)
{
    __u32 tgid = s->stats.pid, one = 1, ppid;

    s->announced = 1;
    if (bpf_map_lookup_elem(&procs, &tgid))
        return;
    bpf_map_update_elem(&procs, &tgid, &one, BPF_NOEXIST);
    ppid = BPF_CORE_READ(bpf_get_current_task_btf(), real_parent, tgid);
    emit(LW_EV_PROCESS, tgid, s->stats.tid, ppid, 0);
}

static __always_inline __u64 user_stack_pointer(void)
{
    struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());

    return regs ? regs->sp : 0;
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

/* ---- futex syscalls ------------------------------------------------------------------- */

static __always_inline bool is_futex_syscall(long id)
{
    return id == nr_futex || id == nr_futex_waitv || id == nr_futex_wake || id == nr_futex_wait ||
           id == nr_futex_requeue;
}

static __always_inline int on_enter(__u32 op, __u64 uaddr, __u64 arg, __u32 flags, __u32 nr)
{
    struct lw_task_state *s = current_state();
    struct lw_totals *t;
    struct lw_call *c;
    int cls;

    if (!s)
        return 0;
    if (op >= LW_OPS)
        op = LW_OP_INVALID;
    cls = lw_op_class(op);
    t = totals_here();
    if (t) {
        t->c[LW_C_FUTEX_CALLS]++;
        t->c[cls == LW_CLASS_WAIT   ? LW_C_WAIT_CALLS
             : cls == LW_CLASS_WAKE ? LW_C_WAKE_CALLS
                                    : LW_C_OTHER_CALLS]++;
        t->calls[op]++;
    }
    s->stats.calls[op]++;
    if (!s->announced)
        announce(s);

    c = &s->call;
    c->active = 1;
    c->uaddr = uaddr;
    c->arg = arg;
    c->op = op;
    c->flags = flags;
    c->nr = nr;
    /* only a wait is timed, and only a wait's sleeps are its blocked time (a clock read
     * costs ~40 ns here) */
    c->ts = cls == LW_CLASS_WAIT ? bpf_ktime_get_ns() : 0;
    c->off_ts = 0;
    c->blocked_ns = 0;
    c->wake_ts = 0;
    c->handoff_ns = 0;
    c->sleeps = 0;
    c->waker_tid = 0;
    c->waker_pid = 0;
    c->waker_in_wake = 0;
    c->waker_stack = -1;
    return 0;
}

/* futex_waitv: the word of entry `i` of the user's array */
static __always_inline __u64 waitv_uaddr(__u64 array, __u32 i)
{
    struct futex_waitv w = {};

    if (bpf_probe_read_user(&w, sizeof(w), (void *)(array + (__u64)i * sizeof(w))))
        return 0;
    return w.uaddr;
}

/* The flags of the first futex_waitv entry, as LW_LF_*; and its word. */
static __always_inline __u32 waitv_head(__u64 array, __u64 *uaddr)
{
    struct futex_waitv w = {};

    if (bpf_probe_read_user(&w, sizeof(w), (void *)array))
        return LW_LF_SHARED;
    *uaddr = w.uaddr;
    return (w.flags & LW_FUTEX2_PRIVATE) ? 0 : LW_LF_SHARED;
}

/* Syscall arguments: direct (BTF-checked) loads for tp_btf, CO-RE reads for raw_tp. */
#define SYSCALL_ARG(btf, regs, n) \
    ((btf) ? PT_REGS_PARM##n##_SYSCALL(regs) : PT_REGS_PARM##n##_CORE_SYSCALL(regs))

static __always_inline int on_sys_enter(bool btf, struct pt_regs *regs, long id)
{
    __u64 a0, a1, a2, a3, uaddr = 0;
    __u32 cmd, flags;

    if (!is_futex_syscall(id) || stop_recording)
        return 0;
    a0 = SYSCALL_ARG(btf, regs, 1);
    a1 = SYSCALL_ARG(btf, regs, 2);
    a2 = SYSCALL_ARG(btf, regs, 3);
    a3 = SYSCALL_ARG(btf, regs, 4);
    if (id == nr_futex) {
        /* futex(uaddr, op, val, timeout, uaddr2, val3); val is nr_wake for the requeues */
        cmd = lw_futex_op((int)a1);
        flags = ((int)a1 & LW_FUTEX_PRIVATE_FLAG) ? 0 : LW_LF_SHARED;
        if (cmd == LW_FUTEX_LOCK_PI || cmd == LW_FUTEX_LOCK_PI2 || cmd == LW_FUTEX_UNLOCK_PI ||
            cmd == LW_FUTEX_TRYLOCK_PI || cmd == LW_FUTEX_WAIT_REQUEUE_PI ||
            cmd == LW_FUTEX_CMP_REQUEUE_PI)
            flags |= LW_LF_PI;
        return on_enter(cmd, a0, a2, flags, 0);
    }
    if (id == nr_futex_wait) /* futex_wait(uaddr, val, mask, flags, timeout, clockid) */
        return on_enter(LW_SYS_FUTEX_WAIT, a0, a1, (a3 & LW_FUTEX2_PRIVATE) ? 0 : LW_LF_SHARED, 0);
    if (id == nr_futex_wake) /* futex_wake(uaddr, mask, nr, flags) */
        return on_enter(LW_SYS_FUTEX_WAKE, a0, a2, (a3 & LW_FUTEX2_PRIVATE) ? 0 : LW_LF_SHARED, 0);
    if (id == nr_futex_waitv) { /* futex_waitv(waiters, nr_futexes, flags, timeout, clockid) */
        flags = waitv_head(a0, &uaddr);
        return on_enter(LW_SYS_FUTEX_WAITV, uaddr, a0, flags, (__u32)a1);
    }
    /* futex_requeue(waiters[2], flags, nr_wake, nr_requeue): from waiters[0] to waiters[1] */
    flags = waitv_head(a0, &uaddr);
    return on_enter(LW_SYS_FUTEX_REQUEUE, uaddr, a2, flags, 0);
}

static __always_inline void record_wait(void *ctx, struct lw_task_state *s, struct lw_lock_row *row,
                                        struct lw_lock_key *key, long ret, __u64 dur)
{
    struct lw_call *c = &s->call;
    bool blocked = c->sleeps > 0;
    /* the switch-in after the wake was seen (it clears wake_ts): the handoff is measured */
    bool handoff_known = c->wake_ts == 0;
    __u32 out = outcome_of(ret);

    s->stats.waits++;
    s->stats.wait_ns += dur;
    hist_add(&hists, LW_H_WAIT, dur);
    if (blocked) {
        s->stats.blocked++;
        s->stats.blocked_ns += c->blocked_ns;
        count(LW_C_BLOCKED_WAITS);
        hist_add(&hists, LW_H_BLOCKED, c->blocked_ns);
        if (c->waker_tid) {
            count(LW_C_WOKEN_BY_TASK);
            if (handoff_known)
                hist_add(&hists, LW_H_HANDOFF, c->handoff_ns);
        } else if (c->handoff_ns || c->wake_ts) {
            count(LW_C_WOKEN_BY_IRQ);
        }
    }
    if (row) {
        row->waits++;
        if (out < LW_OUTCOMES)
            row->outcome[out]++;
        row->wait_ns += dur;
        hist_record(&row->h_wait, dur);
        if (blocked) {
            row->blocked++;
            row->blocked_ns += c->blocked_ns;
            hist_record(&row->h_blocked, c->blocked_ns);
            if (c->waker_tid && handoff_known) {
                row->handoffs++;
                row->handoff_ns += c->handoff_ns;
                hist_record(&row->h_handoff, c->handoff_ns);
            }
        }
    }
    if (!blocked)
        return;

    if (c->waker_tid) {
        struct lw_wake_key wk = {
            .pid = key->pid,
            .waiter_tid = key->tid,
            .uaddr = key->uaddr,
            .waker_tid = c->waker_tid,
            .waker_pid = c->waker_pid,
        };
        struct lw_wake_row *w = bpf_map_lookup_elem(&wakers, &wk);

        if (!w) {
            struct lw_wake_row fresh = {};

            __builtin_memcpy(fresh.waker_comm, c->waker_comm, sizeof(fresh.waker_comm));
            bpf_map_update_elem(&wakers, &wk, &fresh, BPF_NOEXIST);
            w = bpf_map_lookup_elem(&wakers, &wk);
        }
        if (w) {
            w->count++;
            if (handoff_known) {
                w->handoffs++;
                w->handoff_ns += c->handoff_ns;
            }
            if (c->waker_in_wake)
                w->by_futex_wake++;
        } else {
            count(LW_C_DROP_WAKE_PAIRS);
        }
    }

    if (capture_stacks) {
        struct lw_stack_key sk = {
            .pid = key->pid,
            .uaddr = key->uaddr,
            .waker_stack = c->waker_tid ? c->waker_stack : -1,
            .waker_pid = c->waker_tid ? c->waker_pid : 0,
        };
        struct lw_stack_row *sr;
        long id = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);

        if (id < 0)
            count(LW_C_DROP_STACKS);
        else
            count(LW_C_STACKS);
        sk.waiter_stack = (__s32)id;
        sr = bpf_map_lookup_elem(&stack_waits, &sk);
        if (!sr) {
            struct lw_stack_row fresh = {};

            bpf_map_update_elem(&stack_waits, &sk, &fresh, BPF_NOEXIST);
            sr = bpf_map_lookup_elem(&stack_waits, &sk);
        }
        if (sr) {
            /* other waiters with the same stacks update this row too */
            __sync_fetch_and_add(&sr->count, 1);
            __sync_fetch_and_add(&sr->blocked_ns, c->blocked_ns);
        } else {
            count(LW_C_DROP_STACK_ROWS);
        }
    }
}

static __always_inline int on_exit(void *ctx, long ret)
{
    struct lw_task_state *s = current_state();
    struct lw_lock_row *row;
    struct lw_call *c;
    struct lw_lock_key key;
    __u64 dur;
    int cls;

    if (!s || !s->call.active)
        return 0;
    c = &s->call;
    cls = lw_op_class(c->op);
    if (cls == LW_CLASS_WAIT) {
        __u64 now = bpf_ktime_get_ns();

        dur = now - c->ts;
        if (c->off_ts) {
            /* it slept in the call and runs again, but no sched_switch brought it in:
             * the sleep ended by now at the latest */
            count(LW_C_SWITCH_IN_UNSEEN);
            c->blocked_ns += now - c->off_ts;
            c->off_ts = 0;
        }
    } else {
        dur = 0;
    }
    /* who it is: from the state, not a helper call (~15 ns each here) */
    key.pid = s->stats.pid;
    key.tid = s->stats.tid;
    key.uaddr = c->uaddr;
    if (c->op == LW_SYS_FUTEX_WAITV) {
        /* the word that woke it (the index is the return value), else the first */
        __u32 i = ret >= 0 && ret < c->nr ? (__u32)ret : 0;

        key.uaddr = waitv_uaddr(c->arg, i & 127);
    }

    if (s->hot_used && s->hot_uaddr == key.uaddr)
        row = &s->hot;
    else
        row = bpf_map_lookup_elem(&locks, &key);
    if (!row) {
        /* a word new to this thread: user space makes sure it knows the mapping (a
         * thread stack, a shared-memory segment mapped since the last look) */
        row = take_hot_slot(s, key.uaddr);
        if (!row)
            row = row_of(&locks, &key, LW_C_DROP_LOCK_ROWS);
        emit(LW_EV_WORD, key.pid, key.tid, 0, key.uaddr);
        /* where the caller's stack is: names words that lie on a thread's stack */
        s->stats.user_sp = user_stack_pointer();
        if (row)
            row->user_sp = s->stats.user_sp;
    }
    if (row) {
        row->flags |= c->flags;
        row->ops_seen |= 1U << (c->op & 31);
    }

    if (cls == LW_CLASS_WAIT) {
        record_wait(ctx, s, row, &key, ret, dur);
    } else if (cls == LW_CLASS_WAKE) {
        __u64 n = ret > 0 ? (__u64)ret : 0, woken = n, requeued = 0;

        if (c->op == LW_FUTEX_UNLOCK_PI) {
            woken = 0; /* 0 on success; the kernel hands the lock to the top waiter */
        } else if (c->op == LW_FUTEX_REQUEUE || c->op == LW_FUTEX_CMP_REQUEUE ||
                   c->op == LW_FUTEX_CMP_REQUEUE_PI || c->op == LW_SYS_FUTEX_REQUEUE) {
            /* the return counts woken and requeued waiters; up to nr_wake are woken */
            woken = n < c->arg ? n : c->arg;
            requeued = n - woken;
        }
        s->stats.wakes++;
        s->stats.woken += woken;
        if (row) {
            row->wakes++;
            row->woken += woken;
            row->requeued += requeued;
        }
    } else if (row) {
        row->other_calls++;
    }
    c->active = 0;
    c->ts = 0;
    c->off_ts = 0;
    return 0;
}

#if defined(__TARGET_ARCH_x86)
#define SYSCALL_NR(btf, regs) ((btf) ? (long)(regs)->orig_ax : (long)BPF_CORE_READ(regs, orig_ax))
#elif defined(__TARGET_ARCH_arm64)
#define SYSCALL_NR(btf, regs) \
    ((btf) ? (long)(regs)->syscallno : (long)BPF_CORE_READ(regs, syscallno))
#else
#error "lockwait.bpf.c: add this architecture's syscall number register"
#endif

static __always_inline int on_sys_exit(bool btf, void *ctx, struct pt_regs *regs, long ret)
{
    if (!is_futex_syscall(SYSCALL_NR(btf, regs)))
        return 0;
    return on_exit(ctx, ret);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter_btf, struct pt_regs *regs, long id) { return on_sys_enter(true, regs, id); }

SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit_btf, struct pt_regs *regs, long ret)
{
    return on_sys_exit(true, ctx, regs, ret);
}

SEC("raw_tp/sys_enter")
int BPF_PROG(sys_enter_raw, struct pt_regs *regs, long id) { return on_sys_enter(false, regs, id); }

SEC("raw_tp/sys_exit")
int BPF_PROG(sys_exit_raw, struct pt_regs *regs, long ret)
{
    return on_sys_exit(false, ctx, regs, ret);
}

/* ---- scheduler ----------------------------------------------------------------------- */

/* The task died: keep its counters, forget its state. */
static __always_inline void retire(bool btf, struct task_struct *t, __u32 tid,
                                   struct lw_task_state *s)
{
    __u32 key = __sync_fetch_and_add(&exit_seq, 1);

    s->stats.tid = tid;
    s->stats.pid = TASK_READ(btf, t, tgid);
    bpf_probe_read_kernel_str(s->stats.comm, sizeof(s->stats.comm), &t->comm);
    if (bpf_map_update_elem(&exited, &key, &s->stats, BPF_NOEXIST))
        count(LW_C_DROP_EXITED);
    if (!spill_hot_slot(s))
        count(LW_C_DROP_LOCK_ROWS);
    bpf_map_delete_elem(&live, &tid);
    count(LW_C_EXITS);
    if (!btf)
        bpf_map_delete_elem(&task_state_hash, &tid);
    /* task storage goes away with the task itself */
}

static __always_inline int on_switch(bool btf, bool preempt, struct task_struct *prev,
                                     struct task_struct *next, unsigned int prev_state)
{
    __u32 prev_tid = TASK_READ(btf, prev, pid);
    __u32 next_tid = TASK_READ(btf, next, pid);
    struct lw_task_state *ps = state_of(btf, prev, prev_tid);
    struct lw_task_state *ns = state_of(btf, next, next_tid);
    __u64 now = 0;

    if (ps) {
        /* asleep inside a futex call: its blocked time starts */
        if (ps->call.ts && !preempt && prev_state != TASK_RUNNING) {
            now = bpf_ktime_get_ns();
            ps->call.off_ts = now;
            ps->call.sleeps++;
        }
        if (prev_state & TASK_DEAD)
            retire(btf, prev, prev_tid, ps);
    }
    if (ns && ns->call.off_ts) {
        if (!now)
            now = bpf_ktime_get_ns();
        ns->call.blocked_ns += now - ns->call.off_ts;
        ns->call.off_ts = 0;
        if (ns->call.wake_ts) {
            ns->call.handoff_ns = now - ns->call.wake_ts;
            ns->call.wake_ts = 0;
        }
    }
    return 0;
}

/* In the waker's context: who lets a sleeping futex waiter go. */
static __always_inline int on_waking(bool btf, void *ctx, struct task_struct *p)
{
    __u32 tid = TASK_READ(btf, p, pid);
    struct lw_task_state *s = state_of(btf, p, tid), *w;
    struct task_struct *cur;
    struct lw_call *c;
    __u32 cur_tid;

    if (!s || !s->call.off_ts)
        return 0;
    c = &s->call;
    c->wake_ts = bpf_ktime_get_ns();
    c->handoff_ns = 0;
    c->waker_tid = 0;
    c->waker_pid = 0;
    c->waker_in_wake = 0;
    c->waker_stack = -1;
    /* who `current` is, read from its task_struct (typed): one helper call, not three */
    cur = bpf_get_current_task_btf();
    cur_tid = cur->pid;
    /* in_task_context_of() also tells an interrupt taken in user mode, which runs on the
     * interrupted task's stack (an hrtimer expiring while some program computes) */
    if (cur_tid == tid || !in_task_context_of(cur))
        return 0; /* a timeout or a device interrupt, not a task */
    c->waker_tid = cur_tid;
    c->waker_pid = cur->tgid;
    __builtin_memcpy(c->waker_comm, cur->comm, sizeof(c->waker_comm));
    w = state_of(btf, cur, cur_tid);
    if (w && w->call.active && lw_op_class(w->call.op) == LW_CLASS_WAKE)
        c->waker_in_wake = 1;
    if (capture_stacks) {
        long id = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);

        if (id < 0)
            count(LW_C_DROP_STACKS);
        c->waker_stack = (__s32)id;
    }
    return 0;
}

static __always_inline int on_fork(bool btf, struct task_struct *parent, struct task_struct *child)
{
    struct lw_task_state *cs;
    bool no_room;

    cs = state_of_child(btf, parent, child, launcher_tgid, &no_room);
    if (!cs) {
        if (no_room)
            count(LW_C_DROP_STORAGE);
        return 0;
    }
    if (bpf_map_update_elem(&live, &cs->stats.tid, &cs->stats.pid, BPF_ANY))
        count(LW_C_DROP_LIVE);
    count(LW_C_FORKS);
    /* a new process: user space reads its mappings (and attaches uprobes) right away */
    if (cs->stats.tid == cs->stats.pid)
        emit(LW_EV_FORK, cs->stats.pid, cs->stats.tid, TASK_READ(btf, parent, tgid), 0);
    return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(switch_btf, bool preempt, struct task_struct *prev, struct task_struct *next,
             unsigned int prev_state)
{
    return on_switch(true, preempt, prev, next, prev_state);
}

SEC("tp_btf/sched_waking")
int BPF_PROG(waking_btf, struct task_struct *p) { return on_waking(true, ctx, p); }

SEC("tp_btf/sched_process_fork")
int BPF_PROG(fork_btf, struct task_struct *parent, struct task_struct *child)
{
    return on_fork(true, parent, child);
}

SEC("raw_tp/sched_switch")
int BPF_PROG(switch_raw, bool preempt, struct task_struct *prev, struct task_struct *next,
             unsigned int prev_state)
{
    return on_switch(false, preempt, prev, next, prev_state);
}

SEC("raw_tp/sched_waking")
int BPF_PROG(waking_raw, struct task_struct *p) { return on_waking(false, ctx, p); }

SEC("raw_tp/sched_process_fork")
int BPF_PROG(fork_raw, struct task_struct *parent, struct task_struct *child)
{
    return on_fork(false, parent, child);
}

/* The image changed: its mappings must be read again (now, and at its first futex call,
 * when the dynamic loader has mapped the libraries). Runs in the exec'ing task. */
SEC("raw_tp/sched_process_exec")
int BPF_PROG(exec_raw)
{
    struct lw_task_state *s = current_state();
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tgid = id >> 32, tid = (__u32)id;

    if (!s)
        return 0;
    bpf_map_delete_elem(&procs, &tgid);
    s->announced = 0;
    if (s->stats.tid != tid) {
        /* a thread other than the leader exec'd: it took the process's pid as its tid */
        bpf_map_delete_elem(&live, &s->stats.tid);
        s->stats.tid = tid;
        bpf_map_update_elem(&live, &tid, &tgid, BPF_ANY);
    }
    emit(LW_EV_EXEC, tgid, tid, 0, 0);
    return 0;
}

/* ---- kernel lock contention ------------------------------------------------------------ */

SEC("raw_tp/contention_begin")
int BPF_PROG(klock_begin, void *lock, unsigned int flags)
{
    struct lw_task_state *s = current_state();
    struct lw_klock_slot *slot;
    __u64 addr = (__u64)lock;

    if (!s || !in_task_context())
        return 0;
    /* a mutex reports a second begin (optimistic spin, then sleep) before its end: the
     * wait runs from the first */
    if (s->klock[0].lock == addr || s->klock[1].lock == addr)
        return 0;
    if (!s->klock[0].lock) {
        slot = &s->klock[0];
    } else if (!s->klock[1].lock) {
        slot = &s->klock[1];
    } else {
        count(LW_C_DROP_KLOCK);
        return 0;
    }
    slot->lock = addr;
    slot->flags = flags;
    slot->stack = -1;
    if (capture_kstacks) {
        slot->stack = (__s32)bpf_get_stackid(ctx, &stacks, 0);
        if (slot->stack < 0)
            count(LW_C_DROP_STACKS);
    }
    slot->ts = bpf_ktime_get_ns();
    return 0;
}

SEC("raw_tp/contention_end")
int BPF_PROG(klock_end, void *lock, int ret)
{
    struct lw_task_state *s = current_state();
    struct lw_klock_slot *slot;
    struct lw_klock_key key = {};
    struct lw_klock_row *row;
    __u64 addr = (__u64)lock, delta;

    if (!s || !addr)
        return 0;
    if (s->klock[1].lock == addr)
        slot = &s->klock[1];
    else if (s->klock[0].lock == addr)
        slot = &s->klock[0];
    else
        return 0;
    delta = bpf_ktime_get_ns() - slot->ts;
    key.lock = addr;
    key.stack = slot->stack;
    key.flags = slot->flags;
    key.pid = bpf_get_current_pid_tgid() >> 32;
    slot->lock = 0;

    count(LW_C_KLOCK_WAITS);
    hist_add(&hists, LW_H_KLOCK, delta);
    s->stats.klock_waits++;
    s->stats.klock_ns += delta;
    row = bpf_map_lookup_elem(&klocks, &key);
    if (!row) {
        struct lw_klock_row fresh = {};

        bpf_map_update_elem(&klocks, &key, &fresh, BPF_NOEXIST);
        row = bpf_map_lookup_elem(&klocks, &key);
    }
    if (!row) {
        count(LW_C_DROP_KLOCK);
        return 0;
    }
    __sync_fetch_and_add(&row->count, 1);
    __sync_fetch_and_add(&row->total_ns, delta);
    if (delta > row->max_ns)
        row->max_ns = delta; /* racy, but only ever raised */
    return 0;
}

/* ---- uprobes on libc's pthread functions (--uprobes) ------------------------------------ */

static __always_inline struct lw_ulock_row *ulock_row(__u32 kind, __u64 addr)
{
    struct lw_ulock_key key = {
        .pid = bpf_get_current_pid_tgid() >> 32,
        .kind = kind,
        .addr = addr,
    };

    return row_of(&ulocks, &key, LW_C_DROP_ULOCK);
}

/* what an unlock ends: a mutex (pthread_mutex_unlock, pthread_cond_wait) or an rwlock */
static __always_inline __u32 held_class(__u32 kind)
{
    return kind == LW_U_MUTEX ? LW_U_MUTEX : LW_U_RWLOCK_WRITE;
}

static __always_inline void start_hold(__u32 kind, __u64 addr, __u64 now)
{
    struct lw_held_key key = {
        .tid = (__u32)bpf_get_current_pid_tgid(),
        .kind = held_class(kind),
        .addr = addr,
    };
    struct lw_held h = {.ts = now, .kind = kind};

    if (bpf_map_update_elem(&held, &key, &h, BPF_ANY))
        count(LW_C_DROP_ULOCK);
}

static __always_inline void end_hold(__u32 cls, __u64 addr, __u64 now)
{
    struct lw_held_key key = {
        .tid = (__u32)bpf_get_current_pid_tgid(),
        .kind = cls,
        .addr = addr,
    };
    struct lw_held *h = bpf_map_lookup_elem(&held, &key);
    struct lw_ulock_row *row;
    __u64 hold;
    __u32 kind;

    if (!h)
        return; /* acquired before tracing began, or by a call we do not probe */
    hold = now - h->ts;
    kind = h->kind;
    bpf_map_delete_elem(&held, &key);
    hist_add(&hists, LW_H_UHOLD, hold);
    row = ulock_row(kind, addr);
    if (!row)
        return;
    row->holds++;
    row->hold_ns += hold;
    if (hold > row->max_hold_ns)
        row->max_hold_ns = hold;
    hist_record(&row->h_hold, hold);
}

/* pthread_mutex_lock, _trylock, pthread_rwlock_rdlock, _wrlock; the cookie is the kind */
SEC("uprobe")
int BPF_KPROBE(ulock_enter, void *lock)
{
    struct lw_task_state *s = current_state();

    if (!s)
        return 0;
    count(LW_C_ULOCK_HITS);
    s->ulock_addr = (__u64)lock;
    s->ulock_kind = (__u32)bpf_get_attach_cookie(ctx);
    s->ulock_ts = bpf_ktime_get_ns();
    return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(ulock_return, int ret)
{
    struct lw_task_state *s = current_state();
    struct lw_ulock_row *row;
    __u64 now, dur;
    __u32 kind;

    if (!s || !s->ulock_ts)
        return 0;
    count(LW_C_ULOCK_HITS);
    now = bpf_ktime_get_ns();
    dur = now - s->ulock_ts;
    kind = s->ulock_kind;
    s->ulock_ts = 0;
    if (kind == LW_U_MUTEX_TRY) {
        kind = LW_U_MUTEX;
        if (ret != 0) {
            row = ulock_row(kind, s->ulock_addr);
            if (row)
                row->try_busy++;
            return 0;
        }
    }
    if (ret != 0 || kind >= LW_U_KINDS)
        return 0;
    hist_add(&hists, LW_H_UACQUIRE, dur);
    row = ulock_row(kind, s->ulock_addr);
    if (row) {
        row->acquires++;
        row->acquire_ns += dur;
        hist_record(&row->h_acquire, dur);
    }
    start_hold(kind, s->ulock_addr, now);
    return 0;
}

/* pthread_mutex_unlock (cookie LW_U_MUTEX), pthread_rwlock_unlock (LW_U_RWLOCK_WRITE) */
SEC("uprobe")
int BPF_KPROBE(uunlock_enter, void *lock)
{
    struct lw_task_state *s = current_state();

    if (!s)
        return 0;
    count(LW_C_ULOCK_HITS);
    end_hold((__u32)bpf_get_attach_cookie(ctx), (__u64)lock, bpf_ktime_get_ns());
    return 0;
}

/* pthread_cond_wait / pthread_cond_timedwait: the mutex is released inside (through libc's
 * internal unlock, which no uprobe sees) and taken again before the return. */
SEC("uprobe")
int BPF_KPROBE(ucond_enter, void *cond, void *mutex)
{
    struct lw_task_state *s = current_state();
    __u64 now;

    if (!s)
        return 0;
    count(LW_C_ULOCK_HITS);
    now = bpf_ktime_get_ns();
    end_hold(LW_U_MUTEX, (__u64)mutex, now);
    s->ucond_mutex = (__u64)mutex;
    s->ulock_addr = (__u64)cond;
    s->ulock_kind = LW_U_COND;
    s->ulock_ts = now;
    return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(ucond_return, int ret)
{
    struct lw_task_state *s = current_state();
    struct lw_ulock_row *row;
    __u64 now, dur;

    if (!s || !s->ulock_ts || s->ulock_kind != LW_U_COND)
        return 0;
    count(LW_C_ULOCK_HITS);
    now = bpf_ktime_get_ns();
    dur = now - s->ulock_ts;
    s->ulock_ts = 0;
    row = ulock_row(LW_U_COND, s->ulock_addr);
    if (row) {
        row->acquires++;
        row->acquire_ns += dur;
        hist_record(&row->h_acquire, dur);
    }
    /* the mutex is held again, also after a timeout */
    if (s->ucond_mutex)
        start_hold(LW_U_MUTEX, s->ucond_mutex, now);
    s->ucond_mutex = 0;
    return 0;
}
