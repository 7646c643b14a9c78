/* SPDX-License-Identifier: GPL-2.0 */
/*
 * epoll-trace, kernel side: a waiting call (epoll_wait, poll, select and their
 * variants) from its entry to its return.
 * Part of epoll.bpf.c, which includes it once, after its maps and helpers.
 */
#ifndef EPOLL_CALLS_BPF_H
#define EPOLL_CALLS_BPF_H

static __always_inline struct ep_call *call_enter(__u8 sys, __u8 family, __s32 key)
{
    struct ep_task_state *s = traced_state();
    struct ep_call *c;
    __u64 now;

    if (!s)
        return NULL;
    count(EP_C_CALLS + sys);
    now = bpf_ktime_get_ns();
    c = &s->call;
    __builtin_memset(c, 0, sizeof(*c));
    c->busy_ns = s->last_exit_ts ? now - s->last_exit_ts : 0;
    c->enter_ts = now;
    c->sys = sys;
    c->family = family;
    c->key = key;
    c->active = 1;
    return c;
}

static __always_inline int epoll_wait_enter(const __u64 *args, __u8 sys)
{
    struct ep_call *c = call_enter(sys, EP_EPOLL, (__s32)args[0]);

    if (!c)
        return 0;
    c->buf = args[1];
    c->size = (__u32)(int)args[2];
    if (sys == EP_SYS_EPOLL_PWAIT2)
        c->timeout_ns = timeout_from_user((const void *)args[3], false);
    else
        c->timeout_ns = timeout_from_ms((long)args[3]);
    return 0;
}

static __always_inline int poll_enter(const __u64 *args, __u8 sys)
{
    struct ep_call *c = call_enter(sys, EP_POLL, EP_KEY_POLL);

    if (!c)
        return 0;
    c->buf = args[0];
    c->size = (__u32)args[1];
    c->fds = c->size;
    if (sys == EP_SYS_PPOLL)
        c->timeout_ns = timeout_from_user((const void *)args[2], false);
    else
        c->timeout_ns = timeout_from_ms((long)args[2]);
    return 0;
}

static __always_inline int select_enter(const __u64 *args, __u8 sys)
{
    struct ep_call *c = call_enter(sys, EP_SELECT, EP_KEY_SELECT);
    struct ep_scratch *sc;
    __u32 words, i, n = 0;

    if (!c)
        return 0;
    c->size = (__u32)(int)args[0];
    c->buf = args[1];
    c->buf2 = args[2];
    c->buf3 = args[3];
    c->timeout_ns = timeout_from_user((const void *)args[4], sys == EP_SYS_SELECT);
    /* fds watched: the bits set in the three sets (the kernel polls each of them) */
    sc = scratch_buf();
    if (!sc)
        return 0;
    words = fdset_words(c->size);
    read_fdset(sc, 0, c->buf, words);
    read_fdset(sc, 1, c->buf2, words);
    read_fdset(sc, 2, c->buf3, words);
    for (i = 0; i < EP_FDSET_WORDS; i++)
        n += popcount64(sc->sets[0][i] | sc->sets[1][i] | sc->sets[2][i]);
    c->fds = n;
    return 0;
}

/* ---- the return ----------------------------------------------------------------------------- */

static __always_inline void note_waker(struct ep_call *c, __u32 pid)
{
    struct ep_waker_key k = {
        .pid = pid, .key = c->key, .tid = c->waker_tid, .interrupt = c->waker_interrupt};
    struct ep_waker_info *w = bpf_map_lookup_elem(&wakers, &k);

    if (!w) {
        struct ep_waker_info fresh = {.pid = c->waker_pid};

        __builtin_memcpy(fresh.comm, c->waker_comm, sizeof(fresh.comm));
        bpf_map_update_elem(&wakers, &k, &fresh, BPF_NOEXIST);
        w = bpf_map_lookup_elem(&wakers, &k);
        if (!w) {
            count(EP_C_DROP_WAKERS);
            return;
        }
    }
    __sync_fetch_and_add(&w->count, 1);
}

/* What one returning call contributes, computed once and handed to the accounting below. */
struct ep_exit_facts {
    __u64 in_call, blocked, cpu, events, busy, r2r, wait, timeout;
    __s64 ret;
    __u32 size, fds, spurious_sleeps, sys;
    __u32 family, slept, woken, herd_wakeups, herd_wasted, _pad;
};

/*
 * The loop's counters and histograms. A global function: the verifier checks it once, with
 * nothing known about the facts, instead of once per path through every caller (the many
 * independent branches here would otherwise multiply its states).
 */
__noinline int ep_account_loop(struct ep_loop *lp, const struct ep_exit_facts *x)
{
    if (!lp || !x)
        return 0;
    lp->calls++;
    if (x->sys < EP_SYSCALLS)
        lp->by_syscall[x->sys]++;
    lp->events += x->events;
    if (x->ret < 0) {
        lp->errors++;
        if (x->ret == -EINTR)
            lp->interrupted++;
    }
    if (x->family == EP_EPOLL) {
        if (x->ret > 0 && (__u64)x->ret == x->size)
            lp->full++;
        if (x->size > lp->maxevents)
            lp->maxevents = x->size;
    }
    if (x->timeout == 0) {
        lp->nonblocking++;
    } else if (x->ret == 0 && x->timeout != EP_TIMEOUT_NONE) {
        if (x->in_call >= x->timeout) {
            lp->timeouts++;
            if (x->in_call > x->timeout) {
                lp->overruns++;
                hist_put(&lp->h[EP_H_OVERRUN], x->in_call - x->timeout);
            }
        } else {
            lp->spurious_zero++;
        }
    }
    if (x->slept)
        lp->blocked_calls++;
    else if (x->events)
        lp->ready_on_entry++;
    if (x->woken)
        lp->woken_calls++;
    lp->spurious_sleeps += x->spurious_sleeps;
    lp->herd_wakeups += x->herd_wakeups;
    lp->herd_wasted += x->herd_wasted;
    hist_put(&lp->h[EP_H_IN_CALL], x->in_call);
    hist_put(&lp->h[EP_H_BLOCKED], x->blocked);
    hist_put(&lp->h[EP_H_CPU_IN_CALL], x->cpu);
    hist_put(&lp->h[EP_H_FDS_PER_CALL], x->fds);
    if (x->ret >= 0)
        hist_put(&lp->h[EP_H_EVENTS_PER_CALL], x->events);
    if (x->busy)
        hist_put(&lp->h[EP_H_LOOP_BUSY], x->busy);
    if (x->woken) {
        hist_put(&lp->h[EP_H_READY_TO_RETURN], x->r2r);
        hist_put(&lp->h[EP_H_READY_WAIT_CPU], x->wait);
        hist_put(&lp->h[EP_H_READY_RUN], x->r2r - x->wait);
    }
    return 0;
}

/* The thread's counters and the global ones (a global function for the same reason). */
__noinline int ep_account_thread(struct ep_thread_stats *t, const struct ep_exit_facts *x)
{
    bool timed_out, early_zero;

    if (!t || !x)
        return 0;
    timed_out =
        x->ret == 0 && x->timeout && x->timeout != EP_TIMEOUT_NONE && x->in_call >= x->timeout;
    early_zero = x->ret == 0 && x->timeout && !timed_out;
    if (x->family < EP_FAMILIES)
        t->calls[x->family]++;
    t->events += x->events;
    t->in_call_ns += x->in_call;
    t->blocked_ns += x->blocked;
    t->cpu_in_call_ns += x->cpu;
    t->spurious += x->spurious_sleeps + early_zero;
    if (x->woken) {
        t->ready_ns += x->r2r;
        t->ready_count++;
    }
    if (x->busy) {
        t->busy_ns += x->busy;
        t->busy_count++;
    }
    count_n(EP_C_EVENTS, x->events);
    if (timed_out) {
        t->timeouts++;
        count(EP_C_TIMEOUTS);
    }
    if (x->timeout == 0) {
        t->nonblocking++;
        count(EP_C_NONBLOCKING);
    }
    if (x->ret < 0) {
        t->errors++;
        count(EP_C_ERRORS);
    }
    return 0;
}

/* --perfetto: the call as a span on the thread's track, with what it returned and the
 * wakeup that let it return. */
__noinline int ep_timeline_call(const struct ep_call *c, __u32 sys, __s64 ret, __u64 now)
{
    struct tl_record *r;

    if (!c)
        return 0;
    r = timeline_reserve(TL_CALL, c->enter_ts);
    if (!r)
        return 0;
    timeline_task(true, r, bpf_get_current_task_btf(), false);
    r->other_pid = r->other_tgid = 0;
    r->other_prio = 0;
    __builtin_memset(r->other_comm, 0, sizeof(r->other_comm));
    r->span.end = now;
    r->span.addr = sys;
    r->span.value = (__u64)ret;
    r->span.at = c->woken_ts && ret > 0 ? c->woken_ts : 0;
    bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
    return 0;
}

static __always_inline int call_exit(__u8 sys, __u8 family, long ret)
{
    struct ep_task_state *s = current_state();
    struct ep_exit_facts x = {};
    struct ep_call *c;
    struct ep_loop *lp;
    struct ep_loop_key lk;
    struct ep_size_key sk = {};
    struct hist *sh;
    __s64 *size;
    __u64 now, off;
    __u32 pid;

    if (!s || stop_recording)
        return 0;
    c = &s->call;
    if (!c->active || c->sys != sys || c->family != family)
        return 0; /* entered before tracing began */
    c->active = 0;
    now = bpf_ktime_get_ns();
    pid = bpf_get_current_pid_tgid() >> 32;
    lk.pid = pid;
    lk.key = c->key;

    x.ret = ret;
    x.sys = sys;
    x.family = family;
    x.in_call = now - c->enter_ts;
    x.blocked = c->blocked_ns;
    off = c->blocked_ns + c->preempted_ns;
    x.cpu = x.in_call > off ? x.in_call - off : 0;
    x.events = ret > 0 ? (__u64)ret : 0;
    x.busy = c->busy_ns;
    x.timeout = c->timeout_ns;
    x.size = c->size;
    x.spurious_sleeps = c->spurious_sleeps;
    x.slept = c->slept;
    x.herd_wakeups = c->herd_wakeups;
    x.herd_wasted = c->herd_wasted + (c->herd_pending && !x.events);
    x.woken = c->woken_ts && x.events;
    if (x.woken) {
        x.r2r = now - c->woken_ts;
        x.wait = c->wait_cpu_ns < x.r2r ? c->wait_cpu_ns : x.r2r;
    }
    if (family == EP_EPOLL) {
        size = bpf_map_lookup_elem(&interest_size, &lk);
        c->fds = size && *size > 0 ? (__u32)*size : 0;
    }
    x.fds = c->fds;

    lp = lookup_or_init(&loops, &lk, &zero_loop);
    if (lp)
        ep_account_loop(lp, &x);
    else
        count(EP_C_DROP_LOOPS);

    /* the cost of the call by the number of fds it watched */
    sk.pid = pid;
    sk.key = c->key;
    sk.bucket = c->fds ? hist_log2(c->fds) : 0;
    if (sk.bucket >= EP_SIZE_BUCKETS)
        sk.bucket = EP_SIZE_BUCKETS - 1;
    sk.slept = c->slept;
    sh = lookup_or_init(&size_hists, &sk, &zero_hist);
    if (sh)
        hist_put(sh, x.cpu);
    else
        count(EP_C_DROP_SIZE_HISTS);

    if (x.woken)
        note_waker(c, pid);
    attribute_fds(c, family, pid, ret);
    ep_account_thread(&s->stats, &x);
    if (timeline)
        ep_timeline_call(c, sys, ret, now);
    s->last_exit_ts = now;
    return 0;
}

#endif /* EPOLL_CALLS_BPF_H */
