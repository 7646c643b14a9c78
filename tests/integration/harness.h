// Running the tools from tests: a command with its own environment, its exit status,
// stdout and stderr; and the root/CI rule (skip without root, fail without it in CI).
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace harness {

struct Result {
    int status = -1;  // exit code, or 128 + signal
    std::string out, err;
};

struct RunOptions {
    std::map<std::string, std::optional<std::string>> env;  // nullopt: unset
    int timeout_s = 90;
    // called with the child's pid once it runs (e.g. to signal it later)
    std::function<void(pid_t)> on_start;
};

Result run(const std::vector<std::string>& argv, const RunOptions& opts = {});
// Options for running a tool whose launched workload must stay root: no SUDO_UID/SUDO_GID
// (when the tests themselves run under sudo, the workload would otherwise be that user).
RunOptions as_root();
std::string bin(const std::string& name);  // BIN_DIR/name
// gtest's name for a test parameterised by a tool (PARAM has a `tool`): "epoll_trace".
template <class Param>
std::string tool_param_name(const testing::TestParamInfo<Param>& info) {
    std::string name = info.param.tool;
    for (char& c : name)
        if (c == '-')
            c = '_';
    return name;
}
std::string temp_path(const std::string& stem);
std::string read_file(const std::string& path);
nlohmann::json parse_json(const std::string& text);
// Which of the named BPF programs are still loaded in the kernel (names as bpftool shows
// them: at most 15 characters). Waits up to 2 s for asynchronous freeing first.
std::vector<std::string> programs_loaded(const std::vector<std::string>& names);
// The names of TOOL's BPF programs (ctxswitch-trace, lockwait-trace, epoll-trace,
// concurrency-exporter); programs_loaded() compares their first 15 characters, all an older
// bpftool shows.
std::vector<std::string> programs_of(const std::string& tool);
// How many entries the BPF map NAME (as bpftool shows it: at most 15 characters) of process
// OWNER holds now, by bpftool; -1 when OWNER holds no map of that name.
long map_entries(pid_t owner, const std::string& name);

// programs_loaded() for ctxswitch-trace's programs.
std::vector<std::string> our_programs_loaded();

// A program run in the background for as long as the object lives (a load beside a test):
// its output goes to /dev/null; it is sent SIGTERM, then SIGKILL, and reaped at the end.
class Background {
  public:
    explicit Background(const std::vector<std::string>& argv);
    ~Background();
    Background(const Background&) = delete;
    Background& operator=(const Background&) = delete;
    pid_t pid() const { return pid_; }
    bool running();  // not ended yet

  private:
    pid_t pid_ = -1;
};

// The machine made busy for the life of the object, with stress-ng: every CPU computing and
// one worker touching most of the free memory (page faults, reclaim), so that a tracer
// meets what a loaded production machine gives it. Bounded by stress-ng's own --timeout.
std::unique_ptr<Background> load_the_machine(int timeout_s);
bool have_stress_ng();

// A copy of the program at PATH in a directory of its own under /tmp that every user can
// reach (0755), removed with the object. For tests that run a program as another user:
// the build tree may be closed to that user (a checkout in /root, whose mode is 0700).
class ReachableCopy {
  public:
    explicit ReachableCopy(const std::string& program);
    ~ReachableCopy();
    ReachableCopy(const ReachableCopy&) = delete;
    ReachableCopy& operator=(const ReachableCopy&) = delete;
    const std::string& path() const { return path_; }
    const std::string& dir() const { return dir_; }

  private:
    std::string dir_, path_;
};

// Runs PROGRAM (a copy reachable by every user) with ARGS as user nobody (65534), with no
// groups and no capabilities: how a tool behaves for a user who forgot sudo.
Result run_as_nobody(const std::string& program, const std::vector<std::string>& args);

// Headless Chromium (Debian's package), for the SVGs the tools write.
bool have_chromium();
struct BrowserPage {
    int status = -1;
    std::string dom;                   // the document after its scripts ran
    std::vector<std::string> console;  // what the page wrote to its console (uncaught errors)
};
// PATH opened as file://PATH + FRAGMENT ("#search=lll"), in a profile of its own.
BrowserPage load_in_chromium(const std::string& path, const std::string& fragment = "");
// A WIDTHxHEIGHT screenshot of PATH written to PNG; true when it was.
bool screenshot_in_chromium(const std::string& path, const std::string& png, int width, int height);
// Where a test keeps what a person may want to look at after the run (screenshots):
// test-artifacts/NAME in the build directory, created if needed.
std::string artifact_path(const std::string& name);

// Where the cgroup v2 hierarchy is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified on a
// hybrid system); empty when it is not.
std::string cgroup2_root();

// Privileged tests call this first.
bool have_root();
bool in_ci();

}  // namespace harness

#define REQUIRE_ROOT()                                                   \
    do {                                                                 \
        if (!harness::have_root()) {                                     \
            if (harness::in_ci())                                        \
                FAIL() << "CI=true but not root: BPF tests must run";    \
            GTEST_SKIP() << "needs root (BPF): run the tests with sudo"; \
        }                                                                \
    } while (0)

// Browser tests: skip without Chromium, except in CI, where scripts/install-deps.sh installs it.
#define REQUIRE_CHROMIUM()                                                          \
    do {                                                                            \
        if (!harness::have_chromium()) {                                            \
            if (harness::in_ci())                                                   \
                FAIL() << "CI=true but no chromium: run scripts/install-deps.sh";   \
            GTEST_SKIP() << "needs chromium (scripts/install-deps.sh installs it)"; \
        }                                                                           \
    } while (0)
