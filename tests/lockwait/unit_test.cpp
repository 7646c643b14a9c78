// lockwait-trace's pure logic: futex op decoding, lock naming, kernel symbols, stack
// classification, the report writers and the ELF lookup of the uprobes. No BPF here.
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "address_naming.h"
#include "elf_symbols.h"
#include "kernel_symbols.h"
#include "kinds.h"
#include "lockwait.h"
#include "report.h"
#include "resolve.h"

using namespace lockwait;
using tk::name_address;
using tk::NamingContext;

namespace {

tk::Mapping mapping(uint64_t start, uint64_t end, const char* perms, const char* path,
                    uint64_t offset = 0) {
    tk::Mapping m;
    m.start = start;
    m.end = end;
    m.perms = perms;
    m.path = path;
    m.offset = offset;
    return m;
}

Frame frame(const char* fn, const char* module = "", bool inlined = false) {
    Frame f;
    f.function = fn;
    f.module = module;
    f.inlined = inlined;
    f.address = 0x1000;
    return f;
}

}  // namespace

TEST(LockwaitOps, FutexCommandsAreDecodedWithoutTheirFlags) {
    EXPECT_EQ(lw_futex_op(0), unsigned(LW_FUTEX_WAIT));
    EXPECT_EQ(lw_futex_op(128), unsigned(LW_FUTEX_WAIT));         // FUTEX_WAIT_PRIVATE
    EXPECT_EQ(lw_futex_op(129), unsigned(LW_FUTEX_WAKE));         // FUTEX_WAKE_PRIVATE
    EXPECT_EQ(lw_futex_op(393), unsigned(LW_FUTEX_WAIT_BITSET));  // | PRIVATE | CLOCK_REALTIME
    EXPECT_EQ(lw_futex_op(265), unsigned(LW_FUTEX_WAIT_BITSET));  // shared, CLOCK_REALTIME
    EXPECT_EQ(lw_futex_op(13 | 128), unsigned(LW_FUTEX_LOCK_PI2));
    EXPECT_EQ(lw_futex_op(14), unsigned(LW_OP_INVALID));
    EXPECT_EQ(lw_futex_op(-1), unsigned(LW_OP_INVALID));
}

TEST(LockwaitOps, EveryOperationHasAClassAndAName) {
    for (unsigned op : {LW_FUTEX_WAIT, LW_FUTEX_WAIT_BITSET, LW_FUTEX_LOCK_PI, LW_FUTEX_LOCK_PI2,
                        LW_FUTEX_WAIT_REQUEUE_PI, LW_SYS_FUTEX_WAIT, LW_SYS_FUTEX_WAITV})
        EXPECT_EQ(lw_op_class(op), LW_CLASS_WAIT) << op_name(op);
    for (unsigned op : {LW_FUTEX_WAKE, LW_FUTEX_WAKE_BITSET, LW_FUTEX_WAKE_OP, LW_FUTEX_UNLOCK_PI,
                        LW_FUTEX_REQUEUE, LW_FUTEX_CMP_REQUEUE, LW_FUTEX_CMP_REQUEUE_PI,
                        LW_SYS_FUTEX_WAKE, LW_SYS_FUTEX_REQUEUE})
        EXPECT_EQ(lw_op_class(op), LW_CLASS_WAKE) << op_name(op);
    for (unsigned op : {LW_FUTEX_FD, LW_FUTEX_TRYLOCK_PI, LW_OP_INVALID})
        EXPECT_EQ(lw_op_class(op), LW_CLASS_OTHER) << op_name(op);
    EXPECT_STREQ(op_name(LW_FUTEX_WAIT_BITSET), "FUTEX_WAIT_BITSET");
    EXPECT_STREQ(op_name(LW_SYS_FUTEX_WAITV), "futex_waitv");
    EXPECT_STREQ(op_name(99), "invalid");
}

TEST(LockwaitNaming, AGlobalIsNamedBySymbolWithOffsetAndForeignModule) {
    NamingContext ctx;
    ctx.executable = "/usr/bin/app";
    ctx.data_symbol = [](uint64_t a) -> std::optional<tk::DataSymbol> {
        tk::DataSymbol d;
        if (a == 0x1000)
            d = {"g_queue_lock", 0, 40, "/usr/bin/app", ".bss"};
        else if (a == 0x2008)
            d = {"Foo::instance_mutex", 8, 40, "/usr/lib/libfoo.so.1", ".data"};
        else
            return std::nullopt;
        return d;
    };
    EXPECT_EQ(name_address(0x1000, ctx).name, "g_queue_lock");
    EXPECT_EQ(name_address(0x1000, ctx).kind, tk::LockNameKind::Symbol);
    EXPECT_EQ(name_address(0x2008, ctx).name, "Foo::instance_mutex+8 (libfoo.so.1)");
}

TEST(LockwaitNaming, WithoutASymbolTheMappingAndOffsetNameIt) {
    std::vector<tk::Mapping> maps = {
        mapping(0x555555554000, 0x555555556000, "r--p", "/usr/bin/app"),
        mapping(0x555555570000, 0x555555591000, "rw-p", "[heap]"),
        mapping(0x7f0000000000, 0x7f0000800000, "rw-p", ""),  // a thread's stack
        mapping(0x7f1000000000, 0x7f1000001000, "rw-s", "/dev/shm/queue", 0x2000),
        mapping(0x7f2000000000, 0x7f2000001000, "rw-s", "/dev/zero"),  // MAP_SHARED|MAP_ANONYMOUS
        mapping(0x7f3000000000, 0x7f3000010000, "rw-p", ""),           // just anonymous
        mapping(0x7ffc00000000, 0x7ffc00021000, "rw-p", "[stack]"),
    };
    NamingContext ctx;
    ctx.maps = &maps;
    ctx.main_tid = 100;
    ctx.thread_sps = {{100, 0x7ffc00020000}, {101, 0x7f00007ff000}};
    EXPECT_EQ(name_address(0x5555555702a0, ctx).name, "[heap]+0x2a0");
    EXPECT_EQ(name_address(0x7f00007ff990, ctx).name, "stack of thread 101+0x7ff990");
    EXPECT_EQ(name_address(0x7f1000000010, ctx).name, "/dev/shm/queue+0x2010");
    EXPECT_EQ(name_address(0x7f2000000004, ctx).name, "shared anonymous memory+0x4");
    EXPECT_EQ(name_address(0x7f3000000100, ctx).name,
              "anonymous mapping 0x7f3000000000-0x7f3000010000 +0x100");
    EXPECT_EQ(name_address(0x7ffc00000040, ctx).name, "[stack]+0x40 (main thread)");
    EXPECT_EQ(name_address(0x10, ctx).name, "unmapped 0x10");
    EXPECT_EQ(name_address(0x5555555702a0, ctx).kind, tk::LockNameKind::Mapping);
}

TEST(LockwaitNaming, AStaticOfAStrippedLibraryIsNamedByModuleAndSection) {
    NamingContext ctx;
    ctx.data_symbol = [](uint64_t) { return std::optional<tk::DataSymbol>(); };
    ctx.module_of = [](uint64_t a) -> std::optional<std::pair<std::string, uint64_t>> {
        return std::make_pair(std::string("/usr/lib/x86_64-linux-gnu/libc.so.6"),
                              a - 0x7f0000000000);
    };
    ctx.section = [](uint64_t) { return std::string(".bss"); };
    EXPECT_EQ(name_address(0x7f00001d2b20, ctx).name, "libc.so.6 .bss+0x1d2b20 (no symbol)");
}

TEST(LockwaitNaming, UnknownMappingsSaySo) {
    NamingContext ctx;
    auto n = name_address(0x1234, ctx);
    EXPECT_EQ(n.kind, tk::LockNameKind::Unknown);
    EXPECT_STREQ(tk::lock_name_kind_name(n.kind), "unknown");
    EXPECT_NE(n.name.find("not captured"), std::string::npos);
}

TEST(LockwaitKernelSymbols, FunctionsAreFoundAndDataIgnored) {
    std::istringstream text(
        "ffffffff81000000 T _stext\n"
        "ffffffff81100000 T mutex_lock\n"
        "ffffffff81100100 t __mutex_lock_slowpath\n"
        "ffffffff81200000 D some_data\n"
        "ffffffffc0000000 t helper\t[mymod]\n");
    auto k = tk::KernelSymbols::parse(text);
    ASSERT_TRUE(k.loaded());
    EXPECT_EQ(k.describe(0xffffffff81100010), "mutex_lock+0x10");
    EXPECT_EQ(k.describe(0xffffffff81100100), "__mutex_lock_slowpath+0x0");
    EXPECT_EQ(k.function(0xffffffff81100180), "__mutex_lock_slowpath");
    EXPECT_EQ(k.describe(0xffffffffc0000004), "helper+0x4 [mymod]");
    EXPECT_EQ(k.describe(0x1000), "0x1000");
    std::istringstream hidden("0000000000000000 T mutex_lock\n");  // not root: addresses hidden
    EXPECT_FALSE(tk::KernelSymbols::parse(hidden).loaded());
}

TEST(LockwaitKernelLocks, TypeAndSiteOfAContention) {
    EXPECT_EQ(kernel_lock_type(LW_LCB_F_SPIN), "spinlock");
    EXPECT_EQ(kernel_lock_type(LW_LCB_F_MUTEX), "mutex");
    EXPECT_EQ(kernel_lock_type(LW_LCB_F_MUTEX | LW_LCB_F_SPIN), "mutex (spinning)");
    EXPECT_EQ(kernel_lock_type(LW_LCB_F_WRITE), "rwsem (write)");
    EXPECT_EQ(kernel_lock_type(LW_LCB_F_SPIN | LW_LCB_F_READ), "rwlock (read)");
    std::vector<Frame> frames = {
        frame("__pv_queued_spin_lock_slowpath+0x10e"), frame("_raw_spin_lock+0x3b"),
        frame("raw_spin_rq_lock_nested+0x11"), frame("__schedule+0xad"), frame("schedule+0x23")};
    EXPECT_EQ(kernel_lock_site(frames), "__schedule+0xad");
    std::vector<Frame> rwsem = {frame("rwsem_down_write_slowpath+0x2a1"),
                                frame("down_write_killable+0x60"), frame("vm_mmap_pgoff+0x9c")};
    EXPECT_EQ(kernel_lock_site(rwsem), "vm_mmap_pgoff+0x9c");
}

TEST(LockwaitStacks, AStackIsWholeWhenItReachesAnEntryPoint) {
    EXPECT_TRUE(reaches_entry_point(
        {frame("__lll_lock_wait"), frame("worker(int)"), frame("start_thread")}));
    EXPECT_TRUE(reaches_entry_point({frame("main"), frame("__libc_start_call_main")}));
    EXPECT_FALSE(reaches_entry_point({frame("__lll_lock_wait"), frame("operator()", "app", true)}));
    EXPECT_FALSE(reaches_entry_point({}));
}

TEST(LockwaitStacks, FramesWithoutANameSayWhichSymbolsToInstall) {
    std::map<std::string, size_t> unnamed;
    count_unnamed_frames({frame("", "libc.so.6"), frame("", "[kernel]"), frame("main", "app"),
                          frame("", "libc.so.6"), frame("")},
                         unnamed);
    EXPECT_EQ(unnamed, (std::map<std::string, size_t>{{"libc.so.6", 2}}));
    EXPECT_EQ(unnamed_frames_note(unnamed),
              "2 frames have no function name, in libc.so.6 (2): their debug symbols are not "
              "installed; for libc.so.6 install libc6-dbg (Debian), which names its internal "
              "functions such as __lll_lock_wait");
    EXPECT_EQ(unnamed_frames_note({{"libfoo.so.1", 1}}),
              "1 frames have no function name, in libfoo.so.1 (1): their debug symbols are not "
              "installed; install the module's -dbg or -dbgsym package for names");
    EXPECT_EQ(unnamed_frames_note({}), "");
}

namespace {

Report sample_report() {
    Report r;
    r.target = "./app (pid 100)";
    r.probe_mode = "tp_btf";
    r.counters[LW_C_FUTEX_CALLS] = 30;
    r.counters[LW_C_WAIT_CALLS] = 10;
    r.counters[LW_C_WAKE_CALLS] = 20;
    r.counters[LW_C_BLOCKED_WAITS] = 8;
    r.calls[LW_FUTEX_WAIT] = 10;
    r.calls[LW_FUTEX_WAKE] = 20;
    Lock l;
    l.pid = 100;
    l.address = 0x55550000;
    l.name = "g_queue_lock";
    l.ops_seen = (1u << LW_FUTEX_WAIT) | (1u << LW_FUTEX_WAKE);
    l.waits = 10;
    l.blocked = 8;
    l.blocked_ns = 8000;
    l.wakes = 20;
    l.woken = 8;
    for (int i = 0; i < 8; i++)
        l.h_blocked.record(1000);
    l.waiters.push_back({101, "worker", 10, 8, 8000});
    l.wakers.push_back({101, 102, 100, "worker", "worker", 8, 8, 4000, 8});
    r.locks.push_back(l);
    ThreadRow t;
    t.stats.tid = 101;
    t.stats.pid = 100;
    t.stats.calls[LW_FUTEX_WAIT] = 10;
    t.stats.waits = 10;
    t.stats.blocked = 8;
    t.stats.blocked_ns = 8000;
    t.comm = "worker";
    r.threads.push_back(t);
    ThreadRow t2 = t;
    t2.stats = {};
    t2.stats.tid = 102;
    t2.stats.pid = 100;
    t2.stats.calls[LW_FUTEX_WAKE] = 20;
    t2.stats.wakes = 20;
    r.threads.push_back(t2);
    r.stacks_enabled = true;
    StackEntry e;
    e.pid = 100;
    e.comm = "app";
    e.lock_name = "g_queue_lock";
    e.count = 5;
    e.blocked_ns = 5000;
    e.has_waiter = true;
    e.waiter.frames = {frame("__lll_lock_wait"), frame("Queue::push(int) const"),
                       frame("ns::operator()"), frame("start_thread")};
    r.stacks.push_back(e);
    e.blocked_ns = 3000;  // the same stack again (another waker): added up
    r.stacks.push_back(e);
    return r;
}

}  // namespace

TEST(LockwaitReport, JsonCarriesTheContract) {
    auto j = json_report(sample_report());
    for (const char* k : {"futex_calls", "wait_calls", "wake_calls", "blocked_waits"})
        EXPECT_TRUE(j["totals"].contains(k)) << k;
    EXPECT_EQ(j["totals"]["futex_calls"], 30);
    ASSERT_EQ(j["locks"].size(), 1u);
    const auto& l = j["locks"][0];
    for (const char* k :
         {"pid", "address", "name", "waits", "blocked", "blocked_ns_total", "wakes", "histograms"})
        EXPECT_TRUE(l.contains(k)) << k;
    EXPECT_EQ(l["address"], "0x55550000");
    EXPECT_EQ(l["name"], "g_queue_lock");
    for (const char* h : {"blocked", "wait_call", "handoff"})
        for (const char* k : {"count", "p50_ns", "p99_ns", "max_ns", "buckets"})
            EXPECT_TRUE(l["histograms"][h].contains(k)) << h << "." << k;
    EXPECT_EQ(l["histograms"]["blocked"]["count"], 8);
    EXPECT_EQ(l["wakers"][0]["waker_tid"], 102);
    EXPECT_EQ(l["ops"], nlohmann::json({"FUTEX_WAIT", "FUTEX_WAKE"}));
    ASSERT_EQ(j["processes"].size(), 1u);
    EXPECT_EQ(j["processes"][0]["futex_calls"], 30);
    EXPECT_EQ(j["processes"][0]["threads"], 2);
    EXPECT_EQ(j["calls_by_op"]["FUTEX_WAKE"], 20);
}

TEST(LockwaitReport, TextNamesTheLockAndTheWaker) {
    auto text = text_report(sample_report(), ReportOptions{});
    EXPECT_NE(text.find("g_queue_lock"), std::string::npos) << text;
    EXPECT_NE(text.find("by operation: FUTEX_WAIT 10, FUTEX_WAKE 20"), std::string::npos) << text;
    EXPECT_NE(text.find("by tid 102"), std::string::npos) << text;
    EXPECT_NE(text.find("Queue::push(int) const"), std::string::npos) << text;
}

TEST(LockwaitReport, FoldedStacksAreOuterFirstWeightedAndMerged) {
    auto folded = folded_stacks(sample_report());
    EXPECT_EQ(
        folded,
        "app;start_thread;ns::operator();Queue::push;__lll_lock_wait;[lock g_queue_lock] 8000\n");
}

// --- kinds: what each futex word is, from its evidence ----------------------------------

namespace {

CallSite site(std::initializer_list<std::pair<const char*, const char*>> frames) {
    CallSite s;
    for (auto& [fn, module] : frames)
        s.push_back({fn, module});
    return s;
}

}  // namespace

TEST(LockwaitKinds, EveryKindHasOneNameAndAClass) {
    std::set<std::string> names;
    for (const auto& k : all_kinds()) {
        EXPECT_TRUE(names.insert(k.name).second) << k.name;
        EXPECT_STREQ(kind_name(k.kind), k.name);
    }
    EXPECT_EQ(kind_info(LockKind::Mutex).wait_class, WaitClass::Contention);
    EXPECT_EQ(kind_info(LockKind::Rwlock).wait_class, WaitClass::Contention);
    for (LockKind k : {LockKind::Condvar, LockKind::Semaphore, LockKind::Barrier, LockKind::Once,
                       LockKind::Join, LockKind::AtomicWait})
        EXPECT_EQ(kind_info(k).wait_class, WaitClass::Event) << kind_name(k);
    EXPECT_EQ(kind_info(LockKind::Unknown).wait_class, WaitClass::Other);
}

TEST(LockwaitKinds, TypesOfTheCAndCxxLibraries) {
    EXPECT_EQ(kind_of_type("pthread_mutex_t"), LockKind::Mutex);
    EXPECT_EQ(kind_of_type("std::mutex"), LockKind::Mutex);
    EXPECT_EQ(kind_of_type("pthread_cond_t"), LockKind::Condvar);
    EXPECT_EQ(kind_of_type("std::condition_variable"), LockKind::Condvar);
    EXPECT_EQ(kind_of_type("std::_V2::condition_variable_any"), LockKind::Condvar);
    EXPECT_EQ(kind_of_type("pthread_rwlock_t"), LockKind::Rwlock);
    EXPECT_EQ(kind_of_type("std::shared_mutex"), LockKind::Rwlock);
    EXPECT_EQ(kind_of_type("sem_t"), LockKind::Semaphore);
    EXPECT_EQ(kind_of_type("std::counting_semaphore<1>"), LockKind::Semaphore);
    EXPECT_EQ(kind_of_type("pthread_barrier_t"), LockKind::Barrier);
    EXPECT_EQ(kind_of_type("pthread_once_t"), LockKind::Once);
    EXPECT_EQ(kind_of_type("std::once_flag"), LockKind::Once);
    EXPECT_FALSE(kind_of_type("std::atomic<int>"));
    EXPECT_FALSE(kind_of_type("int"));
}

TEST(LockwaitKinds, CallSitesOfGlibcAndLibstdcxx) {
    // the mutex's slow path holds the syscall (futex_wait is inlined into it)
    EXPECT_EQ(
        kind_of_site(site({{"futex_wait", "libc.so.6"}, {"__GI___lll_lock_wait", "libc.so.6"}})),
        LockKind::Mutex);
    // the helper shared by conditions, semaphores, joins and rwlocks: its caller decides
    auto shared = [](const char* caller) {
        return site({{"__futex_abstimed_wait_common64", "libc.so.6"},
                     {"__futex_abstimed_wait_common", "libc.so.6"},
                     {"__futex_abstimed_wait_cancelable64", "libc.so.6"},
                     {caller, "libc.so.6"},
                     {"main", "prog"}});
    };
    EXPECT_EQ(kind_of_site(shared("___pthread_cond_wait")), LockKind::Condvar);
    EXPECT_EQ(kind_of_site(shared("__new_sem_wait_slow64")), LockKind::Semaphore);
    EXPECT_EQ(kind_of_site(shared("do_futex_wait")), LockKind::Semaphore);
    EXPECT_EQ(kind_of_site(shared("__pthread_clockjoin_ex")), LockKind::Join);
    EXPECT_EQ(kind_of_site(shared("__pthread_rwlock_rdlock_full64")), LockKind::Rwlock);
    EXPECT_EQ(kind_of_site(site({{"__pthread_once_slow", "libc.so.6"}})), LockKind::Once);
    EXPECT_EQ(kind_of_site(site({{"pthread_barrier_wait", "libc.so.6"}})), LockKind::Barrier);
    // through libc's syscall(): the caller decides
    EXPECT_EQ(
        kind_of_site(site({{"syscall", "libc.so.6"}, {"__cxa_guard_acquire", "libstdc++.so.6"}})),
        LockKind::Once);
    EXPECT_EQ(kind_of_site(site({{"syscall", "libc.so.6"},
                                 {"std::__detail::__platform_wait<int>(int const*, int)", "prog"},
                                 {"main", "prog"}})),
              LockKind::AtomicWait);
    std::string why;
    EXPECT_EQ(
        kind_of_site(site({{"syscall", "libc.so.6"}, {"my_lock(unsigned int*)", "prog"}}), &why),
        LockKind::RawFutex);
    EXPECT_EQ(why, "my_lock in prog through syscall()");
    // the program's own syscall instruction
    EXPECT_EQ(kind_of_site(site({{"spin_then_wait", "prog"}})), LockKind::RawFutex);
    // a library we do not know, or nothing
    EXPECT_EQ(kind_of_site(site({{"__futex_abstimed_wait_common", "libc.so.6"}})),
              LockKind::Unknown);
    EXPECT_EQ(kind_of_site(site({{"some_internal", "libc.so.6"}})), LockKind::Unknown);
    EXPECT_EQ(kind_of_site({}), LockKind::Unknown);
}

TEST(LockwaitKinds, ClassifyWeighsTheEvidenceInOrder) {
    WordEvidence e;
    EXPECT_EQ(classify(e).kind, LockKind::Unknown);
    e.wake_site = site({{"futex_wake", "libc.so.6"}, {"___pthread_cond_signal", "libc.so.6"}});
    EXPECT_EQ(classify(e).kind, LockKind::Condvar);
    EXPECT_EQ(classify(e).evidence, "wakes called from pthread_cond_signal");
    // a value that is a thread's tid is a join, unless the call site says otherwise
    e.join_of = 1234;
    EXPECT_EQ(classify(e).kind, LockKind::Join);
    EXPECT_EQ(classify(e).evidence, "its waits expected the tid of thread 1234");
    e.wait_site = site({{"__new_sem_wait_slow64", "libc.so.6"}});
    EXPECT_EQ(classify(e).kind, LockKind::Semaphore);  // the wait before the wake
    e.type_kind = LockKind::Barrier;
    e.type_name = "pthread_barrier_t";
    EXPECT_EQ(classify(e).kind, LockKind::Barrier);
    EXPECT_EQ(classify(e).evidence, "its type, pthread_barrier_t");
    e.guard_variable = true;
    EXPECT_EQ(classify(e).kind, LockKind::Once);
    e.pi = true;
    EXPECT_EQ(classify(e).kind, LockKind::Mutex);
}

TEST(LockwaitKinds, TextRanksContentionApartFromWaitingAndGivesAVerdict) {
    Report r = sample_report();
    r.locks[0].kind = LockKind::Mutex;
    r.locks[0].kind_evidence = "its type, pthread_mutex_t";
    Lock join = r.locks[0];
    join.address = 0x7f0000990;
    join.name = "join of thread 103 (long-runner)";
    join.kind = LockKind::Join;
    join.blocked_ns = 1000000;  // longer than all the mutex's waits together
    join.blocked = 1;
    r.locks.insert(r.locks.begin(), join);
    r.threads[0].stats.blocked_ns += join.blocked_ns;
    auto text = text_report(r, ReportOptions{});
    auto contention = text.find("contention: locks by blocked time");
    auto waiting = text.find("waiting for something to happen");
    ASSERT_NE(contention, std::string::npos) << text;
    ASSERT_NE(waiting, std::string::npos) << text;
    EXPECT_LT(contention, waiting);
    EXPECT_GT(text.find("join of thread 103", waiting), waiting) << text;
    EXPECT_GT(text.find("g_queue_lock", contention), contention);
    EXPECT_LT(text.find("g_queue_lock", contention), waiting) << text;
    // the verdict: the mutex, though the join blocked longer; and mostly waiting for work
    auto verdict = text.substr(text.find("verdict: "));
    verdict = verdict.substr(0, verdict.find('\n'));
    EXPECT_NE(verdict.find("most contended lock g_queue_lock (mutex, pid 100)"), std::string::npos)
        << verdict;
    EXPECT_NE(verdict.find("mostly for work or events"), std::string::npos) << verdict;

    auto j = json_report(r);
    EXPECT_EQ(j["locks"][0]["kind"], "join");
    EXPECT_EQ(j["locks"][0]["kind_class"], "event");
    EXPECT_EQ(j["locks"][1]["kind"], "mutex");
    EXPECT_EQ(j["locks"][1]["kind_evidence"], "its type, pthread_mutex_t");
    EXPECT_EQ(j["kinds"]["mutex"]["blocked"], 8);
    EXPECT_EQ(j["kinds"]["join"]["blocked"], 1);
    EXPECT_EQ(j["kinds"]["condvar"]["locks"], 0);
    EXPECT_EQ(j["verdict"]["most_contended"]["name"], "g_queue_lock");
    EXPECT_EQ(j["verdict"]["mostly"], "events");
}
