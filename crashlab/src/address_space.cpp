#include "address_space.h"

#include <elf.h>

#include <cstring>

namespace crashlab {

std::vector<uint8_t> AddressSpace::read(uint64_t addr, size_t len) const {
    std::vector<uint8_t> out(len);
    size_t got = core_.read(addr, out.data(), len);
    if (got < len) {
        std::vector<uint8_t> rest = symbolizer_.read_module_bytes(addr + got, len - got);
        if (!rest.empty())
            memcpy(out.data() + got, rest.data(), rest.size());
        got += rest.size();
    }
    out.resize(got);
    return out;
}

bool AddressSpace::read_u64(uint64_t addr, uint64_t& value) const {
    if (core_.read_u64(addr, value))
        return true;
    std::vector<uint8_t> b = read(addr, 8);
    if (b.size() != 8)
        return false;
    memcpy(&value, b.data(), 8);
    return true;
}

bool AddressSpace::read_u32(uint64_t addr, uint32_t& value) const {
    std::vector<uint8_t> b = read(addr, 4);
    if (b.size() != 4)
        return false;
    memcpy(&value, b.data(), 4);
    return true;
}

bool AddressSpace::executable(uint64_t addr) const {
    const Segment* s = core_.segment_at(addr);
    return s && (s->flags & PF_X);
}

}  // namespace crashlab
