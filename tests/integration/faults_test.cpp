// Faults and load around a run, for the three tracers: the tool killed with SIGKILL leaves
// nothing attached and takes its launched command with it; -p/-t of a kernel thread is one
// clear line where the tool has nothing to see there; a storm of short-lived processes and
// threads is counted exactly, with nothing dropped.
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"

using harness::bin;
using harness::run;

namespace {

struct Tracer {
    std::string tool;
    bool sees_kernel_threads;  // ctxswitch-trace: a kernel thread's switches are there to see
};

void PrintTo(const Tracer& t, std::ostream* os) {
    *os << t.tool;
}

// The processes whose parent is PID, by /proc/N/stat; with their comm.
std::vector<std::pair<pid_t, std::string>> children_of(pid_t pid) {
    std::vector<std::pair<pid_t, std::string>> out;
    DIR* d = opendir("/proc");
    if (!d)
        return out;
    while (dirent* e = readdir(d)) {
        pid_t p = atoi(e->d_name);
        if (p <= 0)
            continue;
        std::ifstream f("/proc/" + std::string(e->d_name) + "/stat");
        std::string stat;
        std::getline(f, stat);
        auto open = stat.find('('), close = stat.rfind(')');
        if (open == std::string::npos || close == std::string::npos)
            continue;
        char state;
        pid_t ppid = 0;
        if (sscanf(stat.c_str() + close + 1, " %c %d", &state, &ppid) == 2 && ppid == pid)
            out.push_back({p, stat.substr(open + 1, close - open - 1)});
    }
    closedir(d);
    return out;
}

// Gone, or a zombie waiting for init to reap it: not running any more.
bool ended(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string stat;
    if (!std::getline(f, stat))
        return true;
    auto close = stat.rfind(')');
    return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'Z';
}

class TracerFaults : public testing::TestWithParam<Tracer> {
  protected:
    const std::string& tool() const { return GetParam().tool; }
};

}  // namespace

TEST_P(TracerFaults, SigkillLeavesNothingAttachedAndTakesTheCommandAlong) {
    REQUIRE_ROOT();
    pid_t command = 0;
    std::thread killer;
    auto opts = harness::as_root();
    opts.on_start = [&](pid_t tool_pid) {
        killer = std::thread([&, tool_pid] {
            // once the command runs (it is released after every probe is attached)
            for (int i = 0; i < 500 && !command; i++) {
                for (auto& [pid, comm] : children_of(tool_pid))
                    if (comm == "sleep")
                        command = pid;
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            }
            kill(tool_pid, SIGKILL);
        });
    };
    // the command's output away from ours: run() reads until every writer is gone
    auto r = run({bin(tool()), "--", "sh", "-c", "exec sleep 60 >/dev/null 2>&1"}, opts);
    killer.join();
    ASSERT_NE(command, 0) << "the command never ran\n" << r.err;
    EXPECT_EQ(r.status, 128 + SIGKILL) << r.err;
    bool gone = false;
    for (int i = 0; i < 100 && !gone; i++) {
        gone = ended(command);
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_TRUE(gone) << "sleep (pid " << command << ") runs on after the tool was killed";
    if (!gone)
        kill(command, SIGKILL);
    EXPECT_TRUE(harness::programs_loaded(harness::programs_of(tool())).empty());
}

TEST_P(TracerFaults, KernelThreadIsOneClearLineWhereNothingIsToBeSeen) {
    REQUIRE_ROOT();
    for (const char* flag : {"-p", "-t"}) {
        auto r = run({bin(tool()), flag, "2", "-d", "1"}, harness::as_root());  // kthreadd
        if (GetParam().sees_kernel_threads) {
            EXPECT_EQ(r.status, 0) << flag << ": " << r.err;
            continue;
        }
        EXPECT_EQ(r.status, 1) << flag << ": " << r.err;
        EXPECT_EQ(r.err, tool() + ": " + (flag[1] == 'p' ? "pid" : "tid") +
                             " 2 (kthreadd) is a kernel thread, which makes no system calls: "
                             "nothing to trace here; give a user process\n");
        EXPECT_TRUE(r.out.empty()) << r.out;
        EXPECT_TRUE(harness::programs_loaded(harness::programs_of(tool())).empty());
    }
}

namespace {

// task-storm's shape: 50 processes one after another, each with 40 threads at once.
constexpr int kStormProcesses = 50, kStormThreads = 40;
constexpr int kStormCalls = kStormProcesses * kStormThreads;  // one of each per thread
constexpr int kStormTasks = 1 + kStormProcesses * (1 + kStormThreads);

// TOOL's JSON report of task-storm, checked for the run's status and for no drop at all.
nlohmann::json storm_report(const std::string& tool) {
    auto r = run({bin(tool), "--json", "-", "--", bin("task-storm"),
                  std::to_string(kStormProcesses), std::to_string(kStormThreads)},
                 harness::as_root());
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out.rfind("tasks " + std::to_string(kStormTasks) + "\n", 0), 0u) << r.out;
    auto start = r.out.find("\n{");  // the workload's line precedes the JSON document
    nlohmann::json j =
        harness::parse_json(start == std::string::npos ? r.out : r.out.substr(start + 1));
    for (auto& [what, n] : j["dropped"].items())
        EXPECT_EQ(n.get<uint64_t>(), 0u) << tool << " dropped " << what;
    // every task's live entry was retired at its exit: the live index is empty again
    for (auto& t : j["threads"])
        EXPECT_FALSE(t["alive"].get<bool>()) << tool << ": tid " << t["tid"] << " still live";
    return j;
}

}  // namespace

TEST(TaskStorm, CtxswitchTraceSeesEveryTaskAndEverySwitch) {
    REQUIRE_ROOT();
    auto j = storm_report("ctxswitch-trace");
    EXPECT_EQ(j["threads"].size(), size_t(kStormTasks));
    uint64_t voluntary = 0, involuntary = 0;
    for (auto& t : j["threads"]) {
        voluntary += t["voluntary"].get<uint64_t>();
        involuntary += t["involuntary"].get<uint64_t>();
    }
    EXPECT_GE(voluntary, uint64_t(kStormCalls));  // each thread slept once at least
    // The kernel's own count for the whole tree (getrusage of the reaped workload) misses
    // one switch per thread that is not its process's leader: the one away from it when it
    // dies, made after its counts were added to its process's (__exit_signal).
    const auto& ru = j["workload"]["rusage"];
    const double nvcsw = ru["nvcsw"].get<double>() + kStormCalls;
    EXPECT_NEAR(double(voluntary), nvcsw, nvcsw * 0.01);
    EXPECT_NEAR(double(involuntary), ru["nivcsw"].get<double>(),
                std::max(5.0, ru["nivcsw"].get<double>() * 0.05));
}

TEST(TaskStorm, LockwaitTraceCountsEveryWake) {
    REQUIRE_ROOT();
    auto j = storm_report("lockwait-trace");
    uint64_t wakes = 0;
    size_t rows = 0;
    for (auto& l : j["locks"])
        if (l["name"] == "g_storm_word") {
            wakes += l["wakes"].get<uint64_t>();
            rows++;
        }
    EXPECT_EQ(wakes, uint64_t(kStormCalls));
    EXPECT_EQ(rows, size_t(kStormProcesses));  // the report's rows are per (word, process)
}

TEST(TaskStorm, EpollTraceCountsEveryCall) {
    REQUIRE_ROOT();
    auto j = storm_report("epoll-trace");
    EXPECT_EQ(j["totals"]["epoll_wait_calls"].get<uint64_t>(), uint64_t(kStormCalls));
    EXPECT_EQ(j["threads"].size(), size_t(kStormCalls));  // the threads that made a traced call
}

INSTANTIATE_TEST_SUITE_P(AllTracers, TracerFaults,
                         testing::Values(Tracer{"ctxswitch-trace", true},
                                         Tracer{"lockwait-trace", false},
                                         Tracer{"epoll-trace", false}),
                         harness::tool_param_name<Tracer>);
