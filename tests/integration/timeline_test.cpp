// ctxswitch-trace --perfetto end to end: the trace decodes with the parser protoc generated
// from lib/timeline/perfetto_trace.proto, and what it holds agrees with the same run's
// report (docs/timeline.md, "Tests").
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <map>
#include <set>
#include <vector>

#include "harness.h"
#include "proc.h"
#include "perfetto_trace.pb.h"

using harness::bin;
using harness::parse_json;
using harness::run;
using nlohmann::json;
namespace pb = tk::perfetto;

namespace {

// What a test reads of a trace: the scheduler's events in time order, written in full or
// in compact form (where the prev task of a switch and the waker of a waking are the CPU's
// last switch's next task, as Perfetto reads them).
struct SchedEvent {
    enum Kind { Switch, Waking, Other } kind;
    uint64_t ts;
    uint32_t cpu;
    bool compact;
    uint32_t pid;  // the task running: prev of a switch, the waker of a waking
    int64_t prev_state = 0;
    uint32_t other = 0;  // next of a switch, the wakee of a waking
};

struct Decoded {
    pb::Trace trace;
    std::vector<SchedEvent> events;
    std::map<uint32_t, std::string> thread_names;  // the last name of each thread described
    int bundles_with_losses = 0;
};

Decoded decode(const std::string& path) {
    Decoded d;
    std::string bytes = harness::read_file(path);
    EXPECT_FALSE(bytes.empty()) << path;
    EXPECT_TRUE(d.trace.ParseFromString(bytes)) << path << " does not decode as a Trace";
    for (const auto& p : d.trace.packet()) {
        if (p.has_ftrace_events()) {
            const auto& b = p.ftrace_events();
            d.bundles_with_losses += b.lost_events();
            for (const auto& e : b.event()) {
                SchedEvent ev{SchedEvent::Other, e.timestamp(), b.cpu(), false, e.pid()};
                if (e.has_sched_switch()) {
                    ev.kind = SchedEvent::Switch;
                    ev.pid = uint32_t(e.sched_switch().prev_pid());
                    ev.prev_state = e.sched_switch().prev_state();
                    ev.other = uint32_t(e.sched_switch().next_pid());
                } else if (e.has_sched_waking()) {
                    ev.kind = SchedEvent::Waking;
                    ev.other = uint32_t(e.sched_waking().pid());
                }
                d.events.push_back(ev);
            }
            const auto& cs = b.compact_sched();
            uint64_t ts = 0;
            for (int i = 0; i < cs.switch_timestamp_size(); i++) {
                ts += cs.switch_timestamp(i);
                SchedEvent ev{SchedEvent::Switch, ts, b.cpu(), true, 0};
                ev.prev_state = cs.switch_prev_state(i);
                ev.other = uint32_t(cs.switch_next_pid(i));
                d.events.push_back(ev);
            }
            ts = 0;
            for (int i = 0; i < cs.waking_timestamp_size(); i++) {
                ts += cs.waking_timestamp(i);
                SchedEvent ev{SchedEvent::Waking, ts, b.cpu(), true, 0};
                ev.other = uint32_t(cs.waking_pid(i));
                d.events.push_back(ev);
            }
        }
        if (p.has_track_descriptor() && p.track_descriptor().has_thread())
            d.thread_names[uint32_t(p.track_descriptor().thread().tid())] =
                p.track_descriptor().thread().thread_name();
    }
    std::stable_sort(d.events.begin(), d.events.end(),
                     [](const SchedEvent& a, const SchedEvent& b) { return a.ts < b.ts; });
    std::map<uint32_t, uint32_t> running;  // by CPU
    for (auto& ev : d.events) {
        if (ev.compact) {
            EXPECT_TRUE(running.count(ev.cpu)) << "a compact event before any switch on its CPU";
            ev.pid = running[ev.cpu];
        }
        if (ev.kind == SchedEvent::Switch)
            running[ev.cpu] = ev.other;
    }
    return d;
}

// Runs the command under TOOL --perfetto; the report's JSON and the trace.
std::pair<json, Decoded> trace(const std::vector<std::string>& command,
                               const std::string& tool = "ctxswitch-trace") {
    std::string file = harness::temp_path("run.pftrace");
    std::vector<std::string> argv = {bin(tool), "--json", "-", "--perfetto", file, "--"};
    argv.insert(argv.end(), command.begin(), command.end());
    auto r = run(argv, harness::as_root());
    EXPECT_EQ(r.status, 0) << r.err;
    auto start = r.out.find("\n{");
    json j = parse_json(start == std::string::npos ? r.out : r.out.substr(start + 1));
    Decoded d = decode(file);
    unlink(file.c_str());
    return {j, std::move(d)};
}

// Whether process PID has signal SIG blocked (/proc/PID/status, SigBlk).
bool blocks_signal(pid_t pid, int sig) {
    std::string status = harness::read_file("/proc/" + std::to_string(pid) + "/status");
    auto at = status.find("SigBlk:");
    if (at == std::string::npos)
        return false;
    unsigned long long mask = std::stoull(status.substr(at + 7), nullptr, 16);
    return mask & (1ULL << (sig - 1));
}

// The first child of PID (/proc/PID/task/PID/children), 0 when it has none.
pid_t first_child(pid_t pid) {
    std::string p = std::to_string(pid);
    std::string children = harness::read_file("/proc/" + p + "/task/" + p + "/children");
    return children.empty() ? 0 : pid_t(std::atoi(children.c_str()));
}

// The context switches of PID's threads so far (voluntary and not, from /proc), 0 when it
// is gone.
uint64_t switches_of(pid_t pid) {
    uint64_t n = 0;
    for (pid_t tid : tk::threads_of(pid)) {
        std::string status = harness::read_file("/proc/" + std::to_string(pid) + "/task/" +
                                                std::to_string(tid) + "/status");
        for (const char* key : {"voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:"}) {
            auto at = status.find(std::string("\n") + key);
            if (at != std::string::npos)
                n += std::strtoull(status.c_str() + at + 1 + strlen(key), nullptr, 10);
        }
    }
    return n;
}

// The rule the kernel uses for a voluntary switch, as the trace reports prev_state: neither
// running (0) nor preempted (TASK_REPORT_MAX, 0x100).
bool asleep(int64_t prev_state) {
    return prev_state != 0 && prev_state != 0x100;
}

}  // namespace

TEST(Timeline, ThreadPingPongTraceAgreesWithTheReport) {
    REQUIRE_ROOT();
    const int n = 3000;
    // each thread on a CPU of its own: each sleeps in read() while the other answers, so each
    // round trip wakes both (on one CPU the woken thread preempts its waker, which then
    // finds the answer without sleeping: the arrows come in runs of one direction)
    auto [j, d] = trace({bin("pingpong"), "--model", "thread", "--ipc", "pipe", "--cpu", "0,1",
                         "-n", std::to_string(n)});
    ASSERT_TRUE(j.contains("timeline")) << j.dump();
    const json& t = j["timeline"];
    EXPECT_EQ(t["lost"].get<uint64_t>(), 0u);
    EXPECT_EQ(t["over_limit"].get<uint64_t>(), 0u);
    EXPECT_EQ(d.bundles_with_losses, 0);
    EXPECT_EQ(t["events"].get<uint64_t>(), d.events.size());

    std::set<uint32_t> traced;
    for (const auto& row : j["threads"])
        traced.insert(row["tid"].get<uint32_t>());
    ASSERT_EQ(traced.size(), 2u) << "pingpong's thread model: the main thread and its partner";

    // every switch out of a traced thread is in the trace, and nothing else counts
    uint64_t switches = 0;
    std::map<uint32_t, uint64_t> asleep_since, sleeping_ns;
    std::vector<uint32_t> wakees;  // of wakeups inside the pair, in time order
    size_t compact = 0;
    for (const auto& ev : d.events) {
        compact += ev.compact;
        if (ev.kind == SchedEvent::Switch) {
            if (traced.count(ev.pid)) {
                switches++;
                if (asleep(ev.prev_state))
                    asleep_since[ev.pid] = ev.ts;
            }
            auto it = asleep_since.find(ev.other);
            if (it != asleep_since.end()) {
                sleeping_ns[it->first] += ev.ts - it->second;
                asleep_since.erase(it);
            }
        } else if (ev.kind == SchedEvent::Waking) {
            if (traced.count(ev.other) && traced.count(ev.pid) && ev.other != ev.pid)
                wakees.push_back(ev.other);
        }
    }
    EXPECT_GT(compact, d.events.size() / 2) << "most events in compact form";
    EXPECT_EQ(switches, j["totals"]["switches"].get<uint64_t>());

    // each thread's time asleep in the trace (switched out asleep -> switched in) is its
    // off-CPU time in the report
    for (const auto& row : j["threads"]) {
        uint32_t tid = row["tid"].get<uint32_t>();
        double report_ns = row["off_cpu_ns"].get<double>();
        ASSERT_GT(report_ns, 0) << tid;
        EXPECT_NEAR(double(sleeping_ns[tid]), report_ns, report_ns * 0.01) << "tid " << tid;
        EXPECT_EQ(d.thread_names.count(tid), 1u) << "no descriptor names tid " << tid;
    }
    EXPECT_EQ(d.thread_names[*traced.begin()], "pingpong") << "the exec's rename";

    // the wakeup arrows of the pair go one way, then the other. A repeat is a round in which
    // a thread had not gone to sleep yet when its partner answered (it was preempted between
    // its write and its read): rare, at most 1 in 100 here
    ASSERT_GE(wakees.size(), size_t(n));
    size_t repeats = 0;
    for (size_t i = 1; i < wakees.size(); i++)
        repeats += wakees[i] == wakees[i - 1];
    EXPECT_LE(repeats * 100, wakees.size()) << repeats << " repeats in " << wakees.size();
}

// lockwait-trace --perfetto: every wait that blocked is a slice "wait LOCK" on the waiter's
// track, and every one a task woke has a flow arrow from that task's wakeup.
TEST(Timeline, LockWaitSlicesAreTheBlockedWaits) {
    REQUIRE_ROOT();
    auto [j, d] =
        trace({bin("contention"), "--mode", "mutex", "-w", "3", "-n", "3000", "--cs-ns", "20000"},
              "lockwait-trace");
    ASSERT_TRUE(j.contains("timeline")) << j.dump();
    EXPECT_EQ(j["timeline"]["lost"].get<uint64_t>(), 0u);
    uint64_t slices = 0, begins = 0, ends = 0, wakes = 0, terminating = 0;
    std::map<std::string, uint64_t> by_name;
    for (const auto& p : d.trace.packet()) {
        if (!p.has_track_event())
            continue;
        const auto& e = p.track_event();
        if (e.type() == pb::TrackEvent::TYPE_SLICE_BEGIN) {
            begins++;
            by_name[e.name()]++;
            slices += e.name().rfind("wait ", 0) == 0;
            // the woken part of a wait ends the arrow from its waker
            terminating += e.terminating_flow_ids_size();
            if (e.terminating_flow_ids_size()) {
                EXPECT_EQ(e.name(), "woken");
            }
        } else if (e.type() == pb::TrackEvent::TYPE_SLICE_END) {
            ends++;
        } else if (e.type() == pb::TrackEvent::TYPE_INSTANT) {
            wakes += e.flow_ids_size();
        }
    }
    const uint64_t blocked = j["totals"]["blocked_waits"].get<uint64_t>();
    ASSERT_GT(blocked, 0u);
    EXPECT_EQ(slices, blocked);
    EXPECT_EQ(ends, begins);
    EXPECT_EQ(begins, slices + terminating);
    EXPECT_EQ(wakes, j["totals"]["woken_by_task"].get<uint64_t>());
    EXPECT_EQ(terminating, wakes);
    // named by the lock, as the report names it
    ASSERT_FALSE(j["locks"].empty());
    const std::string top = j["locks"][0]["name"].get<std::string>();
    EXPECT_EQ(by_name["wait " + top], j["locks"][0]["blocked"].get<uint64_t>()) << top;
}

// epoll-trace --perfetto: every waiting call is a slice named by its system call, with what
// it returned and, when a wakeup inside it made it return, the ready-to-return latency.
TEST(Timeline, EpollCallsAreSlicesWithTheirEvents) {
    REQUIRE_ROOT();
    const int rounds = 200;
    std::string out = harness::temp_path("waiters.json");
    auto [j, d] =
        trace({bin("epoll-waiters"), "pipe", "epoll", std::to_string(rounds), out}, "epoll-trace");
    unlink(out.c_str());
    ASSERT_TRUE(j.contains("timeline")) << j.dump();
    EXPECT_EQ(j["timeline"]["lost"].get<uint64_t>(), 0u);
    uint64_t slices = 0, ends = 0, returned = 0, with_r2r = 0;
    std::map<std::string, uint64_t> by_name;
    for (const auto& p : d.trace.packet()) {
        if (!p.has_track_event())
            continue;
        const auto& e = p.track_event();
        if (e.type() == pb::TrackEvent::TYPE_SLICE_END) {
            ends++;
            continue;
        }
        if (e.type() != pb::TrackEvent::TYPE_SLICE_BEGIN)
            continue;
        slices++;
        by_name[e.name()]++;
        for (const auto& a : e.debug_annotations()) {
            if (a.name() == "returned" && a.int_value() > 0)
                returned += uint64_t(a.int_value());
            with_r2r += a.name() == "ready_to_return_ns";
        }
    }
    const json& t = j["totals"];
    EXPECT_EQ(slices, t["epoll_wait_calls"].get<uint64_t>() + t["poll_calls"].get<uint64_t>() +
                          t["select_calls"].get<uint64_t>());
    EXPECT_EQ(ends, slices);
    EXPECT_EQ(returned, t["events_returned"].get<uint64_t>());
    uint64_t woken = 0;
    for (const char* kind : {"instances", "poll_select"})
        for (const auto& l : j[kind])
            woken += l["woken_calls"].get<uint64_t>();
    EXPECT_EQ(with_r2r, woken);
    EXPECT_GE(woken, uint64_t(rounds));
    uint64_t epoll_named = 0;
    for (const auto& [name, n] : by_name)
        epoll_named += name.rfind("epoll_", 0) == 0 ? n : 0;
    EXPECT_EQ(epoll_named, t["epoll_wait_calls"].get<uint64_t>());
}

// --flight-recorder: only the last SECONDS are kept, and the trace is written during the run
// when asked (SIGUSR1) and when --trigger-ms trips, then once more at the end.
TEST(Timeline, FlightRecorderKeepsTheLastSecondsAndWritesWhenAsked) {
    REQUIRE_ROOT();
    std::string file = harness::temp_path("flight.pftrace");
    harness::RunOptions ro = harness::as_root();
    // SIGUSR1 once the session blocks it (before it loads anything: the signal then waits
    // for the run), as /proc says
    ro.on_start = [](pid_t tool) {
        std::thread([tool] {
            for (int i = 0; i < 6000 && !blocks_signal(tool, SIGUSR1); i++)
                usleep(10 * 1000);
            usleep(300 * 1000);  // into the run, for a write with events in it
            kill(tool, SIGUSR1);
        }).detach();
    };
    auto r = run({bin("ctxswitch-trace"), "--json", "-", "--perfetto", file, "--flight-recorder",
                  "0.25", "--trigger-ms", "0.001", "-d", "2", "--", bin("pingpong"), "--model",
                  "thread", "--ipc", "pipe", "-n", "100000000"},
                 ro);
    // -d ends the run and terminates the workload: the tool exits with its status
    EXPECT_NE(r.out.find("\"timeline\""), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("timeline: wrote the last 0.25 s to " + file), std::string::npos) << r.err;
    Decoded d = decode(file);
    unlink(file.c_str());
    ASSERT_FALSE(d.events.empty());
    const uint64_t span = d.events.back().ts - d.events.front().ts;
    // (records of different CPUs reach the ring a little out of order: 1 ms of slack)
    EXPECT_LE(span, uint64_t(0.251e9)) << "the trace keeps the last 0.25 s only";
    auto start = r.out.find("\n{");
    json j = parse_json(start == std::string::npos ? r.out : r.out.substr(start + 1));
    EXPECT_LT(j["timeline"]["events"].get<uint64_t>(), j["totals"]["switches"].get<uint64_t>());
}

// A reader that falls behind: the tool stopped (SIGSTOP) for a second while the pair runs,
// so the kernel side's ring fills. What did not fit is counted, marked in the trace where it
// happened (the bundles' lost_events), and accounts for every switch the report counted and
// the trace lacks: nothing is lost silently.
TEST(Timeline, RingOverflowIsCountedAndMarked) {
    REQUIRE_ROOT();
    std::string file = harness::temp_path("overflow.pftrace");
    harness::RunOptions ro = harness::as_root();
    ro.on_start = [](pid_t tool) {
        std::thread([tool] {
            // the session blocks SIGINT before it loads anything; the run starts soon after
            for (int i = 0; i < 6000 && !blocks_signal(tool, SIGINT); i++)
                usleep(10 * 1000);
            pid_t pair = 0;
            for (int i = 0; i < 6000 && !(pair = first_child(tool)); i++)
                usleep(10 * 1000);
            usleep(200 * 1000);
            kill(tool, SIGSTOP);
            // The 8 MB ring holds about 70,000 records; each switch of the pair makes one,
            // and its wakeup another. Stopped until the pair switched 80,000 times (however
            // long a busy machine takes), or 60 s.
            const uint64_t before = switches_of(pair);
            for (int i = 0; i < 6000 && switches_of(pair) < before + 80000; i++)
                usleep(10 * 1000);
            kill(tool, SIGCONT);
        }).detach();
    };
    auto r = run(
        {bin("ctxswitch-trace"), "--json", "-", "--perfetto", file, "-d", "3", "--",
         bin("pingpong"), "--model", "thread", "--ipc", "pipe", "--cpu", "0,1", "-n", "100000000"},
        ro);
    auto start = r.out.find("\n{");
    json j = parse_json(start == std::string::npos ? r.out : r.out.substr(start + 1));
    Decoded d = decode(file);
    unlink(file.c_str());
    const json& t = j["timeline"];
    const uint64_t lost = t["lost"].get<uint64_t>();
    EXPECT_GT(lost, 0u) << t.dump();
    EXPECT_GT(d.bundles_with_losses, 0) << "the trace marks where records are missing";
    EXPECT_EQ(t["events"].get<uint64_t>(), d.events.size());

    std::set<uint32_t> traced;
    for (const auto& row : j["threads"])
        traced.insert(row["tid"].get<uint32_t>());
    uint64_t switches = 0;
    for (const auto& ev : d.events)
        switches += ev.kind == SchedEvent::Switch && traced.count(ev.pid);
    const uint64_t counted = j["totals"]["switches"].get<uint64_t>();
    EXPECT_LT(switches, counted);
    EXPECT_LE(counted, switches + lost) << "switches the report counted are neither in the "
                                           "trace nor among the lost records";
}

// ctxswitch-trace --user-switch with --perfetto: each call of the switch function is an
// instant on the thread's track, as many as the report counts.
TEST(Timeline, UserSwitchesAreInstants) {
    REQUIRE_ROOT();
    const int n = 2000;
    std::string file = harness::temp_path("coro.pftrace");
    auto r = run(
        {bin("ctxswitch-trace"), "--json", "-", "--perfetto", file, "--user-switch", "coro_switch",
         "--", bin("pingpong"), "--model", "coroutine", "--ipc", "asm", "-n", std::to_string(n)},
        harness::as_root());
    ASSERT_EQ(r.status, 0) << r.err;
    auto start = r.out.find("\n{");
    json j = parse_json(start == std::string::npos ? r.out : r.out.substr(start + 1));
    Decoded d = decode(file);
    unlink(file.c_str());
    uint64_t instants = 0;
    for (const auto& p : d.trace.packet())
        if (p.has_track_event() && p.track_event().type() == pb::TrackEvent::TYPE_INSTANT) {
            EXPECT_EQ(p.track_event().name(), "coro_switch");
            instants++;
        }
    EXPECT_EQ(instants, j["user_switches"]["count"].get<uint64_t>());
    EXPECT_GE(instants, 2u * n);
}
