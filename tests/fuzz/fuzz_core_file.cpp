// Fuzz target: the crash lab's ELF core reader (crashlab/src/core_file.h) on hostile bytes:
// the headers, every note it parses (NT_PRSTATUS, NT_PRPSINFO, NT_SIGINFO, NT_AUXV,
// NT_FILE) and its memory reads at the addresses the notes give. A file that is no core
// may be refused (tk::UserError); anything else must not fail.
#include <elf.h>

#include <cstdint>
#include <string>

#include "core_file.h"
#include "errors.h"
#include "fuzz_input.h"

namespace {

// What the analysis asks of a core, at the addresses the core itself names.
void exercise(const crashlab::CoreFile& core) {
    uint8_t buf[128];
    for (const crashlab::ThreadStatus& t : core.threads()) {
        core.read(t.regs.rsp, buf, sizeof buf);
        uint64_t word;
        core.read_u64(t.regs.rip, word);
        core.read_string(t.regs.rsp, 256);
        core.segment_at(t.regs.rip);
        core.file_at(t.regs.rip);
        (void)t.in_syscall();
    }
    for (uint64_t type : {AT_ENTRY, AT_EXECFN, AT_PHDR, AT_SYSINFO_EHDR})
        if (auto v = core.auxv_value(type)) {
            core.file_at(*v);
            core.read_string(*v, 4096);
        }
    for (const crashlab::Segment& s : core.segments()) {
        // across the end of the segment, into whatever follows it
        core.read(s.end() - 8, buf, 16);
        core.segment_at(s.vaddr);
    }
    for (const crashlab::FileMapping& f : core.files()) {
        core.file_at(f.start);
        core.file_at(f.end - 1);
        std::string path = f.path;
        crashlab::strip_deleted(path);
    }
    if (const auto& si = core.siginfo()) {
        (void)si->fault_fields();
        (void)si->sender_fields();
    }
    crashlab::format_bytes(core.file_size());
    crashlab::format_bytes(core.expected_size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static fuzz::InputFile file;
    const std::string& path = file.write(data, size);
    try {
        crashlab::CoreFile core(path);
        exercise(core);
    } catch (const tk::UserError&) {
        // not a core at all: refused with one line, as it should be
    }
    return 0;
}
