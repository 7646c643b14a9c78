/* SPDX-License-Identifier: GPL-2.0 */
/*
 * epoll-trace, kernel side: readiness per fd, read back from the buffers a call returns.
 * Part of epoll.bpf.c, which includes it once, after its maps and helpers.
 */
#ifndef EPOLL_READINESS_BPF_H
#define EPOLL_READINESS_BPF_H

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

#endif /* EPOLL_READINESS_BPF_H */
