// What a futex word is: a mutex, a condition variable, a join ... (docs/lockwait-trace.md,
// "What each wait is"). The kinds are one enum and one table of names; the evidence each
// rests on comes from the resolver (the word's type in the debug info, the call sites of its
// first wait and wake, the value its waits expected) and is weighed here, as plain data, so
// the rules are tested without BPF.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lockwait {

enum class LockKind {
    Mutex,
    Condvar,
    Rwlock,
    Semaphore,
    Barrier,
    Once,
    Join,
    AtomicWait,
    RawFutex,
    Unknown,
};

// What waiting on a kind means: contention for a lock, or waiting for something to happen
// (work, a signal, a thread's end), or not known.
enum class WaitClass { Contention, Event, Other };

struct KindInfo {
    LockKind kind;
    const char* name;  // in the text and the JSON: "mutex", "condvar", "atomic_wait" ...
    WaitClass wait_class;
};

const KindInfo& kind_info(LockKind kind);
const char* kind_name(LockKind kind);
const std::vector<KindInfo>& all_kinds();
const char* wait_class_name(WaitClass c);  // "contention", "event", "other"

// The kind of an object of the C or C++ type NAME (qualified: "pthread_cond_t",
// "std::condition_variable", "std::counting_semaphore<1>"), if it is a synchronisation type.
std::optional<LockKind> kind_of_type(std::string_view name);

// One source-level frame of a call site: a function and the base name of its module.
struct SiteFrame {
    std::string function;
    std::string module;
};

// Where a futex call was made from, innermost first: the function holding the syscall, then
// its callers as far as the unwinding went.
using CallSite = std::vector<SiteFrame>;

// Whether MODULE (a base name) is the C or C++ runtime (libc.so.6, libstdc++.so.6 ...):
// futex calls made there are the runtime's, elsewhere the program's own.
bool is_runtime_module(std::string_view module);

// What the tool knows of one futex word.
struct WordEvidence {
    bool pi = false;                    // FUTEX_LOCK_PI / UNLOCK_PI on it
    std::optional<LockKind> type_kind;  // from the debug info of the variable it lies in
    std::string type_name;              // that type ("pthread_cond_t")
    bool guard_variable = false;        // the symbol is a static local's guard (_ZGV...)
    std::optional<uint32_t> join_of;    // its waits expected the tid of this thread of the process
    std::string join_comm;
    CallSite wait_site, wake_site;  // of its first wait and first wake (empty: none seen)
};

struct KindVerdict {
    LockKind kind = LockKind::Unknown;
    std::string evidence;  // "type pthread_cond_t", "wait called from pthread_cond_wait" ...
};

LockKind kind_of_site(const CallSite& site, std::string* why = nullptr);
KindVerdict classify(const WordEvidence& e);

}  // namespace lockwait
