// Catching every crash: `crashlab install` points kernel.core_pattern at the collector,
// `crashlab collect` (run by the kernel, as root, the core on its standard input) stores
// and analyses each crash in the store (store.h), `crashlab uninstall` puts the previous
// pattern back.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace crashlab {

// What the kernel tells the collector on its command line (core(5) specifiers).
struct KernelFacts {
    int pid = 0;       // %P: in the initial pid namespace
    int ns_pid = 0;    // %p: in the process's own pid namespace
    int tid = 0;       // %i: the thread that took the signal (its namespace)
    int signo = 0;     // %s
    int64_t time = 0;  // %t: seconds since the epoch
    int uid = -1;      // %u
    int gid = -1;      // %g
    int dumpable = 0;  // %d: 1 the owner may read the core, 2 root only (setuid, PR_SET_DUMPABLE 2)
    std::string executable;  // %E, '!' turned back into '/'
};

// core_pattern for the collector BINARY with CONFIG ("" for the default): one line,
// at most 127 bytes (the kernel's limit), else tk::UserError.
std::string collector_pattern(const std::string& binary, const std::string& config);

// The configuration of the collector core_pattern names now; the default file when
// crashlab is not installed.
std::string installed_config();

// The collector: reads the core from standard input. Returns 0 when the crash is stored or
// counted; it writes nothing to a terminal (it has none), problems go to the kernel log.
int collect(const std::string& config, const KernelFacts& facts);

// Parses the collector's arguments, the kernel's specifiers in the order
// collector_pattern() gives them: PID NS_PID TID SIGNAL TIME UID GID DUMPABLE EXE...
KernelFacts parse_kernel_facts(const std::vector<std::string>& args);

// sudo crashlab install [--config FILE] [--replace] / sudo crashlab uninstall
int cmd_install(const std::string& config, bool replace);
int cmd_uninstall();

}  // namespace crashlab
