// Naming a data address (a futex word, a lock): the global or static variable it lies in
// (g_queue_lock, Foo::instance_mutex+8), else the mapping it lies in (the heap, a thread's
// stack, a shared-memory file) with the offset into it. lockwait-trace names its locks
// with it, and concurrency-exporter its `lock` label.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "symbolizer.h"

namespace tk {

class ProcessMaps;
class SymbolizerCache;

// What a name says the address lies in.
enum class LockNameKind {
    Symbol,   // a data symbol (a global or static variable)
    Mapping,  // a mapping, with the offset into it
    Unknown,  // neither: no mappings, or none holds it
};

// "symbol", "mapping", "unknown" (lockwait-trace's JSON `name_kind`).
const char* lock_name_kind_name(LockNameKind kind);

struct LockName {
    std::string name;  // "g_contended_mutex", "g_contended_rwlock+8", "[heap]+0x2a0"
    LockNameKind kind = LockNameKind::Unknown;
};

struct NamingContext {
    const std::vector<Mapping>* maps = nullptr;  // of the word's process; null if unknown
    // the data symbol containing an address (Symbolizer::data_symbol), if any
    std::function<std::optional<DataSymbol>(uint64_t)> data_symbol;
    // the section an address lies in (".bss", ".data"), "" when unknown
    std::function<std::string(uint64_t)> section;
    // the loaded object whose address range holds an address (its .bss reaches past
    // the file-backed mappings): path and offset from its load base
    std::function<std::optional<std::pair<std::string, uint64_t>>(uint64_t)> module_of;
    std::string executable;  // path of the main program: its symbols need no module suffix
    // user stack pointers of the process's threads (tid -> sp), for words on a stack
    std::map<uint32_t, uint64_t> thread_sps;
    uint32_t main_tid = 0;  // the process's own pid: its stack is [stack]
};

LockName name_address(uint64_t address, const NamingContext& ctx);

// The context for naming addresses of process PID from its captured mappings and their
// symbolizer (thread_sps left empty: the caller's, when it knows them). MAPS_OUT keeps the
// mappings alive for as long as the context is used.
NamingContext naming_context(pid_t pid, ProcessMaps& maps, SymbolizerCache& symbols,
                             std::shared_ptr<const std::vector<Mapping>>& maps_out);

}  // namespace tk
