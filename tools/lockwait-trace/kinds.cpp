#include "kinds.h"

#include <algorithm>

#include "symbolizer.h"

namespace lockwait {

namespace {

bool starts_with(std::string_view s, std::string_view p) {
    return s.substr(0, p.size()) == p;
}

bool contains(std::string_view s, std::string_view p) {
    return s.find(p) != std::string_view::npos;
}

// "__GI___lll_lock_wait" -> "lll_lock_wait", "___pthread_cond_wait" -> "pthread_cond_wait":
// the C library's internal aliases and underscores off, so one prefix matches them all.
std::string bare_function(std::string_view function) {
    std::string name = tk::function_base_name(function);
    std::string_view v = name;
    if (starts_with(v, "__GI_"))
        v.remove_prefix(5);
    while (!v.empty() && v.front() == '_')
        v.remove_prefix(1);
    return std::string(v);
}

struct SiteRule {
    const char* prefix;  // of the bare function name
    LockKind kind;
};

// glibc 2.34+ (libc.so.6) and libstdc++: the functions that make the futex calls of each
// kind of object, or call the shared helper that does.
const SiteRule kSiteRules[] = {
    {"lll_lock_wait", LockKind::Mutex},  // and lll_lock_wait_private (libc's own locks)
    {"lll_lock_wake", LockKind::Mutex},
    {"lll_clocklock", LockKind::Mutex},
    {"pthread_mutex", LockKind::Mutex},
    {"pthread_cond", LockKind::Condvar},
    {"condvar_", LockKind::Condvar},  // __condvar_quiesce_and_switch_g1, __condvar_dec_grefs
    {"pthread_rwlock", LockKind::Rwlock},
    {"new_sem", LockKind::Semaphore},
    {"old_sem", LockKind::Semaphore},
    {"sem_wait", LockKind::Semaphore},
    {"sem_timedwait", LockKind::Semaphore},
    {"sem_clockwait", LockKind::Semaphore},
    {"sem_post", LockKind::Semaphore},
    {"do_futex_wait", LockKind::Semaphore},  // nptl/sem_waitcommon.c
    {"pthread_barrier", LockKind::Barrier},
    {"pthread_once", LockKind::Once},
    {"cxa_guard", LockKind::Once},  // static local initialisation (libstdc++)
    {"pthread_join", LockKind::Join},
    {"pthread_clockjoin", LockKind::Join},
    {"pthread_timedjoin", LockKind::Join},
    {"pthread_tryjoin", LockKind::Join},
};

// libstdc++'s std::atomic<T>::wait/notify (inlined into the program: the names come from
// its debug info): std::__detail::__platform_wait, __atomic_wait_address, __waiter_pool ...
bool is_atomic_wait(std::string_view function) {
    for (const char* part : {"__platform_wait", "__atomic_wait", "__platform_notify",
                             "__atomic_notify", "__waiter_pool", "__waiter_base"})
        if (contains(function, part))
            return true;
    return false;
}

// The helpers every kind's futex call goes through: look at their callers.
bool is_futex_helper(const std::string& bare) {
    return starts_with(bare, "futex_") || starts_with(bare, "lll_futex");
}

struct TypeRule {
    const char* name;  // qualified, template arguments off
    LockKind kind;
};

const TypeRule kTypeRules[] = {
    {"pthread_mutex_t", LockKind::Mutex},
    {"__pthread_mutex_s", LockKind::Mutex},
    {"std::mutex", LockKind::Mutex},
    {"std::recursive_mutex", LockKind::Mutex},
    {"std::timed_mutex", LockKind::Mutex},
    {"std::recursive_timed_mutex", LockKind::Mutex},
    {"std::__mutex_base", LockKind::Mutex},
    {"std::__recursive_mutex_base", LockKind::Mutex},
    {"pthread_cond_t", LockKind::Condvar},
    {"__pthread_cond_s", LockKind::Condvar},
    {"std::condition_variable", LockKind::Condvar},
    {"std::_V2::condition_variable_any", LockKind::Condvar},
    {"std::condition_variable_any", LockKind::Condvar},
    {"std::__condvar", LockKind::Condvar},
    {"pthread_rwlock_t", LockKind::Rwlock},
    {"__pthread_rwlock_arch_t", LockKind::Rwlock},
    {"std::shared_mutex", LockKind::Rwlock},
    {"std::shared_timed_mutex", LockKind::Rwlock},
    {"std::__shared_mutex_pthread", LockKind::Rwlock},
    {"sem_t", LockKind::Semaphore},
    {"std::counting_semaphore", LockKind::Semaphore},
    {"std::__atomic_semaphore", LockKind::Semaphore},
    {"std::__platform_semaphore", LockKind::Semaphore},
    {"pthread_barrier_t", LockKind::Barrier},
    {"std::barrier", LockKind::Barrier},
    {"std::latch", LockKind::Barrier},
    {"pthread_once_t", LockKind::Once},
    {"std::once_flag", LockKind::Once},
};

const std::vector<KindInfo> kKinds = {
    {LockKind::Mutex, "mutex", WaitClass::Contention},
    {LockKind::Condvar, "condvar", WaitClass::Event},
    {LockKind::Rwlock, "rwlock", WaitClass::Contention},
    {LockKind::Semaphore, "semaphore", WaitClass::Event},
    {LockKind::Barrier, "barrier", WaitClass::Event},
    {LockKind::Once, "once", WaitClass::Event},
    {LockKind::Join, "join", WaitClass::Event},
    {LockKind::AtomicWait, "atomic_wait", WaitClass::Event},
    {LockKind::RawFutex, "raw_futex", WaitClass::Other},
    {LockKind::Unknown, "unknown", WaitClass::Other},
};

}  // namespace

const std::vector<KindInfo>& all_kinds() {
    return kKinds;
}

const KindInfo& kind_info(LockKind kind) {
    for (const auto& k : kKinds)
        if (k.kind == kind)
            return k;
    return kKinds.back();
}

const char* kind_name(LockKind kind) {
    return kind_info(kind).name;
}

const char* wait_class_name(WaitClass c) {
    switch (c) {
        case WaitClass::Contention:
            return "contention";
        case WaitClass::Event:
            return "event";
        default:
            return "other";
    }
}

bool is_runtime_module(std::string_view module) {
    for (const char* m : {"libc.so", "libstdc++.so", "libpthread.so", "ld-linux", "libgcc_s"})
        if (starts_with(module, m))
            return true;
    return false;
}

std::optional<LockKind> kind_of_type(std::string_view name) {
    std::string_view bare = name.substr(0, name.find('<'));
    for (const auto& r : kTypeRules)
        if (bare == r.name)
            return r.kind;
    return std::nullopt;
}

LockKind kind_of_site(const CallSite& site, std::string* why) {
    bool via_syscall = false;  // the frames so far are the libc syscall() wrapper or helpers
    for (const auto& f : site) {
        if (is_atomic_wait(f.function)) {
            if (why)
                *why = f.function;
            return LockKind::AtomicWait;
        }
        std::string bare = bare_function(f.function);
        for (const auto& r : kSiteRules)
            if (starts_with(bare, r.prefix)) {
                if (why)
                    *why = bare;
                return r.kind;
            }
        if (bare == "syscall" && is_runtime_module(f.module)) {
            via_syscall = true;
            continue;
        }
        if (is_futex_helper(bare))
            continue;
        // The first frame that is neither a known caller nor a helper: the program's own
        // futex call (syscall(SYS_futex, ...) or the instruction itself), or somebody else's.
        if (!f.module.empty() && !is_runtime_module(f.module)) {
            if (why)
                *why = (f.function.empty() ? "?" : tk::strip_parameters(f.function)) + " in " +
                       f.module + (via_syscall ? " through syscall()" : "");
            return LockKind::RawFutex;
        }
        break;
    }
    return LockKind::Unknown;
}

KindVerdict classify(const WordEvidence& e) {
    if (e.pi)
        return {LockKind::Mutex,
                "FUTEX_LOCK_PI/FUTEX_UNLOCK_PI on it: a priority-inheritance mutex"};
    if (e.guard_variable)
        return {LockKind::Once, "a static local's guard variable"};
    if (e.type_kind)
        return {*e.type_kind, "its type, " + e.type_name};
    std::string why;
    LockKind site = kind_of_site(e.wait_site, &why);
    // the value says join unless the call site says what else it is
    if (e.join_of && (site == LockKind::Unknown || site == LockKind::Join))
        return {LockKind::Join,
                "its waits expected the tid of thread " + std::to_string(*e.join_of)};
    if (site != LockKind::Unknown)
        return {site, "waits called from " + why};
    site = kind_of_site(e.wake_site, &why);
    if (site != LockKind::Unknown)
        return {site, "wakes called from " + why};
    return {LockKind::Unknown, e.wait_site.empty() && e.wake_site.empty()
                                   ? "no type, call site or value says what it is"
                                   : "its call sites are not ones the tool knows"};
}

}  // namespace lockwait
