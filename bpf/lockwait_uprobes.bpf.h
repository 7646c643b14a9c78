/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lockwait-trace, kernel side: uprobes on libc's pthread functions (--uprobes).
 * Part of lockwait.bpf.c, which includes it once, after its maps and helpers.
 */
#ifndef LOCKWAIT_UPROBES_BPF_H
#define LOCKWAIT_UPROBES_BPF_H

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
        if (s->ucond_mutex)
            row->cond_mutex = s->ucond_mutex;
    }
    /* the mutex is held again, also after a timeout */
    if (s->ucond_mutex)
        start_hold(LW_U_MUTEX, s->ucond_mutex, now);
    s->ucond_mutex = 0;
    return 0;
}

#endif /* LOCKWAIT_UPROBES_BPF_H */
