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
    __u32 n; /* entries in sc->buf (epoll, poll) or words in sc->sets (select) */
};

/*
 * One fd returned ready. This and ep_data_ready are global functions: the verifier checks
 * each once, alone, rather than inside every iteration it walks of the loops below (select's
 * nested loop cost it 138,000 instructions and 0.2 s per program).
 */
__noinline int ep_fd_ready(__u32 pid, __s32 key, __s32 fd, __u32 mask)
{
    struct ep_fd_key k = {.pid = pid, .key = key, .fd = fd};
    struct ep_fd_info zero = {}, *info = lookup_or_init(&fds, &k, &zero);

    if (!info) {
        count(EP_C_DROP_FDS);
        return 0;
    }
    __sync_fetch_and_add(&info->ready, 1);
    __sync_fetch_and_or(&info->returned_mask, mask);
    return 0;
}

/* One epoll event returned, by its epoll_data: 1 when it matches a registration. */
__noinline int ep_data_ready(__u32 pid, __s32 epfd, __u64 data, __u32 mask)
{
    struct ep_data_key dk = {.pid = pid, .epfd = epfd, .data = data};
    struct ep_data_info *d = bpf_map_lookup_elem(&by_data, &dk);

    if (!d)
        return 0;
    __sync_fetch_and_add(&d->ready, 1);
    if ((d->returned_mask & mask) != mask)
        __sync_fetch_and_or(&d->returned_mask, mask);
    return 1;
}

static long epoll_event_cb(__u32 i, void *data)
{
    struct fd_loop_ctx *lc = data;
    __u64 epoll_data;
    __u32 off, mask;

    if (i >= EP_EVENTS_READ || i >= lc->n)
        return 1;
    off = i * EP_EVENT_SIZE;
    barrier_var(off);
    if (off > EP_SCRATCH_SIZE - EP_EVENT_SIZE)
        return 1;
    __builtin_memcpy(&mask, &lc->sc->buf[off], 4);
    __builtin_memcpy(&epoll_data, &lc->sc->buf[off + 4], 8);
    if (ep_data_ready(lc->pid, lc->key, epoll_data, mask))
        lc->sc->found++;
    else
        lc->sc->unmapped++;
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
        ep_fd_ready(lc->pid, lc->key, fd, revents);
        lc->sc->found++;
    }
    return 0;
}

struct fd_bits_ctx {
    struct fd_loop_ctx *lc;
    __u64 in, out, ex, bits;
    __u32 word;
};

/*
 * Bit I of an fd_set word. Taking bit by bit (rather than the lowest set bit each time, whose
 * index is a log2 the verifier follows branch by branch) keeps each iteration alike to it.
 */
static long fdset_bit_cb(__u32 i, void *data)
{
    struct fd_bits_ctx *bc = data;
    __u32 mask;

    if (i >= 64 || !(bc->bits >> i))
        return 1; /* no set bit from here on */
    if (!((bc->bits >> i) & 1))
        return 0;
    /* the poll bits a person expects: readable 0x1, writable 0x4, exception 0x2 */
    mask = (__u32)((bc->in >> i) & 1) | (__u32)(((bc->out >> i) & 1) << 2) |
           (__u32)(((bc->ex >> i) & 1) << 1);
    ep_fd_ready(bc->lc->pid, bc->lc->key, (__s32)(bc->word * 64 + i), mask);
    bc->lc->sc->found++;
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
    sc->found = 0;
    sc->unmapped = 0;
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
        if (sc->unmapped)
            count_n(EP_C_EVENTS_UNMAPPED, sc->unmapped);
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
        if ((__u64)ret > sc->found)
            count_n(EP_C_EVENTS_UNREAD, (__u64)ret - sc->found);
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
