/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Helpers every tracer's BPF side shares: per-CPU counters and histograms, and the
 * question "was this wakeup done from process context, by `current`?".
 */
#ifndef TOOLKIT_COMMON_BPF_H
#define TOOLKIT_COMMON_BPF_H

#include "hist.h"

/* Add v to histogram slot `id` of a BPF_MAP_TYPE_PERCPU_ARRAY of struct hist. */
static __always_inline void hist_add(void *map, __u32 id, __u64 v)
{
    struct hist *h = bpf_map_lookup_elem(map, &id);
    __u32 b;

    if (!h)
        return;
    h->count++;
    h->sum += v;
    if (h->count == 1 || v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
    b = hist_bucket(v);
    barrier_var(b);
    if (b >= HIST_BUCKETS)
        b = HIST_BUCKETS - 1;
    h->buckets[b]++;
}

/*
 * Was this called from task context, so that `current` is the one doing it (say, waking
 * someone)? In a hard interrupt (a timer expiring, a device) current is merely whoever
 * was interrupted. The preempt count would tell, but on x86 it is a per-CPU variable that
 * BPF can only reach through kallsyms data symbols, which kernels without
 * CONFIG_KALLSYMS_ALL (ours) lack. Instead, two tests:
 *  - an interrupt taken while the CPU was in the kernel runs on the per-CPU IRQ stack, so
 *    if our own stack frame is not inside current's task stack, we are in one (softirqs
 *    run at irq exit share that stack; softirqs run by local_bh_enable() in a task, as
 *    loopback networking does, count as that task's doing, which they are);
 *  - an interrupt taken while the CPU ran user code stays on the task's stack (x86-64
 *    call_on_irqstack_cond), but its entry left the task's user registers with ORIG_RAX
 *    -1, where a system call leaves its number and an exception its error code.
 * The stack test needs pointer comparisons, which the verifier allows with CAP_PERFMON.
 */
#define TK_THREAD_SIZE (16 * 1024) /* x86-64 without KASAN; a larger stack errs towards "interrupt" */

static __always_inline bool in_task_context_of(struct task_struct *cur /* current */)
{
    __u64 base = (__u64)cur->stack;
    __u64 top = base + TK_THREAD_SIZE;
    volatile __u64 marker = 0;
    __u64 here = (__u64)&marker;
    struct pt_regs *regs;

    /* two plain comparisons: clang would fold them into (here - base) < size, pointer
     * arithmetic the verifier refuses */
    barrier_var(top);
    if (here < base)
        return false;
    barrier_var(here);
    if (here >= top)
        return false;
    regs = (struct pt_regs *)bpf_task_pt_regs(cur);
    if (!regs)
        return true;
    return !((regs->cs & 3) == 3 && (long)regs->orig_ax < 0);
}

static __always_inline bool in_task_context(void)
{
    return in_task_context_of(bpf_get_current_task_btf());
}

#endif
