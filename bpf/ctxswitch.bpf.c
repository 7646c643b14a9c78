// SPDX-License-Identifier: GPL-2.0
/*
 * ctxswitch-trace, kernel side: context switches, switch cost, wakeup-to-run, handoff,
 * off-CPU and on-CPU time of a set of traced tasks, aggregated in the kernel.
 *
 * Which tasks are traced: those that have a struct cs_task_state. It is created
 *   - by sched_process_fork for a child of the launcher (launcher_tgid, the tool itself:
 *     the launched workload is traced from its first instruction), or of a traced task
 *     that follows its forks;
 *   - by user space for -p / -t targets (through a pidfd for task storage).
 * It goes away with the task; at the task's final switch its counters are copied into
 * `exited` so nothing is lost when a thread ends before the report.
 *
 * Every program exists twice: tp_btf (typed arguments, state in task-local storage) and a
 * raw_tp twin (untyped arguments read with CO-RE, state in a tid-keyed hash) for kernels
 * whose BTF lacks the typed form. User space loads one set.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "common.bpf.h"
#include "ctxswitch.h"
#include "timeline.bpf.h"
#include "process_events.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define TASK_RUNNING 0
#define TASK_DEAD 0x80

/* set by user space between open and load */
const volatile __u32 launcher_tgid = 0;          /* adopt children of this process (launch mode) */
const volatile bool measure_switch_cost = false; /* sched_exit_tp is attached */
const volatile bool capture_stacks = false;      /* --stacks: off-CPU time by stack and waker */

TK_TASK_STATE(struct cs_task_state, CS_MAX_THREADS)

TK_THREAD_RECORDS(struct cs_thread_stats, CS_MAX_THREADS)

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, CS_HISTS);
    __type(key, __u32);
    __type(value, struct hist);
} hists SEC(".maps");

struct cs_totals {
    __u64 c[CS_COUNTERS];
};

TK_COUNTERS(struct cs_totals, CS_COUNTERS)

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct cs_cpu_state);
} cpu_state SEC(".maps");

/* --stacks (user space sizes both to 1 otherwise): the stacks, and the off-CPU time by
 * sleeper stacks and waker (struct cs_stack_key) */
struct {
    __uint(type, BPF_MAP_TYPE_STACK_TRACE);
    __uint(max_entries, CS_MAX_STACKS);
    __uint(key_size, sizeof(__u32));
    __uint(value_size, CS_STACK_DEPTH * sizeof(__u64));
} stacks SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, CS_MAX_STACKS); /* sized at load: --max-stacks */
    __type(key, struct cs_stack_key);
    __type(value, struct cs_stack_value);
} offcpu_stacks SEC(".maps");

/* woken_by_task_on_stack (common.bpf.h) learns it at the first traced wakeup */
__u64 pt_regs_offset = 0;

/* stop_recording (common.bpf.h): nothing more is counted; a thread that ends meanwhile
 * still has its counters kept */

static __always_inline __u32 switch_kind(bool btf, struct task_struct *prev,
                                         struct task_struct *next)
{
    struct mm_struct *prev_mm = TASK_READ(btf, prev, mm);
    struct mm_struct *next_mm = TASK_READ(btf, next, mm);

    if (!prev_mm || !next_mm)
        return CS_KIND_KERNEL;
    return prev_mm == next_mm ? CS_KIND_THREAD : CS_KIND_PROCESS;
}

/* A stack of current into `stacks` (FLAGS: BPF_F_USER_STACK or 0); -1 when it has none or
 * it did not fit (counted). */
static __always_inline __s32 stack_id(void *ctx, __u64 flags)
{
    long id = bpf_get_stackid(ctx, &stacks, flags);

    /* -EFAULT: no stack to take (a kernel thread's user stack) */
    if (id < 0 && id != -14)
        count(CS_C_DROP_STACK_IDS);
    return id < 0 ? -1 : (__s32)id;
}

/* --stacks, at a voluntary switch-out (current is the sleeper): where it went to sleep.
 * The first time a thread is seen here, its process is reported to user space, which reads
 * its mappings while it lives (to symbolize the stacks after it exited). */
static __always_inline void note_sleep_stacks(void *ctx, struct cs_task_state *s)
{
    s->sleep.user_stack = stack_id(ctx, BPF_F_USER_STACK);
    s->sleep.kernel_stack = stack_id(ctx, 0);
    if (!s->announced) {
        s->announced = 1;
        if (!announce_process(bpf_get_current_task_btf(), s->stats.pid, s->stats.tid))
            count(CS_C_DROP_EVENTS);
    }
}

/* --stacks, at sched_waking of a traced task (current is the waker, or whoever an
 * interrupt borrowed the context of): who woke it and from where. In an interrupt only
 * the kernel stack means anything (it shows the interrupt's path: a timer, a device). */
static __always_inline void note_waker_stacks(void *ctx, struct cs_task_state *s, __u32 tid)
{
    struct task_struct *cur = bpf_get_current_task_btf();

    s->sleep.woken = 1;
    s->sleep.waker_kernel_stack = stack_id(ctx, 0);
    if (cur->pid != tid && in_task_context_of(cur)) {
        s->sleep.waker_user_stack = stack_id(ctx, BPF_F_USER_STACK);
        s->sleep.waker_pid = cur->tgid;
        __builtin_memcpy(s->sleep.waker_comm, cur->comm, sizeof(s->sleep.waker_comm));
    } else {
        s->sleep.waker_user_stack = -1;
        s->sleep.waker_pid = 0;
        __builtin_memcpy(s->sleep.waker_comm, "[interrupt]", sizeof("[interrupt]"));
    }
}

/* --stacks, at the switch-in of a task that slept DELTA ns: added under its stacks. */
static __noinline int add_stack_time(struct cs_task_state *s, __u64 delta)
{
    struct cs_stack_key k = {};
    struct cs_stack_value fresh = {}, *v;

    if (!s)
        return 0;
    k.pid = s->stats.pid;
    k.execs = s->sleep.execs;
    k.user_stack = s->sleep.user_stack;
    k.kernel_stack = s->sleep.kernel_stack;
    if (s->sleep.woken) {
        k.waker_user_stack = s->sleep.waker_user_stack;
        k.waker_kernel_stack = s->sleep.waker_kernel_stack;
        k.waker_pid = s->sleep.waker_pid;
        __builtin_memcpy(k.waker_comm, s->sleep.waker_comm, sizeof(k.waker_comm));
    } else {
        k.waker_user_stack = -1;
        k.waker_kernel_stack = -1;
    }
    s->sleep.woken = 0;
    v = bpf_map_lookup_elem(&offcpu_stacks, &k);
    if (!v) {
        bpf_map_update_elem(&offcpu_stacks, &k, &fresh, BPF_NOEXIST);
        v = bpf_map_lookup_elem(&offcpu_stacks, &k);
        if (!v) {
            count(CS_C_DROP_STACK_ROWS);
            count_n(CS_C_DROP_STACK_NS, delta);
            return 0;
        }
    }
    __sync_fetch_and_add(&v->off_cpu_ns, delta);
    __sync_fetch_and_add(&v->count, 1);
    return 0;
}

/* The task died: keep its counters, forget its state. */
static __always_inline void retire(bool btf, struct task_struct *t, __u32 tid,
                                   struct cs_task_state *s)
{
    s->stats.tid = tid;
    s->stats.pid = TASK_READ(btf, t, tgid);
    bpf_probe_read_kernel_str(s->stats.comm, sizeof(s->stats.comm), &t->comm);
    if (!keep_exited(tid, &s->stats))
        count(CS_C_DROP_EXITED);
    if (!btf)
        bpf_map_delete_elem(&task_state_hash, &tid);
    /* task storage goes away with the task itself */
}

/* The traced task PREV leaves the CPU at NOW. */
static __always_inline void switch_out(void *ctx, bool btf, struct cs_cpu_state *c,
                                       struct task_struct *prev, __u32 prev_tid,
                                       struct cs_task_state *ps, bool preempt,
                                       unsigned int prev_state, __u64 now)
{
    struct cs_totals *t;
    bool voluntary;
    __u64 delta;

    if (c->cost && c->cost_tid == prev_tid) {
        /* the cost of the switch that brought prev onto this CPU */
        __u32 k = c->cost_kind;

        if (k < CS_KINDS) {
            ps->stats.switch_in_cost_ns[k] += c->cost;
            ps->stats.switch_in_count[k]++;
        }
        c->cost = 0;
    }
    if (ps->on_ts) {
        delta = now - ps->on_ts;
        hist_add(&hists, CS_H_ON_CPU, delta);
        ps->stats.on_cpu_ns += delta;
        ps->on_ts = 0;
    }
    /* the kernel's own rule for nvcsw vs nivcsw */
    voluntary = !preempt && prev_state != TASK_RUNNING;
    if (voluntary) {
        ps->stats.voluntary++;
        ps->off_ts = now;
        if (capture_stacks)
            note_sleep_stacks(ctx, ps);
    } else {
        ps->stats.involuntary++;
        ps->runnable_ts = now; /* still runnable: waits for a CPU from now */
        ps->waker_tid = 0;
    }
    t = totals_here(); /* one lookup for both counters */
    if (t) {
        t->c[CS_C_SWITCHES]++;
        t->c[voluntary ? CS_C_VOLUNTARY : CS_C_INVOLUNTARY]++;
    }
    if (prev_state & TASK_DEAD)
        retire(btf, prev, prev_tid, ps);
}

/* The traced task NEXT gets the CPU at NOW, after a switch of KIND. */
static __always_inline void switch_in(bool btf, struct cs_cpu_state *c, struct task_struct *next,
                                      struct cs_task_state *ns, __u32 kind, __u64 now)
{
    __u64 delta;

    if (btf) {
        /* for the wakeups it does (woken_by_cur) */
        c->cur_pid = next->tgid;
        c->cur_stack = (__u64)next->stack;
    }
    ns->on_ts = now;
    if (ns->off_ts) {
        delta = now - ns->off_ts;
        hist_add(&hists, CS_H_OFF_CPU, delta);
        ns->stats.off_cpu_ns += delta;
        ns->stats.off_cpu_count++;
        ns->off_ts = 0;
        if (capture_stacks)
            add_stack_time(ns, delta);
    }
    if (ns->runnable_ts) {
        delta = now - ns->runnable_ts;
        hist_add(&hists, CS_H_WAKEUP_TO_RUN + kind, delta);
        ns->stats.wait_ns += delta;
        ns->stats.wait_count++;
        if (ns->waker_tid) {
            bool same = ns->waker_pid == (btf ? c->cur_pid : BPF_CORE_READ(next, tgid));

            hist_add(&hists, same ? CS_H_HANDOFF_SAME : CS_H_HANDOFF_CROSS, delta);
            ns->stats.handoff_ns += delta;
            ns->stats.handoff_count++;
            ns->waker_tid = 0;
        }
        ns->runnable_ts = 0;
    }
}

static __always_inline int on_switch(void *ctx, bool btf, bool preempt, struct task_struct *prev,
                                     struct task_struct *next, unsigned int prev_state)
{
    __u32 zero = 0;
    struct cs_cpu_state *c = bpf_map_lookup_elem(&cpu_state, &zero);
    __u32 prev_tid = TASK_READ(btf, prev, pid);
    __u32 next_tid = TASK_READ(btf, next, pid);
    struct cs_task_state *ps = NULL, *ns;
    __u64 now;
    __u32 kind;
    int traced;

    if (!c)
        return 0;
    /* prev is who we saw switched in here last: no lookup when it is not traced */
    if (c->cur_tid != prev_tid || c->cur_traced)
        ps = state_of(btf, prev, prev_tid);
    ns = state_of(btf, next, next_tid);
    c->cur_tid = next_tid;
    c->cur_traced = ns != NULL;

    /* keeps clang from testing (ps | ns), a pointer OR the verifier refuses */
    traced = ps != NULL;
    barrier_var(traced);
    if (!traced && !ns) {
        if (c->ts) {
            /* an untraced switch: whatever was in flight ended without its exit */
            count(CS_C_COST_UNMATCHED);
            c->ts = 0;
        }
        return 0;
    }
    if (stop_recording) {
        if (ps && (prev_state & TASK_DEAD))
            retire(btf, prev, prev_tid, ps);
        return 0;
    }
    now = bpf_ktime_get_ns();
    kind = switch_kind(btf, prev, next);

    if (ps)
        switch_out(ctx, btf, c, prev, prev_tid, ps, preempt, prev_state, now);
    if (ns)
        switch_in(btf, c, next, ns, kind, now);
    if (timeline)
        timeline_switch(btf, prev, next, preempt, prev_state, now);

    if (measure_switch_cost) {
        if (c->ts)
            count(CS_C_COST_UNMATCHED); /* the previous one never saw its exit */
        c->ts = now;
        c->next_tid = next_tid;
        c->kind = kind;
    }
    return 0;
}

/* End of __schedule(), in the task just switched in. */
static __always_inline int on_schedule_exit(bool is_switch)
{
    __u32 zero = 0, kind, tid;
    struct cs_cpu_state *c = bpf_map_lookup_elem(&cpu_state, &zero);
    __u64 delta;

    if (!c || !c->ts || !is_switch || stop_recording)
        return 0;
    /* Every sched_switch on this CPU either records itself here (traced) or clears this
     * (untraced), and the only switch whose __schedule() does not end here is into a new
     * task (ret_from_fork), which the next sched_switch counts as unmatched. So a switch in
     * flight is this very __schedule()'s, and current is its next task. */
    tid = c->next_tid;
    delta = bpf_ktime_get_ns() - c->ts;
    kind = c->kind;
    c->ts = 0;
    if (kind >= CS_KINDS)
        return 0;
    hist_add(&hists, CS_H_SWITCH_COST + kind, delta);
    c->cost = delta;
    c->cost_tid = tid;
    c->cost_kind = kind;
    return 0;
}

/* Is this wakeup done by the traced task that runs on this CPU (C's cur), in task context?
 * (woken_by_task_on_stack, common.bpf.h, with cur's stack base kept at its switch-in) */
static __always_inline bool woken_by_cur(struct cs_cpu_state *c)
{
    return woken_by_task_on_stack(c->cur_stack, &pt_regs_offset);
}

static __always_inline int on_waking(void *ctx, bool btf, struct task_struct *p)
{
    __u32 tid = TASK_READ(btf, p, pid), zero = 0;
    struct cs_task_state *s = state_of(btf, p, tid);
    struct cs_cpu_state *c;
    struct task_struct *cur;

    if (!s || stop_recording)
        return 0;
    count(CS_C_WAKEUPS);
    s->runnable_ts = bpf_ktime_get_ns();
    s->waker_tid = 0;
    if (timeline)
        timeline_wakeup(btf, TL_WAKING, p, s->runnable_ts);
    /* (not only while off_ts is set: the wakeup of a task still on its way out of the CPU
     * in another CPU's __schedule() comes before its sched_switch) */
    if (capture_stacks)
        note_waker_stacks(ctx, s, tid);
    /* a traced waker: the task running on this CPU, if it is traced, not the wakee itself,
     * and this is not an interrupt that merely borrowed its context */
    c = bpf_map_lookup_elem(&cpu_state, &zero);
    if (!c || !c->cur_traced || c->cur_tid == tid)
        return 0;
    if (btf) {
        if (woken_by_cur(c)) {
            s->waker_tid = c->cur_tid;
            s->waker_pid = c->cur_pid;
        }
        return 0;
    }
    cur = bpf_get_current_task_btf();
    if (cur->pid == c->cur_tid && in_task_context_of(cur)) {
        s->waker_tid = c->cur_tid;
        s->waker_pid = cur->tgid;
    }
    return 0;
}

static __always_inline int on_wakeup_new(bool btf, struct task_struct *p)
{
    __u32 tid = TASK_READ(btf, p, pid);
    struct cs_task_state *s = state_of(btf, p, tid);

    if (s && !stop_recording) {
        s->runnable_ts = bpf_ktime_get_ns(); /* its first run is a wakeup-to-run too */
        s->waker_tid = 0;
        if (timeline)
            timeline_wakeup(btf, TL_WAKEUP_NEW, p, s->runnable_ts);
    }
    return 0;
}

static __always_inline int on_fork(bool btf, struct task_struct *parent, struct task_struct *child)
{
    struct cs_task_state *cs;
    bool no_room;

    if (stop_recording)
        return 0;
    cs = state_of_child(btf, parent, child, launcher_tgid, &no_room);
    if (!cs) {
        if (no_room)
            count(CS_C_DROP_STORAGE);
        return 0;
    }
    if (bpf_map_update_elem(&live, &cs->stats.tid, &cs->stats.pid, BPF_ANY))
        count(CS_C_DROP_LIVE);
    count(CS_C_FORKS);
    /* --stacks: a new thread runs the image its process runs now */
    if (capture_stacks && cs->stats.tid != cs->stats.pid) {
        __u32 ptid = TASK_READ(btf, parent, pid);
        struct cs_task_state *ps = state_of(btf, parent, ptid);

        if (ps)
            cs->sleep.execs = ps->sleep.execs;
    }
    /* --stacks: a new process's mappings are read at once (a copy of its parent's) */
    if (capture_stacks && cs->stats.tid == cs->stats.pid &&
        !emit_process_event(PE_FORK, cs->stats.pid, cs->stats.tid, TASK_READ(btf, parent, tgid), 0))
        count(CS_C_DROP_EVENTS);
    return 0;
}

static __always_inline int on_exit(bool btf, struct task_struct *p)
{
    __u32 tid = TASK_READ(btf, p, pid);
    struct cs_task_state *s = state_of(btf, p, tid);

    if (s && !stop_recording) {
        count(CS_C_EXITS);
        if (timeline)
            timeline_task_event(btf, TL_EXIT, p, bpf_ktime_get_ns());
    }
    return 0;
}

/* --stacks only: the image changed; its mappings are read again now and when it next
 * sleeps (the dynamic loader has mapped the libraries by then). Runs in the exec'ing task. */
static __always_inline int on_exec(bool btf)
{
    struct cs_task_state *s = state_of_current(btf);
    __u64 id = bpf_get_current_pid_tgid();

    if (!s || stop_recording)
        return 0;
    s->announced = 0;
    s->sleep.execs++;
    if (!report_exec(id >> 32, (__u32)id))
        count(CS_C_DROP_EVENTS);
    return 0;
}

/* task_rename (timeline mode only): a traced task's new name, for the trace. */
static __always_inline int on_rename(bool btf, struct task_struct *t, const char *comm)
{
    __u32 tid = TASK_READ(btf, t, pid);

    if (state_of(btf, t, tid) && !stop_recording)
        timeline_rename(btf, t, comm);
    return 0;
}

static __always_inline int on_migrate(bool btf, struct task_struct *p)
{
    __u32 tid = TASK_READ(btf, p, pid);
    struct cs_task_state *s = state_of(btf, p, tid);

    if (s && !stop_recording) {
        s->stats.migrations++;
        count(CS_C_MIGRATIONS);
    }
    return 0;
}

/* A call of the user-level switch routine (coro_switch, swapcontext ...), through a uprobe
 * that user space attaches when asked (--user-switch): counted for traced tasks. */
static __always_inline int on_user_switch(bool btf)
{
    struct cs_task_state *s = state_of_current(btf);

    if (s && !stop_recording) {
        s->stats.user_switches++;
        count(CS_C_USER_SWITCHES);
        if (timeline)
            timeline_task_event(true, TL_USER_SWITCH, bpf_get_current_task_btf(),
                                bpf_ktime_get_ns());
    }
    return 0;
}

SEC("uprobe")
int user_switch_btf(struct pt_regs *ctx) { return on_user_switch(true); }

SEC("uprobe")
int user_switch_raw(struct pt_regs *ctx) { return on_user_switch(false); }

/* ---- tp_btf programs ------------------------------------------------------------------ */

SEC("tp_btf/sched_switch")
int BPF_PROG(switch_btf, bool preempt, struct task_struct *prev, struct task_struct *next,
             unsigned int prev_state)
{
    return on_switch(ctx, true, preempt, prev, next, prev_state);
}

SEC("tp_btf/sched_exit_tp")
int BPF_PROG(schedule_exit_btf, bool is_switch) { return on_schedule_exit(is_switch); }

SEC("tp_btf/sched_waking")
int BPF_PROG(waking_btf, struct task_struct *p) { return on_waking(ctx, true, p); }

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(wakeup_new_btf, struct task_struct *p) { return on_wakeup_new(true, p); }

SEC("tp_btf/sched_process_fork")
int BPF_PROG(fork_btf, struct task_struct *parent, struct task_struct *child)
{
    return on_fork(true, parent, child);
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(exit_btf, struct task_struct *p) { return on_exit(true, p); }

SEC("tp_btf/sched_migrate_task")
int BPF_PROG(migrate_btf, struct task_struct *p, int dest_cpu) { return on_migrate(true, p); }

SEC("tp_btf/sched_process_exec")
int BPF_PROG(exec_btf) { return on_exec(true); }

SEC("tp_btf/task_rename")
int BPF_PROG(rename_btf, struct task_struct *t, const char *comm)
{
    return on_rename(true, t, comm);
}

/* ---- raw_tp twins ---------------------------------------------------------------------- */

SEC("raw_tp/sched_switch")
int BPF_PROG(switch_raw, bool preempt, struct task_struct *prev, struct task_struct *next,
             unsigned int prev_state)
{
    return on_switch(ctx, false, preempt, prev, next, prev_state);
}

SEC("raw_tp/sched_exit_tp")
int BPF_PROG(schedule_exit_raw, bool is_switch) { return on_schedule_exit(is_switch); }

SEC("raw_tp/sched_waking")
int BPF_PROG(waking_raw, struct task_struct *p) { return on_waking(ctx, false, p); }

SEC("raw_tp/sched_wakeup_new")
int BPF_PROG(wakeup_new_raw, struct task_struct *p) { return on_wakeup_new(false, p); }

SEC("raw_tp/sched_process_fork")
int BPF_PROG(fork_raw, struct task_struct *parent, struct task_struct *child)
{
    return on_fork(false, parent, child);
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(exit_raw, struct task_struct *p) { return on_exit(false, p); }

SEC("raw_tp/sched_migrate_task")
int BPF_PROG(migrate_raw, struct task_struct *p, int dest_cpu) { return on_migrate(false, p); }

SEC("raw_tp/sched_process_exec")
int BPF_PROG(exec_raw) { return on_exec(false); }

SEC("raw_tp/task_rename")
int BPF_PROG(rename_raw, struct task_struct *t, const char *comm)
{
    return on_rename(false, t, comm);
}
