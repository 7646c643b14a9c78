/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Helpers every tracer's BPF side shares: per-CPU counters and histograms, and the
 * question "was this wakeup done from process context, by `current`?".
 */
#ifndef TOOLKIT_COMMON_BPF_H
#define TOOLKIT_COMMON_BPF_H

#include "hist.h"

/* Set by user space before it reads the maps for the final report (tk::Probes::
 * stop_recording), so that totals, histograms and per-thread rows read one after another
 * agree while a -p target runs on. Each tool's programs say what they stop recording. */
bool stop_recording = false;

/*
 * The tool's global counters: one per-CPU `totals` map whose value TYPE has `__u64 c[N]`
 * (and whatever else the tool counts per CPU), user space summing the CPUs
 * (tk::sum_per_cpu_counters). count(C) and count_n(C, n) add to counter C; totals_here()
 * is this CPU's TYPE.
 */
#define TK_COUNTERS(TYPE, N)                                  \
    struct {                                                  \
        __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);              \
        __uint(max_entries, 1);                               \
        __type(key, __u32);                                   \
        __type(value, TYPE);                                  \
    } totals SEC(".maps");                                    \
                                                              \
    static __always_inline TYPE *totals_here(void)            \
    {                                                         \
        __u32 zero = 0;                                       \
                                                              \
        return bpf_map_lookup_elem(&totals, &zero);           \
    }                                                         \
                                                              \
    static __always_inline void count_n(__u32 which, __u64 n) \
    {                                                         \
        TYPE *t = totals_here();                              \
                                                              \
        if (t && which < (N))                                 \
            t->c[which] += n;                                 \
    }                                                         \
                                                              \
    static __always_inline void count(__u32 which) { count_n(which, 1); }

/*
 * The threads user space reads at the end: `live` (tid -> pid of every traced thread alive
 * now, to find its per-task state) and `exited` (the final STATS of each thread that ended,
 * under an exit sequence number, since tids are reused). Both preallocated: a thread that
 * starts or ends while the machine is busy must not be lost to an empty allocation cache;
 * only a full map drops. keep_exited(tid, stats) moves a thread from one to the other
 * (false: `exited` was full); `exited` is written first, so a reader that walks `live`
 * and then `exited` sees the thread in one of them.
 */
#define TK_THREAD_RECORDS(STATS, MAX_THREADS)                                    \
    struct {                                                                     \
        __uint(type, BPF_MAP_TYPE_HASH);                                         \
        __uint(max_entries, MAX_THREADS);                                        \
        __type(key, __u32);                                                      \
        __type(value, __u32);                                                    \
    } live SEC(".maps");                                                         \
    struct {                                                                     \
        __uint(type, BPF_MAP_TYPE_HASH);                                         \
        __uint(max_entries, MAX_THREADS);                                        \
        __type(key, __u32);                                                      \
        __type(value, STATS);                                                    \
    } exited SEC(".maps");                                                       \
    __u32 exit_seq = 0;                                                          \
                                                                                 \
    static __always_inline bool keep_exited(__u32 tid, STATS *stats)             \
    {                                                                            \
        __u32 key = __sync_fetch_and_add(&exit_seq, 1);                          \
        bool kept = bpf_map_update_elem(&exited, &key, stats, BPF_NOEXIST) == 0; \
                                                                                 \
        bpf_map_delete_elem(&live, &tid);                                        \
        return kept;                                                             \
    }

/* The entry of KEY, created from INIT first when the key is new; NULL when the map is full. */
static __always_inline void *lookup_or_init(void *map, const void *key, const void *init)
{
    void *v = bpf_map_lookup_elem(map, key);

    if (v)
        return v;
    bpf_map_update_elem(map, key, init, BPF_NOEXIST);
    return bpf_map_lookup_elem(map, key);
}

/* Add v to one histogram (in any map value). */
static __always_inline void hist_record(struct hist *h, __u64 v)
{
    __u32 b;

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

/* Add v to histogram slot `id` of a BPF_MAP_TYPE_PERCPU_ARRAY of struct hist. */
static __always_inline void hist_add(void *map, __u32 id, __u64 v)
{
    struct hist *h = bpf_map_lookup_elem(map, &id);

    if (h)
        hist_record(h, v);
}

/* Read a task field: a direct (BTF-checked) load for tp_btf, a CO-RE probe read for raw_tp. */
#define TASK_READ(btf, t, field) ((btf) ? (t)->field : BPF_CORE_READ((t), field))

/* Whether T, which is exiting (from sched_process_exit on), was the last thread of its
 * process: do_exit() counts the process's live threads down before that tracepoint. What a
 * tool keeps per process goes then, or a process that reuses the pid would inherit it. */
static __always_inline bool last_of_its_process(bool btf, struct task_struct *t)
{
    return (btf ? t->signal->live.counter : BPF_CORE_READ(t, signal, live.counter)) == 0;
}

/*
 * Per-task state, kept the same way by every tracer: in task-local storage for the tp_btf
 * programs (it goes away with the task), and for the raw_tp twins, whose untyped task
 * pointers cannot key task storage, in a tid-keyed hash (user space shrinks the one it
 * does not use to a single entry; lib/bpf/bpf_maps.h TaskStateMaps is the other side).
 * TK_TASK_STATE(TYPE, MAX_THREADS) defines the maps task_state, task_state_hash and
 * task_state_zero (the zeroed template for a new hash entry: TYPE may not fit the stack)
 * and the functions
 *   state_of(btf, task, tid)      the task's state, NULL when it is not traced
 *   state_create(btf, task, tid)  the task's state, made zeroed if missing; NULL when full
 *   state_of_current(btf)         current's state
 *   state_of_child(btf, parent, child, launcher, &no_room)
 *                                 at sched_process_fork: the child's new state when it is
 *                                 followed (TYPE's `follow` and `stats.tid`/`stats.pid` set)
 */
#define TK_TASK_STATE(TYPE, MAX_THREADS)                                                    \
    struct {                                                                                \
        __uint(type, BPF_MAP_TYPE_TASK_STORAGE);                                            \
        __uint(map_flags, BPF_F_NO_PREALLOC);                                               \
        __type(key, int);                                                                   \
        __type(value, TYPE);                                                                \
    } task_state SEC(".maps");                                                              \
    struct {                                                                                \
        __uint(type, BPF_MAP_TYPE_HASH);                                                    \
        __uint(map_flags, BPF_F_NO_PREALLOC);                                               \
        __uint(max_entries, MAX_THREADS);                                                   \
        __type(key, __u32);                                                                 \
        __type(value, TYPE);                                                                \
    } task_state_hash SEC(".maps");                                                         \
    struct {                                                                                \
        __uint(type, BPF_MAP_TYPE_ARRAY);                                                   \
        __uint(max_entries, 1);                                                             \
        __type(key, __u32);                                                                 \
        __type(value, TYPE);                                                                \
    } task_state_zero SEC(".maps");                                                         \
                                                                                            \
    static __always_inline TYPE *state_of(bool btf, struct task_struct *t, __u32 tid)       \
    {                                                                                       \
        if (btf)                                                                            \
            return bpf_task_storage_get(&task_state, t, 0, 0);                              \
        return bpf_map_lookup_elem(&task_state_hash, &tid);                                 \
    }                                                                                       \
                                                                                            \
    static __always_inline TYPE *state_create(bool btf, struct task_struct *t, __u32 tid)   \
    {                                                                                       \
        __u32 zero_key = 0;                                                                 \
        TYPE *zero;                                                                         \
                                                                                            \
        if (btf)                                                                            \
            return bpf_task_storage_get(&task_state, t, 0, BPF_LOCAL_STORAGE_GET_F_CREATE); \
        zero = bpf_map_lookup_elem(&task_state_zero, &zero_key);                            \
        if (zero)                                                                           \
            bpf_map_update_elem(&task_state_hash, &tid, zero, BPF_NOEXIST);                 \
        return bpf_map_lookup_elem(&task_state_hash, &tid);                                 \
    }                                                                                       \
                                                                                            \
    /* (the tid is asked for only when needed: a helper call costs ~15 ns on our VMs) */    \
    static __always_inline TYPE *state_of_current(bool btf)                                 \
    {                                                                                       \
        __u32 tid;                                                                          \
                                                                                            \
        if (btf)                                                                            \
            return bpf_task_storage_get(&task_state, bpf_get_current_task_btf(), 0, 0);     \
        tid = (__u32)bpf_get_current_pid_tgid();                                            \
        return bpf_map_lookup_elem(&task_state_hash, &tid);                                 \
    }                                                                                       \
                                                                                            \
    /* The child is followed when its parent is, or when LAUNCHER (the tool's pid in        \
     * launch mode, else 0) starts the command; the tool's own threads never are. NULL      \
     * when it is not followed, and then *no_room says whether it should have been. */      \
    static __always_inline TYPE *state_of_child(bool btf, struct task_struct *parent,       \
                                                struct task_struct *child, __u32 launcher,  \
                                                bool *no_room)                              \
    {                                                                                       \
        __u32 parent_tgid = TASK_READ(btf, parent, tgid);                                   \
        __u32 child_tid = TASK_READ(btf, child, pid);                                       \
        __u32 child_tgid = TASK_READ(btf, child, tgid);                                     \
        TYPE *ps, *cs;                                                                      \
                                                                                            \
        *no_room = false;                                                                   \
        if (!(launcher && parent_tgid == launcher && child_tgid != launcher)) {             \
            ps = state_of(btf, parent, TASK_READ(btf, parent, pid));                        \
            if (!ps || !ps->follow)                                                         \
                return NULL;                                                                \
        }                                                                                   \
        cs = state_create(btf, child, child_tid);                                           \
        if (!cs) {                                                                          \
            *no_room = true;                                                                \
            return NULL;                                                                    \
        }                                                                                   \
        cs->follow = 1;                                                                     \
        cs->stats.tid = child_tid;                                                          \
        cs->stats.pid = child_tgid;                                                         \
        return cs;                                                                          \
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
#define TK_THREAD_SIZE \
    (16 * 1024) /* x86-64 without KASAN; a larger stack errs towards "interrupt" */

/* The first test: does our own stack frame lie in the task stack that starts at BASE? */
static __always_inline bool frame_in_task_stack(__u64 base)
{
    __u64 top = base + TK_THREAD_SIZE;
    volatile __u64 marker = 0;
    __u64 here = (__u64)&marker;

    /* two plain comparisons: clang would fold them into (here - base) < size, pointer
     * arithmetic the verifier refuses */
    barrier_var(top);
    if (here < base)
        return false;
    barrier_var(here);
    if (here >= top)
        return false;
    return true;
}

/* The second: are a task's user registers REGS those of an interrupt taken in user mode? */
static __always_inline bool interrupted_in_user_mode(const struct pt_regs *regs)
{
    return (regs->cs & 3) == 3 && (long)regs->orig_ax < 0;
}

static __always_inline bool in_task_context_of(struct task_struct *cur /* current */)
{
    struct pt_regs *regs;

    if (!frame_in_task_stack((__u64)cur->stack))
        return false;
    regs = (struct pt_regs *)bpf_task_pt_regs(cur);
    return !regs || !interrupted_in_user_mode(regs);
}

static __always_inline bool in_task_context(void)
{
    return in_task_context_of(bpf_get_current_task_btf());
}

extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;

/*
 * in_task_context_of(current) without its two helper calls, for a tool that keeps the base
 * of the running task's kernel stack per CPU (BASE, saved at its switch-in): the user
 * registers are read in place, at *PT_REGS_OFFSET above the base (the tool's global, 0
 * until the first call learns it from the kernel: the kernel's configuration decides it,
 * FRED pads the top of the stack). That our own stack frame lies in that stack also proves
 * that current is that task: between sched_switch and the switch of stacks, current is
 * still prev, and this says no.
 */
static __always_inline bool woken_by_task_on_stack(__u64 base, __u64 *pt_regs_offset)
{
    __u64 off = *pt_regs_offset;
    struct task_struct *cur;
    struct pt_regs *regs;

    if (!frame_in_task_stack(base))
        return false;
    if (!off) {
        cur = bpf_get_current_task_btf();
        off = (__u64)bpf_task_pt_regs(cur) - (__u64)cur->stack;
        *pt_regs_offset = off;
    }
    regs = bpf_rdonly_cast((void *)(base + off), bpf_core_type_id_kernel(struct pt_regs));
    return !interrupted_in_user_mode(regs);
}

/*
 * SYSCALL_NR: the syscall's number in the registers it was entered with (at sys_exit: which
 * call returns). NATIVE_SYSCALL: whether it came from a 64-bit task; a 32-bit task's numbers
 * belong to another table (its 240 is futex), and like the kernel's own syscall events the
 * tools leave those calls out. Direct (BTF-checked) loads for tp_btf, CO-RE reads for raw_tp.
 */
#if defined(__TARGET_ARCH_x86)
#define SYSCALL_NR(btf, regs) ((btf) ? (long)(regs)->orig_ax : (long)BPF_CORE_READ(regs, orig_ax))
#define TK_USER32_CS 0x23 /* the code segment of 32-bit user code */
#define NATIVE_SYSCALL(btf, regs) (((btf) ? (regs)->cs : BPF_CORE_READ(regs, cs)) != TK_USER32_CS)
#elif defined(__TARGET_ARCH_arm64)
#define SYSCALL_NR(btf, regs) \
    ((btf) ? (long)(regs)->syscallno : (long)BPF_CORE_READ(regs, syscallno))
#define TK_PSR_MODE32_BIT 0x10 /* pstate of an AArch32 task */
#define NATIVE_SYSCALL(btf, regs) \
    !(((btf) ? (regs)->pstate : BPF_CORE_READ(regs, pstate)) & TK_PSR_MODE32_BIT)
#else
#error "common.bpf.h: add this architecture's syscall number register"
#endif

#endif
