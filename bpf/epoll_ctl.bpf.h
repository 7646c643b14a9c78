/* SPDX-License-Identifier: GPL-2.0 */
/*
 * epoll-trace, kernel side: epoll_ctl, the interest list of each instance.
 * Part of epoll.bpf.c, which includes it once, after its maps and helpers.
 */
#ifndef EPOLL_CTL_BPF_H
#define EPOLL_CTL_BPF_H

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

static __always_inline void ctl_enter(const __u64 *args)
{
    struct ep_task_state *s = traced_state();
    struct ep_ctl *ctl;
    __u8 ev[EP_EVENT_SIZE];

    if (!s)
        return;
    count(EP_C_CTL);
    s->stats.ctl_calls++;
    ctl = &s->ctl;
    ctl->epfd = (__s32)args[0];
    ctl->op = (__s32)args[1];
    ctl->fd = (__s32)args[2];
    ctl->events = 0;
    ctl->data = 0;
    ctl->active = 1;
    if (ctl->op != EPOLL_CTL_DEL && args[3]) {
        if (bpf_probe_read_user(ev, sizeof(ev), (const void *)args[3]) == 0) {
            __builtin_memcpy(&ctl->events, ev, 4);
            __builtin_memcpy(&ctl->data, ev + 4, 8);
        } else {
            count(EP_C_READ_FAULTS);
        }
    }
}

static __always_inline void ctl_exit(long ret)
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
    if (ret != 0) {
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

#endif /* EPOLL_CTL_BPF_H */
