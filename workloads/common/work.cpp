#include "common/work.h"
#include "common/opaque.h"

#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace wl {

void spin_for_ns(uint64_t ns) {
    if (ns == 0)
        return;
    uint64_t start = now_ns();
    while (now_ns() - start < ns) {
#if defined(__x86_64__)
        _mm_pause();
#endif
    }
}

OPAQUE uint64_t hash_bytes(const void* data, size_t size) {
    // Word-at-a-time multiply-xorshift: cheap, and every byte changes the result.
    const auto* p = static_cast<const unsigned char*>(data);
    uint64_t h = 0x9e3779b97f4a7c15ull ^ size;
    size_t i = 0;
    for (; i + 8 <= size; i += 8) {
        uint64_t w;
        std::memcpy(&w, p + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 29;
    }
    for (; i < size; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    h ^= h >> 33;
    return h;
}

std::vector<unsigned char> make_work_buffer(size_t size) {
    std::vector<unsigned char> buf(size);
    uint64_t x = 0x2545f4914f6cdd1dull;
    for (auto& b : buf) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        b = static_cast<unsigned char>(x);
    }
    return buf;
}

}  // namespace wl
