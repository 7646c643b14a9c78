/* SPDX-License-Identifier: GPL-2.0 */
/*
 * epoll-trace, kernel side: the scheduler: a waiter asleep, woken and running again
 * inside a call.
 * Part of epoll.bpf.c, which includes it once, after its maps and helpers.
 */
#ifndef EPOLL_SCHED_BPF_H
#define EPOLL_SCHED_BPF_H

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

#endif /* EPOLL_SCHED_BPF_H */
