#include "kinds.h"

#include <array>

namespace crashlab {

namespace {

constexpr std::array kKinds = {
    KindInfo{"null-read", "SIGSEGV", "read through a NULL struct pointer (field at offset 8)",
             false, true},
    KindInfo{"null-write", "SIGSEGV", "write to a field of a NULL struct pointer", false, true},
    KindInfo{"null-call", "SIGSEGV", "call through a NULL function pointer", false, true},
    KindInfo{"stack-overflow", "SIGSEGV", "unbounded recursion runs off the end of the stack",
             false, true},
    KindInfo{"write-readonly", "SIGSEGV", "write to a string constant in read-only memory", false,
             true},
    KindInfo{"exec-nonexec", "SIGSEGV", "jump into a data buffer (page not executable)", false,
             true},
    KindInfo{"use-after-free", "SIGSEGV", "read a large heap block after free() unmapped it", false,
             true},
    KindInfo{"double-free", "SIGABRT", "free() the same block twice (glibc detects it)", false,
             true},
    KindInfo{"invalid-free", "SIGABRT", "free() a pointer malloc() never returned", false, true},
    KindInfo{"heap-corruption", "SIGABRT",
             "overrun a heap block into malloc's metadata; the next malloc() aborts", false, true},
    KindInfo{"abort", "SIGABRT", "abort() called by the program", false, true},
    KindInfo{"assert", "SIGABRT", "a failed assert()", false, true},
    KindInfo{"stack-smash", "SIGABRT", "overflow a stack buffer; the stack protector aborts", false,
             true},
    KindInfo{"div-zero", "SIGFPE", "integer division by zero", false, true},
    KindInfo{"div-overflow", "SIGFPE", "INT_MIN / -1 (quotient does not fit)", false, true},
    KindInfo{"trap", "SIGILL", "__builtin_trap() (ud2)", false, true},
    KindInfo{"bus-error", "SIGBUS", "read past the end of a truncated mmap()ed file", false, true},
    KindInfo{"uncaught-exception", "SIGABRT", "a C++ exception nobody catches", false, true},
    KindInfo{"terminate", "SIGABRT", "an exception escapes a noexcept function", false, true},
    KindInfo{"pure-virtual", "SIGABRT", "a pure virtual method called during destruction", false,
             true},
    KindInfo{"deadlock", "SIGABRT (--timeout)", "two threads take two mutexes in opposite order",
             true, true},
    KindInfo{"hang", "SIGABRT (--timeout)", "a thread spins forever", true, true},
    KindInfo{"external-signal", "SIGSEGV (kill)",
             "another process sends SIGSEGV with kill(): not a fault", false, true},
    KindInfo{"wild-pointer", "SIGSEGV",
             "access through a pointer to nowhere (found by the analyser)", false, false},
    KindInfo{"unknown", "any", "the evidence fits no rule (found by the analyser)", false, false},
};

}  // namespace

std::span<const KindInfo> all_kinds() {
    return kKinds;
}

const KindInfo* find_kind(std::string_view name) {
    for (const KindInfo& k : kKinds)
        if (k.name == name)
            return &k;
    return nullptr;
}

}  // namespace crashlab
