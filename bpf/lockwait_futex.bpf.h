/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lockwait-trace, kernel side: the futex syscalls, from sys_enter to sys_exit.
 * Part of lockwait.bpf.c, which includes it once, after its maps and helpers.
 */
#ifndef LOCKWAIT_FUTEX_BPF_H
#define LOCKWAIT_FUTEX_BPF_H

static __always_inline bool is_futex_syscall(long id)
{
    return id == nr_futex || id == nr_futex_waitv || id == nr_futex_wake || id == nr_futex_wait ||
           id == nr_futex_requeue;
}

/* Who holds the futex word at UADDR now: the tid in the word itself for a PI (or robust)
 * mutex; otherwise the int 8 bytes on, glibc's pthread_mutex_t.__owner (for a word that is
 * no pthread mutex it is anything: user space keeps only tids of traced threads). */
static __always_inline __u32 word_owner(__u64 uaddr, __u32 flags)
{
    __u32 v = 0;

    if (flags & LW_LF_PI) {
        if (bpf_probe_read_user(&v, sizeof(v), (void *)uaddr))
            return 0;
        return v & LW_FUTEX_TID_MASK;
    }
    if (bpf_probe_read_user(&v, sizeof(v), (void *)(uaddr + 8)))
        return 0;
    return v;
}

/* Counts a blocked wait against the owner its call saw. */
static __always_inline void note_owner(struct lw_lock_row *row, __u32 owner)
{
    int i;

    if (!owner)
        return;
    for (i = 0; i < LW_OWNERS; i++) {
        if (row->owner_tid[i] == owner || !row->owner_tid[i]) {
            row->owner_tid[i] = owner;
            row->owner_blocked[i]++;
            return;
        }
    }
    row->owner_other++;
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
    c->owner = cls == LW_CLASS_WAIT ? word_owner(uaddr, flags) : 0;
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

    if (!is_futex_syscall(id) || stop_recording || !NATIVE_SYSCALL(btf, regs))
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

/*
 * The parts of a wait's accounting that are global functions: the verifier checks each once,
 * alone, instead of once for every combination of the independent branches around them
 * (inline, the sys_exit program took it 227,000 instructions and 0.2 s to load).
 */

/* The switch-in after the wake was seen (it clears wake_ts): the handoff is measured. */
static __always_inline bool handoff_measured(const struct lw_call *c) { return c->wake_ts == 0; }

/* The wait in its lock's row (NULL: the row could not be made, counted already). */
__noinline int lw_row_add_wait(struct lw_lock_row *row, const struct lw_call *c, __u64 dur,
                               __u32 out)
{
    bool blocked, handoff_known;

    if (!row || !c)
        return 0;
    blocked = c->sleeps > 0;
    handoff_known = handoff_measured(c);
    row->waits++;
    if (out < LW_OUTCOMES)
        row->outcome[out]++;
    row->wait_ns += dur;
    hist_record(&row->h_wait, dur);
    if (blocked) {
        row->blocked++;
        row->blocked_ns += c->blocked_ns;
        note_owner(row, c->owner);
        hist_record(&row->h_blocked, c->blocked_ns);
        if (c->waker_tid && handoff_known) {
            row->handoffs++;
            row->handoff_ns += c->handoff_ns;
            hist_record(&row->h_handoff, c->handoff_ns);
        }
    }
    return 0;
}

/* The first wait of a thread on its word: where it was called from, with the stack to
 * unwind in user space, and the value it expected. */
__noinline int lw_note_wait_site(struct lw_lock_row *row, __u64 val)
{
    struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());

    if (!row || !regs)
        return 0;
    row->wait_ip = regs->ip;
    row->wait_sp = regs->sp;
    row->wait_bp = regs->bp;
    row->wait_val = val;
    if (bpf_probe_read_user(row->wait_stack, sizeof(row->wait_stack), (void *)regs->sp))
        __builtin_memset(row->wait_stack, 0, sizeof(row->wait_stack));
    return 0;
}

/* Who woke the waiter of KEY, from the call's record of its wakeup. */
__noinline int lw_note_waker(const struct lw_lock_key *key, const struct lw_call *c)
{
    struct lw_wake_key wk = {};
    struct lw_wake_row *w;

    if (!key || !c)
        return 0;
    wk.pid = key->pid;
    wk.waiter_tid = key->tid;
    wk.uaddr = key->uaddr;
    wk.waker_tid = c->waker_tid;
    wk.waker_pid = c->waker_pid;
    w = bpf_map_lookup_elem(&wakers, &wk);
    if (!w) {
        struct lw_wake_row fresh = {};

        __builtin_memcpy(fresh.waker_comm, c->waker_comm, sizeof(fresh.waker_comm));
        bpf_map_update_elem(&wakers, &wk, &fresh, BPF_NOEXIST);
        w = bpf_map_lookup_elem(&wakers, &wk);
    }
    if (!w) {
        count(LW_C_DROP_WAKE_PAIRS);
        return 0;
    }
    w->count++;
    if (handoff_measured(c)) {
        w->handoffs++;
        w->handoff_ns += c->handoff_ns;
    }
    if (c->waker_in_wake)
        w->by_futex_wake++;
    return 0;
}

/* --perfetto: the blocked wait as a span on the waiter's track, with who woke it and when
 * (the flow arrow from the waker's wakeup to the wait). */
__noinline int lw_timeline_wait(const struct lw_lock_key *key, const struct lw_call *c, __u64 dur)
{
    struct tl_record *r;

    if (!key || !c)
        return 0;
    r = timeline_reserve(TL_LOCK_WAIT, c->ts);
    if (!r)
        return 0;
    timeline_task(true, r, bpf_get_current_task_btf(), false);
    r->other_prio = 0;
    r->span.end = c->ts + dur;
    r->span.addr = key->uaddr;
    r->span.value = c->blocked_ns;
    if (c->waker_tid) {
        r->other_pid = c->waker_tid;
        r->other_tgid = c->waker_pid;
        r->span.at = c->woken_at;
        __builtin_memcpy(r->other_comm, c->waker_comm, sizeof(r->other_comm));
    } else {
        r->other_pid = r->other_tgid = 0;
        __builtin_memset(r->other_comm, 0, sizeof(r->other_comm));
    }
    bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
    return 0;
}

/* The blocked wait under its pair of stacks; other waiters with the same stacks add here too. */
__noinline int lw_add_stack_wait(const struct lw_stack_key *sk, __u64 blocked_ns)
{
    struct lw_stack_row fresh = {}, *sr;

    if (!sk)
        return 0;
    sr = lookup_or_init(&stack_waits, sk, &fresh);
    if (!sr) {
        count(LW_C_DROP_STACK_ROWS);
        return 0;
    }
    __sync_fetch_and_add(&sr->count, 1);
    __sync_fetch_and_add(&sr->blocked_ns, blocked_ns);
    return 0;
}

static __always_inline void record_wait(void *ctx, struct lw_task_state *s, struct lw_lock_row *row,
                                        struct lw_lock_key *key, long ret, __u64 dur)
{
    struct lw_call *c = &s->call;
    bool blocked = c->sleeps > 0;
    bool handoff_known = handoff_measured(c);
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
    lw_row_add_wait(row, c, dur, out);
    if (!blocked)
        return;
    if (timeline)
        lw_timeline_wait(key, c, dur);
    if (c->waker_tid)
        lw_note_waker(key, c);

    if (capture_stacks) {
        struct lw_stack_key sk = {
            .pid = key->pid,
            .uaddr = key->uaddr,
            .waker_stack = c->waker_tid ? c->waker_stack : -1,
            .waker_pid = c->waker_tid ? c->waker_pid : 0,
        };
        long id = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);

        if (id < 0)
            count(LW_C_DROP_STACKS);
        else
            count(LW_C_STACKS);
        sk.waiter_stack = (__s32)id;
        lw_add_stack_wait(&sk, c->blocked_ns);
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
        emit(PE_ADDRESS, key.pid, key.tid, 0, key.uaddr);
        /* where the caller's stack is: names words that lie on a thread's stack */
        s->stats.user_sp = user_stack_pointer();
        if (row)
            row->user_sp = s->stats.user_sp;
    }
    if (row) {
        row->flags |= c->flags;
        row->ops_seen |= 1U << (c->op & 31);
        if (cls == LW_CLASS_WAIT && !row->wait_ip)
            lw_note_wait_site(row, c->op == LW_SYS_FUTEX_WAITV ? 0 : c->arg);
        else if (cls == LW_CLASS_WAKE && !row->wake_ip)
            row->wake_ip = user_ip();
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

static __always_inline int on_sys_exit(bool btf, void *ctx, struct pt_regs *regs, long ret)
{
    if (!is_futex_syscall(SYSCALL_NR(btf, regs)) || !NATIVE_SYSCALL(btf, regs))
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

#endif /* LOCKWAIT_FUTEX_BPF_H */
