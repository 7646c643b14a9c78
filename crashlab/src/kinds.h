// The crash kinds: one table shared by `crashlab list`, the victims, the classifier (the
// `class` values of the analysis JSON) and the tests. Keep the names stable: scripts and
// later checks match on them.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace crashlab {

// Every crash class the analyser concludes on, in the order of the kinds table
// (kinds.cpp checks the two agree when it compiles).
enum class CrashKind : uint8_t {
    NullRead,
    NullWrite,
    NullCall,
    StackOverflow,
    WriteReadonly,
    ExecNonexec,
    UseAfterFree,
    DoubleFree,
    InvalidFree,
    HeapCorruption,
    Abort,
    Assert,
    StackSmash,
    DivZero,
    DivOverflow,
    Trap,
    BusError,
    UncaughtException,
    Terminate,
    PureVirtual,
    Deadlock,
    Hang,
    ExternalSignal,
    WildPointer,
    Unknown,
};

struct KindInfo {
    CrashKind kind;
    std::string_view name;         // the `class` value
    std::string_view signal;       // what the kernel delivers (informational)
    std::string_view description;  // one line for `crashlab list`
    bool needs_timeout;            // never dies by itself: run it with --timeout
    bool triggered;                // a victim triggers it on purpose (false: analyser only)
};

// Every kind, victims' kinds first, then the two the analyser may conclude on its own.
std::span<const KindInfo> all_kinds();

// nullptr when NAME is not a kind.
const KindInfo* find_kind(std::string_view name);

const KindInfo& info_of(CrashKind kind);
// The kind's name: the `class` of the JSON, what `crashlab list` and the victims call it.
std::string_view name_of(CrashKind kind);

}  // namespace crashlab
