/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Log-linear latency histogram, shared by the BPF programs and user space.
 *
 * A value v (nanoseconds) lands in one bucket:
 *   v < 8                       bucket v (exact)
 *   2^e <= v < 2^(e+1), e >= 3  the power of two [2^e, 2^(e+1)) is cut into HIST_SUB (8)
 *                               equal sub-buckets, each 2^(e-3) wide:
 *                               bucket (e - 2) * 8 + ((v >> (e - 3)) & 7)
 *   v >= 2^HIST_MAX_POW         the last bucket (the exact maximum is kept in .max)
 * So every bucket is at most 12.5% of its value wide: 1.1 us and 1.4 us land in
 * different buckets (1024-1151 and 1280-1407 ns).
 *
 * The kernel side fills per-CPU copies; user space adds them up and computes percentiles.
 */
#ifndef TOOLKIT_HIST_H
#define TOOLKIT_HIST_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define HIST_SUB_BITS 3
#define HIST_SUB (1 << HIST_SUB_BITS)
#define HIST_MAX_POW 40 /* 2^40 ns = 18 minutes */
#define HIST_BUCKETS ((HIST_MAX_POW - HIST_SUB_BITS + 1) * HIST_SUB)

struct hist {
    __u64 count;
    __u64 sum; /* ns */
    __u64 min; /* ns; valid when count > 0 (0 in an untouched slot) */
    __u64 max; /* ns */
    __u64 buckets[HIST_BUCKETS];
};

/* Keeps the compiler from turning the arithmetic of hist_log2 back into comparisons: BPF has
 * no conditional move, so each would be a branch on the data, mispredicted as often as
 * not in the hot programs. (User space needs no such care.) */
#ifdef __bpf__
#define HIST_OPAQUE(x) asm volatile("" : "+r"(x))
#else
#define HIST_OPAQUE(x) ((void)0)
#endif

/* floor(log2(v)) for v > 0, without loops, branches or builtins the BPF target lacks: a
 * binary search in five halving steps, each asking "is anything left above the lower half"
 * as ((v >> half) + 2^half - 1) >> half, which is 1 exactly when v >> half is not 0. */
static inline __u32 hist_log2(__u64 v)
{
    __u64 r, s;

    s = ((v >> 32) + 0xFFFFFFFFULL) >> 32; /* v >= 2^32 */
    HIST_OPAQUE(s);
    r = s << 5;
    v >>= r;
    s = ((v >> 16) + 0xFFFF) >> 16; /* v < 2^32 now */
    HIST_OPAQUE(s);
    s <<= 4;
    r |= s;
    v >>= s;
    s = ((v >> 8) + 0xFF) >> 8;
    HIST_OPAQUE(s);
    s <<= 3;
    r |= s;
    v >>= s;
    s = ((v >> 4) + 0xF) >> 4;
    HIST_OPAQUE(s);
    s <<= 2;
    r |= s;
    v >>= s;
    s = ((v >> 2) + 0x3) >> 2;
    HIST_OPAQUE(s);
    s <<= 1;
    r |= s;
    v >>= s;
    return (__u32)(r | (v >> 1)); /* v < 4 now */
}

static inline __u32 hist_bucket(__u64 v)
{
    __u32 e;
    if (v < HIST_SUB)
        return (__u32)v;
    e = hist_log2(v);
    if (e >= HIST_MAX_POW)
        return HIST_BUCKETS - 1;
    return (e - HIST_SUB_BITS + 1) * HIST_SUB +
           (__u32)((v >> (e - HIST_SUB_BITS)) & (HIST_SUB - 1));
}

/* The smallest value that lands in bucket b (its upper bound is hist_bucket_low(b + 1)). */
static inline __u64 hist_bucket_low(__u32 b)
{
    __u32 e;
    if (b < HIST_SUB)
        return b;
    e = b / HIST_SUB + HIST_SUB_BITS - 1;
    return (1ULL << e) + (__u64)(b % HIST_SUB) * (1ULL << (e - HIST_SUB_BITS));
}

#endif
