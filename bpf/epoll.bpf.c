// SPDX-License-Identifier: GPL-2.0
/*
 * epoll-trace, kernel side: how event loops wait in epoll_wait/epoll_pwait/epoll_pwait2,
 * poll/ppoll and select/pselect6, aggregated in the kernel per loop (pid + epfd, or the
 * poll or select calls of a process) and per thread.
 *
 * The kernel has no epoll tracepoints (and this one no kprobes), so everything is built
 * from the syscall tracepoints (sys_enter and sys_exit, one program each, dispatching on the
 * syscall's number) and the scheduler:
 *   sys_enter     what the call asked for: epfd, maxevents, the timeout, the fds (nfds, or
 *                 the bits set in select's fd_sets, read from user memory)
 *   sched_switch  the caller leaving the CPU inside the call (asleep or preempted) and
 *                 coming back: blocked time, preempted time, on-CPU time in the call
 *   sched_waking  the caller being woken inside the call, in the waker's context: who made
 *                 it ready, and the start of the ready-to-return latency
 *   sys_exit      the return: events, timeouts, overrun; the returned events are read back
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
#include "timeline.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define TASK_RUNNING 0
#define EINTR 4
#define EPOLL_CTL_ADD 1
#define EPOLL_CTL_DEL 2
#define EPOLL_CTL_MOD 3

/* set by user space between open and load */
const volatile __u32 launcher_tgid = 0; /* adopt the children of this process (launch mode) */
const volatile __u32 target_tid = 0;    /* -t: trace only this thread */
/* the syscalls' numbers on this architecture; -1: absent, or not traced (--without) */
const volatile long nr_epoll_wait = -1;
const volatile long nr_epoll_pwait = -1;
const volatile long nr_epoll_pwait2 = -1;
const volatile long nr_epoll_ctl = -1;
const volatile long nr_poll = -1;
const volatile long nr_ppoll = -1;
const volatile long nr_select = -1;
const volatile long nr_pselect6 = -1;

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

TK_THREAD_RECORDS(struct ep_thread_stats, EP_MAX_THREADS)

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

TK_COUNTERS(struct ep_totals, EP_COUNTERS)

/* user buffers read back at sys_exit (and select's fd_sets at sys_enter) */
struct ep_scratch {
    __u8 buf[EP_SCRATCH_SIZE];
    __u64 sets[3][EP_FDSET_WORDS];
    /*
     * What the readiness loops count, here rather than on the stack: a value read from a
     * map is unknown to the verifier, so each iteration of a loop looks the same to it. A
     * counter on the stack is a different constant in each, and the verifier walked all 64
     * iterations of every loop (400,000 instructions, 0.5 s to load).
     */
    __u32 found;    /* entries attributed to an fd */
    __u32 unmapped; /* epoll: data matched no registration */
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

/* stop_recording (common.bpf.h): calls that return from then on are not counted; a thread
 * that ends meanwhile still has its counters kept */

/* ---- small helpers ----------------------------------------------------------------------- */

/* hist_record() of common.bpf.h as a global function: the verifier checks it once, alone,
 * rather than at each of its dozen call sites, where its branches would multiply the states. */
__noinline int hist_put(struct hist *h, __u64 v)
{
    if (h)
        hist_record(h, v);
    return 0;
}

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

/* ---- the programs, by concern ----------------------------------------------------- */

#include "epoll_readiness.bpf.h"
#include "epoll_calls.bpf.h"
#include "epoll_ctl.bpf.h"
#include "epoll_syscalls.bpf.h"
#include "epoll_sched.bpf.h"
#include "epoll_tasks.bpf.h"
