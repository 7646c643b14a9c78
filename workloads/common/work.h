// Time and busy work shared by the workloads.
#pragma once

#include <time.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace wl {

// CLOCK_MONOTONIC in nanoseconds: the clock the tracers use (bpf_ktime_get_ns) too.
inline uint64_t now_ns() {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

// Burns the CPU for about `ns` without sleeping (critical sections, think time). Reads the
// clock on every step, so its resolution is one clock read (tens of ns).
void spin_for_ns(uint64_t ns);

// A 64-bit hash of a buffer, about one cycle per byte: the CPU-bound unit of work. It is
// compiled as an opaque call (OPAQUE, common/opaque.h), so the compiler can neither hoist a
// repeated call on the same buffer out of a loop nor drop it.
uint64_t hash_bytes(const void* data, size_t size);

// A deterministic buffer of `size` bytes to hash.
std::vector<unsigned char> make_work_buffer(size_t size);

}  // namespace wl
