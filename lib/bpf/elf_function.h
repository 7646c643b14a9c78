// Where a function lies in an ELF file, for a uprobe on it: the file offset a uprobe is
// attached at, and its first bytes (the kernel emulates a few first instructions and
// single-steps the rest, an order of magnitude apart in cost). The one lookup behind
// ctxswitch-trace --user-switch and lockwait-trace --uprobes.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

namespace tk {

struct ElfFunction {
    uint64_t address = 0;      // the symbol's value
    uint64_t file_offset = 0;  // where that address is in the file (its PT_LOAD segment)
    std::array<unsigned char, 4> first{};  // its first bytes
};

// FUNCTION's definition in the ELF file at PATH: in .dynsym its default version (libc's
// pthread_cond_wait has a hidden GLIBC_2.2.5 and a default GLIBC_2.3.2 definition; libbpf
// 1.1 gives up on such names), else in .symtab (a program's own functions, static ones
// too). nullopt, with ERROR saying why, when there is none.
std::optional<ElfFunction> find_elf_function(const std::string& path, const std::string& function,
                                             std::string& error);

// Whether the kernel emulates the instruction that starts with FIRST (push, nop, call, jmp,
// jcc) rather than single-stepping it out of line.
bool uprobe_emulates(const std::array<unsigned char, 4>& first);

}  // namespace tk
