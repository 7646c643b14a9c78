// The classification rules, the wait-for-graph search and the core_pattern handling, on
// facts built by hand: every rule's condition, including the ones no victim reaches.
#include <signal.h>
#include <sys/syscall.h>

#include <gtest/gtest.h>

#include "analysis.h"
#include "signature.h"
#include "classify.h"
#include "evidence.h"
#include "kinds.h"
#include "runner.h"

using namespace crashlab;

namespace {

FrameReport frame(const std::string& fn, const std::string& module, bool runtime,
                  const std::string& file = "", int line = 0) {
    FrameReport f;
    f.function = fn;
    f.module = module;
    f.runtime = runtime;
    f.file = file;
    f.line = line;
    f.pc = 0x1000;
    return f;
}

// A crashed main thread: CULPRIT (in the program) called from main.
Analysis fault(int signo, int code, uint64_t address, const std::string& region) {
    Analysis a;
    a.pid = 100;
    a.signo = signo;
    a.code = code;
    a.signal_name = signo == SIGSEGV ? "SIGSEGV" : signo == SIGFPE ? "SIGFPE" : "SIG";
    a.code_name = "CODE";
    ThreadReport t;
    t.tid = 100;
    t.crashed = true;
    t.regs.rip = 0x5000;
    t.regs.rsp = 0x7ffd0000;
    t.frames.push_back(frame("parse_config(Config*)", "/bin/app", false, "/src/config.cpp", 41));
    t.frames.push_back(frame("main", "/bin/app", false, "/src/main.cpp", 10));
    a.threads.push_back(t);
    FaultInfo f;
    f.address = address;
    f.region = region;
    f.perms = region == "mapped" ? "r--" : "";
    a.fault = f;
    return a;
}

Instruction mem_insn(bool write, const std::string& base, uint64_t base_value, int64_t disp) {
    Instruction i;
    i.mnemonic = "mov";
    Operand m;
    m.kind = Operand::Kind::Mem;
    m.read = !write;
    m.write = write;
    m.base = base;
    m.base_value = base_value;
    m.disp = disp;
    m.address = base_value + uint64_t(disp);
    i.operands.push_back(m);
    return i;
}

TEST(Classify, NullReadNamesTheFieldOffset) {
    Analysis a = fault(SIGSEGV, SEGV_MAPERR, 0x8, "null-page");
    a.instruction = mem_insn(false, "rax", 0, 8);
    classify(a);
    EXPECT_EQ(name_of(a.kind), "null-read");
    EXPECT_NE(
        a.summary.find(
            "NULL pointer read at 0x8 (field at offset 8) in parse_config() at config.cpp:41"),
        std::string::npos)
        << a.summary;
    ASSERT_TRUE(a.culprit);
    EXPECT_EQ(a.culprit->frame, 0u);
}

TEST(Classify, NullWrite) {
    Analysis a = fault(SIGSEGV, SEGV_MAPERR, 0x10, "null-page");
    a.instruction = mem_insn(true, "rdx", 0, 16);
    classify(a);
    EXPECT_EQ(name_of(a.kind), "null-write");
}

TEST(Classify, ExecutingAtTheFaultAddress) {
    Analysis a = fault(SIGSEGV, SEGV_MAPERR, 0x0, "null-page");
    a.threads[0].regs.rip = 0;
    a.threads[0].frames.insert(a.threads[0].frames.begin(), frame("", "", false));
    classify(a);
    EXPECT_EQ(name_of(a.kind), "null-call");
    EXPECT_EQ(a.culprit->frame, 1u) << "the caller, not the address 0";

    Analysis b = fault(SIGSEGV, SEGV_ACCERR, 0x5000, "mapped");
    b.fault->perms = "rw-";
    classify(b);
    EXPECT_EQ(name_of(b.kind), "exec-nonexec");

    Analysis c = fault(SIGSEGV, SEGV_MAPERR, 0x5000, "unmapped");
    classify(c);
    EXPECT_EQ(name_of(c.kind), "wild-pointer");
}

TEST(Classify, WriteToReadOnlyMapping) {
    Analysis a = fault(SIGSEGV, SEGV_ACCERR, 0x55550000, "mapped");
    a.instruction = mem_insn(true, "rax", 0x55550000, 0);
    classify(a);
    EXPECT_EQ(name_of(a.kind), "write-readonly");
    // A read of the same mapping is no such thing.
    Analysis b = fault(SIGSEGV, SEGV_ACCERR, 0x55550000, "mapped");
    b.instruction = mem_insn(false, "rax", 0x55550000, 0);
    classify(b);
    EXPECT_NE(name_of(b.kind), "write-readonly");
}

TEST(Classify, StackOverflowCountsTheRecursion) {
    Analysis a = fault(SIGSEGV, SEGV_MAPERR, 0x7ffcfff8, "stack-guard");
    ThreadReport& t = a.threads[0];
    t.frames.clear();
    for (int i = 0; i < 1000; i++) {
        FrameReport f =
            frame("recurse(unsigned int)", "/bin/app", false, "/src/rec.cpp", i ? 8 : 7);
        f.machine_index = size_t(i);
        t.frames.push_back(f);
    }
    t.frames.push_back(frame("main", "/bin/app", false, "/src/main.cpp", 3));
    classify(a);
    EXPECT_EQ(name_of(a.kind), "stack-overflow");
    EXPECT_NE(a.summary.find("recurse() at rec.cpp:7 repeated 1,000 times"), std::string::npos)
        << a.summary;
}

TEST(Classify, FaultNearTheStackPointerIsAnOverflowEvenInAHole) {
    Analysis a = fault(SIGSEGV, SEGV_MAPERR, 0x7ffcfff8, "unmapped");
    classify(a);
    EXPECT_EQ(name_of(a.kind), "stack-overflow");
}

TEST(Classify, UseAfterFreeShapeOrWildPointer) {
    Analysis a = fault(SIGSEGV, SEGV_MAPERR, 0x7f0000201018, "unmapped");
    a.instruction = mem_insn(false, "rax", 0x7f0000201010, 8);
    classify(a);
    EXPECT_EQ(name_of(a.kind), "use-after-free");
    Analysis b = fault(SIGSEGV, SEGV_MAPERR, 0x7f0000201238, "unmapped");
    b.instruction = mem_insn(false, "rax", 0x7f0000201230, 8);
    classify(b);
    EXPECT_EQ(name_of(b.kind), "wild-pointer");
    Analysis c = fault(SIGSEGV, SI_KERNEL, 0x4141414141414141, "non-canonical");
    c.fault->recomputed = true;
    classify(c);
    EXPECT_EQ(name_of(c.kind), "wild-pointer");
}

TEST(Classify, DivisionByZeroAndOverflow) {
    auto divide = [](uint64_t divisor) {
        Analysis a = fault(SIGFPE, FPE_INTDIV, 0x5000, "mapped");
        Instruction i;
        i.mnemonic = "idiv";
        i.is_divide = i.is_signed_divide = true;
        Operand op;
        op.kind = Operand::Kind::Reg;
        op.reg = op.text = "ecx";
        op.size = 4;
        op.value = divisor;
        i.operands.push_back(op);
        a.instruction = i;
        classify(a);
        return name_of(a.kind);
    };
    EXPECT_EQ(divide(0), "div-zero");
    EXPECT_EQ(divide(0xffffffff), "div-overflow");
    EXPECT_EQ(divide(0xffffffff00000000ull), "div-zero") << "upper half is not part of ecx";
}

Analysis aborted(const std::string& message, std::vector<std::string> runtime_frames) {
    Analysis a;
    a.pid = 100;
    a.signo = SIGABRT;
    a.code = SI_TKILL;
    a.sent = true;
    a.sent_by_self = true;
    a.sender_pid = 100;
    a.signal_name = "SIGABRT";
    a.abort_message = message;
    ThreadReport t;
    t.tid = 100;
    t.frames.push_back(frame("__pthread_kill_implementation", "libc.so.6", true));
    t.frames.push_back(frame("raise", "libc.so.6", true));
    t.frames.push_back(frame("abort", "libc.so.6", true));
    for (const std::string& f : runtime_frames)
        t.frames.push_back(frame(f, "libc.so.6", true));
    t.frames.push_back(frame("release(Pool*)", "/bin/app", false, "/src/pool.cpp", 88));
    t.frames.push_back(frame("main", "/bin/app", false, "/src/main.cpp", 3));
    a.threads.push_back(t);
    classify(a);
    return a;
}

TEST(Classify, GlibcAbortMessages) {
    Analysis a = aborted("free(): double free detected in tcache 2", {"malloc_printerr"});
    EXPECT_EQ(name_of(a.kind), "double-free");
    EXPECT_NE(a.summary.find("double free: glibc reported 'free(): double free detected in tcache "
                             "2' in release() at pool.cpp:88"),
              std::string::npos)
        << a.summary;
    EXPECT_EQ(name_of(aborted("munmap_chunk(): invalid pointer", {}).kind), "invalid-free");
    EXPECT_EQ(name_of(aborted("free(): invalid size", {}).kind), "invalid-free");
    EXPECT_EQ(name_of(aborted("malloc(): corrupted top size", {}).kind), "heap-corruption");
    EXPECT_EQ(name_of(aborted("corrupted size vs. prev_size", {}).kind), "heap-corruption");
    EXPECT_EQ(
        name_of(aborted("app: pool.cpp:88: void release(): Assertion `n > 0' failed.", {}).kind),
        "assert");
    EXPECT_EQ(name_of(aborted("*** stack smashing detected ***: terminated", {}).kind),
              "stack-smash");
    EXPECT_EQ(name_of(aborted("", {"__stack_chk_fail"}).kind), "stack-smash");
    EXPECT_EQ(name_of(aborted("", {}).kind), "abort");
}

TEST(Classify, CxxTerminationKinds) {
    EXPECT_EQ(name_of(aborted("", {"__cxa_pure_virtual"}).kind), "pure-virtual");
    EXPECT_EQ(name_of(aborted("", {"std::terminate()", "__cxa_throw"}).kind), "uncaught-exception");
    EXPECT_EQ(
        name_of(
            aborted("", {"__gxx_personality_v0", "_Unwind_RaiseException", "__cxa_throw"}).kind),
        "terminate");
    EXPECT_EQ(name_of(aborted("", {"std::terminate()"}).kind), "terminate");
}

Analysis sent(int signo, std::vector<long> syscalls) {
    Analysis a;
    a.pid = 100;
    a.signo = signo;
    a.code = SI_USER;
    a.sent = true;
    a.sender_pid = 4242;
    a.sender_uid = 1000;
    a.signal_name = signo == SIGABRT ? "SIGABRT" : "SIGSEGV";
    for (size_t i = 0; i < syscalls.size(); i++) {
        ThreadReport t;
        t.tid = 100 + int(i);
        t.syscall = syscalls[i];
        t.state = syscalls[i] < 0 ? "running" : "blocked in futex()";
        t.frames.push_back(frame("worker" + std::to_string(i) + "()", "/bin/app", false,
                                 "/src/w.cpp", int(10 + i)));
        a.threads.push_back(t);
    }
    return a;
}

TEST(Classify, ExternalSignalIsNotAFault) {
    Analysis a = sent(SIGSEGV, {SYS_rt_sigsuspend});
    classify(a);
    EXPECT_EQ(name_of(a.kind), "external-signal");
    EXPECT_NE(a.summary.find("sent by pid 4242 (uid 1000) with kill(): not a fault"),
              std::string::npos)
        << a.summary;
}

TEST(Classify, HangBusyThreadOrAllBlocked) {
    Analysis a = sent(SIGABRT, {SYS_futex, -1, SYS_read});
    classify(a);
    EXPECT_EQ(name_of(a.kind), "hang");
    ASSERT_TRUE(a.culprit);
    EXPECT_EQ(a.culprit->thread, 1u) << "the running thread";
    Analysis b = sent(SIGABRT, {SYS_futex, SYS_read});
    classify(b);
    EXPECT_EQ(name_of(b.kind), "hang");
    EXPECT_NE(b.summary.find("all 2 threads were blocked"), std::string::npos) << b.summary;
}

TEST(Classify, DeadlockCycleNamesTheLocks) {
    Analysis a = sent(SIGABRT, {SYS_futex, SYS_futex, SYS_futex});
    a.lock_waits = {{101, 0xa0, "accounts_lock", 102},
                    {102, 0xb0, "audit_lock", 101},
                    {100, 0xc0, "other_lock", 101}};
    a.deadlock_cycle = find_wait_cycle(a.lock_waits);
    ASSERT_EQ(a.deadlock_cycle.size(), 2u);
    classify(a);
    EXPECT_EQ(name_of(a.kind), "deadlock");
    EXPECT_NE(a.summary.find("thread 101 holds audit_lock and waits for accounts_lock"),
              std::string::npos)
        << a.summary;
    EXPECT_NE(a.summary.find("thread 102 holds accounts_lock and waits for audit_lock"),
              std::string::npos)
        << a.summary;
}

TEST(WaitGraph, NoCycleWhenTheOwnerRuns) {
    std::vector<LockWait> waits = {{1, 0xa0, "a", 2}, {3, 0xb0, "b", 2}};
    EXPECT_TRUE(find_wait_cycle(waits).empty());
    std::vector<LockWait> three = {{1, 0, "a", 2}, {2, 0, "b", 3}, {3, 0, "c", 1}};
    EXPECT_EQ(find_wait_cycle(three).size(), 3u);
    std::vector<LockWait> self = {{5, 0, "recursive", 5}};
    EXPECT_EQ(find_wait_cycle(self).size(), 1u) << "a thread relocking its own mutex";
}

TEST(Classify, NoThreadsNoCrashOfTheClassifier) {
    Analysis a;
    a.signo = SIGSEGV;
    a.signal_name = "SIGSEGV";
    classify(a);
    EXPECT_EQ(name_of(a.kind), "unknown");
    EXPECT_FALSE(a.summary.empty());
    compute_signature(a);
    EXPECT_FALSE(a.signature.empty());
}

TEST(Kinds, EveryClassTheIssueNames) {
    for (const char* k : {"null-read",       "null-write",
                          "null-call",       "stack-overflow",
                          "write-readonly",  "exec-nonexec",
                          "use-after-free",  "double-free",
                          "invalid-free",    "heap-corruption",
                          "abort",           "assert",
                          "stack-smash",     "div-zero",
                          "div-overflow",    "trap",
                          "bus-error",       "uncaught-exception",
                          "terminate",       "pure-virtual",
                          "deadlock",        "hang",
                          "external-signal", "wild-pointer",
                          "unknown"})
        EXPECT_NE(find_kind(k), nullptr) << k;
    EXPECT_EQ(all_kinds().size(), 25u);
}

TEST(CorePattern, ExpansionAndHandlers) {
    CorePattern plain{"core", false, "", false};
    EXPECT_EQ(expand_core_pattern(plain, "/d", 42, 1000, 1000, 11, "victim", "/bin/victim"),
              "/d/core");
    CorePattern with_pid{"core", false, "", true};
    EXPECT_EQ(expand_core_pattern(with_pid, "/d", 42, 0, 0, 11, "v", "/bin/v"), "/d/core.42");
    CorePattern abs{"/var/cores/core.%e.%p.%s.%t", false, "", true};
    EXPECT_EQ(expand_core_pattern(abs, "/d", 42, 0, 0, 11, "victim", "/bin/v"),
              "/var/cores/core.victim.42.11.*");
    CorePattern exe{"%E-%u-%%", false, "", false};
    EXPECT_EQ(expand_core_pattern(exe, "/d", 1, 7, 0, 6, "v", "/bin/v"), "/d/!bin!v-7-%");

    CorePattern sd{"|/usr/lib/systemd/systemd-coredump %P %u %g %s %t 9223372036854775808 %h", true,
                   "systemd-coredump", false};
    std::string advice = piped_core_advice(sd, 1234);
    EXPECT_NE(advice.find("coredumpctl dump 1234"), std::string::npos) << advice;
    CorePattern apport{"|/usr/share/apport/apport -p%p", true, "apport", false};
    EXPECT_NE(piped_core_advice(apport, 5).find("apport"), std::string::npos);
}

}  // namespace
