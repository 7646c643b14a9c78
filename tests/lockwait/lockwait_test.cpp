// lockwait-trace end to end: the real tool, the real BPF programs, the workload lab's
// contention workloads. Every count is checked against `perf stat -e
// syscalls:sys_enter_futex` (split by op with tracepoint filters) run on the same
// workload in the same run: the tool traces perf, perf counts its child.
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "harness.h"

using harness::bin;
using harness::parse_json;
using harness::run;
using harness::RunOptions;
using nlohmann::json;

namespace {

std::vector<std::string> lockwait_programs() {
    return harness::programs_of("lockwait-trace");
}

// A perf tracepoint filter matching the futex(2) commands `cmds`, with or without
// FUTEX_PRIVATE_FLAG (128) and FUTEX_CLOCK_REALTIME (256).
std::string op_filter(const std::vector<int>& cmds) {
    std::string f;
    for (int c : cmds)
        for (int flags : {0, 128, 256, 384})
            f += (f.empty() ? "" : " || ") + ("op == " + std::to_string(c | flags));
    return f;
}

const std::vector<int> kWaitCmds = {0, 9, 6, 13,
                                    11};  // WAIT, WAIT_BITSET, LOCK_PI, LOCK_PI2, WAIT_REQUEUE_PI
const std::vector<int> kWakeCmds = {
    1, 10, 5, 7, 3, 4, 12};  // WAKE, WAKE_BITSET, WAKE_OP, UNLOCK_PI, (CMP_)REQUEUE(_PI)

struct Traced {
    json j;                      // the tool's report
    json workload;               // the workload's own JSON report
    std::vector<uint64_t> perf;  // perf's counts: every futex call, then one per filter
    harness::Result result;
};

// One perf event: a tracepoint, optionally filtered.
struct PerfEvent {
    std::string event;
    std::string filter;
};

// lockwait-trace --json F [extra] -- perf stat -x, -o P -e EVENT [--filter F]... -- WORKLOAD
Traced trace_with_perf(const std::vector<std::string>& workload,
                       const std::vector<PerfEvent>& events,
                       const std::vector<std::string>& extra = {}) {
    Traced out;
    std::string report = harness::temp_path("lockwait.json");
    std::string perf_out = harness::temp_path("perf.txt");
    std::vector<std::string> argv = {bin("lockwait-trace"), "--json", report};
    argv.insert(argv.end(), extra.begin(), extra.end());
    for (const char* p : {"--", "perf", "stat", "-x,", "-o"})
        argv.push_back(p);
    argv.push_back(perf_out);
    for (const auto& e : events) {
        argv.insert(argv.end(), {"-e", e.event});
        if (!e.filter.empty())
            argv.insert(argv.end(), {"--filter", e.filter});
    }
    argv.push_back("--");
    argv.insert(argv.end(), workload.begin(), workload.end());
    out.result = run(argv, harness::as_root());
    EXPECT_EQ(out.result.status, 0) << out.result.err;
    out.j = parse_json(harness::read_file(report));
    std::istringstream lines(harness::read_file(perf_out));
    std::string line;
    while (std::getline(lines, line)) {
        if (line.empty() || line[0] == '#')
            continue;
        out.perf.push_back(std::stoull(line.substr(0, line.find(','))));
    }
    EXPECT_EQ(out.perf.size(), events.size()) << harness::read_file(perf_out);
    out.perf.resize(events.size());
    for (auto& f : {report, perf_out})
        unlink(f.c_str());
    return out;
}

// ... on the contention workload: every futex call, then the calls matching each filter
Traced trace_contention(const std::vector<std::string>& args,
                        const std::vector<std::string>& filters,
                        const std::vector<std::string>& extra = {}) {
    std::string workload_json = harness::temp_path("contention.json");
    std::vector<std::string> workload = {bin("contention"), "--json", workload_json};
    workload.insert(workload.end(), args.begin(), args.end());
    std::vector<PerfEvent> events = {{"syscalls:sys_enter_futex", ""}};
    for (const auto& f : filters)
        events.push_back({"syscalls:sys_enter_futex", f});
    Traced out = trace_with_perf(workload, events, extra);
    out.workload = parse_json(harness::read_file(workload_json));
    unlink(workload_json.c_str());
    return out;
}

// The futex calls of the processes named `comm`, added up (by op name, or the totals).
uint64_t calls_of(const json& j, const std::string& comm, const std::string& key) {
    uint64_t n = 0;
    for (const auto& p : j["processes"])
        if (p["comm"] == comm)
            n += key.rfind("FUTEX_", 0) == 0 ? p["calls_by_op"].value(key, uint64_t(0))
                                             : p[key].get<uint64_t>();
    return n;
}

const json* find_lock(const json& j, const std::string& name, int pid = 0) {
    for (const auto& l : j["locks"])
        if (l["name"] == name && (!pid || l["pid"] == pid))
            return &l;
    return nullptr;
}

std::set<int> pids_named(const json& j, const std::string& comm) {
    std::set<int> out;
    for (const auto& p : j["processes"])
        if (p["comm"] == comm)
            out.insert(p["pid"].get<int>());
    return out;
}

// Every futex call of a process lands on one (word, thread) row when it returns: the rows
// of its words add up to its calls, less at most `in_flight` calls not yet returned. (A
// thread's most recent word is kept in its task state, the others in a map: this checks
// that neither loses or doubles a call.)
void expect_rows_add_up(const json& j, uint64_t in_flight = 0) {
    EXPECT_EQ(j["dropped"]["lock_rows"], 0);
    std::map<int, uint64_t> by_rows;
    for (const auto& l : j["locks"])
        by_rows[l["pid"].get<int>()] += l["waits"].get<uint64_t>() + l["wakes"].get<uint64_t>() +
                                        l["other_calls"].get<uint64_t>();
    for (const auto& p : j["processes"]) {
        uint64_t calls = p["futex_calls"].get<uint64_t>();
        uint64_t rows = by_rows[p["pid"].get<int>()];
        EXPECT_LE(rows, calls) << "pid " << p["pid"] << " (" << p["comm"] << ")";
        EXPECT_GE(rows + in_flight, calls) << "pid " << p["pid"] << " (" << p["comm"] << ")";
    }
}

void expect_counts_match_perf(const Traced& r) {
    ASSERT_EQ(r.perf.size(), 3u);
    EXPECT_EQ(calls_of(r.j, "contention", "futex_calls"), r.perf[0]) << "every futex call";
    EXPECT_EQ(calls_of(r.j, "contention", "wait_calls"), r.perf[1]) << "wait calls";
    EXPECT_EQ(calls_of(r.j, "contention", "wake_calls"), r.perf[2]) << "wake calls";
    // the totals are the per-process rows added up (perf and the tool are traced too)
    uint64_t all = 0;
    for (const auto& p : r.j["processes"])
        all += p["futex_calls"].get<uint64_t>();
    EXPECT_EQ(all, r.j["totals"]["futex_calls"].get<uint64_t>());
    EXPECT_EQ(r.j["totals"]["futex_calls"].get<uint64_t>(),
              r.j["totals"]["wait_calls"].get<uint64_t>() +
                  r.j["totals"]["wake_calls"].get<uint64_t>() +
                  r.j["totals"]["other_calls"].get<uint64_t>());
    expect_rows_add_up(r.j);
}

void expect_histogram_shape(const json& h) {
    for (const char* k : {"count", "p50_ns", "p99_ns", "max_ns", "buckets"})
        EXPECT_TRUE(h.contains(k)) << k;
}

// One CPU and a long critical section: the holder is preempted inside it often, so the
// others block on the lock for sure.
const std::vector<std::string> kContended = {"--cpu", "0",          "--cs-ns",
                                             "20000", "--think-ns", "1000"};

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

}  // namespace

TEST(LockwaitTrace, ThreadsOnOneMutexCountsMatchPerfAndTheLockIsNamed) {
    REQUIRE_ROOT();
    Traced r = trace_contention(with({"--mode", "mutex", "-w", "4", "-n", "2000"}, kContended),
                                {op_filter(kWaitCmds), op_filter(kWakeCmds)});
    expect_counts_match_perf(r);
    ASSERT_EQ(r.workload["verified"], true);
    auto pids = pids_named(r.j, "contention");
    ASSERT_EQ(pids.size(), 1u);
    const json* l = find_lock(r.j, "g_contended_mutex", *pids.begin());
    ASSERT_TRUE(l) << r.j["locks"].dump(1).substr(0, 3000);
    // the very address the workload reports for its global mutex
    EXPECT_EQ((*l)["address"], r.workload["lock"]["address"]);
    EXPECT_EQ((*l)["name_kind"], "symbol");
    EXPECT_EQ((*l)["kind"], "mutex");
    EXPECT_FALSE((*l)["shared"].get<bool>());
    EXPECT_GT((*l)["waits"].get<uint64_t>(), 0u);
    EXPECT_GT((*l)["blocked"].get<uint64_t>(), 0u);
    EXPECT_LE((*l)["blocked"].get<uint64_t>(), (*l)["waits"].get<uint64_t>());
    EXPECT_GT((*l)["blocked_ns_total"].get<uint64_t>(), 0u);
    EXPECT_GT((*l)["wakes"].get<uint64_t>(), 0u);
    EXPECT_EQ((*l)["histograms"]["blocked"]["count"], (*l)["blocked"]);
    EXPECT_EQ((*l)["histograms"]["wait_call"]["count"], (*l)["waits"]);
    for (const char* h : {"blocked", "wait_call", "handoff"})
        expect_histogram_shape((*l)["histograms"][h]);
    // blocked time is the time off the CPU inside the call: never more than the call
    EXPECT_LE((*l)["blocked_ns_total"].get<uint64_t>(), (*l)["wait_ns_total"].get<uint64_t>());
    // every blocked wait was woken by one of the workers (all on one CPU: no interrupt wakes it)
    uint64_t woken_by = 0, measured = 0;
    for (const auto& w : (*l)["wakers"]) {
        woken_by += w["count"].get<uint64_t>();
        measured += w["handoffs"].get<uint64_t>();
        EXPECT_EQ(w["waker_pid"], *pids.begin());
        EXPECT_NE(w["waker_tid"], w["waiter_tid"]);
    }
    EXPECT_EQ(measured, (*l)["handoffs"].get<uint64_t>());
    EXPECT_EQ((*l)["histograms"]["handoff"]["count"], (*l)["handoffs"]);
    EXPECT_LE(measured, woken_by);
    EXPECT_GE(measured + r.j["totals"]["switch_in_unseen"].get<uint64_t>(), woken_by);
    EXPECT_GT(woken_by, 0u);
    EXPECT_EQ(r.j["totals"]["blocked_waits"].get<uint64_t>(),
              r.j["histograms"]["blocked"]["count"].get<uint64_t>());
    EXPECT_TRUE(harness::programs_loaded(lockwait_programs()).empty());
}

TEST(LockwaitTrace, ProcessesOnAProcessSharedMutex) {
    REQUIRE_ROOT();
    Traced r = trace_contention(
        with({"--mode", "mutex", "--model", "process", "-w", "3", "-n", "1500"}, kContended),
        {op_filter(kWaitCmds), op_filter(kWakeCmds)});
    expect_counts_match_perf(r);
    auto pids = pids_named(r.j, "contention");
    EXPECT_EQ(pids.size(), 4u);  // the parent and three workers
    int named = 0;
    uint64_t waits = 0;
    for (const auto& l : r.j["locks"]) {
        if (l["name"] != "g_contended_mutex")
            continue;
        named++;
        waits += l["waits"].get<uint64_t>();
        EXPECT_TRUE(l["shared"].get<bool>())
            << "a process-shared mutex uses futex calls without FUTEX_PRIVATE_FLAG";
        EXPECT_EQ(l["kind"], "mutex") << l["kind_evidence"];
        EXPECT_EQ(l["address"], r.workload["lock"]["address"]);
    }
    EXPECT_GE(named, 2) << "the workers' processes each see the shared mutex at the same address";
    EXPECT_GT(waits, 0u);
}

TEST(LockwaitTrace, ConditionVariableWaitsAreWaitBitset) {
    REQUIRE_ROOT();
    Traced r = trace_contention({"--mode", "condvar", "-w", "4", "-n", "3000", "--cpu", "0"},
                                {op_filter({9}), op_filter({1, 10})});
    ASSERT_EQ(r.perf.size(), 3u);
    EXPECT_EQ(calls_of(r.j, "contention", "futex_calls"), r.perf[0]);
    EXPECT_EQ(calls_of(r.j, "contention", "FUTEX_WAIT_BITSET"), r.perf[1]);
    EXPECT_EQ(calls_of(r.j, "contention", "FUTEX_WAKE") +
                  calls_of(r.j, "contention", "FUTEX_WAKE_BITSET"),
              r.perf[2]);
    EXPECT_GT(r.perf[1], 0u) << "a producer/consumer queue on one CPU makes its consumers wait";
    // each thread alternates between the mutex and a condition variable's words
    expect_rows_add_up(r.j);
    // the waits are on the condition variables' words, named after them: WAIT_BITSET on
    // their sequence words (glibc also waits with plain FUTEX_WAIT on a group's refcount,
    // and the main thread's joins use WAIT_BITSET on the threads' stacks)
    uint64_t cond_bitset_waits = 0;
    for (const auto& l : r.j["locks"]) {
        std::string name = l["name"];
        bool cond = name.rfind("g_contended_not_empty", 0) == 0 ||
                    name.rfind("g_contended_not_full", 0) == 0;
        bool bitset = false;
        for (const auto& op : l["ops"])
            bitset |= op == "FUTEX_WAIT_BITSET";
        if (cond && bitset)
            cond_bitset_waits += l["waits"].get<uint64_t>();
        if (cond) {  // named after the pthread_cond_t, not its word inside (+40)
            EXPECT_TRUE(name == "g_contended_not_empty" || name == "g_contended_not_full") << name;
            EXPECT_EQ(l["kind"], "condvar") << name;
        }
    }
    EXPECT_GT(cond_bitset_waits, 0u);
}

TEST(LockwaitTrace, SemaphoreWaitsAreOnTheSemaphore) {
    REQUIRE_ROOT();
    Traced r = trace_contention(
        with({"--mode", "semaphore", "--permits", "1", "-w", "4", "-n", "1500"}, kContended),
        {op_filter(kWaitCmds), op_filter(kWakeCmds)});
    expect_counts_match_perf(r);
    const json* l = find_lock(r.j, "g_contended_sem");
    ASSERT_TRUE(l) << r.j["locks"].dump(1).substr(0, 3000);
    EXPECT_EQ((*l)["kind"], "semaphore");
    EXPECT_GT((*l)["waits"].get<uint64_t>(), 0u);
    EXPECT_GT((*l)["wakes"].get<uint64_t>(), 0u);
}

// --- kinds -------------------------------------------------------------------------------

// The futex words of process PID whose address lies in [address, address + size).
std::vector<const json*> rows_in(const json& j, int pid, const std::string& address,
                                 uint64_t size) {
    std::vector<const json*> out;
    uint64_t lo = std::stoull(address, nullptr, 16);
    for (const auto& l : j["locks"]) {
        uint64_t a = std::stoull(l["address"].get<std::string>(), nullptr, 16);
        if (l["pid"] == pid && a >= lo && a < lo + size)
            out.push_back(&l);
    }
    return out;
}

// lockwait-kinds: one object of every kind, each blocking a known number of times.
TEST(LockwaitKinds, EveryKindIsNamedAndCountedAsTheWorkloadCountedIt) {
    REQUIRE_ROOT();
    std::string report = harness::temp_path("lockwait.json");
    std::string own = harness::temp_path("kinds.json");
    auto res = run({bin("lockwait-trace"), "--json", report, "--", bin("lockwait-kinds"), "6", own},
                   harness::as_root());
    ASSERT_EQ(res.status, 0) << res.err;
    json j = parse_json(harness::read_file(report));
    json w = parse_json(harness::read_file(own));
    for (auto& f : {report, own})
        unlink(f.c_str());
    std::map<std::string, uint64_t> expected;  // blocked waits by kind, as the workload counted
    for (const auto& o : w["objects"]) {
        std::string name = o["name"], kind = o["kind"];
        uint64_t blocked = o["blocked"];
        expected[kind] += blocked;
        std::vector<const json*> rows;
        if (o["address"] != "0") {
            rows = rows_in(j, o["pid"], o["address"], o["size"]);
        } else {
            for (const auto& l : j["locks"])
                if (l["pid"] == o["pid"] && l["name"].get<std::string>().rfind(name, 0) == 0)
                    rows.push_back(&l);
        }
        ASSERT_FALSE(rows.empty()) << name << "\n" << j["locks"].dump(1).substr(0, 6000);
        if (kind == "condvar" && o["address"] != "0") {
            // glibc waits on two words of a pthread_cond_t: one row for the object
            EXPECT_EQ(rows.size(), 1u) << name;
        }
        uint64_t tool_blocked = 0, held_by_main = 0;
        for (const json* l : rows) {
            EXPECT_EQ((*l)["kind"], kind)
                << name << ": " << (*l)["kind_evidence"] << " (" << (*l)["name"] << ")";
            tool_blocked += (*l)["blocked"].get<uint64_t>();
            // the workload's main thread holds each mutex while its waiter sleeps
            for (const auto& o : (*l)["owners"]) {
                EXPECT_EQ(o["tid"], w["pid"]) << name << ": " << o.dump();
                held_by_main += o["blocked"].get<uint64_t>();
            }
            // a global is named after its object (and member), not the word inside it
            if ((*l)["name_kind"] == "symbol" && name.rfind("guard variable", 0) != 0) {
                EXPECT_EQ((*l)["name"], name);
            }
        }
        EXPECT_EQ(tool_blocked, blocked) << name;
        if (kind == "mutex") {
            EXPECT_EQ(held_by_main, blocked) << name << ": the owner of every blocked wait";
        }
    }
    // per kind: every blocked wait of the workload's objects, and no others (the C library's
    // own locks may add mutex waits of their own)
    for (const auto& [kind, n] : expected) {
        if (kind == "mutex") {
            EXPECT_GE(j["kinds"][kind]["blocked"].get<uint64_t>(), n) << kind;
        } else {
            EXPECT_EQ(j["kinds"][kind]["blocked"].get<uint64_t>(), n) << kind;
        }
    }
    EXPECT_EQ(j["kinds"]["unknown"]["blocked"], 0) << j["locks"].dump(1).substr(0, 6000);
    // the join names the thread it waited for, and it is no contention
    EXPECT_EQ(j["verdict"]["most_contended"]["kind"], "mutex");
}

// With --uprobes, pthread_cond_wait's arguments name each condition variable's mutex.
TEST(LockwaitKinds, ConditionVariablesNameTheirMutexWithUprobes) {
    REQUIRE_ROOT();
    auto res = run({bin("lockwait-trace"), "--uprobes", "--json", "-", "--", bin("lockwait-kinds"),
                    "2", "/dev/null"},
                   harness::as_root());
    ASSERT_EQ(res.status, 0) << res.err;
    json j = parse_json(res.out);
    std::map<std::string, std::string> mutex_of;
    for (const auto& l : j["locks"])
        if (l["kind"] == "condvar")
            mutex_of[l["name"]] = l.value("cond_mutex", "");
    EXPECT_EQ(mutex_of["g_cond"], "g_cond_mutex") << j["locks"].dump(1).substr(0, 4000);
    EXPECT_EQ(mutex_of["g_queue.not_empty"], "g_queue.lock");
    EXPECT_EQ(mutex_of["g_cv"], "g_cv_mutex") << "std::condition_variable waits through libc";
}

// pthread_join of threads that run longer than any lock wait: the mutex is still the top
// contended lock; the joins are waits for an end.
TEST(LockwaitKinds, JoinsAreNotContention) {
    REQUIRE_ROOT();
    Traced r = trace_contention(with({"--mode", "mutex", "-w", "4", "-n", "1000"}, kContended), {});
    const json& top = r.j["verdict"]["most_contended"];
    ASSERT_TRUE(top.is_object()) << r.j["verdict"].dump();
    EXPECT_EQ(top["name"], "g_contended_mutex");
    EXPECT_EQ(top["kind"], "mutex");
    int joins = 0;
    for (const auto& l : r.j["locks"]) {
        std::string name = l["name"];
        if (name.rfind("stack of thread", 0) == 0)
            ADD_FAILURE() << "a join not recognised: " << l.dump().substr(0, 500);
        if (l["kind"] != "join")
            continue;
        joins++;
        EXPECT_EQ(name.rfind("join of thread ", 0), 0u) << name;
        EXPECT_NE(name.find("(contention)"), std::string::npos) << name;
        EXPECT_EQ(l["kind_class"], "event");
    }
    EXPECT_GE(joins, 1);
    // The threads' time: the 4 workers live at least through the workload's own measured
    // phase, and no traced thread (perf, the workload's main thread, the workers) longer
    // than the run (and the reaping of the command after it: a second at most). The
    // mutex's share of it is its blocked time over it.
    const json& verdict = r.j["verdict"];
    double threads_s = verdict["threads_time_ns"].get<double>() / 1e9;
    EXPECT_GE(threads_s, 4 * r.workload["elapsed_s"].get<double>()) << verdict.dump();
    EXPECT_LE(threads_s, double(r.j["threads"].size()) * (r.j["duration_s"].get<double>() + 1))
        << verdict.dump();
    EXPECT_NEAR(top["share_of_threads_time"].get<double>(),
                top["blocked_ns_total"].get<double>() / verdict["threads_time_ns"].get<double>(),
                1e-9);
    EXPECT_LE(top["share_of_threads_time"].get<double>(), 1.0);
    // the verdict line heads the text report too
    const std::string& text = r.result.out;
    EXPECT_NE(text.find("verdict: most contended lock g_contended_mutex (mutex"), std::string::npos)
        << text;
    EXPECT_NE(text.find("contention: locks by blocked time"), std::string::npos) << text;
}

TEST(LockwaitTrace, TwoThreadHandoffNamesTheWaker) {
    REQUIRE_ROOT();
    const int rounds = 400;  // ~30 ms: the process lives long enough for its words to be named
    std::string report = harness::temp_path("handoff.json");
    auto r = run({bin("lockwait-trace"), "--json", report, "--", bin("lockwait-handoff"),
                  std::to_string(rounds)},
                 harness::as_root());
    ASSERT_EQ(r.status, 0) << r.err;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(r.out, m, std::regex("waker_tid=(\\d+) waiter_tid=(\\d+)")))
        << r.out;
    int waker = std::stoi(m[1]), waiter = std::stoi(m[2]);
    json j = parse_json(harness::read_file(report));
    unlink(report.c_str());
    const json* l = find_lock(j, "g_handoff_word");
    ASSERT_TRUE(l) << j["locks"].dump(1).substr(0, 3000);
    EXPECT_EQ((*l)["waits"], rounds);
    EXPECT_EQ((*l)["blocked"], rounds) << "the waker waits until the waiter sleeps";
    EXPECT_EQ((*l)["wakes"], rounds);
    EXPECT_EQ((*l)["woken"], rounds);
    ASSERT_EQ((*l)["wakers"].size(), 1u) << (*l)["wakers"].dump();
    const json& pair = (*l)["wakers"][0];
    EXPECT_EQ(pair["waker_tid"], waker);
    EXPECT_EQ(pair["waiter_tid"], waiter);
    EXPECT_EQ(pair["count"], rounds);
    EXPECT_EQ(pair["by_futex_wake"], rounds);
    // the handoff latency of each (unless the waiter's switch-in went unseen, which is counted)
    EXPECT_EQ((*l)["histograms"]["handoff"]["count"], pair["handoffs"]);
    EXPECT_GE(pair["handoffs"].get<uint64_t>() + j["totals"]["switch_in_unseen"].get<uint64_t>(),
              uint64_t(rounds));
    ASSERT_EQ((*l)["waiters"].size(), 1u);
    EXPECT_EQ((*l)["waiters"][0]["tid"], waiter);
    // the text report says it in words too
    EXPECT_NE(r.out.find("by tid " + std::to_string(waker)), std::string::npos) << r.out;
}

TEST(LockwaitTrace, EveryFutexOperationAndOutcomeIsDecoded) {
    REQUIRE_ROOT();
    const uint64_t n = 8;
    bool futex2 = access("/sys/kernel/tracing/events/syscalls/sys_enter_futex_wait", F_OK) == 0;
    std::vector<PerfEvent> events = {
        {"syscalls:sys_enter_futex", ""},
        {"syscalls:sys_enter_futex", op_filter({6, 13})},  // LOCK_PI, LOCK_PI2
        {"syscalls:sys_enter_futex", op_filter({7})},      // UNLOCK_PI
        {"syscalls:sys_enter_futex_waitv", ""}};
    if (futex2)
        for (const char* e : {"wait", "wake", "requeue"})
            events.push_back({std::string("syscalls:sys_enter_futex_") + e, ""});
    Traced r = trace_with_perf({bin("lockwait-futex-ops"), std::to_string(n)}, events);
    ASSERT_EQ(r.perf.size(), events.size());
    futex2 = futex2 && r.result.out.find("futex2=yes") != std::string::npos;
    auto pids = pids_named(r.j, "lockwait-futex-");
    ASSERT_EQ(pids.size(), 1u) << r.j["processes"].dump();
    int pid = *pids.begin();
    const json* proc = nullptr;
    for (const auto& p : r.j["processes"])
        if (p["pid"] == pid)
            proc = &p;
    ASSERT_TRUE(proc);
    const json& by_op = (*proc)["calls_by_op"];
    // the same counts as perf, op by op
    EXPECT_EQ((*proc)["futex_calls"].get<uint64_t>(),
              r.perf[0] + r.perf[3] + (futex2 ? r.perf[4] + r.perf[5] + r.perf[6] : 0));
    EXPECT_EQ(
        by_op.value("FUTEX_LOCK_PI", uint64_t(0)) + by_op.value("FUTEX_LOCK_PI2", uint64_t(0)),
        r.perf[1]);
    EXPECT_EQ(by_op.value("FUTEX_UNLOCK_PI", uint64_t(0)), r.perf[2]);
    EXPECT_EQ(by_op.value("futex_waitv", uint64_t(0)), r.perf[3]);
    if (futex2) {
        EXPECT_EQ(by_op.value("futex_wait", uint64_t(0)), r.perf[4]);
        EXPECT_EQ(by_op.value("futex_wake", uint64_t(0)), r.perf[5]);
        EXPECT_EQ(by_op.value("futex_requeue", uint64_t(0)), r.perf[6]);
    }
    // and per word, what the workload did to it (the main thread goes round six words:
    // only the newest is kept in its task state, the rest in the map)
    expect_rows_add_up(r.j);
    auto word = [&](const char* name) -> const json& {
        static const json none = json::object();
        const json* l = find_lock(r.j, name, pid);
        EXPECT_TRUE(l) << name << " not found";
        return l ? *l : none;
    };
    auto ops_of = [](const json& l) {
        std::set<std::string> ops;
        for (const auto& o : l.value("ops", json::array()))
            ops.insert(o.get<std::string>());
        return ops;
    };
    auto outcome = [](const json& l, const char* o) { return l["outcomes"][o].get<uint64_t>(); };
    const json& eagain = word("g_ops_eagain");
    EXPECT_EQ(ops_of(eagain), std::set<std::string>{"FUTEX_WAIT"});
    EXPECT_EQ(eagain["waits"], n);
    EXPECT_EQ(outcome(eagain, "eagain"), n);
    EXPECT_EQ(eagain["blocked"], 0);
    const json& timeout = word("g_ops_timeout");
    EXPECT_EQ(ops_of(timeout), std::set<std::string>{"FUTEX_WAIT_BITSET"});
    EXPECT_EQ(outcome(timeout, "timedout"), n);
    EXPECT_EQ(timeout["blocked"], n);
    EXPECT_TRUE(timeout["wakers"].empty()) << "a timeout is an interrupt, not a waker";
    const json& intr = word("g_ops_intr");
    EXPECT_EQ(outcome(intr, "interrupted"), n);
    // the signal goes out once the waiter is in state S; had it been preempted right then,
    // before schedule(), that one wait ends without sleeping
    EXPECT_GE(intr["blocked"].get<uint64_t>(), n - 1);
    EXPECT_EQ(intr["wakers"].size(), 1u) << "the signal's sender is the waker";
    for (const char* w : {"g_ops_wake", "g_ops_wake_op", "g_ops_requeue"}) {
        EXPECT_EQ(word(w)["wakes"], n) << w;
        EXPECT_EQ(word(w)["woken"], 0) << w;
    }
    EXPECT_EQ(ops_of(word("g_ops_wake_op")), std::set<std::string>{"FUTEX_WAKE_OP"});
    EXPECT_EQ(ops_of(word("g_ops_requeue")), std::set<std::string>{"FUTEX_CMP_REQUEUE"});
    const json& pi = word("g_ops_pi");
    EXPECT_TRUE(pi["pi"].get<bool>());
    EXPECT_EQ(pi["waits"], n);
    // (a LOCK_PI waiter may spin on the running owner instead of sleeping: blocked <= n)
    EXPECT_LE(pi["blocked"].get<uint64_t>(), n);
    EXPECT_EQ(outcome(pi, "woken"), n) << "LOCK_PI returns 0 once it owns the mutex";
    EXPECT_GE(pi["wakes"].get<uint64_t>(), n);
    EXPECT_LE(pi["handoffs"].get<uint64_t>(), pi["blocked"].get<uint64_t>());
    const json& waitv = word("g_ops_waitv");
    EXPECT_EQ(ops_of(waitv), std::set<std::string>{"futex_waitv"});
    EXPECT_EQ(outcome(waitv, "eagain"), n);
    if (futex2) {
        const json& f2 = word("g_ops_futex2");
        EXPECT_EQ(ops_of(f2), (std::set<std::string>{"futex_wait", "futex_wake"}));
        EXPECT_EQ(f2["waits"], n);
        EXPECT_EQ(outcome(f2, "eagain"), n);
        EXPECT_EQ(f2["wakes"], n);
        EXPECT_EQ(word("g_ops_rq_from")["wakes"], n);
    }
}

namespace {

// The flame graph SVG opened in headless Chromium: its script runs without an error, a
// search finds SEARCH in part of the width, a click-zoom to the frame ZOOM works, and a
// screenshot is kept in the build directory's test-artifacts/ as PNG.
void expect_flame_graph_works_in_a_browser(const std::string& svg, const std::string& search,
                                           const std::string& zoom, const std::string& png) {
    if (!harness::have_chromium()) {
        if (harness::in_ci())
            ADD_FAILURE() << "CI=true but no chromium: run scripts/install-deps.sh";
        return;
    }
    auto page = harness::load_in_chromium(svg);
    ASSERT_EQ(page.status, 0);
    EXPECT_NE(page.dom.find("data-ready=\"1\""), std::string::npos) << "the script ran";
    EXPECT_TRUE(page.console.empty()) << page.console.front();
    auto found = harness::load_in_chromium(svg, "#search=" + search);
    std::smatch m;
    ASSERT_TRUE(std::regex_search(found.dom, m, std::regex("data-matched=\"([0-9.]+)\"")));
    EXPECT_GT(std::stod(m[1]), 0.0) << search;
    EXPECT_LE(std::stod(m[1]), 100.0) << search;
    auto zoomed = harness::load_in_chromium(svg, "#zoom=" + zoom);
    EXPECT_NE(zoomed.dom.find("data-zoomed=\"" + zoom + "\""), std::string::npos) << zoom;
    EXPECT_TRUE(harness::screenshot_in_chromium(svg, harness::artifact_path(png), 1200, 700));
}

}  // namespace

TEST(LockwaitTrace, StacksOfBlockedWaitsFoldedOutputAndFlameGraph) {
    REQUIRE_ROOT();
    std::string folded = harness::temp_path("waits.folded");
    std::string svg = harness::temp_path("waits.svg");
    Traced r = trace_contention(with({"--mode", "mutex", "-w", "4", "-n", "1500"}, kContended),
                                {op_filter(kWaitCmds), op_filter(kWakeCmds)},
                                {"--folded", folded, "--flamegraph", svg});
    expect_counts_match_perf(r);
    ASSERT_TRUE(r.j.contains("stacks"));
    bool libc_wait = false, in_workload = false;
    uint64_t stack_ns = 0;
    for (const auto& s : r.j["stacks"]) {
        if (!s.contains("waiter_stack"))
            continue;
        stack_ns += s["blocked_ns_total"].get<uint64_t>();
        if (s["lock"] != "g_contended_mutex")
            continue;
        for (const auto& f : s["waiter_stack"]) {
            libc_wait |=
                f["function"].get<std::string>().find("lll_lock_wait") != std::string::npos;
            in_workload |= f["module"] == "contention" && f.contains("file");
        }
    }
    EXPECT_TRUE(libc_wait) << "the waiter sleeps in glibc's __lll_lock_wait";
    EXPECT_TRUE(in_workload) << "and was called from the workload (symbolized with file:line)";
    const auto& sum = r.j["stack_summary"];
    EXPECT_GT(sum["user_stacks"].get<uint64_t>(), 0u);
    if (sum["short_stacks"].get<uint64_t>()) {
        EXPECT_NE(sum["note"].get<std::string>().find("frame pointers"), std::string::npos);
    }
    // folded: "frames;...;[lock NAME] NANOSECONDS", weights adding up to the stacks' blocked time
    std::ifstream f(folded);
    std::string line;
    uint64_t folded_ns = 0;
    int lines = 0;
    bool mutex_line = false;
    std::regex shape("^[^ ;][^\\n]*;\\[lock [^\\]]+\\] ([0-9]+)$");
    while (std::getline(f, line)) {
        std::smatch m;
        ASSERT_TRUE(std::regex_match(line, m, shape)) << line;
        folded_ns += std::stoull(m[1]);
        mutex_line |= line.find("[lock g_contended_mutex]") != std::string::npos;
        lines++;
    }
    unlink(folded.c_str());
    EXPECT_GT(lines, 0);
    EXPECT_TRUE(mutex_line);
    EXPECT_EQ(folded_ns, stack_ns);
    EXPECT_LE(folded_ns, r.j["totals"]["blocked_ns_total"].get<uint64_t>());

    // the flame graph: the same blocked time, the lock as a frame, the wakers' frames on top
    std::string graph = harness::read_file(svg);
    EXPECT_NE(graph.find("data-total=\"" + std::to_string(folded_ns) + "\""), std::string::npos);
    EXPECT_NE(graph.find("data-n=\"[lock g_contended_mutex]\" data-k=\"lock\""), std::string::npos);
    EXPECT_NE(graph.find("data-k=\"waker\""), std::string::npos)
        << "a mutex's waiter is woken by an unlock, whose stack is on top of the lock";
    expect_flame_graph_works_in_a_browser(svg, "lll_lock_wait", "[lock g_contended_mutex]",
                                          "lockwait-flamegraph.png");
    unlink(svg.c_str());
}

TEST(LockwaitTrace, UprobesCountEveryAcquisitionAndTheirCost) {
    REQUIRE_ROOT();
    // launched directly: the uprobes are attached before it runs its first instruction
    std::string report = harness::temp_path("uprobes.json"),
                workload_json = harness::temp_path("contention.json");
    auto r = run({bin("lockwait-trace"), "--uprobes", "--json", report, "--", bin("contention"),
                  "--json", workload_json, "--mode", "mutex", "-w", "4", "-n", "1000"},
                 harness::as_root());
    ASSERT_EQ(r.status, 0) << r.err;
    json j = parse_json(harness::read_file(report)),
         workload = parse_json(harness::read_file(workload_json));
    unlink(report.c_str());
    unlink(workload_json.c_str());
    ASSERT_TRUE(j.contains("uprobes"));
    const auto& u = j["uprobes"];
    const json* mutex = nullptr;
    for (const auto& l : u["locks"])
        if (l["name"] == "g_contended_mutex" && l["kind"] == "mutex")
            mutex = &l;
    ASSERT_TRUE(mutex) << u.dump(1).substr(0, 3000) << j["warnings"];
    // the workload counts its own acquisitions: every one went through pthread_mutex_lock
    uint64_t acquisitions = workload["lock_acquisitions"].get<uint64_t>();
    EXPECT_EQ(acquisitions, 4000u);
    EXPECT_EQ((*mutex)["acquires"].get<uint64_t>(), acquisitions);
    EXPECT_EQ((*mutex)["holds"].get<uint64_t>(), acquisitions);
    EXPECT_GE(u["hits"].get<uint64_t>(), 3 * acquisitions);  // lock entry, lock return, unlock
    EXPECT_GT(u["cost_per_hit_ns"].get<double>(), 0.0) << u["cost_how"];
    expect_histogram_shape((*mutex)["histograms"]["hold"]);
    EXPECT_NE(r.out.find("per hit"), std::string::npos) << "the cost is printed beside the results";
    EXPECT_TRUE(harness::programs_loaded(lockwait_programs()).empty());
}

// Counted and timed by default; the kernel stack (the call site) with --kernel-stacks.
TEST(LockwaitTrace, KernelLockContentionWithoutStacksByDefault) {
    REQUIRE_ROOT();
    std::string report = harness::temp_path("klock.json");
    auto r =
        run({bin("lockwait-trace"), "--json", report, "--", bin("lockwait-mmap-storm"), "4", "300"},
            harness::as_root());
    ASSERT_EQ(r.status, 0) << r.err;
    json j = parse_json(harness::read_file(report));
    unlink(report.c_str());
    ASSERT_GT(j["totals"]["kernel_lock_waits"].get<uint64_t>(), 0u);
    uint64_t counted = 0;
    for (const auto& k : j["kernel_locks"]) {
        counted += k["count"].get<uint64_t>();
        EXPECT_TRUE(k["stack"].empty()) << k.dump();
        EXPECT_EQ(k["where"], "(--kernel-stacks for the call site)");
    }
    EXPECT_EQ(counted, j["totals"]["kernel_lock_waits"].get<uint64_t>());
    EXPECT_EQ(j["histograms"]["kernel_lock"]["count"], j["totals"]["kernel_lock_waits"]);
}

TEST(LockwaitTrace, KernelLockContentionWithKernelStacks) {
    REQUIRE_ROOT();
    std::string report = harness::temp_path("klock.json");
    auto r = run({bin("lockwait-trace"), "--kernel-stacks", "--json", report, "--",
                  bin("lockwait-mmap-storm"), "4", "300"},
                 harness::as_root());
    ASSERT_EQ(r.status, 0) << r.err;
    json j = parse_json(harness::read_file(report));
    unlink(report.c_str());
    ASSERT_TRUE(j.contains("kernel_locks"));
    ASSERT_GT(j["totals"]["kernel_lock_waits"].get<uint64_t>(), 0u)
        << "4 threads mapping and unmapping on 2 CPUs "
           "contend for their mmap_lock";
    ASSERT_FALSE(j["kernel_locks"].empty());
    uint64_t counted = 0, without_stack = 0;
    for (const auto& k : j["kernel_locks"]) {
        counted += k["count"].get<uint64_t>();
        EXPECT_FALSE(k["type"].get<std::string>().empty());
        if (k["stack"].empty()) {
            // bpf_get_stackid fails on a hash collision in the stack map: counted, and said
            without_stack += k["count"].get<uint64_t>();
            EXPECT_EQ(k["where"], "(stack not captured)");
            continue;
        }
        // symbolized through /proc/kallsyms: "function+0xoffset"
        EXPECT_NE(k["stack"][0]["function"].get<std::string>().find("+0x"), std::string::npos)
            << k.dump();
        EXPECT_NE(k["where"].get<std::string>().find("+0x"), std::string::npos) << k.dump();
    }
    EXPECT_EQ(counted, j["totals"]["kernel_lock_waits"].get<uint64_t>());
    EXPECT_LE(without_stack, j["dropped"]["stacks"].get<uint64_t>());
    EXPECT_LT(without_stack, counted) << "most waits have their kernel stack";
    EXPECT_EQ(j["histograms"]["kernel_lock"]["count"], j["totals"]["kernel_lock_waits"]);
}

TEST(LockwaitTrace, RawTracepointTwinsGiveTheSameCounts) {
    REQUIRE_ROOT();
    Traced r = trace_contention(with({"--mode", "mutex", "-w", "3", "-n", "1000"}, kContended),
                                {op_filter(kWaitCmds), op_filter(kWakeCmds)}, {"--raw-tp"});
    EXPECT_EQ(r.j["probe_mode"], "raw_tp");
    expect_counts_match_perf(r);
    const json* l = find_lock(r.j, "g_contended_mutex");
    ASSERT_TRUE(l);
    EXPECT_GT((*l)["blocked"].get<uint64_t>(), 0u);
    EXPECT_FALSE((*l)["wakers"].empty());
}

TEST(LockwaitTrace, AttachToARunningProcess) {
    REQUIRE_ROOT();
    pid_t workload = 0;
    std::thread bg([&] {
        run(with({bin("contention"), "--mode", "mutex", "-w", "3", "-d", "3"}, kContended),
            RunOptions{{}, 60, [&](pid_t p) { workload = p; }});
    });
    while (!workload)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let it start its threads
    auto r = run({bin("lockwait-trace"), "-p", std::to_string(workload), "-d", "1", "--stacks",
                  "--json", "-"},
                 harness::as_root());
    bg.join();
    ASSERT_EQ(r.status, 0) << r.err;
    json j = parse_json(r.out);
    std::set<int> pids;
    for (const auto& p : j["processes"])
        pids.insert(p["pid"].get<int>());
    EXPECT_EQ(pids, std::set<int>{workload});
    const json* l = find_lock(j, "g_contended_mutex", workload);
    ASSERT_TRUE(l) << j["locks"].dump(1).substr(0, 2000);
    EXPECT_GT((*l)["blocked"].get<uint64_t>(), 0u);
    EXPECT_FALSE(j["stacks"].empty());
    // the threads live on after the tool detaches: their rows are read from their state;
    // each may be inside a call when the tool stops (counted on entry, recorded on return)
    expect_rows_add_up(j, 4);
    EXPECT_TRUE(harness::programs_loaded(lockwait_programs()).empty());
}

TEST(LockwaitTrace, ExitStatusOfTheWorkloadIsPassedOn) {
    REQUIRE_ROOT();
    EXPECT_EQ(run({bin("lockwait-trace"), "--", "sh", "-c", "exit 7"}, harness::as_root()).status,
              7);
}

TEST(LockwaitTrace, KernelWithoutFutexTracepointsIsAClearError) {
    REQUIRE_ROOT();
    auto r =
        run({bin("lockwait-trace"), "--without", "sys_enter", "--", "true"}, harness::as_root());
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("lockwait-trace: the kernel has no sys_enter/sys_exit tracepoints"),
              std::string::npos)
        << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_TRUE(harness::programs_loaded(lockwait_programs()).empty());
}

TEST(LockwaitTrace, KernelWithoutLockTracepointsStillTracesFutexes) {
    REQUIRE_ROOT();
    // 1000 rounds (~25 ms): long enough for the lock's name to be read from the live process
    // (50 rounds, 3 ms, once lost it in a full parallel test run: docs/lockwait-trace.md Limits)
    auto r = run({bin("lockwait-trace"), "--without", "contention_begin", "--json", "-", "--",
                  bin("lockwait-handoff"), "1000"},
                 harness::as_root());
    ASSERT_EQ(r.status, 0) << r.err;
    json j = parse_json(r.out.substr(r.out.find("\n{") + 1));
    EXPECT_FALSE(j.contains("kernel_locks"));
    bool said = false;
    for (const auto& w : j["warnings"])
        said |= w.get<std::string>().find("contention_begin") != std::string::npos;
    EXPECT_TRUE(said) << j["warnings"];
    EXPECT_TRUE(find_lock(j, "g_handoff_word"));
}

TEST(LockwaitTrace, BadOptionsAreOneClearLine) {
    // (the options every tracer has: tests/integration/command_line_test.cpp)
    for (std::vector<std::string> args :
         {std::vector<std::string>{"--top", "0", "--", "true"},
          {"--folded", "/nonexistent-dir/w.folded", "--", "true"},
          {"--flamegraph", "/nonexistent-dir/w.svg", "--", "true"}}) {
        std::vector<std::string> argv = {bin("lockwait-trace")};
        argv.insert(argv.end(), args.begin(), args.end());
        auto r = run(argv, harness::as_root());
        EXPECT_EQ(r.status, 2) << r.err;
        EXPECT_EQ(r.err.rfind("lockwait-trace: ", 0), 0u) << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    }
}
