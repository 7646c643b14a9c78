#include "signature.h"

#include <algorithm>
#include <array>
#include <cinttypes>
#include <cstdio>

namespace crashlab {

namespace {

// C names of compiler clones lose their suffix ("_int_free.isra.0", "foo.cold"); demangled
// C++ names carry it as " [clone .cold]", which strip_parameters drops with the parameters.
std::string without_clone_suffix(std::string name) {
    if (name.find_first_of("(:") == std::string::npos) {
        size_t dot = name.find('.', 1);
        if (dot != std::string::npos)
            name.resize(dot);
    }
    return name;
}

// glibc spells one function several ways (__GI___pthread_kill, ___pthread_mutex_lock,
// __libc_free): the name without its leading underscores and "GI_" prefixes.
std::string_view normalized(std::string_view name) {
    for (;;) {
        if (name.starts_with("_"))
            name.remove_prefix(1);
        else if (name.starts_with("GI_"))
            name.remove_prefix(3);
        else
            return name;
    }
}

// Normalized names (see normalized()) of the frames that say nothing about the bug.
constexpr std::array kSilentNames = {
    // the signal that ends the process
    "abort", "raise", "gsignal", "pthread_kill", "pthread_kill_implementation",
    "pthread_kill_internal", "restore_rt",
    // glibc's fatal reports: assertions, the stack protector, fortify, malloc
    "libc_message", "libc_message_impl", "libc_fatal", "assert_fail", "assert_fail_base",
    "assert_perror_fail", "malloc_assert", "stack_chk_fail", "stack_chk_fail_local", "fortify_fail",
    "chk_fail",
    // malloc's checks, and the allocator's entry points the program called
    "malloc_printerr", "int_free", "int_malloc", "int_realloc", "int_memalign", "sysmalloc",
    "malloc_consolidate", "unlink_chunk", "libc_free", "libc_malloc", "libc_realloc", "libc_calloc",
    "libc_memalign", "free", "cfree", "malloc", "realloc", "calloc", "operator delete",
    "operator new", "operator delete[]", "operator new[]",
    // the C++ runtime's throw and terminate path
    "cxa_throw", "cxa_rethrow", "cxa_call_terminate", "cxa_call_unexpected", "cxa_pure_virtual",
    "cxa_deleted_virtual", "clang_call_terminate", "gxx_personality_v0", "std::terminate",
    "cxxabiv1::__terminate", "gnu_cxx::__verbose_terminate_handler",
    // where a thread waits for a mutex (the deadlock's class says it)
    "pthread_mutex_lock", "pthread_mutex_lock_full", "lll_lock_wait", "lll_lock_wait_private",
    "lll_mutex_lock_optimized", "futex_wait",
    // where every thread and process starts
    "start_thread", "clone", "clone3", "libc_start_call_main", "libc_start_main",
    "libc_start_main_impl", "start", "execute_native_thread_routine"};

// Prefixes of normalized names that say nothing: families of the above.
constexpr std::array kSilentPrefixes = {"Unwind_",       "int_free_",
                                        "tcache_",       "futex_abstimed_wait",
                                        "std::__throw_", "pthread_mutex_lock_"};

// A frame of the standard headers' code compiled into the program (std::mutex::lock,
// std::vector::operator[]): its caller is the place of the bug.
bool library_code_in_program(const FrameReport& f) {
    return f.runtime && !is_runtime_module(f.module);
}

bool telling(const FrameReport& f) {
    // A frame in no module is where a call through a bad pointer went: the class says it.
    return !f.module.empty() && !library_code_in_program(f) && !says_nothing(f.function);
}

// The names of T's telling frames, top first, at most LIMIT; a function already named is a
// repeat of a recursion and is named once.
std::vector<std::string> telling_names(const ThreadReport& t, size_t limit) {
    std::vector<std::string> names;
    for (const FrameReport& f : t.frames) {
        if (names.size() == limit)
            break;
        if (!telling(f))
            continue;
        std::string name = signature_name(f);
        if (std::find(names.begin(), names.end(), name) == names.end())
            names.push_back(std::move(name));
    }
    return names;
}

// A deadlock's bug is the lock order of every thread in the cycle: each one's first telling
// frame, sorted, so that which thread the cycle was entered by does not matter.
std::vector<std::string> deadlock_names(const Analysis& a) {
    std::vector<std::string> names;
    for (size_t w : a.deadlock_cycle) {
        int tid = a.lock_waits[w].tid;
        for (const ThreadReport& t : a.threads)
            if (t.tid == tid)
                for (std::string& n : telling_names(t, 1))
                    names.push_back(std::move(n));
    }
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    return names;
}

const ThreadReport* culprit_thread(const Analysis& a) {
    if (a.culprit && a.culprit->thread < a.threads.size())
        return &a.threads[a.culprit->thread];
    return a.threads.empty() ? nullptr : &a.threads.front();
}

std::string exact_signature(const Analysis& a, const ThreadReport* t) {
    std::string sig = base_name(a.executable) + "|" + (a.signal_name.empty() ? "?" : a.signal_name);
    if (!t)
        return sig;
    size_t start = a.culprit && &a.threads[a.culprit->thread] == t
                       ? t->frames[a.culprit->frame].machine_index
                       : 0;
    size_t taken = 0;
    size_t last_machine = SIZE_MAX;
    for (const FrameReport& f : t->frames) {
        if (f.machine_index < start || f.machine_index == last_machine)
            continue;
        last_machine = f.machine_index;
        sig += "|" + (f.module.empty() ? std::string("?") : base_name(f.module)) + "+" +
               hex(f.module.empty() ? f.pc : f.module_offset);
        if (++taken == 4)
            break;
    }
    return sig;
}

uint64_t fnv1a(std::string_view s) {
    uint64_t h = 1469598103934665603ull;
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ull;
    }
    return h;
}

}  // namespace

std::string signature_name(const FrameReport& f) {
    if (!f.defined_in.empty())
        return without_clone_suffix(tk::strip_parameters(f.defined_in));
    if (f.function.empty())
        return (f.module.empty() ? std::string("?") : base_name(f.module)) + "+" +
               hex(f.module.empty() ? f.pc : f.module_offset);
    return without_clone_suffix(tk::strip_parameters(f.function));
}

bool says_nothing(std::string_view function) {
    if (function.empty())
        return false;
    std::string name = without_clone_suffix(tk::strip_parameters(function));
    std::string_view n = normalized(name);
    for (std::string_view s : kSilentNames)
        if (n == s)
            return true;
    for (std::string_view p : kSilentPrefixes)
        if (n.starts_with(p))
            return true;
    return false;
}

std::string bucket_of(std::string_view signature) {
    char buf[20];
    snprintf(buf, sizeof buf, "%016" PRIx64, fnv1a(signature));
    return buf;
}

void compute_signature(Analysis& a) {
    const ThreadReport* t = culprit_thread(a);
    std::vector<std::string> names;
    if (a.kind == CrashKind::Deadlock && !a.deadlock_cycle.empty())
        names = deadlock_names(a);
    else if (t)
        names = telling_names(*t, kSignatureFrames);
    std::string sig(name_of(a.kind));
    for (const std::string& n : names)
        sig += "|" + n;
    a.signature = sig;
    a.bucket = bucket_of(sig);
    a.exact_signature = exact_signature(a, t);
}

}  // namespace crashlab
