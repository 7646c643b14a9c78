/* SPDX-License-Identifier: GPL-2.0 */
/*
 * epoll-trace, kernel side: the programs on the syscalls, which hand the waiting calls to
 * epoll_calls.bpf.h and epoll_ctl to epoll_ctl.bpf.h.
 * Part of epoll.bpf.c, which includes it once, after those two.
 */
#ifndef EPOLL_SYSCALLS_BPF_H
#define EPOLL_SYSCALLS_BPF_H

/* Which waiting call syscall number ID is (EP_SYS_*), or -1. */
static __always_inline int waiting_call(long id)
{
    if (id == nr_epoll_wait)
        return EP_SYS_EPOLL_WAIT;
    if (id == nr_epoll_pwait)
        return EP_SYS_EPOLL_PWAIT;
    if (id == nr_epoll_pwait2)
        return EP_SYS_EPOLL_PWAIT2;
    if (id == nr_poll)
        return EP_SYS_POLL;
    if (id == nr_ppoll)
        return EP_SYS_PPOLL;
    if (id == nr_select)
        return EP_SYS_SELECT;
    if (id == nr_pselect6)
        return EP_SYS_PSELECT6;
    return -1;
}

/*
 * Whether the programs follow this syscall: a waiting call (SYS) or epoll_ctl, from a 64-bit
 * task. A negative ID (a syscall a tracer or seccomp skipped) is none, though the number of
 * a call left untraced is -1 too.
 */
static __always_inline bool followed(struct pt_regs *regs, long id, int sys)
{
    return id >= 0 && (sys >= 0 || id == nr_epoll_ctl) && NATIVE_SYSCALL(true, regs);
}

static __always_inline __u8 family_of(int sys)
{
    if (sys <= EP_SYS_EPOLL_PWAIT2)
        return EP_EPOLL;
    return sys <= EP_SYS_PPOLL ? EP_POLL : EP_SELECT;
}

/*
 * One program on every syscall's entry and one on its return, dispatching on the number,
 * rather than a program per syscall tracepoint: those are perf events, and closing each one
 * waits for the kernel's grace periods (about 70 ms apiece, 1.2 s for the 17 of them).
 * Any other syscall pays for the two programs' calls and a few comparisons (+135 ns on a
 * getppid here, 119 of them the empty programs' floor: docs/epoll-trace.md, OVERHEAD).
 */
SEC("tp_btf/sys_enter")
int BPF_PROG(ep_sys_enter, struct pt_regs *regs, long id)
{
    int sys = waiting_call(id);
    __u64 args[5];

    if (!followed(regs, id, sys))
        return 0;
    args[0] = PT_REGS_PARM1_SYSCALL(regs);
    args[1] = PT_REGS_PARM2_SYSCALL(regs);
    args[2] = PT_REGS_PARM3_SYSCALL(regs);
    args[3] = PT_REGS_PARM4_SYSCALL(regs);
    args[4] = PT_REGS_PARM5_SYSCALL(regs);
    if (sys < 0)
        ctl_enter(args);
    else if (family_of(sys) == EP_EPOLL)
        epoll_wait_enter(args, sys);
    else if (family_of(sys) == EP_POLL)
        poll_enter(args, sys);
    else
        select_enter(args, sys);
    return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(ep_sys_exit, struct pt_regs *regs, long ret)
{
    long id = SYSCALL_NR(true, regs);
    int sys = waiting_call(id);

    if (!followed(regs, id, sys))
        return 0;
    if (sys >= 0)
        call_exit(sys, family_of(sys), ret);
    else
        ctl_exit(ret);
    return 0;
}

#endif /* EPOLL_SYSCALLS_BPF_H */
