/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The ring-buffer record a tracer's BPF side sends when user space should read a
 * process's /proc/PID/maps now, while the process lives: stacks and addresses can be
 * symbolized at report time only from mappings captured before the process exited.
 * Read by tk::MapsWatcher (lib/bpf/maps_watcher.h); sent by lockwait-trace and by
 * ctxswitch-trace --stacks.
 */
#ifndef TOOLKIT_PROCESS_EVENTS_H
#define TOOLKIT_PROCESS_EVENTS_H

#define PE_EXEC 1    /* a traced task exec'd (the image changed) */
#define PE_PROCESS 2 /* a traced process was seen for the first time (since its exec or fork) */
#define PE_ADDRESS 3 /* an address the mappings should cover (lockwait: a futex word) */
#define PE_FORK 4    /* a traced process forked a new process (pid: the child) */

struct process_event {
    __u32 type;
    __u32 pid;
    __u32 tid;
    __u32 ppid; /* parent process: its mappings stand in if this one is gone */
    __u32 _pad;
    __u64 addr; /* PE_ADDRESS: the address */
};

#endif
