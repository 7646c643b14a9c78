// The signature rules on frames made by hand: what is left out, how names are written,
// how a recursion and a deadlock are named. The real victims' buckets are in bucket_test.
#include <signal.h>

#include <gtest/gtest.h>

#include "signature.h"

using namespace crashlab;

namespace {

FrameReport frame(std::string function, std::string module = "/opt/app/server",
                  uint64_t offset = 0x1000, bool runtime = false) {
    FrameReport f;
    f.function = std::move(function);
    f.module = std::move(module);
    f.module_offset = offset;
    f.runtime = runtime;
    return f;
}

FrameReport libc(std::string function, uint64_t offset = 0x8a000) {
    return frame(std::move(function), "/usr/lib/x86_64-linux-gnu/libc.so.6", offset, true);
}

Analysis crash_of(CrashKind kind, std::vector<FrameReport> frames) {
    Analysis a;
    a.kind = kind;
    a.executable = "/opt/app/server";
    a.signal_name = "SIGABRT";
    ThreadReport t;
    t.tid = 100;
    t.frames = std::move(frames);
    for (size_t i = 0; i < t.frames.size(); i++)
        t.frames[i].machine_index = i;
    a.threads.push_back(std::move(t));
    a.culprit = Culprit{0, 0};
    return a;
}

TEST(Signature, LeavesOutAbortAndMallocChecks) {
    Analysis a =
        crash_of(CrashKind::DoubleFree,
                 {libc("__pthread_kill_implementation"), libc("__pthread_kill_internal"),
                  libc("__GI___pthread_kill"), libc("__GI_raise"), libc("__GI_abort"),
                  libc("__libc_message"), libc("malloc_printerr"), libc("_int_free.isra.0"),
                  libc("__GI___libc_free"), frame("release_token(char*)"), frame("logout()"),
                  frame("(anonymous namespace)::crash(std::basic_string_view<char, "
                        "std::char_traits<char> >)"),
                  frame("main"), libc("__libc_start_call_main")});
    compute_signature(a);
    EXPECT_EQ(a.signature, "double-free|release_token");
    EXPECT_EQ(a.bucket, bucket_of(a.signature));
    EXPECT_EQ(a.bucket.size(), 16u);
}

TEST(Signature, LeavesOutTheThrowPathAndStandardHeaders) {
    FrameReport mutex_lock = frame("std::mutex::lock()", "/opt/app/server", 0x2000, true);
    Analysis a = crash_of(
        CrashKind::UncaughtException,
        {libc("__GI_abort"),
         frame("__gnu_cxx::__verbose_terminate_handler()",
               "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", 0x9a000, true),
         frame("__cxxabiv1::__terminate(void (*)())", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
               0xa5000, true),
         frame("std::terminate()", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", 0xa5100, true),
         frame("__cxa_throw", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", 0xa5300, true),
         mutex_lock, frame("Settings::load() [clone .cold]"),
         frame("Settings::load() [clone .cold]"), frame("main")});
    compute_signature(a);
    EXPECT_EQ(a.signature, "uncaught-exception|Settings::load");
}

// -O2 may keep an inlined function's line but no record of the inlining: the function
// whose source holds the line names the frame, as at -O0.
TEST(Signature, TheFunctionThatHoldsTheLine) {
    FrameReport o2 = frame("load_config()");
    o2.defined_in = "config_limit(Config const*)";
    Analysis a = crash_of(CrashKind::NullRead, {o2, frame("main")});
    compute_signature(a);
    FrameReport o0 = frame("config_limit(Config const*)");
    o0.defined_in = "config_limit(Config const*)";
    Analysis b = crash_of(CrashKind::NullRead, {o0, frame("load_config()"), frame("main")});
    compute_signature(b);
    EXPECT_EQ(a.signature, "null-read|config_limit");
    EXPECT_EQ(a.bucket, b.bucket);
}

TEST(Signature, ModuleAndOffsetOnlyWithoutAName) {
    Analysis a = crash_of(CrashKind::NullRead, {frame("", "/opt/app/libplugin.so", 0x4a1),
                                                frame("Plugin::load(int)"), frame("main")});
    compute_signature(a);
    EXPECT_EQ(a.signature, "null-read|libplugin.so+0x4a1");
    // A call through NULL: the frame at 0 is in no module and says nothing.
    Analysis b = crash_of(CrashKind::NullCall, {frame("", "", 0), frame("dispatch(int)")});
    b.threads[0].frames[0].pc = 0;
    compute_signature(b);
    EXPECT_EQ(b.signature, "null-call|dispatch");
}

TEST(Signature, ExactSignatureKeepsModuleAndOffset) {
    Analysis a = crash_of(CrashKind::NullRead, {frame("load()", "/opt/app/server", 0x34f1),
                                                frame("main", "/opt/app/server", 0x3f5d)});
    a.signal_name = "SIGSEGV";
    compute_signature(a);
    EXPECT_EQ(a.exact_signature, "server|SIGSEGV|server+0x34f1|server+0x3f5d");
    Analysis moved = a;
    moved.threads[0].frames[0].module_offset = 0x3501;
    compute_signature(moved);
    EXPECT_EQ(moved.bucket, a.bucket) << "same names, other offsets: one bucket";
    EXPECT_NE(moved.exact_signature, a.exact_signature);
}

TEST(Signature, ADeadlockIsEveryThreadOfTheCycle) {
    Analysis a = crash_of(CrashKind::Deadlock, {libc("pthread_join")});
    for (auto [tid, fn] : {std::pair{101, "transfer()"}, std::pair{102, "audit()"}}) {
        ThreadReport t;
        t.tid = tid;
        t.frames = {libc("futex_wait"),
                    libc("__lll_lock_wait"),
                    libc("___pthread_mutex_lock"),
                    frame("std::mutex::lock()", "/opt/app/server", 0x2000, true),
                    frame(fn),
                    libc("start_thread")};
        a.threads.push_back(std::move(t));
    }
    a.lock_waits = {{102, 0x10, "audit_lock", 101}, {101, 0x20, "accounts_lock", 102}};
    a.deadlock_cycle = {0, 1};
    compute_signature(a);
    EXPECT_EQ(a.signature, "deadlock|audit|transfer");
    std::swap(a.deadlock_cycle[0], a.deadlock_cycle[1]);
    std::string first = a.bucket;
    compute_signature(a);
    EXPECT_EQ(a.bucket, first) << "the thread the cycle starts at does not matter";
}

TEST(Signature, KindsNeverShareABucket) {
    Analysis a = crash_of(CrashKind::NullRead, {frame("load()")});
    Analysis b = crash_of(CrashKind::NullWrite, {frame("load()")});
    compute_signature(a);
    compute_signature(b);
    EXPECT_NE(a.bucket, b.bucket);
}

TEST(Signature, WhatSaysNothing) {
    for (const char* f :
         {"abort", "__GI_raise", "__stack_chk_fail", "__assert_fail", "_Unwind_RaiseException",
          "std::__throw_out_of_range_fmt(char const*, ...)", "__cxa_pure_virtual",
          "malloc_printerr"})
        EXPECT_TRUE(says_nothing(f)) << f;
    for (const char* f : {"", "strlen", "Server::abort_request()", "freelist_pop", "raise_alarm"})
        EXPECT_FALSE(says_nothing(f)) << f;
}

}  // namespace
