// Which libc a process uses: the library --uprobes probes (where a function lies in it is
// tk::find_elf_function, lib/bpf/elf_function.h).
#pragma once

#include <sys/types.h>

#include <istream>
#include <string>

namespace lockwait {

// The libc.so.6 a process has mapped, "" if none (static, musl, gone).
std::string libc_of(pid_t pid);
// The same from /proc/PID/maps text.
std::string libc_in_maps(std::istream& maps);

}  // namespace lockwait
