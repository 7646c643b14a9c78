/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lockwait-trace, kernel side: kernel lock contention of the traced tasks.
 * Part of lockwait.bpf.c, which includes it once, after its maps and helpers.
 */
#ifndef LOCKWAIT_KLOCK_BPF_H
#define LOCKWAIT_KLOCK_BPF_H

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

#endif /* LOCKWAIT_KLOCK_BPF_H */
