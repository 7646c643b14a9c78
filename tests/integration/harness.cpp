#include "harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace harness {

bool have_root() {
    return geteuid() == 0;
}
bool in_ci() {
    const char* ci = getenv("CI");
    return ci && std::string(ci) == "true";
}

std::string cgroup2_root() {
    std::ifstream mounts("/proc/self/mounts");
    std::string device, dir, type, rest;
    while (mounts >> device >> dir >> type && std::getline(mounts, rest))
        if (type == "cgroup2")
            return dir;
    return "";
}

std::string bin(const std::string& name) {
    return std::string(BIN_DIR) + "/" + name;
}

std::string temp_path(const std::string& stem) {
    static int seq = 0;
    return "/tmp/toolkit-test-" + std::to_string(getpid()) + "-" + std::to_string(seq++) + "-" +
           stem;
}

bool have_chromium() {
    return access("/usr/bin/chromium", X_OK) == 0;
}

namespace {

// Chromium as a test may run it: headless, as root (no sandbox), in a throw-away profile,
// its console written to stderr.
Result run_chromium(const std::vector<std::string>& args) {
    char profile[] = "/tmp/toolkit-chromium-XXXXXX";
    if (!mkdtemp(profile))
        return Result{};
    std::vector<std::string> argv = {
        "/usr/bin/chromium",       "--headless",     "--no-sandbox",
        "--disable-gpu",           "--no-first-run", "--hide-scrollbars",
        "--enable-logging=stderr", "--v=0",          std::string("--user-data-dir=") + profile};
    argv.insert(argv.end(), args.begin(), args.end());
    RunOptions opts;
    opts.timeout_s = 60;
    Result r = run(argv, opts);
    std::error_code ec;
    std::filesystem::remove_all(profile, ec);
    return r;
}

}  // namespace

BrowserPage load_in_chromium(const std::string& path, const std::string& fragment) {
    Result r = run_chromium({"--dump-dom", "file://" + path + fragment});
    BrowserPage page;
    page.status = r.status;
    page.dom = r.out;
    std::istringstream err(r.err);
    for (std::string line; std::getline(err, line);)
        if (line.find(":CONSOLE") != std::string::npos)
            page.console.push_back(line);
    return page;
}

bool screenshot_in_chromium(const std::string& path, const std::string& png, int width,
                            int height) {
    unlink(png.c_str());
    Result r =
        run_chromium({"--screenshot=" + png,
                      "--window-size=" + std::to_string(width) + "," + std::to_string(height),
                      "file://" + path});
    struct stat st;
    return r.status == 0 && stat(png.c_str(), &st) == 0 && st.st_size > 0;
}

std::string artifact_path(const std::string& name) {
    std::string dir = std::string(BIN_DIR) + "/../test-artifacts";
    std::filesystem::create_directories(dir);
    return dir + "/" + name;
}

std::string read_file(const std::string& path) {
    std::ifstream f(path);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

namespace {

// In a forked child: exec ARGV (through PATH) with no signal blocked; exit 127 if it fails.
[[noreturn]] void exec_in_child(const std::vector<std::string>& argv) {
    std::vector<char*> args;
    for (auto& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execvp(args[0], args.data());
    _exit(127);
}

}  // namespace

Background::Background(const std::vector<std::string>& argv) {
    pid_ = fork();
    if (pid_ == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
        exec_in_child(argv);
    }
}

bool Background::running() {
    return pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0;
}

Background::~Background() {
    if (pid_ <= 0)
        return;
    kill(pid_, SIGTERM);
    for (int i = 0; i < 50 && waitpid(pid_, nullptr, WNOHANG) == 0; i++)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (kill(pid_, SIGKILL) == 0)
        waitpid(pid_, nullptr, 0);
}

bool have_stress_ng() {
    return access("/usr/bin/stress-ng", X_OK) == 0;
}

std::unique_ptr<Background> load_the_machine(int timeout_s) {
    auto load = std::make_unique<Background>(
        std::vector<std::string>{"stress-ng", "--cpu", "0", "--vm", "1", "--vm-bytes", "75%",
                                 "--timeout", std::to_string(timeout_s) + "s", "--quiet"});
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // under way
    return load;
}

ReachableCopy::ReachableCopy(const std::string& program) {
    char dir[] = "/tmp/toolkit-test-reachable-XXXXXX";
    if (!mkdtemp(dir))
        throw std::runtime_error("mkdtemp failed");
    dir_ = dir;
    chmod(dir, 0755);
    path_ = dir_ + "/" + std::filesystem::path(program).filename().string();
    std::filesystem::copy_file(program, path_);
    chmod(path_.c_str(), 0755);
}

ReachableCopy::~ReachableCopy() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
}

Result run_as_nobody(const std::string& program, const std::vector<std::string>& args) {
    ReachableCopy copy(program);
    std::vector<std::string> argv = {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                     copy.path()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv);
}

nlohmann::json parse_json(const std::string& text) {
    try {
        return nlohmann::json::parse(text);
    } catch (const std::exception& e) {
        ADD_FAILURE() << "not JSON: " << e.what() << "\n" << text.substr(0, 2000);
        return nlohmann::json::object();
    }
}

RunOptions as_root() {
    RunOptions o;
    o.env["SUDO_UID"] = std::nullopt;
    o.env["SUDO_GID"] = std::nullopt;
    return o;
}

Result run(const std::vector<std::string>& argv, const RunOptions& opts) {
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC))
        abort();
    pid_t pid = fork();
    if (pid == 0) {
        dup2(out[1], 1);
        dup2(err[1], 2);
        for (auto& [k, v] : opts.env) {
            if (v)
                setenv(k.c_str(), v->c_str(), 1);
            else
                unsetenv(k.c_str());
        }
        exec_in_child(argv);
    }
    close(out[1]);
    close(err[1]);
    if (opts.on_start)
        opts.on_start(pid);
    Result r;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(opts.timeout_s);
    struct pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    int open_fds = 2;
    char buf[65536];
    while (open_fds) {
        int left = int(std::chrono::duration_cast<std::chrono::milliseconds>(
                           deadline - std::chrono::steady_clock::now())
                           .count());
        if (left <= 0) {
            kill(pid, SIGKILL);
            ADD_FAILURE() << "timed out: " << argv[0];
            break;
        }
        if (poll(fds, 2, left) < 0)
            continue;
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP)))
                continue;
            ssize_t n = read(fds[i].fd, buf, sizeof buf);
            if (n <= 0) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
            } else {
                (i == 0 ? r.out : r.err).append(buf, size_t(n));
            }
        }
    }
    for (auto& f : fds)
        if (f.fd >= 0)
            close(f.fd);
    int st = 0;
    waitpid(pid, &st, 0);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return r;
}

static std::vector<std::string> programs_now(const std::vector<std::string>& wanted);

std::vector<std::string> programs_loaded(const std::vector<std::string>& wanted) {
    // The kernel frees a program after its last reference goes, asynchronously (RCU and
    // a work queue): give it a moment before calling it leaked.
    std::vector<std::string> names;
    for (int i = 0; i < 100; i++) {
        names = programs_now(wanted);
        if (names.empty())
            break;
        usleep(20000);
    }
    return names;
}

std::vector<std::string> programs_of(const std::string& tool) {
    if (tool == "ctxswitch-trace")
        return {"switch_btf",  "switch_raw",  "schedule_exit_b", "schedule_exit_r",
                "waking_btf",  "waking_raw",  "fork_btf",        "fork_raw",
                "migrate_btf", "migrate_raw", "wakeup_new_btf",  "wakeup_new_raw",
                "exit_btf",    "exit_raw",    "user_switch_btf", "user_switch_raw"};
    if (tool == "lockwait-trace")
        return {"sys_enter_btf", "sys_exit_btf",  "sys_enter_raw", "sys_exit_raw",
                "exec_raw",      "klock_begin",   "klock_end",     "ulock_enter",
                "ulock_return",  "uunlock_enter", "ucond_enter",   "ucond_return"};
    if (tool == "epoll-trace")
        return {"ep_sys_enter", "ep_sys_exit", "ep_switch", "ep_waking", "ep_fork", "ep_exit_task"};
    if (tool == "concurrency-exporter")
        return {"exp_switch",
                "exp_sched_exit",
                "exp_waking",
                "exp_wakeup_new",
                "exp_migrate",
                "exp_rename",
                "exp_klock_begin",
                "exp_klock_end",
                "exp_epoll_wait_enter",
                "exp_epoll_wait_exit",
                "exp_epoll_pwait_enter",
                "exp_epoll_pwait_exit",
                "exp_epoll_pwait2_enter",
                "exp_epoll_pwait2_exit",
                "exp_poll_enter",
                "exp_poll_exit",
                "exp_ppoll_enter",
                "exp_ppoll_exit",
                "exp_select_enter",
                "exp_select_exit",
                "exp_pselect6_enter",
                "exp_pselect6_exit"};
    ADD_FAILURE() << "no program list for " << tool;
    return {};
}

long map_entries(pid_t owner, const std::string& name) {
    // the maps OWNER holds, by the map_id of its BPF map fds (bpftool's own "pids" needs a
    // build with BPF skeletons, which Debian's is not)
    std::set<long> ids;
    std::error_code ec;
    for (auto& e :
         std::filesystem::directory_iterator("/proc/" + std::to_string(owner) + "/fdinfo", ec)) {
        std::ifstream f(e.path());
        for (std::string line; std::getline(f, line);)
            if (line.rfind("map_id:", 0) == 0)
                ids.insert(std::stol(line.substr(7)));
    }
    nlohmann::json all =
        nlohmann::json::parse(run({"bpftool", "-j", "map", "show"}).out, nullptr, false);
    if (!all.is_array())
        return -1;
    for (auto& m : all) {
        if (m.value("name", "") != name.substr(0, 15) || !ids.count(m.value("id", -1L)))
            continue;
        nlohmann::json entries = nlohmann::json::parse(
            run({"bpftool", "-j", "map", "dump", "id", std::to_string(m.value("id", -1L))}).out,
            nullptr, false);
        return entries.is_array() ? long(entries.size()) : -1;
    }
    return -1;
}

std::vector<std::string> our_programs_loaded() {
    return programs_loaded(programs_of("ctxswitch-trace"));
}

static std::vector<std::string> programs_now(const std::vector<std::string>& wanted) {
    Result r = run({"bpftool", "prog", "show"});
    std::vector<std::string> names;
    std::istringstream in(r.out);
    std::string line;
    while (std::getline(in, line)) {
        auto pos = line.find(" name ");
        if (pos == std::string::npos)
            continue;
        std::string name = line.substr(pos + 6);
        name = name.substr(0, name.find(' '));
        // an older bpftool shows the kernel's name (15 characters at most), a newer one the
        // whole name from the program's BTF
        for (auto& w : wanted)
            if (name.substr(0, 15) == w.substr(0, 15))
                names.push_back(name);
    }
    return names;
}

}  // namespace harness
