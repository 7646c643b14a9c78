// The evidence of what a futex word is, read from the process's modules: the type of the
// variable the word lies in (DWARF), and the call sites of its first wait and wake (the
// user IP of the syscall, and for the wait the callers, unwound through the modules' CFI
// from the stack window the kernel side copied). kinds.h weighs it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "kinds.h"
#include "lockwait.h"
#include "symbolizer.h"

namespace lockwait {

// The synchronisation object a global word belongs to: "q_cond" (the word is its
// __g_signals at +40), "g_queue.not_empty", "g_locks[3]".
struct TypedObject {
    std::string name;
    std::string type;  // "pthread_cond_t", "std::condition_variable"
    LockKind kind = LockKind::Unknown;
};

// Finds variables by address in the debug info of the modules that carry their own
// (the program and its libraries built with -g); the system's libraries, whose debug info
// is a separate file of megabytes, are left to the call sites. Keeps one index per module.
class TypeFinder {
  public:
    // SYMBOL is the data symbol holding ADDRESS (Symbolizer::data_symbol).
    std::optional<TypedObject> find(tk::Symbolizer& sym, const tk::DataSymbol& symbol,
                                    uint64_t address);

    struct Index {
        std::map<uint64_t, uint64_t> by_address;   // variable address (unbiased) -> DIE
        std::map<std::string, uint64_t> declared;  // qualified name -> declaration DIE
    };

  private:
    std::map<const void*, Index> index_;  // one per module's Dwarf
};

// The first wait of a row: its function and callers, innermost first, up to the first
// frame outside the C and C++ runtime (or as far as the copied stack reaches).
CallSite wait_call_site(tk::Symbolizer& sym, const lw_lock_row& row);
// One call site without callers: the function (and the inlined ones) at a user IP.
CallSite call_site_at(tk::Symbolizer& sym, uint64_t ip);

}  // namespace lockwait
