#include "kinds.h"

#include <array>

namespace crashlab {

namespace {

constexpr std::array kKinds = {
    KindInfo{CrashKind::NullRead, "null-read", "SIGSEGV",
             "read through a NULL struct pointer (field at offset 8)", false, true},
    KindInfo{CrashKind::NullWrite, "null-write", "SIGSEGV",
             "write to a field of a NULL struct pointer", false, true},
    KindInfo{CrashKind::NullCall, "null-call", "SIGSEGV", "call through a NULL function pointer",
             false, true},
    KindInfo{CrashKind::StackOverflow, "stack-overflow", "SIGSEGV",
             "unbounded recursion runs off the end of the stack", false, true},
    KindInfo{CrashKind::WriteReadonly, "write-readonly", "SIGSEGV",
             "write to a string constant in read-only memory", false, true},
    KindInfo{CrashKind::ExecNonexec, "exec-nonexec", "SIGSEGV",
             "jump into a data buffer (page not executable)", false, true},
    KindInfo{CrashKind::UseAfterFree, "use-after-free", "SIGSEGV",
             "read a large heap block after free() unmapped it", false, true},
    KindInfo{CrashKind::DoubleFree, "double-free", "SIGABRT",
             "free() the same block twice (glibc detects it)", false, true},
    KindInfo{CrashKind::InvalidFree, "invalid-free", "SIGABRT",
             "free() a pointer malloc() never returned", false, true},
    KindInfo{CrashKind::HeapCorruption, "heap-corruption", "SIGABRT",
             "overrun a heap block into malloc's metadata; the next malloc() aborts", false, true},
    KindInfo{CrashKind::Abort, "abort", "SIGABRT", "abort() called by the program", false, true},
    KindInfo{CrashKind::Assert, "assert", "SIGABRT", "a failed assert()", false, true},
    KindInfo{CrashKind::StackSmash, "stack-smash", "SIGABRT",
             "overflow a stack buffer; the stack protector aborts", false, true},
    KindInfo{CrashKind::DivZero, "div-zero", "SIGFPE", "integer division by zero", false, true},
    KindInfo{CrashKind::DivOverflow, "div-overflow", "SIGFPE",
             "INT_MIN / -1 (quotient does not fit)", false, true},
    KindInfo{CrashKind::Trap, "trap", "SIGILL", "__builtin_trap() (ud2)", false, true},
    KindInfo{CrashKind::BusError, "bus-error", "SIGBUS",
             "read past the end of a truncated mmap()ed file", false, true},
    KindInfo{CrashKind::UncaughtException, "uncaught-exception", "SIGABRT",
             "a C++ exception nobody catches", false, true},
    KindInfo{CrashKind::Terminate, "terminate", "SIGABRT",
             "an exception escapes a noexcept function", false, true},
    KindInfo{CrashKind::PureVirtual, "pure-virtual", "SIGABRT",
             "a pure virtual method called during destruction", false, true},
    KindInfo{CrashKind::Deadlock, "deadlock", "SIGABRT (--timeout)",
             "two threads take two mutexes in opposite order", true, true},
    KindInfo{CrashKind::Hang, "hang", "SIGABRT (--timeout)", "a thread spins forever", true, true},
    KindInfo{CrashKind::ExternalSignal, "external-signal", "SIGSEGV (kill)",
             "another process sends SIGSEGV with kill(): not a fault", false, true},
    KindInfo{CrashKind::WildPointer, "wild-pointer", "SIGSEGV",
             "access through a pointer to nowhere (found by the analyser)", false, false},
    KindInfo{CrashKind::Unknown, "unknown", "any",
             "the evidence fits no rule (found by the analyser)", false, false},
};

// The table is indexed by CrashKind: one row per kind, in the enum's order.
constexpr bool rows_follow_the_enum() {
    for (size_t i = 0; i < kKinds.size(); i++)
        if (kKinds[i].kind != CrashKind(i))
            return false;
    return kKinds.size() == size_t(CrashKind::Unknown) + 1;
}
static_assert(rows_follow_the_enum(), "kKinds must list every CrashKind once, in its order");

}  // namespace

const KindInfo& info_of(CrashKind kind) {
    return kKinds[size_t(kind)];
}

std::string_view name_of(CrashKind kind) {
    return info_of(kind).name;
}

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
