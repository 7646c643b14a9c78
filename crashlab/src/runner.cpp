#include "runner.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "collector.h"
#include "core_pickup.h"
#include "errors.h"
#include "json_text.h"
#include "launcher.h"
#include "output.h"
#include "report.h"
#include "signals.h"
#include "store.h"

namespace crashlab {

namespace {

// Every mapping in the core: anonymous and file-backed, private and shared, ELF headers,
// private huge pages (bits 0-5). The default (0x33) leaves out file-backed private pages,
// so code would have to come from files that may change or vanish before the postmortem.
constexpr const char* kCoredumpFilter = "0x3f";

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
        s.pop_back();
    return s;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return s;
}

// The command's program as an absolute path (the analysis and the metadata name it). The
// launcher's lookup finds it; the words are crashlab's own ("cannot run NAME: ...").
std::string resolve_program(const std::string& name) {
    using Result = tk::CommandLookup::Result;
    tk::CommandLookup found = tk::find_command(name);
    if (found.result == Result::Found) {
        if (char* real = realpath(found.path.c_str(), nullptr)) {
            std::string r(real);
            free(real);
            return r;
        }
        found = {Result::StatFailed, found.path, errno};
    }
    // a file found in PATH is named: the user gave only its name
    std::string which = found.path == name ? "" : found.path + ": ";
    if (found.result == Result::StatFailed)
        throw tk::UserError(
            "cannot run " + name + ": " + which + strerror(found.err) + ": check the path", 127);
    if (found.result == Result::NotExecutable)
        throw tk::UserError("cannot run " + name + ": " + which + "not executable: check the path",
                            126);
    throw tk::UserError("cannot run " + name + ": not found in PATH; give its path", 127);
}

std::string timestamp(time_t t, const char* fmt) {
    char buf[64];
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, sizeof buf, fmt, &tm);
    return buf;
}

void make_private_dir(const std::string& path, int uid, int gid) {
    if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST)
        throw tk::UserError(tk::errno_text("cannot create crash directory " + path) +
                            ": choose another with --dir");
    struct stat st;
    if (stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        throw tk::UserError(path + " is not a directory: choose another with --dir");
    // Owner-only, and owned by whoever the command runs as, so its core can be written.
    if (uid >= 0 && (st.st_uid != uid_t(uid) || st.st_gid != gid_t(gid)) &&
        chown(path.c_str(), uid_t(uid), gid_t(gid)) != 0)
        throw tk::UserError(
            tk::errno_text("cannot hand " + path + " to uid " + std::to_string(uid)));
    chmod(path.c_str(), 0700);
}

struct Credentials {
    int uid = -1, gid = -1;     // -1: keep ours
    std::vector<gid_t> groups;  // the user's supplementary groups
    tk::Credentials user;       // the whole lookup (name, home), to explain a failed exec
};

// Under sudo, the command runs as the user who typed sudo (with that user's groups),
// unless --as-root.
Credentials target_credentials(bool as_root) {
    Credentials c;
    // looked up here, before fork: the child may only make async-signal-safe calls
    c.user = tk::workload_credentials(as_root);
    if (!c.user.dropped)
        return c;
    c.uid = int(c.user.uid);
    c.gid = int(c.user.gid);
    c.groups = c.user.groups;
    return c;
}

// In the child, before exec: nothing here may allocate or throw; errors go to ERR_FD. The
// command keeps crashlab's working directory; when its core is to be written there
// (CORE_IN_CWD), that directory must be writable by the user it runs as. It execs only once
// the parent, which now knows its pid, has kept the files its core could replace, and says
// go on GO_FD.
[[noreturn]] void exec_child(const std::string& program, const std::vector<std::string>& command,
                             const Credentials& creds, bool core_in_cwd, int err_fd, int go_fd) {
    auto fail = [&](int stage) {
        int msg[2] = {stage, errno};
        ssize_t n = write(err_fd, msg, sizeof msg);
        (void)n;
        _exit(127);
    };
    std::vector<char*> argv;
    for (const std::string& a : command)
        argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    signal(SIGINT, SIG_DFL);
    signal(SIGQUIT, SIG_DFL);
    struct rlimit rl;
    getrlimit(RLIMIT_CORE, &rl);
    rl.rlim_cur = rl.rlim_max;  // as large as allowed: unlimited unless the admin capped it
    if (geteuid() == 0)
        rl.rlim_cur = rl.rlim_max = RLIM_INFINITY;
    if (setrlimit(RLIMIT_CORE, &rl) != 0)
        fail(1);
    int f = open("/proc/self/coredump_filter", O_WRONLY | O_CLOEXEC);
    if (f >= 0) {
        ssize_t n = write(f, kCoredumpFilter, strlen(kCoredumpFilter));
        (void)n;
        close(f);
    }
    if (creds.uid >= 0) {
        if (setgroups(creds.groups.size(), creds.groups.data()) != 0 ||
            setgid(gid_t(creds.gid)) != 0 || setuid(uid_t(creds.uid)) != 0)
            fail(2);
    }
    if (core_in_cwd && access(".", W_OK) != 0)
        fail(3);
    char go = 0;
    while (read(go_fd, &go, 1) < 0 && errno == EINTR) {
    }
    if (go != 'g')
        _exit(127);  // the parent gave up before the command ran
    execv(program.c_str(), argv.data());
    fail(4);
    _exit(127);
}

pid_t wait_with_timeout(pid_t pid, double timeout, int& status, bool& timed_out) {
    timed_out = false;
    int pidfd = int(syscall(SYS_pidfd_open, pid, 0));
    if (timeout > 0 && pidfd >= 0) {
        auto deadline =
            std::chrono::steady_clock::now() + std::chrono::milliseconds(int64_t(timeout * 1000));
        while (true) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                            deadline - std::chrono::steady_clock::now())
                            .count();
            if (left <= 0) {
                timed_out = true;
                kill(pid, SIGABRT);
                break;
            }
            pollfd p{pidfd, POLLIN, 0};
            int r = poll(&p, 1, int(left));
            if (r > 0)
                break;
            if (r < 0 && errno != EINTR)
                break;
        }
        if (timed_out) {
            // Writing a large core takes a while; give it time before insisting.
            pollfd p{pidfd, POLLIN, 0};
            if (poll(&p, 1, 60000) == 0)
                kill(pid, SIGKILL);
        }
    }
    if (pidfd >= 0)
        close(pidfd);
    while (true) {
        pid_t r = waitpid(pid, &status, 0);
        if (r >= 0 || errno != EINTR)
            return r;
    }
}

}  // namespace

CorePattern read_core_pattern() {
    CorePattern p;
    p.raw = trim(read_file("/proc/sys/kernel/core_pattern"));
    p.uses_pid = trim(read_file("/proc/sys/kernel/core_uses_pid")) == "1";
    if (!p.raw.empty() && p.raw[0] == '|') {
        p.piped = true;
        std::string prog = p.raw.substr(
            1, p.raw.find(' ') == std::string::npos ? std::string::npos : p.raw.find(' ') - 1);
        std::string base =
            prog.substr(prog.rfind('/') == std::string::npos ? 0 : prog.rfind('/') + 1);
        p.handler = base.find("systemd-coredump") != std::string::npos ? "systemd-coredump"
                    : base.find("apport") != std::string::npos         ? "apport"
                    : base.rfind("crashlab", 0) == 0 && p.raw.find(" collect ") != std::string::npos
                        ? "crashlab"
                        : prog;
    }
    return p;
}

std::string expand_core_pattern(const CorePattern& pattern, const std::string& cwd, int pid,
                                int uid, int gid, int signo, const std::string& comm,
                                const std::string& exe_path) {
    std::string out;
    bool has_pid = false;
    const std::string& r = pattern.raw.empty() ? std::string("core") : pattern.raw;
    for (size_t i = 0; i < r.size(); i++) {
        if (r[i] != '%' || i + 1 == r.size()) {
            out += r[i];
            continue;
        }
        char c = r[++i];
        switch (c) {
            case '%':
                out += '%';
                break;
            case 'p':
            case 'P':
            case 'i':
            case 'I':
                out += std::to_string(pid);
                has_pid = true;
                break;
            case 'u':
                out += std::to_string(uid);
                break;
            case 'g':
                out += std::to_string(gid);
                break;
            case 's':
                out += signo > 0 ? std::to_string(signo) : std::string("*");
                break;
            case 'e':
                out += comm;
                break;
            case 'E': {
                std::string e = exe_path;
                for (char& ch : e)
                    if (ch == '/')
                        ch = '!';
                out += e;
                break;
            }
            case 'h': {
                char host[256] = {};
                gethostname(host, sizeof host - 1);
                out += host;
                break;
            }
            default:
                out += '*';
                break;  // %t (time), %c, %d, %f ...: match anything
        }
    }
    if (pattern.uses_pid && !has_pid)
        out += "." + std::to_string(pid);
    if (out.empty() || out[0] != '/')
        out = cwd + "/" + out;
    return out;
}

std::string piped_core_advice(const CorePattern& pattern, int pid) {
    if (pattern.handler == "crashlab")
        return "the core went to crashlab's collector (crashlab install): its analysis is "
               "`crashlab show last` (pid " +
               std::to_string(pid) + ", in `crashlab ls`)";
    if (pattern.handler == "systemd-coredump")
        return "the core went to systemd-coredump (core_pattern " + pattern.raw +
               "): get it with `coredumpctl dump " + std::to_string(pid) + " --output=core." +
               std::to_string(pid) + "`, then `crashlab analyze core." + std::to_string(pid) +
               "`; or let crashlab catch cores with `sudo sysctl kernel.core_pattern=core`";
    if (pattern.handler == "apport")
        return "the core went to apport (core_pattern " + pattern.raw +
               "): look in /var/lib/apport/coredump/ or /var/crash/ for pid " +
               std::to_string(pid) +
               "; or let crashlab catch cores with `sudo sysctl kernel.core_pattern=core`";
    return "core_pattern pipes cores to " + pattern.handler + " (" + pattern.raw +
           "): the core is wherever that program puts it; to let crashlab catch cores, "
           "`sudo sysctl kernel.core_pattern=core`";
}

void write_private_file(const std::string& path, const std::string& content, int uid, int gid) {
    tk::write_output_as(path, content, 0600, uid, gid);
}

namespace {

// A directory of its own for this run, PROGRAM-YYYYmmdd-HHMMSS[-N] under the crash root,
// owner-only and owned by whoever the command runs as.
std::string make_crash_dir(const RunOptions& options, const std::string& cwd,
                           const std::string& base, time_t started, const Credentials& creds) {
    std::string root = options.crash_root.empty() ? "crashlab-crashes" : options.crash_root;
    if (root[0] != '/')
        root = cwd + "/" + root;
    make_private_dir(root, creds.uid, creds.gid);
    std::string dir;
    for (int n = 0;; n++) {
        dir = root + "/" + base + "-" + timestamp(started, "%Y%m%d-%H%M%S") +
              (n ? "-" + std::to_string(n) : "");
        if (mkdir(dir.c_str(), 0700) == 0)
            break;
        if (errno != EEXIST)
            throw tk::UserError(tk::errno_text("cannot create " + dir) + ": choose another --dir");
    }
    make_private_dir(dir, creds.uid, creds.gid);
    return dir;
}

struct Outcome {
    pid_t pid = 0;
    int status = 0;  // waitpid's
    bool timed_out = false;
};

// Where the core of a crash goes, as core_pattern says.
enum class CoreRoute {
    File,             // a file name: the kernel writes it
    Collector,        // crashlab's collector stores it
    SystemdCoredump,  // systemd-coredump stores it
    OtherProgram,     // a pipe to a program crashlab cannot ask (apport, ABRT ...)
};

CoreRoute route_of(const CorePattern& pattern) {
    if (!pattern.piped)
        return CoreRoute::File;
    if (pattern.handler == "crashlab")
        return CoreRoute::Collector;
    if (pattern.handler == "systemd-coredump")
        return CoreRoute::SystemdCoredump;
    return CoreRoute::OtherProgram;
}

// What the child wrote to ERR_PIPE when it could not exec: the stage and errno, as a
// UserError that says what to do.
[[noreturn]] void throw_exec_failure(const int child_error[2], const std::string& program,
                                     const Credentials& creds, const std::string& cwd) {
    static const char* stages[] = {"", "cannot raise RLIMIT_CORE",
                                   "cannot switch to the invoking user", "", "cannot execute"};
    int stage = child_error[0] >= 1 && child_error[0] <= 4 ? child_error[0] : 4;
    if (stage == 3)
        throw tk::UserError(
            "the working directory " + cwd + " is not writable by " +
            (creds.user.dropped ? "user " + creds.user.user : "uid " + std::to_string(getuid())) +
            ", and core_pattern (" + read_core_pattern().raw +
            ") writes the core there: cd to a directory that user may write"
            " first" +
            (creds.user.dropped ? ", or keep root with --as-root" : ""));
    if (stage == 4 && child_error[1] == EACCES && creds.user.dropped) {
        if (std::string why = tk::path_closed_to(program, creds.user); !why.empty())
            throw tk::UserError(why +
                                ": put the program where that user can reach it, or "
                                "keep root for it with --as-root");
    }
    throw tk::UserError(std::string(stages[stage]) + " (" + program +
                        "): " + strerror(child_error[1]));
}

// Runs the command in crashlab's working directory and waits for it, like system(): the
// terminal's Ctrl-C goes to the command. BEFORE_EXEC gets the command's pid while the
// child waits to exec (it keeps the files the core could replace); when it throws, the
// command does not run.
Outcome run_command_process(const std::string& program, const RunOptions& options,
                            const Credentials& creds, bool core_in_cwd, const std::string& cwd,
                            const std::function<void(pid_t)>& before_exec) {
    int err_pipe[2], go_pipe[2];
    if (pipe2(err_pipe, O_CLOEXEC) != 0)
        throw tk::UserError(tk::errno_text("pipe"));
    if (pipe2(go_pipe, O_CLOEXEC) != 0) {
        close(err_pipe[0]);
        close(err_pipe[1]);
        throw tk::UserError(tk::errno_text("pipe"));
    }
    struct sigaction ignore = {}, old_int = {}, old_quit = {}, old_pipe = {};
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGINT, &ignore, &old_int);
    sigaction(SIGQUIT, &ignore, &old_quit);
    sigaction(SIGPIPE, &ignore, &old_pipe);  // a child that failed has closed GO_PIPE
    auto restore_signals = [&] {
        sigaction(SIGINT, &old_int, nullptr);
        sigaction(SIGQUIT, &old_quit, nullptr);
        sigaction(SIGPIPE, &old_pipe, nullptr);
    };
    Outcome o;
    o.pid = fork();
    if (o.pid < 0) {
        restore_signals();
        throw tk::UserError(tk::errno_text("fork"));
    }
    if (o.pid == 0) {
        sigaction(SIGPIPE, &old_pipe, nullptr);
        close(err_pipe[0]);
        close(go_pipe[1]);
        exec_child(program, options.command, creds, core_in_cwd, err_pipe[1], go_pipe[0]);
    }
    close(err_pipe[1]);
    close(go_pipe[0]);
    try {
        before_exec(o.pid);
    } catch (...) {
        close(go_pipe[1]);  // EOF: the child ends without running the command
        close(err_pipe[0]);
        while (waitpid(o.pid, &o.status, 0) < 0 && errno == EINTR) {
        }
        restore_signals();
        throw;
    }
    ssize_t sent = write(go_pipe[1], "g", 1);
    (void)sent;
    close(go_pipe[1]);
    int child_error[2] = {0, 0};
    ssize_t got = read(err_pipe[0], child_error, sizeof child_error);
    close(err_pipe[0]);
    wait_with_timeout(o.pid, options.timeout, o.status, o.timed_out);
    restore_signals();
    if (got == sizeof child_error)
        throw_exec_failure(child_error, program, creds, cwd);
    return o;
}

// The kernel writes no file core when RLIMIT_CORE is 0; the child raises its soft limit to
// the hard one, which only root can raise.
void check_core_limit() {
    struct rlimit rl;
    if (geteuid() != 0 && getrlimit(RLIMIT_CORE, &rl) == 0 && rl.rlim_max == 0)
        throw tk::UserError(
            "the hard RLIMIT_CORE is 0 here (ulimit -Hc), so the kernel would write no core: "
            "run crashlab from a shell whose hard core limit is higher (as root: "
            "`prlimit --core=unlimited --pid $$`)");
}

// Where the kernel may write the command's core: the name core_pattern gives, with the
// process's name (%e, the crashing thread's comm, which the command may have changed: an
// exec, a thread's name) and executable (%E) left open; find_new_core tells the core by
// the pid it holds.
std::string file_core_glob(const CorePattern& pattern, const std::string& cwd, int pid, int uid,
                           int gid, int signo) {
    return expand_core_pattern(pattern, cwd, pid, uid, gid, signo, "*", "*");
}

// The core the kernel wrote for the command, moved out of where core_pattern put it into
// DIR/core (never replacing a file); "" (and a line saying why and what to check) when
// there is none.
std::string take_file_core(const Outcome& o, const CorePattern& pattern, const std::string& cwd,
                           const std::string& dir, int uid, int gid, time_t started,
                           KeptFiles& kept) {
    int signo = WTERMSIG(o.status);
    std::string expanded = file_core_glob(pattern, cwd, o.pid, uid, gid, signo);
    std::string found =
        WCOREDUMP(o.status) ? find_new_core(expanded, kept, o.pid, started) : std::string();
    if (!found.empty()) {
        std::string core = dir + "/core";
        move_no_replace(found, core);
        kept.restore();
        return core;
    }
    kept.restore();
    if (!WCOREDUMP(o.status))
        std::cerr << "crashlab: the kernel wrote no core for pid " << o.pid << " ("
                  << signal_name(signo) << (signo == SIGKILL ? " never dumps core" : "")
                  << "): core_pattern is '" << pattern.raw
                  << "'; check that its directory exists and is writable by uid " << uid
                  << ", that the program is not setuid, and that it does not lower its own "
                     "RLIMIT_CORE\n";
    else
        std::cerr << "crashlab: the kernel dumped a core but it is not at " << expanded
                  << " (core_pattern '" << pattern.raw
                  << "'): look there, or set `sudo sysctl kernel.core_pattern=core`\n";
    return "";
}

// The core of the command from the store of crashlab's collector, copied into DIR.
std::string take_collector_core(const Outcome& o, const std::string& dir, time_t started,
                                const Credentials& creds) {
    std::string store = read_store_config(installed_config(), false).store;
    StoredRun stored = core_from_collector(store, o.pid, started);
    if (stored.core.empty()) {
        std::cerr << "crashlab: " << stored.why_none << "\n";
        return "";
    }
    std::string core = dir + "/core.zst";
    copy_private(stored.core, core, creds.uid, creds.gid);
    std::cerr << "crashlab: the core went to crashlab's collector (crashlab install): crash "
              << stored.id << " in its store (`crashlab show " << stored.id << "`), copied here\n";
    return core;
}

// The core of the command as systemd-coredump stored it, copied into DIR.
std::string take_systemd_core(const Outcome& o, const std::string& dir, int uid, time_t started,
                              const Credentials& creds,
                              std::optional<CoredumpJournalEntry>& entry) {
    std::string why_none;
    std::string stored = core_from_systemd_coredump(o.pid, uid, started, why_none, entry);
    if (stored.empty()) {
        std::cerr << "crashlab: " << why_none << "\n";
        return "";
    }
    std::string ext = stored.substr(stored.rfind('.'));
    std::string core =
        dir + "/core" + (ext == ".zst" || ext == ".lz4" || ext == ".xz" ? ext : std::string());
    copy_private(stored, core, creds.uid, creds.gid);
    std::cerr << "crashlab: systemd-coredump stored the core as " << stored << ", copied here\n";
    return core;
}

// metadata.json: how the crash was produced, beside the core and its analysis.
nlohmann::json crash_metadata(const RunOptions& options, const std::string& program,
                              const std::string& cwd, const std::string& dir,
                              const std::string& core, const Outcome& o, int uid, int gid,
                              time_t started, const Analysis& a) {
    int signo = WTERMSIG(o.status);
    nlohmann::json meta = {
        {"command", options.command},
        {"executable", program},
        {"cwd", cwd},
        {"crash_dir", dir},
        {"core", core},
        {"pid", o.pid},
        {"uid", uid},
        {"gid", gid},
        {"signal", signo},
        {"signal_name", signal_name(signo)},
        {"started", timestamp(started, "%Y-%m-%dT%H:%M:%S%z")},
        {"ended", timestamp(time(nullptr), "%Y-%m-%dT%H:%M:%S%z")},
        {"timeout", options.timeout},
        {"timeout_fired", o.timed_out},
        {"class", name_of(a.kind)},
        {"signature", a.signature},
        {"bucket", a.bucket},
        {"exact_signature", a.exact_signature},
    };
    nlohmann::json ids = nlohmann::json::object();
    for (const tk::ModuleInfo& m : a.modules)
        if (!m.build_id.empty())
            ids[m.name] = m.build_id;
    meta["build_ids"] = ids;
    return meta;
}

}  // namespace

int run_command(const RunOptions& options) {
    if (options.command.empty())
        throw tk::UserError("nothing to run: crashlab run [options] -- COMMAND [ARGS...]");
    std::string program = resolve_program(options.command.front());
    Credentials creds = target_credentials(options.as_root);
    CorePattern pattern = read_core_pattern();
    CoreRoute route = route_of(pattern);
    if (route == CoreRoute::File)
        check_core_limit();
    if (route == CoreRoute::Collector)
        std::cerr << "crashlab: core_pattern pipes cores to crashlab's collector: the core "
                     "is taken from its store\n";
    else if (route == CoreRoute::SystemdCoredump)
        std::cerr << "crashlab: core_pattern pipes cores to systemd-coredump: the core is "
                     "taken from what it stores (coredumpctl, /var/lib/systemd/coredump)\n";
    else if (route == CoreRoute::OtherProgram)
        std::cerr << "crashlab: core_pattern pipes cores to " << pattern.handler
                  << ": crashlab cannot take the core from it\n";

    char cwd_buf[4096];
    std::string cwd = getcwd(cwd_buf, sizeof cwd_buf) ? cwd_buf : ".";
    time_t started = time(nullptr);
    std::string base = program.substr(program.rfind('/') + 1);
    std::string dir = make_crash_dir(options, cwd, base, started, creds);
    const int uid = creds.uid >= 0 ? creds.uid : int(getuid());
    const int gid = creds.gid >= 0 ? creds.gid : int(getgid());

    // A file core replaces a file of its name: the ones there are kept until it is moved.
    KeptFiles kept;
    std::unique_ptr<KeptFiles> kept_now;
    auto keep_files = [&](pid_t pid) {
        if (route == CoreRoute::File)
            kept_now =
                std::make_unique<KeptFiles>(file_core_glob(pattern, cwd, pid, uid, gid, 0), dir);
    };
    bool core_in_cwd = route == CoreRoute::File && (pattern.raw.empty() || pattern.raw[0] != '/');
    Outcome o;
    try {
        o = run_command_process(program, options, creds, core_in_cwd, cwd, keep_files);
    } catch (...) {
        kept_now.reset();
        rmdir(dir.c_str());
        throw;
    }

    if (WIFEXITED(o.status)) {
        kept_now.reset();
        std::cerr << "crashlab: " << base << " exited with status " << WEXITSTATUS(o.status)
                  << " (no crash)\n";
        rmdir(dir.c_str());  // nothing to keep
        return WEXITSTATUS(o.status);
    }
    int signo = WTERMSIG(o.status);
    std::cerr << "crashlab: " << base << " (pid " << o.pid << ") killed by " << signal_name(signo)
              << (o.timed_out ? " sent after the --timeout" : "") << "\n";
    std::string core;
    std::optional<CoredumpJournalEntry> journal;  // systemd-coredump's entry, if it has one
    switch (route) {
        case CoreRoute::File:
            core = take_file_core(o, pattern, cwd, dir, uid, gid, started,
                                  kept_now ? *kept_now : kept);
            break;
        case CoreRoute::Collector:
            core = take_collector_core(o, dir, started, creds);
            break;
        case CoreRoute::SystemdCoredump:
            core = take_systemd_core(o, dir, uid, started, creds, journal);
            break;
        case CoreRoute::OtherProgram:
            std::cerr << "crashlab: " << piped_core_advice(pattern, o.pid) << "\n";
            break;
    }
    kept_now.reset();
    if (core.empty()) {
        rmdir(dir.c_str());
        return 128 + signo;
    }
    chmod(core.c_str(), 0600);

    AnalyzeOptions ao = options.analyze;
    ao.timeout_fired = o.timed_out;
    ao.timeout_seconds = options.timeout;
    Analysis a = analyze(core, ao);
    a.systemd_coredump = journal;
    if (route == CoreRoute::SystemdCoredump && !journal)
        a.notes.push_back("systemd-coredump's journal has no entry for pid " +
                          std::to_string(o.pid) +
                          " (journald not running?): its metadata (unit, cgroup, package) "
                          "is not shown");
    std::string report = render_json_text(a);
    std::string text = render_text(a);
    nlohmann::json meta = crash_metadata(options, program, cwd, dir, core, o, uid, gid, started, a);
    write_private_file(dir + "/metadata.json", tk::json_text(meta) + "\n", creds.uid, creds.gid);
    write_private_file(dir + "/report.txt", text, creds.uid, creds.gid);
    write_private_file(dir + "/report.json", report, creds.uid, creds.gid);

    if (!options.quiet)
        std::cout << (options.json == "-" ? report : text);
    if (!options.json.empty() && options.json != "-")
        write_private_file(options.json, report, creds.uid, creds.gid);
    std::cerr << "crashlab: core and report in " << dir << "\n";
    if (a.partial && !a.warnings.empty())
        std::cerr << "crashlab: " << a.warnings.front() << "; the report is partial\n";
    return 128 + signo;
}

}  // namespace crashlab
