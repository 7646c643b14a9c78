/* SPDX-License-Identifier: GPL-2.0 */
/*
 * epoll-trace, kernel side: following forks, and keeping the counters of threads that
 * end.
 * Part of epoll.bpf.c, which includes it once, after its maps and helpers.
 */
#ifndef EPOLL_TASKS_BPF_H
#define EPOLL_TASKS_BPF_H

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
    else
        count(EP_C_DROP_TARGETS);
    return 0;
}

static __always_inline void task_exit(struct task_struct *p)
{
    struct ep_task_state *s = current_state();
    __u32 tid, tgid = p->tgid;

    /* the process is no target any more once its last thread is gone: a process that
     * reuses its pid is not one of ours */
    if (!target_tid && last_of_its_process(true, p))
        bpf_map_delete_elem(&targets, &tgid);
    if (!s)
        return;
    tid = s->stats.tid;
    count(EP_C_EXITS);
    bpf_get_current_comm(s->stats.comm, sizeof(s->stats.comm));
    if (!keep_exited(tid, &s->stats))
        count(EP_C_DROP_EXITED);
    /* the task storage goes away with the task; a late syscall would recreate it */
    bpf_task_storage_delete(&task_state, bpf_get_current_task_btf());
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(ep_exit_task, struct task_struct *p)
{
    task_exit(p);
    return 0;
}

#endif /* EPOLL_TASKS_BPF_H */
