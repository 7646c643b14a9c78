// SPDX-License-Identifier: GPL-2.0
/*
 * epoll-trace, kernel side: how event loops wait in epoll_wait/epoll_pwait/epoll_pwait2,
 * poll/ppoll and select/pselect6, aggregated in the kernel per loop (pid + epfd, or the
 * poll or select calls of a process) and per thread.
 *
 * The kernel has no epoll tracepoints (and this one no kprobes), so everything is built
 * from the syscall tracepoints and the scheduler:
 *   sys_enter_*   what the call asked for: epfd, maxevents, the timeout, the fds (nfds, or
 *                 the bits set in select's fd_sets, read from user memory)
 *   sched_switch  the caller leaving the CPU inside the call (asleep or preempted) and
 *                 coming back: blocked time, preempted time, on-CPU time in the call
 *   sched_waking  the caller being woken inside the call, in the waker's context: who made
 *                 it ready, and the start of the ready-to-return latency
 *   sys_exit_*    the return: events, timeouts, overrun; the returned events are read back
 *                 from the user buffer and mapped to fds through what epoll_ctl registered
 *   epoll_ctl     the interest list: ADD/MOD/DEL per fd, ET/EXCLUSIVE/ONESHOT, epoll_data
 *
 * Which tasks are traced: every thread of a process in `targets` (the launched workload
 * and what it forks, or -p PID and its children), or the one thread target_tid (-t). A
 * thread gets its task-local state at its first traced syscall; the scheduler programs
 * only look at tasks that have state and are inside a waiting call.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "common.bpf.h"
#include "epoll.h"

char LICENSE[] SEC("license") = "GPL";

#define TASK_RUNNING 0
#define EINTR 4
#define EPOLL_CTL_ADD 1
#define EPOLL_CTL_DEL 2
#define EPOLL_CTL_MOD 3

/*
 * What a classic tracepoint program returns. 0 would also drop the event for perf: a
 * `perf stat -e syscalls:sys_enter_epoll_wait` running beside us would count nothing.
 */
#define TP_KEEP_EVENT 1

/* set by user space between open and load */
const volatile __u32 launcher_tgid = 0; /* adopt the children of this process (launch mode) */
const volatile __u32 target_tid = 0;    /* -t: trace only this thread */

struct {
    __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, int);
    __type(value, struct ep_task_state);
} task_state SEC(".maps");

/* traced processes (tgid -> 1) */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, EP_MAX_TARGETS);
    __type(key, __u32);
    __type(value, __u32);
} targets SEC(".maps");

/*
 * Every map below is preallocated: an element created in program context without
 * preallocation comes from a small per-CPU cache that a busy machine empties faster than
 * the kernel refills it, and the call it belonged to was lost. So only a full map drops
 * (counted in EP_C_DROP_*). User space sizes `loops` and `size_hists` before load
 * (--max-loops): their per-CPU histograms are the memory that counts.
 */

/* traced threads alive now (tid -> pid), so user space can find their task storage */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, EP_MAX_THREADS);
    __type(key, __u32);
    __type(value, __u32);
} live SEC(".maps");

/* counters of threads that ended, keyed by exit sequence number (tids can be reused) */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, EP_MAX_THREADS);
    __type(key, __u32);
    __type(value, struct ep_thread_stats);
} exited SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
    __uint(max_entries, EP_MAX_LOOPS);
    __type(key, struct ep_loop_key);
    __type(value, struct ep_loop);
} loops SEC(".maps");

/* on-CPU time in the call, by loop and floor(log2(fds watched)) */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
    __uint(max_entries, EP_MAX_SIZE_HISTS);
    __type(key, struct ep_size_key);
    __type(value, struct hist);
} size_hists SEC(".maps");

/* epoll interest list size (ADDs - DELs) per instance */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, EP_MAX_LOOPS);
    __type(key, struct ep_loop_key);
    __type(value, __s64);
} interest_size SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, EP_MAX_FDS);
    __type(key, struct ep_fd_key);
    __type(value, struct ep_fd_info);
} fds SEC(".maps");

/* live epoll registrations by epoll_data: the fd, and its readiness since registered */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, EP_MAX_FDS);
    __type(key, struct ep_data_key);
    __type(value, struct ep_data_info);
} by_data SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, EP_MAX_WAKERS);
    __type(key, struct ep_waker_key);
    __type(value, struct ep_waker_info);
} wakers SEC(".maps");

/* the last wakeup of a waiter on this CPU: a burst of them from one waker is a herd */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct ep_last_wake);
} last_wake SEC(".maps");

struct ep_totals {
    __u64 c[EP_COUNTERS];
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct ep_totals);
} totals SEC(".maps");

/* user buffers read back at sys_exit (and select's fd_sets at sys_enter) */
struct ep_scratch {
    __u8 buf[EP_SCRATCH_SIZE];
    __u64 sets[3][EP_FDSET_WORDS];
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct ep_scratch);
} scratch SEC(".maps");

/* never written: the zero value new map entries start from (too big for the stack) */
const struct ep_loop zero_loop = {};
const struct hist zero_hist = {};

__u32 exit_seq = 0;
/* stop_recording (common.bpf.h): calls that return from then on are not counted; a thread
 * that ends meanwhile still has its counters kept */

/* ---- small helpers ----------------------------------------------------------------------- */

static __always_inline void count_n(__u32 which, __u64 n)
{
    __u32 zero = 0;
    struct ep_totals *t = bpf_map_lookup_elem(&totals, &zero);

    if (t && which < EP_COUNTERS)
        t->c[which] += n;
}

static __always_inline void count(__u32 which) { count_n(which, 1); }

/* hist_record() of common.bpf.h as a real call rather than inlined: its branches would
 * otherwise multiply the verifier's states at every use. */
static __noinline void hist_put(struct hist *h, __u64 v) { hist_record(h, v); }

static __always_inline __u32 popcount64(__u64 x)
{
    x = x - ((x >> 1) & 0x5555555555555555ULL);
    x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
    return (__u32)((x * 0x0101010101010101ULL) >> 56);
}

static __always_inline struct ep_scratch *scratch_buf(void)
{
    __u32 zero = 0;

    return bpf_map_lookup_elem(&scratch, &zero);
}

/* A lookup that creates a zeroed entry first when the key is new; NULL when the map is full. */
static __always_inline void *lookup_or_init(void *map, const void *key, const void *zero)
{
    void *v = bpf_map_lookup_elem(map, key);

    if (v)
        return v;
    bpf_map_update_elem(map, key, zero, BPF_NOEXIST);
    return bpf_map_lookup_elem(map, key);
}

/* ---- who is traced ------------------------------------------------------------------------ */

/* The state of the current task if it is traced; created at its first traced syscall. */
static __always_inline struct ep_task_state *traced_state(void)
{
    struct task_struct *task = bpf_get_current_task_btf();
    struct ep_task_state *s = bpf_task_storage_get(&task_state, task, 0, 0);
    __u64 id;
    __u32 tid, tgid;

    if (s)
        return s;
    id = bpf_get_current_pid_tgid();
    tid = (__u32)id;
    tgid = id >> 32;
    if (target_tid) {
        if (tid != target_tid)
            return NULL;
    } else if (!bpf_map_lookup_elem(&targets, &tgid)) {
        return NULL;
    }
    s = bpf_task_storage_get(&task_state, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
    if (!s) {
        count(EP_C_DROP_STORAGE);
        return NULL;
    }
    s->stats.tid = tid;
    s->stats.pid = tgid;
    bpf_get_current_comm(s->stats.comm, sizeof(s->stats.comm));
    if (bpf_map_update_elem(&live, &tid, &tgid, BPF_ANY))
        count(EP_C_DROP_LIVE);
    return s;
}

static __always_inline struct ep_task_state *current_state(void)
{
    return bpf_task_storage_get(&task_state, bpf_get_current_task_btf(), 0, 0);
}

/* ---- reading what the call asked for ------------------------------------------------------ */

static __always_inline __u64 timeout_from_ms(long ms)
{
    int v = (int)ms;

    return v < 0 ? EP_TIMEOUT_NONE : (__u64)v * 1000000ULL;
}

/* struct __kernel_timespec (or a timeval, usec = true); NULL: forever */
static __always_inline __u64 timeout_from_user(const void *ptr, bool usec)
{
    __s64 t[2];

    if (!ptr)
        return EP_TIMEOUT_NONE;
    if (bpf_probe_read_user(t, sizeof(t), ptr)) {
        count(EP_C_READ_FAULTS);
        return EP_TIMEOUT_NONE;
    }
    if (t[0] < 0 || t[1] < 0)
        return EP_TIMEOUT_NONE; /* the kernel refuses it (EINVAL) */
    return (__u64)t[0] * 1000000000ULL + (__u64)t[1] * (usec ? 1000ULL : 1ULL);
}

/* Reads up to `words` words of an fd_set into sets[which]; zeros when ptr is NULL. */
static __always_inline void read_fdset(struct ep_scratch *sc, int which, __u64 ptr, __u32 words)
{
    __u32 size = words * 8;

    if (which < 0 || which > 2)
        return;
    __builtin_memset(sc->sets[which], 0, sizeof(sc->sets[which]));
    if (!ptr || !size)
        return;
    if (size > sizeof(sc->sets[which]))
        size = sizeof(sc->sets[which]);
    if (bpf_probe_read_user(sc->sets[which], size, (const void *)ptr))
        count(EP_C_READ_FAULTS);
}

static __always_inline __u32 fdset_words(__u32 n)
{
    __u32 w = (n + 63) / 64;

    return w > EP_FDSET_WORDS ? EP_FDSET_WORDS : w;
}

/* ---- entering a waiting call -------------------------------------------------------------- */

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

static __always_inline int epoll_wait_enter(struct trace_event_raw_sys_enter *ctx, __u8 sys)
{
    struct ep_call *c = call_enter(sys, EP_EPOLL, (__s32)ctx->args[0]);

    if (!c)
        return 0;
    c->buf = ctx->args[1];
    c->size = (__u32)(int)ctx->args[2];
    if (sys == EP_SYS_EPOLL_PWAIT2)
        c->timeout_ns = timeout_from_user((const void *)ctx->args[3], false);
    else
        c->timeout_ns = timeout_from_ms((long)ctx->args[3]);
    return 0;
}

static __always_inline int poll_enter(struct trace_event_raw_sys_enter *ctx, __u8 sys)
{
    struct ep_call *c = call_enter(sys, EP_POLL, EP_KEY_POLL);

    if (!c)
        return 0;
    c->buf = ctx->args[0];
    c->size = (__u32)ctx->args[1];
    c->fds = c->size;
    if (sys == EP_SYS_PPOLL)
        c->timeout_ns = timeout_from_user((const void *)ctx->args[2], false);
    else
        c->timeout_ns = timeout_from_ms((long)ctx->args[2]);
    return 0;
}

static __always_inline int select_enter(struct trace_event_raw_sys_enter *ctx, __u8 sys)
{
    struct ep_call *c = call_enter(sys, EP_SELECT, EP_KEY_SELECT);
    struct ep_scratch *sc;
    __u32 words, i, n = 0;

    if (!c)
        return 0;
    c->size = (__u32)(int)ctx->args[0];
    c->buf = ctx->args[1];
    c->buf2 = ctx->args[2];
    c->buf3 = ctx->args[3];
    c->timeout_ns = timeout_from_user((const void *)ctx->args[4], sys == EP_SYS_SELECT);
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

/* ---- readiness per fd, from the returned buffers ---------------------------------------- */

struct fd_loop_ctx {
    struct ep_scratch *sc;
    __u32 pid;
    __s32 key;
    __u32 n;        /* entries in sc->buf (epoll, poll) or words in sc->sets (select) */
    __u32 found;    /* entries attributed to an fd */
    __u32 unmapped; /* epoll: data matched no registration */
};

static __always_inline void fd_ready(__u32 pid, __s32 key, __s32 fd, __u32 mask)
{
    struct ep_fd_key k = {.pid = pid, .key = key, .fd = fd};
    struct ep_fd_info zero = {}, *info;

    info = bpf_map_lookup_elem(&fds, &k);
    if (!info) {
        bpf_map_update_elem(&fds, &k, &zero, BPF_NOEXIST);
        info = bpf_map_lookup_elem(&fds, &k);
        if (!info) {
            count(EP_C_DROP_FDS);
            return;
        }
    }
    __sync_fetch_and_add(&info->ready, 1);
    __sync_fetch_and_or(&info->returned_mask, mask);
}

static long epoll_event_cb(__u32 i, void *data)
{
    struct fd_loop_ctx *lc = data;
    struct ep_data_key dk = {};
    struct ep_data_info *d;
    __u32 off, mask;

    if (i >= EP_EVENTS_READ || i >= lc->n)
        return 1;
    off = i * EP_EVENT_SIZE;
    barrier_var(off);
    if (off > EP_SCRATCH_SIZE - EP_EVENT_SIZE)
        return 1;
    __builtin_memcpy(&mask, &lc->sc->buf[off], 4);
    __builtin_memcpy(&dk.data, &lc->sc->buf[off + 4], 8);
    dk.pid = lc->pid;
    dk.epfd = lc->key;
    d = bpf_map_lookup_elem(&by_data, &dk);
    if (!d) {
        lc->unmapped++;
        return 0;
    }
    __sync_fetch_and_add(&d->ready, 1);
    if ((d->returned_mask & mask) != mask)
        __sync_fetch_and_or(&d->returned_mask, mask);
    lc->found++;
    return 0;
}

static long pollfd_cb(__u32 i, void *data)
{
    struct fd_loop_ctx *lc = data;
    __u32 off;
    __s32 fd;
    __u16 revents;

    if (i >= EP_POLLFDS_READ || i >= lc->n)
        return 1;
    off = i * EP_POLLFD_SIZE;
    barrier_var(off);
    if (off > EP_SCRATCH_SIZE - EP_POLLFD_SIZE)
        return 1;
    __builtin_memcpy(&fd, &lc->sc->buf[off], 4);
    __builtin_memcpy(&revents, &lc->sc->buf[off + 6], 2);
    if (fd >= 0 && revents) {
        fd_ready(lc->pid, lc->key, fd, revents);
        lc->found++;
    }
    return 0;
}

struct fd_bits_ctx {
    struct fd_loop_ctx *lc;
    __u64 in, out, ex, bits;
    __u32 word;
};

/* One set bit of an fd_set word (the lowest left), per call. */
static long fdset_bit_cb(__u32 i, void *data)
{
    struct fd_bits_ctx *bc = data;
    __u64 low;
    __u32 mask;

    if (!bc->bits)
        return 1;
    low = bc->bits & -bc->bits;
    /* the poll bits a person expects: readable 0x1, writable 0x4, exception 0x2 */
    mask = ((bc->in & low) ? 0x1 : 0) | ((bc->out & low) ? 0x4 : 0) | ((bc->ex & low) ? 0x2 : 0);
    fd_ready(bc->lc->pid, bc->lc->key, (__s32)(bc->word * 64 + hist_log2(low)), mask);
    bc->lc->found++;
    bc->bits &= bc->bits - 1;
    return 0;
}

static long fdset_word_cb(__u32 w, void *data)
{
    struct fd_loop_ctx *lc = data;
    struct fd_bits_ctx bc = {.lc = lc, .word = w};
    __u32 idx;

    if (w >= EP_FDSET_WORDS || w >= lc->n)
        return 1;
    /* the check above again, in a form the verifier still sees after a register spill */
    idx = w;
    barrier_var(idx);
    idx &= EP_FDSET_WORDS - 1;
    bc.in = lc->sc->sets[0][idx];
    bc.out = lc->sc->sets[1][idx];
    bc.ex = lc->sc->sets[2][idx];
    bc.bits = bc.in | bc.out | bc.ex;
    if (bc.bits)
        bpf_loop(64, fdset_bit_cb, &bc, 0);
    return 0;
}

/* Attributes the returned events to fds; counts what could not be read or mapped. */
static __always_inline void attribute_fds(struct ep_call *c, __u8 family, __u32 pid, long ret)
{
    struct ep_scratch *sc = scratch_buf();
    struct fd_loop_ctx lc = {.sc = sc, .pid = pid, .key = c->key};
    __u32 n, size;

    if (!sc || ret <= 0)
        return;
    if (family == EP_EPOLL) {
        n = ret > EP_EVENTS_READ ? EP_EVENTS_READ : (__u32)ret;
        size = n * EP_EVENT_SIZE;
        if (size > EP_SCRATCH_SIZE)
            size = EP_SCRATCH_SIZE;
        if (bpf_probe_read_user(sc->buf, size, (const void *)c->buf)) {
            count(EP_C_READ_FAULTS);
            return;
        }
        lc.n = n;
        bpf_loop(EP_EVENTS_READ, epoll_event_cb, &lc, 0);
        if ((__u64)ret > n)
            count_n(EP_C_EVENTS_UNREAD, (__u64)ret - n);
        if (lc.unmapped)
            count_n(EP_C_EVENTS_UNMAPPED, lc.unmapped);
    } else if (family == EP_POLL) {
        n = c->size > EP_POLLFDS_READ ? EP_POLLFDS_READ : c->size;
        size = n * EP_POLLFD_SIZE;
        if (size > EP_SCRATCH_SIZE)
            size = EP_SCRATCH_SIZE;
        if (!size)
            return;
        if (bpf_probe_read_user(sc->buf, size, (const void *)c->buf)) {
            count(EP_C_READ_FAULTS);
            return;
        }
        lc.n = n;
        bpf_loop(EP_POLLFDS_READ, pollfd_cb, &lc, 0);
        if ((__u64)ret > lc.found)
            count_n(EP_C_EVENTS_UNREAD, (__u64)ret - lc.found);
    } else {
        n = fdset_words(c->size);
        read_fdset(sc, 0, c->buf, n);
        read_fdset(sc, 1, c->buf2, n);
        read_fdset(sc, 2, c->buf3, n);
        lc.n = n;
        bpf_loop(EP_FDSET_WORDS, fdset_word_cb, &lc, 0);
    }
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
    s->last_exit_ts = now;
    return 0;
}

/* ---- epoll_ctl: the interest list --------------------------------------------------------- */

/* A registration ends: its readiness goes to its fd's record, the by_data entry goes. */
static __always_inline void fold_registration(struct ep_data_key *dk)
{
    struct ep_data_info *d = bpf_map_lookup_elem(&by_data, dk);
    struct ep_fd_key fk = {.pid = dk->pid, .key = dk->epfd};
    struct ep_fd_info *info;

    if (!d)
        return;
    if (d->ready) {
        fk.fd = d->fd;
        info = bpf_map_lookup_elem(&fds, &fk);
        if (info) {
            __sync_fetch_and_add(&info->ready, d->ready);
            __sync_fetch_and_or(&info->returned_mask, d->returned_mask);
        }
    }
    bpf_map_delete_elem(&by_data, dk);
}

static __always_inline void ctl_apply(struct ep_ctl *ctl, __u32 pid)
{
    struct ep_loop_key lk = {.pid = pid, .key = ctl->epfd};
    struct ep_fd_key fk = {.pid = pid, .key = ctl->epfd, .fd = ctl->fd};
    struct ep_data_key dk = {.pid = pid, .epfd = ctl->epfd};
    struct ep_fd_info zero = {}, *info;
    __s64 one = 1, *size;
    bool was_registered;

    info = bpf_map_lookup_elem(&fds, &fk);
    if (!info) {
        bpf_map_update_elem(&fds, &fk, &zero, BPF_NOEXIST);
        info = bpf_map_lookup_elem(&fds, &fk);
        if (!info) {
            count(EP_C_DROP_FDS);
            return;
        }
    }
    was_registered = info->flags & EP_FD_REGISTERED;
    if (was_registered && ctl->op != EPOLL_CTL_ADD) {
        dk.data = info->data;
        fold_registration(&dk); /* its old data */
    }
    if (ctl->op == EPOLL_CTL_DEL) {
        info->dels++;
        info->flags &= ~EP_FD_REGISTERED;
    } else {
        if (ctl->op == EPOLL_CTL_ADD)
            info->adds++;
        else
            info->mods++;
        info->flags |= EP_FD_REGISTERED;
        info->interest = ctl->events;
        info->data = ctl->data;
        dk.data = ctl->data;
        fold_registration(&dk); /* the same data left behind by an fd closed without DEL */
        struct ep_data_info fresh = {.fd = ctl->fd};

        if (bpf_map_update_elem(&by_data, &dk, &fresh, BPF_NOEXIST))
            count(EP_C_DROP_FDS);
    }
    /* the interest list size: ADD of a new fd +1, DEL of a registered one -1 */
    if (ctl->op == EPOLL_CTL_ADD || (ctl->op == EPOLL_CTL_DEL && was_registered)) {
        __s64 delta = ctl->op == EPOLL_CTL_ADD ? 1 : -1;

        size = bpf_map_lookup_elem(&interest_size, &lk);
        if (size) {
            __sync_fetch_and_add(size, delta);
        } else if (delta > 0 && bpf_map_update_elem(&interest_size, &lk, &one, BPF_NOEXIST)) {
            /* created meanwhile by another CPU's ADD, or the map is full */
            size = bpf_map_lookup_elem(&interest_size, &lk);
            if (size)
                __sync_fetch_and_add(size, delta);
            else
                count(EP_C_DROP_LOOPS);
        }
    }
}

static __always_inline void ctl_enter(struct trace_event_raw_sys_enter *ctx)
{
    struct ep_task_state *s = traced_state();
    struct ep_ctl *ctl;
    __u8 ev[EP_EVENT_SIZE];

    if (!s)
        return;
    count(EP_C_CTL);
    s->stats.ctl_calls++;
    ctl = &s->ctl;
    ctl->epfd = (__s32)ctx->args[0];
    ctl->op = (__s32)ctx->args[1];
    ctl->fd = (__s32)ctx->args[2];
    ctl->events = 0;
    ctl->data = 0;
    ctl->active = 1;
    if (ctl->op != EPOLL_CTL_DEL && ctx->args[3]) {
        if (bpf_probe_read_user(ev, sizeof(ev), (const void *)ctx->args[3]) == 0) {
            __builtin_memcpy(&ctl->events, ev, 4);
            __builtin_memcpy(&ctl->data, ev + 4, 8);
        } else {
            count(EP_C_READ_FAULTS);
        }
    }
}

SEC("tracepoint/syscalls/sys_enter_epoll_ctl")
int ep_enter_ctl(struct trace_event_raw_sys_enter *ctx)
{
    ctl_enter(ctx);
    return TP_KEEP_EVENT;
}

static __always_inline void ctl_exit(struct trace_event_raw_sys_exit *ctx)
{
    struct ep_task_state *s = current_state();
    struct ep_loop_key lk;
    struct ep_loop *lp;
    __u32 pid;

    if (!s || !s->ctl.active || stop_recording)
        return;
    s->ctl.active = 0;
    pid = bpf_get_current_pid_tgid() >> 32;
    lk.pid = pid;
    lk.key = s->ctl.epfd;
    lp = lookup_or_init(&loops, &lk, &zero_loop);
    if (!lp)
        count(EP_C_DROP_LOOPS);
    if (ctx->ret != 0) {
        if (lp)
            lp->ctl_failed++;
        return;
    }
    if (lp) {
        if (s->ctl.op == EPOLL_CTL_ADD)
            lp->ctl_add++;
        else if (s->ctl.op == EPOLL_CTL_MOD)
            lp->ctl_mod++;
        else if (s->ctl.op == EPOLL_CTL_DEL)
            lp->ctl_del++;
    }
    ctl_apply(&s->ctl, pid);
}

SEC("tracepoint/syscalls/sys_exit_epoll_ctl")
int ep_exit_ctl(struct trace_event_raw_sys_exit *ctx)
{
    ctl_exit(ctx);
    return TP_KEEP_EVENT;
}

/* ---- the waiting syscalls --------------------------------------------------------------- */

SEC("tracepoint/syscalls/sys_enter_epoll_wait")
int ep_enter_ewait(struct trace_event_raw_sys_enter *ctx)
{
    epoll_wait_enter(ctx, EP_SYS_EPOLL_WAIT);
    return TP_KEEP_EVENT;
}

SEC("tracepoint/syscalls/sys_exit_epoll_wait")
int ep_exit_ewait(struct trace_event_raw_sys_exit *ctx)
{
    call_exit(EP_SYS_EPOLL_WAIT, EP_EPOLL, ctx->ret);
    return TP_KEEP_EVENT;
}

SEC("tracepoint/syscalls/sys_enter_epoll_pwait")
int ep_enter_pwait(struct trace_event_raw_sys_enter *ctx)
{
    epoll_wait_enter(ctx, EP_SYS_EPOLL_PWAIT);
    return TP_KEEP_EVENT;
}

SEC("tracepoint/syscalls/sys_exit_epoll_pwait")
int ep_exit_pwait(struct trace_event_raw_sys_exit *ctx)
{
    call_exit(EP_SYS_EPOLL_PWAIT, EP_EPOLL, ctx->ret);
    return TP_KEEP_EVENT;
}

SEC("tracepoint/syscalls/sys_enter_epoll_pwait2")
int ep_enter_pwait2(struct trace_event_raw_sys_enter *ctx)
{
    epoll_wait_enter(ctx, EP_SYS_EPOLL_PWAIT2);
    return TP_KEEP_EVENT;
}

SEC("tracepoint/syscalls/sys_exit_epoll_pwait2")
int ep_exit_pwait2(struct trace_event_raw_sys_exit *ctx)
{
    call_exit(EP_SYS_EPOLL_PWAIT2, EP_EPOLL, ctx->ret);
    return TP_KEEP_EVENT;
}

SEC("tracepoint/syscalls/sys_enter_poll")
int ep_enter_poll(struct trace_event_raw_sys_enter *ctx)
{
    poll_enter(ctx, EP_SYS_POLL);
    return TP_KEEP_EVENT;
}

SEC("tracepoint/syscalls/sys_exit_poll")
int ep_exit_poll(struct trace_event_raw_sys_exit *ctx)
{
    call_exit(EP_SYS_POLL, EP_POLL, ctx->ret);
    return TP_KEEP_EVENT;
}

SEC("tracepoint/syscalls/sys_enter_ppoll")
int ep_enter_ppoll(struct trace_event_raw_sys_enter *ctx)
{
    poll_enter(ctx, EP_SYS_PPOLL);
    return TP_KEEP_EVENT;
}

SEC("tracepoint/syscalls/sys_exit_ppoll")
int ep_exit_ppoll(struct trace_event_raw_sys_exit *ctx)
{
    call_exit(EP_SYS_PPOLL, EP_POLL, ctx->ret);
    return TP_KEEP_EVENT;
}

SEC("tracepoint/syscalls/sys_enter_select")
int ep_enter_select(struct trace_event_raw_sys_enter *ctx)
{
    select_enter(ctx, EP_SYS_SELECT);
    return TP_KEEP_EVENT;
}

SEC("tracepoint/syscalls/sys_exit_select")
int ep_exit_select(struct trace_event_raw_sys_exit *ctx)
{
    call_exit(EP_SYS_SELECT, EP_SELECT, ctx->ret);
    return TP_KEEP_EVENT;
}

SEC("tracepoint/syscalls/sys_enter_pselect6")
int ep_enter_psel6(struct trace_event_raw_sys_enter *ctx)
{
    select_enter(ctx, EP_SYS_PSELECT6);
    return TP_KEEP_EVENT;
}

SEC("tracepoint/syscalls/sys_exit_pselect6")
int ep_exit_psel6(struct trace_event_raw_sys_exit *ctx)
{
    call_exit(EP_SYS_PSELECT6, EP_SELECT, ctx->ret);
    return TP_KEEP_EVENT;
}

/* ---- the scheduler: sleeping, being woken, running again inside a call ---------------- */

SEC("tp_btf/sched_switch")
int BPF_PROG(ep_switch, bool preempt, struct task_struct *prev, struct task_struct *next,
             unsigned int prev_state)
{
    struct ep_task_state *ps = bpf_task_storage_get(&task_state, prev, 0, 0);
    struct ep_task_state *ns;
    __u64 now = 0, d, from;

    if (ps && ps->call.active) {
        struct ep_call *c = &ps->call;

        now = bpf_ktime_get_ns();
        if (!preempt && prev_state != TASK_RUNNING) {
            /* asleep; if a wakeup is pending, it did not lead to a return */
            if (c->woken_ts) {
                c->spurious_sleeps++;
                c->herd_wasted += c->herd_pending;
                c->herd_pending = 0;
                c->woken_ts = 0;
                c->wait_cpu_ns = 0;
            }
            c->off_sleeping = 1;
            c->slept = 1;
        } else {
            c->off_sleeping = 0;
        }
        c->off_ts = now;
    }

    ns = bpf_task_storage_get(&task_state, next, 0, 0);
    if (ns && ns->call.active && ns->call.off_ts) {
        struct ep_call *c = &ns->call;

        if (!now)
            now = bpf_ktime_get_ns();
        d = now - c->off_ts;
        if (c->off_sleeping)
            c->blocked_ns += d;
        else
            c->preempted_ns += d;
        if (c->woken_ts) {
            from = c->woken_ts > c->off_ts ? c->woken_ts : c->off_ts;
            c->wait_cpu_ns += now - from;
        }
        c->off_ts = 0;
    }
    return 0;
}

SEC("tp_btf/sched_waking")
int BPF_PROG(ep_waking, struct task_struct *p)
{
    struct ep_task_state *s = bpf_task_storage_get(&task_state, p, 0, 0);
    struct ep_call *c;
    struct ep_last_wake *lw;
    __u64 now, cur;
    __u32 zero = 0;

    if (!s || !s->call.active)
        return 0;
    c = &s->call;
    now = bpf_ktime_get_ns();
    cur = bpf_get_current_pid_tgid();
    c->woken_ts = now;
    c->wait_cpu_ns = 0;
    c->waker_tid = (__u32)cur;
    c->waker_pid = cur >> 32;
    c->waker_interrupt = !in_task_context();
    bpf_get_current_comm(c->waker_comm, sizeof(c->waker_comm));

    /*
     * Several waiters woken by one waker in one burst (same CPU, within the window): a
     * thundering herd, whether they wait on one epoll instance, on several instances
     * watching one fd, or in poll/select. The first of a burst is not counted.
     */
    lw = bpf_map_lookup_elem(&last_wake, &zero);
    if (!lw)
        return 0;
    c->herd_pending = lw->waker_tid == c->waker_tid && lw->interrupt == c->waker_interrupt &&
                      lw->wakee_tid != (__u32)p->pid && now - lw->ts < EP_HERD_WINDOW_NS;
    c->herd_wakeups += c->herd_pending;
    lw->ts = now;
    lw->waker_tid = c->waker_tid;
    lw->wakee_tid = p->pid;
    lw->interrupt = c->waker_interrupt;
    return 0;
}

/* ---- following forks, keeping the counters of threads that end -------------------------- */

SEC("tp_btf/sched_process_fork")
int BPF_PROG(ep_fork, struct task_struct *parent, struct task_struct *child)
{
    __u32 parent_tgid = parent->tgid, child_tgid = child->tgid, one = 1;

    if (child_tgid == parent_tgid || target_tid)
        return 0; /* a new thread: traced through its process */
    if (!(launcher_tgid && parent_tgid == launcher_tgid) &&
        !bpf_map_lookup_elem(&targets, &parent_tgid))
        return 0;
    if (bpf_map_update_elem(&targets, &child_tgid, &one, BPF_ANY) == 0)
        count(EP_C_FORKS);
    return 0;
}

static __always_inline void task_exit(void)
{
    struct ep_task_state *s = current_state();
    __u32 key, tid;

    if (!s)
        return;
    tid = s->stats.tid;
    count(EP_C_EXITS);
    bpf_get_current_comm(s->stats.comm, sizeof(s->stats.comm));
    key = __sync_fetch_and_add(&exit_seq, 1);
    if (bpf_map_update_elem(&exited, &key, &s->stats, BPF_NOEXIST))
        count(EP_C_DROP_EXITED);
    bpf_map_delete_elem(&live, &tid);
    /* the task storage goes away with the task; a late syscall would recreate it */
    bpf_task_storage_delete(&task_state, bpf_get_current_task_btf());
}

SEC("tracepoint/sched/sched_process_exit")
int ep_exit_task(void *ctx)
{
    task_exit();
    return TP_KEEP_EVENT;
}
