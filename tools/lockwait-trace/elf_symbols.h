// Reading the few ELF facts the uprobes need: where a function's default-version
// definition lies in a shared library, and which libc a process uses.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace lockwait {

// The file offset of a function's default-version definition in an ELF file's .dynsym
// (pthread_cond_wait has an old GLIBC_2.2.5 and a default GLIBC_2.3.2 definition; libbpf
// 1.1 gives up on such names), or why not.
std::optional<uint64_t> function_file_offset(const std::string& path, const std::string& name,
                                             std::string& error);

// The libc.so.6 a process has mapped, "" if none (static, musl, gone).
std::string libc_of(pid_t pid);

}  // namespace lockwait
