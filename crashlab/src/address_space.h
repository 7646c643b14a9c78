// The crashed process's memory as the analysis sees it: the core's dumped pages first,
// then, for file-backed code the kernel did not dump (the default coredump_filter leaves
// out unmodified text), the bytes of the module's file -- but only a file libdwfl matched
// to the core by build-id, so a rebuilt binary never stands in for the one that crashed.
#pragma once

#include <cstdint>
#include <vector>

#include "core_file.h"
#include "symbolizer.h"

namespace crashlab {

class AddressSpace {
  public:
    AddressSpace(const CoreFile& core, tk::Symbolizer& symbolizer)
        : core_(core), symbolizer_(symbolizer) {}

    // Up to LEN bytes at ADDR; fewer (possibly none) where nothing is known.
    std::vector<uint8_t> read(uint64_t addr, size_t len) const;
    bool read_u64(uint64_t addr, uint64_t& value) const;
    bool read_u32(uint64_t addr, uint32_t& value) const;

    // Whether ADDR lies in a mapping with execute permission.
    bool executable(uint64_t addr) const;

    const CoreFile& core() const { return core_; }
    tk::Symbolizer& symbolizer() const { return symbolizer_; }

  private:
    const CoreFile& core_;
    tk::Symbolizer& symbolizer_;
};

}  // namespace crashlab
