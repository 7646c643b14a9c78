// SPDX-License-Identifier: GPL-2.0
/*
 * concurrency-exporter, kernel side: ctxswitch-trace's numbers (context switches, switch
 * cost, wakeup-to-run, handoff; DESIGN.md section 5) for every task of the machine, or of
 * one cgroup subtree, aggregated by series: the pair (cgroup, comm).
 *
 * The series table is preallocated and bounded. A task looks its series up once and keeps
 * the slot in its state; it looks again when its cgroup changes (checked at each use: a
 * few loads) or its name does (task_rename, which exec fires too). When the table is full
 * the task's numbers go to slot 0, the overflow series, and that is counted.
 *
 * The histograms and counters are shared by the CPUs and updated with atomic adds
 * (exporter.h says why). tp_btf only: an exporter is for current kernels, and ours have it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "common.bpf.h"
#include "exporter.h"
#include "lockwait.h" /* the futex commands: lw_futex_op, lw_op_class */
#include "process_events.h"

char LICENSE[] SEC("license") = "GPL";

#define TASK_RUNNING 0

/* set by user space between open and load */
const volatile bool measure_switch_cost = false; /* sched_exit_tp is attached */
const volatile __u64 filter_cgroup_id = 0;       /* --cgroup: only this subtree (0: all) */
const volatile __u32 filter_cgroup_level = 0;    /* ... whose depth below the root is this */
const volatile __u32 max_series = EXP_DEFAULT_MAX_SERIES;
const volatile __u32 max_locks = EXP_DEFAULT_MAX_LOCKS;
const volatile bool track_futex = true; /* futex blocked time by word (--top-locks > 0) */
/* this architecture's futex syscall numbers (x86-64 defaults; user space sets them) */
const volatile long nr_futex = 202;
const volatile long nr_futex_waitv = 449;
const volatile long nr_futex_wait = 455;

/* the next free slot (slot 0 is the overflow series) */
__u32 next_slot = 1;
/* the next free lock slot (slot 0 is the `other` lock) */
__u32 next_lock_slot = 1;

/* woken_by_task_on_stack (common.bpf.h) learns it at the first wakeup by a user task */
__u64 pt_regs_offset = 0;

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, EXP_DEFAULT_MAX_SERIES); /* max_series, set before load */
    __type(key, struct exp_series_key);
    __type(value, __u32);
} series SEC(".maps");

/* hists and counters are memory-mapped by user space: a scrape reads them without a
 * system call per entry */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(map_flags, BPF_F_MMAPABLE);
    __uint(max_entries, (EXP_DEFAULT_MAX_SERIES + 1) * EXP_HISTS);
    __type(key, __u32);
    __type(value, struct exp_hist);
} hists SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(map_flags, BPF_F_MMAPABLE);
    __uint(max_entries, EXP_DEFAULT_MAX_SERIES + 1);
    __type(key, __u32);
    __type(value, struct exp_series_counters);
} counters SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(map_flags, BPF_F_MMAPABLE);
    __uint(max_entries, EXP_KLOCK_KINDS);
    __type(key, __u32);
    __type(value, struct exp_hist);
} klock_hists SEC(".maps");

/* futex words: the slot of each, and their blocked-time histograms (exporter.h) */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, EXP_DEFAULT_MAX_LOCKS); /* max_locks, set before load */
    __type(key, struct exp_lock_key);
    __type(value, struct exp_lock_value);
} locks SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(map_flags, BPF_F_MMAPABLE);
    __uint(max_entries, EXP_DEFAULT_MAX_LOCKS + 1);
    __type(key, __u32);
    __type(value, struct exp_hist);
} lock_hists SEC(".maps");

/* a process whose mappings user space should read now, to name a new futex word in it
 * (struct process_event of process_events.h, read by tk::MapsWatcher) */
struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 64 * 1024);
} events SEC(".maps");

struct exp_totals {
    __u64 c[EXP_COUNTERS];
};

TK_COUNTERS(struct exp_totals, EXP_COUNTERS)

struct {
    __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, int);
    __type(value, struct exp_task_state);
} task_state SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct exp_cpu_state);
} cpu_state SEC(".maps");

static __always_inline struct cgroup *dfl_cgroup_of(struct task_struct *t)
{
    return t->cgroups->dfl_cgrp;
}

/* Is cgroup CG in the --cgroup subtree? */
static __always_inline bool in_filter(struct cgroup *cg)
{
    __u32 level = filter_cgroup_level;
    struct cgroup *ancestor = NULL;
    __u64 at;

    if (!filter_cgroup_id)
        return true;
    if (cg->level < (int)level)
        return false;
    /* cg->ancestors[level], read as memory: the verifier takes no variable index into a
     * BTF object's flexible array */
    at = (__u64)cg + bpf_core_field_offset(struct cgroup, ancestors) +
         (__u64)level * sizeof(ancestor);
    if (bpf_probe_read_kernel(&ancestor, sizeof(ancestor), (void *)at) || !ancestor)
        return false;
    return BPF_CORE_READ(ancestor, kn, id) == filter_cgroup_id;
}

/* The slot of a new series KEY: found, added, or the overflow slot when the table is full.
 * (A global function: verified once, apart from its callers.) */
__noinline __u32 slot_of(struct exp_series_key *key)
{
    __u32 *found, slot;

    if (!key) /* the verifier's rule for a global function's pointer */
        return EXP_SLOT_OVERFLOW;
    found = bpf_map_lookup_elem(&series, key);
    if (found)
        return *found;
    if (next_slot > max_series) {
        count(EXP_C_FOLDED);
        return EXP_SLOT_OVERFLOW;
    }
    slot = __sync_fetch_and_add(&next_slot, 1);
    if (slot > max_series) {
        count(EXP_C_FOLDED);
        return EXP_SLOT_OVERFLOW;
    }
    if (bpf_map_update_elem(&series, key, &slot, BPF_NOEXIST) == 0)
        return slot;
    /* another CPU added the same pair first: its slot, and ours stays unused */
    count(EXP_C_SLOT_RACES);
    found = bpf_map_lookup_elem(&series, key);
    if (found)
        return *found;
    count(EXP_C_FOLDED);
    return EXP_SLOT_OVERFLOW;
}

/* T's state (made if missing) with its slot up to date; NULL when it cannot be kept. A new
 * state is zeroed: its cgroup_id 0 (no cgroup has it) makes it look its slot up. */
static __always_inline struct exp_task_state *state_with_slot(struct task_struct *t)
{
    struct exp_task_state *s =
        bpf_task_storage_get(&task_state, t, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
    struct exp_series_key key = {};
    struct cgroup *cg;
    __u64 cgid;

    if (!s) {
        count(EXP_C_DROP_STORAGE);
        return NULL;
    }
    cg = dfl_cgroup_of(t);
    cgid = cg->kn->id;
    if (s->slot != EXP_SLOT_UNRESOLVED && s->cgroup_id == cgid)
        return s;
    s->cgroup_id = cgid;
    if (!in_filter(cg)) {
        s->slot = EXP_SLOT_IGNORED;
        return s;
    }
    key.cgroup_id = cgid;
    bpf_probe_read_kernel_str(key.comm, sizeof(key.comm), t->comm);
    s->slot = slot_of(&key);
    return s;
}

static __always_inline void series_count(__u32 slot, __u32 which)
{
    struct exp_series_counters *c = bpf_map_lookup_elem(&counters, &slot);

    if (c && which < EXP_SERIES_COUNTERS)
        __sync_fetch_and_add(&c->c[which], 1);
}

static __always_inline void exp_hist_add(struct exp_hist *h, __u64 v)
{
    __u32 b;

    if (!h)
        return;
    b = hist_bucket(v);
    barrier_var(b);
    if (b >= HIST_BUCKETS)
        b = HIST_BUCKETS - 1;
    __sync_fetch_and_add(&h->buckets[b], 1);
    __sync_fetch_and_add(&h->sum, v);
}

static __always_inline void series_hist(__u32 slot, __u32 id, __u64 v)
{
    __u32 idx = slot * EXP_HISTS + id;

    exp_hist_add(bpf_map_lookup_elem(&hists, &idx), v);
}

static __always_inline bool counted(const struct exp_task_state *s)
{
    return s->slot != EXP_SLOT_IGNORED && s->slot != EXP_SLOT_UNRESOLVED;
}

static __always_inline __u32 switch_kind(struct task_struct *prev, struct task_struct *next)
{
    struct mm_struct *prev_mm = prev->mm, *next_mm = next->mm;

    if (!prev_mm || !next_mm)
        return EXP_KIND_KERNEL;
    return prev_mm == next_mm ? EXP_KIND_THREAD : EXP_KIND_PROCESS;
}

/* ---- futex blocked time, by word ------------------------------------------------------ */

/*
 * A futex wait's blocked time is its time asleep (lockwait-trace's definition), and only a
 * wait that sleeps has any: so the exporter looks at futex waits only where they sleep, in
 * the sched_switch it runs anyway. A task switched out asleep has its system call's number
 * and arguments in its user registers (task_pt_regs: saved at the call's entry, still there
 * while it runs in the kernel); if that call is a futex wait, the sleep is one on its word,
 * from this switch out to the switch back in. A futex call that does not sleep (every wake,
 * every uncontended or already-changed wait) costs nothing; there are no syscall probes.
 *
 * What that means (docs/exporter.md): the histogram holds one observation per sleep, not
 * per call (a call woken spuriously and asleep again, or a FUTEX_LOCK_PI that sleeps more
 * than once, counts each sleep); futex_waitv is attributed to the first word of its array
 * (the call's return value, the word that woke it, is not known at the switch); a sleep
 * inside a futex call that is not the wait itself (a page fault on the word) counts too,
 * as lockwait-trace counts it.
 */

/* Whether a futex(2) op word's command waits: lockwait-trace's decoding (lockwait.h), one
 * table of the futex commands for both tools */
static __always_inline bool futex_op_waits(int op)
{
    return lw_op_class(lw_futex_op(op)) == LW_CLASS_WAIT;
}

/* the word of entry I of a futex_waitv array (read in the task's own address space) */
static __always_inline __u64 waitv_word(__u64 array, __u32 i)
{
    struct futex_waitv w = {};

    if (bpf_probe_read_user(&w, sizeof(w), (void *)(array + (__u64)i * sizeof(w))))
        return 0;
    return w.uaddr;
}

/* User space should read the current process's mappings: a word new to the table is in it. */
static __always_inline void report_word(__u64 uaddr)
{
    struct process_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    __u64 id = bpf_get_current_pid_tgid();

    if (!e) {
        count(EXP_C_DROP_EVENTS);
        return;
    }
    e->type = PE_ADDRESS;
    e->pid = id >> 32;
    e->tid = (__u32)id;
    e->ppid = 0;
    e->_pad = 0;
    e->addr = uaddr;
    bpf_ringbuf_submit(e, 0);
}

/* The slot of the word KEY of the current process: found, added (with the process's
 * command, reported to user space), or the `other` slot when the table is full. */
__noinline __u32 lock_slot_of(struct exp_lock_key *key)
{
    struct exp_lock_value *found, fresh = {};
    struct task_struct *leader;

    if (!key)
        return EXP_LOCK_SLOT_OTHER;
    found = bpf_map_lookup_elem(&locks, key);
    if (found)
        return found->slot;
    if (next_lock_slot > max_locks) {
        count(EXP_C_LOCKS_FOLDED);
        return EXP_LOCK_SLOT_OTHER;
    }
    fresh.slot = __sync_fetch_and_add(&next_lock_slot, 1);
    if (fresh.slot > max_locks) {
        count(EXP_C_LOCKS_FOLDED);
        return EXP_LOCK_SLOT_OTHER;
    }
    leader = BPF_CORE_READ(bpf_get_current_task_btf(), group_leader);
    bpf_probe_read_kernel_str(fresh.comm, sizeof(fresh.comm), &leader->comm);
    if (bpf_map_update_elem(&locks, key, &fresh, BPF_NOEXIST) == 0) {
        report_word(key->uaddr);
        return fresh.slot;
    }
    count(EXP_C_LOCK_RACES);
    found = bpf_map_lookup_elem(&locks, key);
    if (found)
        return found->slot;
    count(EXP_C_LOCKS_FOLDED);
    return EXP_LOCK_SLOT_OTHER;
}

/* The futex word PREV is about to sleep on, from its user registers; 0 when its system call
 * is no futex wait (or it is in none: a kernel thread, a 32-bit task's other table). */
static __always_inline __u64 futex_wait_word(struct task_struct *prev)
{
    struct pt_regs *regs;
    long nr;

    if (!prev->mm)
        return 0;
    regs = (struct pt_regs *)bpf_task_pt_regs(prev);
    if (!regs || !NATIVE_SYSCALL(1, regs))
        return 0;
    nr = SYSCALL_NR(1, regs);
    if (nr == nr_futex) /* futex(uaddr, op, val, timeout, uaddr2, val3) */
        return futex_op_waits((int)PT_REGS_PARM2_SYSCALL(regs)) ? PT_REGS_PARM1_SYSCALL(regs) : 0;
    if (nr == nr_futex_wait) /* futex_wait(uaddr, val, mask, flags, timeout, clockid) */
        return PT_REGS_PARM1_SYSCALL(regs);
    if (nr == nr_futex_waitv) /* futex_waitv(waiters, nr_futexes, flags, timeout, clockid) */
        return waitv_word(PT_REGS_PARM1_SYSCALL(regs), 0);
    return 0;
}

/* PREV (current: sched_switch runs before the switch) goes to sleep; in a futex wait, its
 * word's slot is found (or added) now, and its blocked time starts. */
static __always_inline void futex_sleep_begins(struct task_struct *prev, struct exp_task_state *s,
                                               __u64 now)
{
    struct exp_lock_key key = {};
    __u64 uaddr = futex_wait_word(prev);

    if (!uaddr)
        return;
    key.cgroup_id = s->cgroup_id;
    key.tgid = prev->tgid;
    key.uaddr = uaddr;
    s->futex_slot = lock_slot_of(&key);
    s->futex_off_ts = now;
}

/* A task asleep in a futex wait runs again: one blocked sleep on its word. */
static __always_inline void futex_sleep_ends(struct exp_task_state *s, __u64 now)
{
    __u32 slot = s->futex_slot;

    exp_hist_add(bpf_map_lookup_elem(&lock_hists, &slot), now - s->futex_off_ts);
    s->futex_off_ts = 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(exp_switch, bool preempt, struct task_struct *prev, struct task_struct *next,
             unsigned int prev_state)
{
    __u32 zero = 0, kind;
    struct exp_cpu_state *c = bpf_map_lookup_elem(&cpu_state, &zero);
    struct exp_task_state *ps = NULL, *ns = NULL;
    bool voluntary;
    __u64 now;

    if (!c)
        return 0;
    now = bpf_ktime_get_ns();
    kind = switch_kind(prev, next);
    if (prev->pid) { /* not idle */
        ps = state_with_slot(prev);
        if (ps && counted(ps)) {
            /* the kernel's own rule for nvcsw vs nivcsw */
            voluntary = !preempt && prev_state != TASK_RUNNING;
            series_count(ps->slot, voluntary ? EXP_SC_VOLUNTARY : EXP_SC_INVOLUNTARY);
            if (voluntary && track_futex)
                futex_sleep_begins(prev, ps, now);
            if (voluntary && ps->poll_active) { /* asleep in epoll_wait, poll, select */
                ps->poll_off_ts = now;
                ps->poll_slept = 1;
                ps->poll_woken_ts = 0; /* a wakeup before that one did not end the call */
            }
            if (!voluntary) {
                ps->runnable_ts = now; /* still runnable: waits for a CPU from now */
                ps->waker_pid = 0;
            }
        }
    }
    c->cur_tid = next->pid;
    c->cur_pid = next->mm ? next->tgid : 0;
    c->cur_stack = (__u64)next->stack;
    if (c->ts)
        count(EXP_C_COST_UNMATCHED); /* the previous one never saw its exit */
    c->ts = 0;
    if (!next->pid)
        return 0;
    ns = state_with_slot(next);
    if (ns && ns->futex_off_ts)
        futex_sleep_ends(ns, now);
    if (!ns || !counted(ns))
        return 0;
    if (ns->poll_off_ts) {
        ns->poll_blocked_ns += now - ns->poll_off_ts;
        ns->poll_off_ts = 0;
    }
    if (ns->runnable_ts) {
        __u64 delta = now - ns->runnable_ts;

        series_hist(ns->slot, EXP_H_WAKEUP_TO_RUN, delta);
        if (ns->waker_pid)
            series_hist(ns->slot,
                        ns->waker_pid == next->tgid ? EXP_H_HANDOFF_SAME : EXP_H_HANDOFF_CROSS,
                        delta);
        ns->runnable_ts = 0;
        ns->waker_pid = 0;
    }
    if (measure_switch_cost) {
        c->ts = now;
        c->slot = ns->slot;
        c->kind = kind;
    }
    return 0;
}

/* End of __schedule(), in the task just switched in (as in ctxswitch.bpf.c: a switch in
 * flight is this very __schedule()'s). */
SEC("tp_btf/sched_exit_tp")
int BPF_PROG(exp_sched_exit, bool is_switch)
{
    __u32 zero = 0;
    struct exp_cpu_state *c = bpf_map_lookup_elem(&cpu_state, &zero);
    __u64 delta;

    if (!c || !c->ts || !is_switch)
        return 0;
    delta = bpf_ktime_get_ns() - c->ts;
    c->ts = 0;
    if (c->kind < EXP_KINDS)
        series_hist(c->slot, EXP_H_SWITCH_COST + c->kind, delta);
    return 0;
}

SEC("tp_btf/sched_waking")
int BPF_PROG(exp_waking, struct task_struct *p)
{
    __u32 zero = 0;
    struct exp_task_state *s = bpf_task_storage_get(&task_state, p, 0, 0);
    struct exp_cpu_state *c;

    /* a task with no state yet has never been switched out under the exporter: it was
     * not asleep since the exporter started, so this wakeup's start is not known to
     * matter; its state comes at its next switch */
    if (!s || !counted(s))
        return 0;
    s->runnable_ts = bpf_ktime_get_ns();
    s->waker_pid = 0;
    if (s->poll_active)
        s->poll_woken_ts = s->runnable_ts; /* ready-to-return starts */
    /* a handoff: woken by the user task that runs on this CPU, in task context */
    c = bpf_map_lookup_elem(&cpu_state, &zero);
    if (!c || !c->cur_pid || c->cur_tid == p->pid || !p->mm)
        return 0;
    if (woken_by_task_on_stack(c->cur_stack, &pt_regs_offset))
        s->waker_pid = c->cur_pid;
    return 0;
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(exp_wakeup_new, struct task_struct *p)
{
    struct exp_task_state *s = state_with_slot(p);

    if (s && counted(s)) {
        s->runnable_ts = bpf_ktime_get_ns(); /* its first run is a wakeup-to-run too */
        s->waker_pid = 0;
    }
    return 0;
}

SEC("tp_btf/sched_migrate_task")
int BPF_PROG(exp_migrate, struct task_struct *p, int dest_cpu)
{
    struct exp_task_state *s = bpf_task_storage_get(&task_state, p, 0, 0);

    if (s && counted(s))
        series_count(s->slot, EXP_SC_MIGRATIONS);
    return 0;
}

/* The task's name changes (prctl, pthread_setname_np, exec) after this: look again. */
SEC("tp_btf/task_rename")
int BPF_PROG(exp_rename, struct task_struct *t, const char *comm)
{
    struct exp_task_state *s = bpf_task_storage_get(&task_state, t, 0, 0);

    if (s)
        s->slot = EXP_SLOT_UNRESOLVED;
    return 0;
}

/* ---- kernel lock contention -------------------------------------------------------------- */

static __always_inline __u32 klock_kind(__u32 flags)
{
    bool read = flags & EXP_LCB_F_READ, write = flags & EXP_LCB_F_WRITE;

    if (flags & EXP_LCB_F_MUTEX)
        return EXP_KL_MUTEX;
    if (flags & EXP_LCB_F_RT)
        return EXP_KL_RT_MUTEX;
    if (flags & EXP_LCB_F_PERCPU)
        return write ? EXP_KL_PERCPU_RWSEM_WRITE : EXP_KL_PERCPU_RWSEM_READ;
    if (flags & EXP_LCB_F_SPIN)
        return read ? EXP_KL_RWLOCK_READ : write ? EXP_KL_RWLOCK_WRITE : EXP_KL_SPINLOCK;
    if (read)
        return EXP_KL_RWSEM_READ;
    if (write)
        return EXP_KL_RWSEM_WRITE;
    return EXP_KL_OTHER;
}

SEC("tp_btf/contention_begin")
int BPF_PROG(exp_klock_begin, void *lock, unsigned int flags)
{
    struct task_struct *cur = bpf_get_current_task_btf();
    struct exp_task_state *s = bpf_task_storage_get(&task_state, cur, 0, 0);
    __u64 addr = (__u64)lock;

    /* a task seen switching already (one that never switched contends rarely); in task
     * context: in an interrupt, current is only whoever was interrupted */
    if (!s || !counted(s) || !in_task_context_of(cur))
        return 0;
    if (s->klock == addr)
        return 0; /* a mutex's second begin (optimistic spin, then sleep): one wait */
    if (s->klock) {
        count(EXP_C_DROP_KLOCK);
        return 0;
    }
    s->klock = addr;
    s->klock_kind = klock_kind(flags);
    s->klock_ts = bpf_ktime_get_ns();
    return 0;
}

SEC("tp_btf/contention_end")
int BPF_PROG(exp_klock_end, void *lock, int ret)
{
    struct exp_task_state *s = bpf_task_storage_get(&task_state, bpf_get_current_task_btf(), 0, 0);
    __u32 kind;

    if (!s || !s->klock || s->klock != (__u64)lock)
        return 0;
    kind = s->klock_kind;
    s->klock = 0;
    if (kind < EXP_KLOCK_KINDS)
        exp_hist_add(bpf_map_lookup_elem(&klock_hists, &kind), bpf_ktime_get_ns() - s->klock_ts);
    return 0;
}

/* ---- epoll_wait, poll, select: blocked time, ready-to-return, events per call ----------- */

/*
 * The same definitions as epoll-trace's (DESIGN.md section 5): blocked time is the call's
 * time asleep; ready-to-return the time from the waiter's wakeup inside the call to the
 * call's return, for a call that returned events; events per call what a call that did not
 * fail returned. By series, from the syscall tracepoints of the seven waiting calls.
 */

/* The state of the current task, with its series looked up (a task that just exec'd has
 * its name, and so its series, to look up again), if it is counted. */
static __always_inline struct exp_task_state *counted_current(void)
{
    struct exp_task_state *s = state_with_slot(bpf_get_current_task_btf());

    return s && counted(s) ? s : NULL;
}

static __always_inline void poll_begins(__u32 family)
{
    struct exp_task_state *s = counted_current();

    if (!s)
        return;
    s->poll_active = family + 1;
    s->poll_slept = 0;
    s->poll_off_ts = 0;
    s->poll_blocked_ns = 0;
    s->poll_woken_ts = 0;
}

static __always_inline int poll_ends(long ret)
{
    struct exp_task_state *s = bpf_task_storage_get(&task_state, bpf_get_current_task_btf(), 0, 0);
    __u32 family;
    __u64 now;

    if (!s || !s->poll_active || !counted(s))
        return 0;
    family = s->poll_active - 1;
    s->poll_active = 0;
    now = bpf_ktime_get_ns();
    if (s->poll_off_ts) { /* runs again, but no sched_switch brought it in */
        s->poll_blocked_ns += now - s->poll_off_ts;
        s->poll_off_ts = 0;
    }
    if (family >= EXP_POLL_FAMILIES)
        return 0;
    if (ret < 0) {
        series_count(s->slot, EXP_SC_POLL_ERRORS + family);
        return 0;
    }
    series_count(s->slot, EXP_SC_POLL_CALLS + family);
    series_hist(s->slot, EXP_H_POLL_EVENTS + family, (__u64)ret);
    if (s->poll_slept)
        series_hist(s->slot, EXP_H_POLL_BLOCKED + family, s->poll_blocked_ns);
    if (ret > 0 && s->poll_woken_ts)
        series_hist(s->slot, EXP_H_POLL_READY_TO_RETURN + family, now - s->poll_woken_ts);
    return 0;
}

#define EXP_POLL_CALL(name, family)                               \
    SEC("tracepoint/syscalls/sys_enter_" #name)                   \
    int exp_##name##_enter(struct trace_event_raw_sys_enter *ctx) \
    {                                                             \
        poll_begins(family);                                      \
        return 0;                                                 \
    }                                                             \
    SEC("tracepoint/syscalls/sys_exit_" #name)                    \
    int exp_##name##_exit(struct trace_event_raw_sys_exit *ctx) { return poll_ends(ctx->ret); }

EXP_POLL_CALL(epoll_wait, EXP_POLL_EPOLL)
EXP_POLL_CALL(epoll_pwait, EXP_POLL_EPOLL)
EXP_POLL_CALL(epoll_pwait2, EXP_POLL_EPOLL)
EXP_POLL_CALL(poll, EXP_POLL_POLL)
EXP_POLL_CALL(ppoll, EXP_POLL_POLL)
EXP_POLL_CALL(select, EXP_POLL_SELECT)
EXP_POLL_CALL(pselect6, EXP_POLL_SELECT)
