/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel half of reporting processes to user space (struct process_event of
 * process_events.h, read by tk::MapsWatcher): the ring buffer `events`, the set `procs` of
 * processes already reported since their exec, and the ways to send one. A tool that
 * reports nothing in a run sizes both to their minimum from user space.
 */
#ifndef TOOLKIT_PROCESS_EVENTS_BPF_H
#define TOOLKIT_PROCESS_EVENTS_BPF_H

#include "process_events.h"

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 64 * 1024);
} events SEC(".maps");

/* processes already reported since their exec (tgid -> 1) */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 65536);
    __type(key, __u32);
    __type(value, __u32);
} procs SEC(".maps");

/* Sends one record; false when the ring was full (the caller counts it as dropped). */
static __always_inline bool emit_process_event(__u32 type, __u32 pid, __u32 tid, __u32 ppid,
                                               __u64 addr)
{
    struct process_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

    if (!e)
        return false;
    e->type = type;
    e->pid = pid;
    e->tid = tid;
    e->ppid = ppid;
    e->_pad = 0;
    e->addr = addr;
    bpf_ringbuf_submit(e, 0);
    return true;
}

/* PE_PROCESS for TGID unless it was reported since its exec (CUR: current, one of its
 * threads). False when the ring was full. */
static __always_inline bool announce_process(struct task_struct *cur, __u32 tgid, __u32 tid)
{
    __u32 one = 1;

    if (bpf_map_lookup_elem(&procs, &tgid))
        return true;
    bpf_map_update_elem(&procs, &tgid, &one, BPF_NOEXIST);
    return emit_process_event(PE_PROCESS, tgid, tid, BPF_CORE_READ(cur, real_parent, tgid), 0);
}

/* The image of TGID changed: its mappings must be read again, now and when next seen. */
static __always_inline bool report_exec(__u32 tgid, __u32 tid)
{
    bpf_map_delete_elem(&procs, &tgid);
    return emit_process_event(PE_EXEC, tgid, tid, 0, 0);
}

#endif
