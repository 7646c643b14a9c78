// --stacks: off-CPU time by the sleeper's user and kernel stacks joined to its waker's stacks
// (what offcputime and offwaketime show), from the raw rows of the kernel side to symbolized
// entries, their text and JSON, and flame-graph stacks (--folded, --flamegraph).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ctxswitch.h"
#include "flamegraph.h"

namespace tk {
class KernelSymbols;
class SymbolizerCache;
}  // namespace tk

namespace ctxswitch {

struct StackRow {
    cs_stack_key key{};
    cs_stack_value value{};
};

// What the kernel side kept, as read: rows and the stacks they name (innermost first).
struct RawStacks {
    std::vector<StackRow> rows;
    std::map<int32_t, std::vector<uint64_t>> ips;
};

// One entry: frames innermost first, named ("do_nanosleep", "read_loop", "0x7f12 [libx.so+0x1f]").
struct OffCpuStack {
    uint32_t pid = 0;
    std::string comm;  // of the sleeping process
    uint64_t off_cpu_ns = 0, count = 0;
    std::vector<std::string> user, kernel;
    bool woken = false;      // a wakeup was seen (else: the waker is unknown)
    uint32_t waker_pid = 0;  // 0: an interrupt
    std::string waker_comm;
    std::vector<std::string> waker_user, waker_kernel;
};

struct OffCpuStacks {
    bool enabled = false;
    std::vector<OffCpuStack> entries;    // by off-CPU time, largest first
    uint64_t off_cpu_ns = 0, count = 0;  // all entries added up
    std::vector<std::string> warnings;   // the symbolizer's (missing debug information)
};

// Symbolizes every row: user frames through the mappings captured while the process lived,
// kernel frames through /proc/kallsyms (KSYMS null: hex addresses). COMMS names the sleeping
// processes (pid -> comm).
OffCpuStacks resolve_stacks(const RawStacks& raw, const std::map<uint32_t, std::string>& comms,
                            tk::SymbolizerCache& symbols, const tk::KernelSymbols* ksyms);

// The text section: totals, drops, the TOP entries with their frames (MAX_FRAMES per part).
std::string stacks_text(const OffCpuStacks& s, uint64_t off_cpu_total_ns, size_t top,
                        size_t max_frames);
nlohmann::json stacks_json(const OffCpuStacks& s);

// The user stack of a sleep before the process's last exec: its image's mappings are gone.
inline const char* const kBeforeExec = "[before exec]";

// The separator frame between the sleeper's stack and the waker's (as offwaketime has it).
inline const char* const kWakerSeparator = "--";

// Flame-graph stacks weighted by off-CPU time: the sleeping process, its user frames and
// kernel frames (outermost first), the separator, then the waker's kernel and user frames
// innermost first, and the waker's comm on top.
std::vector<tk::FlameStack> flame_stacks(const OffCpuStacks& s);
std::string folded_stacks(const OffCpuStacks& s);
std::string flame_graph(const OffCpuStacks& s, const std::string& command);

}  // namespace ctxswitch
