// Unwinding every thread of a core with libdwfl's CFI unwinder, fed by our own thread and
// memory callbacks (dwfl_attach_state) instead of dwfl_core_file_attach.
//
// Why our own callbacks: libdwfl 0.188 reads core memory with elf_getdata_rawchunk, which
// keeps every chunk it ever returned in a list it searches linearly; a stack of 87,000
// frames makes some 500,000 reads, and the unwind turns quadratic (eu-stack: 9 s). Our
// reader is a binary search over the PT_LOAD segments of a mapped file: constant work per
// read. The unwinding itself (CFI interpretation) stays libdwfl's.
//
// Beyond CFI, two heuristics, and every frame they produce is marked as such:
//   - return address at [rsp]: when the thread's pc is not in executable memory (a call
//     through a NULL or data pointer), the call's return address is the word at rsp;
//     libdwfl's frame-pointer fallback would skip the calling frame;
//   - stack scanning: when unwinding stops on an error, the stack above is searched for a
//     word that points just after a call instruction, and unwinding resumes there.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "address_space.h"
#include "errors.h"

typedef struct Dwfl Dwfl;

namespace crashlab {

enum class Trust {
    Context,            // the registers saved in the core: exact
    Cfi,                // unwound with call frame information
    FramePointer,       // no CFI for the callee: libdwfl followed rbp
    ReturnAddressAtSp,  // heuristic: the word at rsp after a call to a bad address
    StackScan,          // heuristic: found by scanning the stack
};
const char* trust_name(Trust t);
inline bool is_heuristic(Trust t) {
    return t == Trust::ReturnAddressAtSp || t == Trust::StackScan;
}

struct MachineFrame {
    uint64_t pc = 0;
    bool activation = true;  // pc is exact (innermost or signal frame), not a return address
    uint64_t sp = 0;
    Trust trust = Trust::Cfi;
};

struct ThreadStack {
    int tid = 0;
    std::vector<MachineFrame> frames;
    bool complete = false;    // reached the outermost frame
    bool hit_limit = false;   // stopped by max_frames
    std::string stop_reason;  // why unwinding ended, in words
};

class Unwinder {
  public:
    Unwinder(const AddressSpace& memory, Dwfl* dwfl);
    ~Unwinder();
    Unwinder(const Unwinder&) = delete;
    Unwinder& operator=(const Unwinder&) = delete;

    // Hooks our callbacks into the Dwfl. Fails when the core has no threads.
    tk::Status attach();

    // Unwinds the thread at INDEX in CoreFile::threads(). MAX_FRAMES 0: no limit.
    ThreadStack unwind(size_t index, size_t max_frames);

    // Implementation details shared with the C callbacks.
    struct ThreadCtx;
    struct Walk;

  private:
    bool has_cfi(uint64_t lookup_pc);
    bool looks_like_return_address(uint64_t value);
    bool walk(ThreadCtx& ctx, Walk& w);

    const AddressSpace& memory_;
    Dwfl* dwfl_;
    std::vector<std::unique_ptr<ThreadCtx>> threads_;
    std::unordered_map<uint64_t, bool> cfi_cache_;
    std::unordered_map<uint64_t, bool> ra_cache_;
    bool attached_ = false;
    uint64_t last_failed_read_ = 0;
    bool read_failed_ = false;

    friend struct UnwinderCallbacks;
};

}  // namespace crashlab
