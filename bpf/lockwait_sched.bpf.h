/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lockwait-trace, kernel side: the scheduler: a waiter asleep, woken and running again.
 * Part of lockwait.bpf.c, which includes it once, after its maps and helpers.
 */
#ifndef LOCKWAIT_SCHED_BPF_H
#define LOCKWAIT_SCHED_BPF_H

/* The task died: keep its counters, forget its state. */
static __always_inline void retire(bool btf, struct task_struct *t, __u32 tid,
                                   struct lw_task_state *s)
{
    s->stats.tid = tid;
    s->stats.pid = TASK_READ(btf, t, tgid);
    bpf_probe_read_kernel_str(s->stats.comm, sizeof(s->stats.comm), &t->comm);
    s->stats.end_ns = bpf_ktime_get_ns();
    /* the hot row first, while the thread is still in `live`: a reader finds it in the
     * thread's state or in `locks`, both the same counts */
    if (!spill_hot_slot(s))
        count(LW_C_DROP_LOCK_ROWS);
    if (!keep_exited(tid, &s->stats))
        count(LW_C_DROP_EXITED);
    count(LW_C_EXITS);
    if (last_of_its_process(btf, t))
        bpf_map_delete_elem(&procs, &s->stats.pid);
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
    if (timeline)
        c->woken_at = c->wake_ts; /* kept for the trace's flow arrow */
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
    cs->stats.start_ns = bpf_ktime_get_ns();
    count(LW_C_FORKS);
    /* a new process: user space reads its mappings (and attaches uprobes) right away */
    if (cs->stats.tid == cs->stats.pid)
        emit(PE_FORK, cs->stats.pid, cs->stats.tid, TASK_READ(btf, parent, tgid), 0);
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
    s->announced = 0;
    if (s->stats.tid != tid) {
        /* a thread other than the leader exec'd: it took the process's pid as its tid */
        bpf_map_delete_elem(&live, &s->stats.tid);
        s->stats.tid = tid;
        bpf_map_update_elem(&live, &tid, &tgid, BPF_ANY);
    }
    if (!report_exec(tgid, tid))
        count(LW_C_DROP_EVENTS);
    return 0;
}

#endif /* LOCKWAIT_SCHED_BPF_H */
