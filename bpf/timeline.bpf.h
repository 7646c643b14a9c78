/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The timeline mode's kernel side, shared by the tracers: a ring buffer of fixed-size
 * records (bpf/timeline.h), used only when user space sets `timeline` before load. Without
 * it every timeline_* call is dead code the verifier removes, so the default report does no
 * ring work; the ring is then one page.
 *
 * timeline_reserve(kind, ts) gives a zeroed-enough record to fill and submit, or NULL when
 * the mode is off or the ring is full (counted per CPU in `timeline_lost`, and carried by
 * the CPU's next record so the trace shows where events are missing).
 */
#ifndef TOOLKIT_TIMELINE_BPF_H
#define TOOLKIT_TIMELINE_BPF_H

#include "timeline.h"

const volatile bool timeline = false;

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 4096); /* user space sizes it in timeline mode */
} timeline_ring SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} timeline_lost SEC(".maps");

static __always_inline struct tl_record *timeline_reserve(__u16 kind, __u64 ts)
{
    struct tl_record *r;
    __u32 zero = 0;
    __u64 *lost;

    if (!timeline)
        return NULL;
    lost = bpf_map_lookup_elem(&timeline_lost, &zero);
    if (!lost)
        return NULL;
    r = bpf_ringbuf_reserve(&timeline_ring, sizeof(*r), 0);
    if (!r) {
        (*lost)++;
        return NULL;
    }
    r->ts = ts;
    r->kind = kind;
    r->flags = 0;
    r->cpu = bpf_get_smp_processor_id();
    r->lost = *lost;
    r->_pad = 0;
    r->span.end = r->span.addr = r->span.value = r->span.at = 0;
    return r;
}

/* The task T's pid, tgid, prio and comm into the record's first (OTHER false) or other half. */
static __always_inline void timeline_task(bool btf, struct tl_record *r, struct task_struct *t,
                                          bool other)
{
    if (other) {
        r->other_pid = TASK_READ(btf, t, pid);
        r->other_tgid = TASK_READ(btf, t, tgid);
        r->other_prio = TASK_READ(btf, t, prio);
        bpf_probe_read_kernel(r->other_comm, sizeof(r->other_comm), &t->comm);
    } else {
        r->pid = TASK_READ(btf, t, pid);
        r->tgid = TASK_READ(btf, t, tgid);
        r->prio = TASK_READ(btf, t, prio);
        bpf_probe_read_kernel(r->comm, sizeof(r->comm), &t->comm);
    }
}

/* A record about T alone (rename, exit, user switch): its other half empty. */
static __always_inline void timeline_task_event(bool btf, __u16 kind, struct task_struct *t,
                                                __u64 ts)
{
    struct tl_record *r = timeline_reserve(kind, ts);

    if (!r)
        return;
    timeline_task(btf, r, t, false);
    r->other_pid = r->other_tgid = 0;
    r->other_prio = 0;
    __builtin_memset(r->other_comm, 0, sizeof(r->other_comm));
    bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
}

/* sched_switch at NOW: PREV (in PREV_STATE, preempted or not) leaves, NEXT runs. */
static __always_inline void timeline_switch(bool btf, struct task_struct *prev,
                                            struct task_struct *next, bool preempt,
                                            unsigned int prev_state, __u64 now)
{
    struct tl_record *r = timeline_reserve(TL_SWITCH, now);

    if (!r)
        return;
    timeline_task(btf, r, prev, false);
    timeline_task(btf, r, next, true);
    r->flags = preempt ? TL_F_PREEMPT : 0;
    r->sched.state = prev_state;
    r->sched.exit_state = TASK_READ(btf, prev, exit_state);
    bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
}

/* sched_waking / sched_wakeup_new (KIND) of P at NOW, by current. */
static __always_inline void timeline_wakeup(bool btf, __u16 kind, struct task_struct *p, __u64 now)
{
    struct tl_record *r = timeline_reserve(kind, now);

    if (!r)
        return;
    timeline_task(true, r, bpf_get_current_task_btf(), false);
    timeline_task(btf, r, p, true);
    r->sched.state = btf ? p->thread_info.cpu : BPF_CORE_READ(p, thread_info.cpu);
    bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
}

/* task_rename: T's comm becomes COMM (read from the tracepoint's argument). */
static __always_inline void timeline_rename(bool btf, struct task_struct *t, const char *comm)
{
    struct tl_record *r = timeline_reserve(TL_RENAME, bpf_ktime_get_ns());

    if (!r)
        return;
    timeline_task(btf, r, t, false);
    r->other_pid = r->pid;
    r->other_tgid = r->tgid;
    r->other_prio = r->prio;
    if (bpf_probe_read_kernel_str(r->other_comm, sizeof(r->other_comm), comm) < 0)
        r->other_comm[0] = 0;
    bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
}

#endif
