#include "launcher.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <tuple>

#include "errors.h"

namespace tk {

std::string ExitStatus::describe() const {
    if (exited)
        return "exited with " + std::to_string(code);
    std::string s = "killed by SIG";
    const char* abbrev = sigabbrev_np(signo);
    s += abbrev ? abbrev : std::to_string(signo);
    if (core_dumped)
        s += " (core dumped)";
    return s;
}

std::optional<std::pair<uid_t, gid_t>> sudo_invoker() {
    const char* su = getenv("SUDO_UID");
    const char* sg = getenv("SUDO_GID");
    if (geteuid() != 0 || !su || !*su)
        return std::nullopt;
    char* end = nullptr;
    unsigned long uid = strtoul(su, &end, 10);
    if (*end != 0 || uid == 0)
        return std::nullopt;
    return std::pair{uid_t(uid), sg && *sg ? gid_t(strtoul(sg, nullptr, 10)) : gid_t(uid)};
}

Credentials workload_credentials(bool run_as_root) {
    Credentials c;
    c.uid = getuid();
    c.gid = getgid();
    if (auto invoker = sudo_invoker(); invoker && !run_as_root) {
        std::tie(c.uid, c.gid) = *invoker;
        c.dropped = true;
    }
    if (struct passwd* pw = getpwuid(c.uid)) {
        c.user = pw->pw_name;
        c.home = pw->pw_dir;
        if (c.dropped) {
            int n = 64;
            std::vector<gid_t> groups(static_cast<size_t>(n));
            if (getgrouplist(pw->pw_name, c.gid, groups.data(), &n) < 0) {
                groups.resize(size_t(n));
                getgrouplist(pw->pw_name, c.gid, groups.data(), &n);
            }
            groups.resize(size_t(n));
            c.groups = groups;
        }
    }
    if (c.dropped && c.groups.empty())
        c.groups.push_back(c.gid);
    return c;
}

namespace {

// Whether the mode bits of ST give CREDS the permission BIT of the owner class (S_IXUSR
// for search), as the kernel decides it without ACLs: owner, else group, else others.
bool mode_allows(const struct stat& st, const Credentials& creds, mode_t owner_bit) {
    if (st.st_uid == creds.uid)
        return st.st_mode & owner_bit;
    bool in_group = st.st_gid == creds.gid;
    for (gid_t g : creds.groups)
        in_group |= st.st_gid == g;
    return st.st_mode & (in_group ? owner_bit >> 3 : owner_bit >> 6);
}

std::string user_name(const Credentials& creds) {
    return creds.user.empty() ? "uid " + std::to_string(creds.uid) : creds.user;
}

}  // namespace

std::string path_closed_to(const std::string& path, const Credentials& creds) {
    if (creds.uid == 0)
        return "";
    auto closed = [&](const std::string& at, const struct stat& st, const char* what) {
        char mode[8];
        snprintf(mode, sizeof mode, "%04o", unsigned(st.st_mode & 07777));
        struct passwd* owner = getpwuid(st.st_uid);
        return "user " + user_name(creds) + " cannot reach " + path + ": " + at + " (mode " + mode +
               ", owner " + (owner ? owner->pw_name : std::to_string(st.st_uid)) + ") " + what;
    };
    // Every directory from / down to the file's own must let the user search it.
    std::string dir;
    for (size_t slash = path.find('/', 1); slash != std::string::npos;
         slash = path.find('/', slash + 1)) {
        dir = path.substr(0, slash);
        struct stat st;
        if (stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && !mode_allows(st, creds, S_IXUSR))
            return closed(dir, st, "is closed to it");
    }
    struct stat st;
    if (stat(path.c_str(), &st) == 0 && !mode_allows(st, creds, S_IXUSR))
        return closed(path, st, "is not executable by it");
    return "";
}

namespace {

// Whether PATH is a file that can be run, and if not, why.
CommandLookup check_executable(const std::string& path) {
    using Result = CommandLookup::Result;
    struct stat st;
    if (stat(path.c_str(), &st) != 0)
        return {Result::StatFailed, path, errno};
    if (S_ISDIR(st.st_mode))
        return {Result::NotExecutable, path, EISDIR};
    if (access(path.c_str(), X_OK) != 0)
        return {Result::NotExecutable, path, errno};
    return {Result::Found, path, 0};
}

// write() that survives EINTR and short writes, in the child
void write_all(int fd, const void* buf, size_t len) {
    const char* p = static_cast<const char*>(buf);
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        p += n, len -= size_t(n);
    }
}

}  // namespace

CommandLookup find_command(const std::string& argv0) {
    using Result = CommandLookup::Result;
    if (argv0.empty())
        return {Result::NotInPath, "", ENOENT};
    if (argv0.find('/') != std::string::npos)
        return check_executable(argv0);
    const char* path = getenv("PATH");
    std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
    CommandLookup first_failure{Result::NotInPath, "", ENOENT};
    size_t start = 0;
    while (start <= dirs.size()) {
        size_t end = dirs.find(':', start);
        if (end == std::string::npos)
            end = dirs.size();
        std::string dir = dirs.substr(start, end - start);
        CommandLookup c = check_executable((dir.empty() ? "." : dir) + "/" + argv0);
        if (c.result == Result::Found)
            return c;
        // there but not runnable: said unless a later directory has one that is
        if (c.err != ENOENT && c.err != ENOTDIR && first_failure.result == Result::NotInPath)
            first_failure = c;
        start = end + 1;
    }
    return first_failure;
}

std::string resolve_command(const std::string& argv0) {
    using Result = CommandLookup::Result;
    if (argv0.empty())
        throw UserError("empty command", 127);
    CommandLookup found = find_command(argv0);
    if (found.result == Result::Found)
        return found.path;
    if (found.result == Result::StatFailed && found.err == ENOENT)
        throw UserError("no such file: " + argv0 + ": check the path", 127);
    if (found.result != Result::NotInPath)
        throw UserError(errno_text("cannot execute " + argv0, found.err), 126);
    throw UserError(
        "command not found: " + argv0 + " (use ./" + argv0 + " for a program in this directory)",
        127);
}

std::unique_ptr<Workload> Workload::spawn_paused(const LaunchOptions& opts) {
    if (opts.argv.empty())
        throw UserError("no command to run");
    std::string exe = resolve_command(opts.argv[0]);

    std::unique_ptr<Workload> w(new Workload());
    w->exe_ = exe;
    w->creds_ = workload_credentials(opts.run_as_root);

    int go[2], err[2];
    if (pipe2(go, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0)
        throw UserError(errno_text("pipe"));

    std::vector<char*> argv;
    for (auto& a : opts.argv)
        argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const Credentials& c = w->creds_;

    const pid_t tool = getpid();
    pid_t pid = fork();
    if (pid < 0)
        throw UserError(errno_text("fork"));
    if (pid == 0) {
        // The child: become the workload's user, wait for the go byte, exec.
        close(go[1]);
        close(err[0]);
        sigset_t none;
        sigemptyset(&none);
        for (int s : {SIGINT, SIGTERM, SIGCHLD, SIGPIPE, SIGHUP, SIGQUIT})
            ::signal(s, SIG_DFL);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        int e = 0;
        if (c.dropped) {
            if (setgroups(c.groups.size(), c.groups.data()) != 0 || setgid(c.gid) != 0 ||
                setuid(c.uid) != 0 || setuid(0) == 0)
                e = errno ? errno : EPERM;
            if (!c.home.empty())
                setenv("HOME", c.home.c_str(), 1);
            if (!c.user.empty()) {
                setenv("USER", c.user.c_str(), 1);
                setenv("LOGNAME", c.user.c_str(), 1);
            }
        }
        if (!opts.stdout_to.empty()) {
            int out = open(opts.stdout_to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            if (out < 0 || dup2(out, 1) < 0)
                e = errno;
        }
        // The tool killed (SIGKILL, a crash) takes the command with it, rather than leave it
        // running on untraced and unseen. After the change of user, which clears it.
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != tool)
            _exit(127);
        char byte;
        ssize_t n;
        do
            n = read(go[0], &byte, 1);
        while (n < 0 && errno == EINTR);
        if (n != 1)
            _exit(127);  // the tool went away before resuming us
        if (!e) {
            execv(exe.c_str(), argv.data());
            e = errno;
        }
        write_all(err[1], &e, sizeof e);
        _exit(e == ENOENT ? 127 : 126);
    }
    close(go[0]);
    close(err[1]);
    w->pid_ = pid;
    w->go_fd_ = go[1];
    w->err_fd_ = err[0];
    return w;
}

Workload::~Workload() {
    if (go_fd_ >= 0)
        close(go_fd_);
    if (err_fd_ >= 0)
        close(err_fd_);
    if (pid_ > 0 && !status_) {
        ::kill(pid_, SIGKILL);
        int st;
        while (waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
        }
    }
}

void Workload::resume() {
    if (resumed_)
        return;
    resumed_ = true;
    char byte = 1;
    write_all(go_fd_, &byte, 1);
    close(go_fd_);
    go_fd_ = -1;
    int e = 0;
    ssize_t n;
    do
        n = read(err_fd_, &e, sizeof e);
    while (n < 0 && errno == EINTR);
    close(err_fd_);
    err_fd_ = -1;
    if (n == sizeof e) {
        reap();
        if (e == EPERM && creds_.dropped)
            throw UserError(errno_text("cannot switch to user " + creds_.user, e), 126);
        if (e == EACCES && creds_.dropped) {
            if (std::string why = path_closed_to(exe_, creds_); !why.empty())
                throw UserError(why +
                                    ": put the program where that user can reach it, or "
                                    "keep root for it with --run-as-root",
                                126);
        }
        throw UserError(errno_text("cannot execute the command", e), e == ENOENT ? 127 : 126);
    }
}

bool Workload::exited() {
    if (status_)
        return true;
    siginfo_t info = {};
    if (waitid(P_PID, id_t(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid_)
        return true;
    return false;
}

ExitStatus Workload::reap() {
    if (status_)
        return *status_;
    int st = 0;
    while (wait4(pid_, &st, 0, &rusage_) < 0) {
        if (errno != EINTR)
            throw UserError(errno_text("waiting for the workload"));
    }
    ExitStatus s;
    if (WIFEXITED(st)) {
        s.exited = true;
        s.code = WEXITSTATUS(st);
    } else if (WIFSIGNALED(st)) {
        s.signo = WTERMSIG(st);
        s.core_dumped = WCOREDUMP(st);
    }
    status_ = s;
    return s;
}

void Workload::signal(int signo) {
    if (!status_)
        ::kill(pid_, signo);
}

ExitStatus Workload::terminate(int grace_ms) {
    if (status_)
        return *status_;
    ::kill(pid_, SIGTERM);
    for (int waited = 0; waited < grace_ms && !exited(); waited += 10)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (!exited())
        ::kill(pid_, SIGKILL);
    return reap();
}

}  // namespace tk
