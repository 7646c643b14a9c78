// The launched workload: a child process that is forked paused, resumed when every probe
// is attached, and waited for. Under sudo it runs as the invoking user (SUDO_UID/SUDO_GID
// with that user's groups), never as root unless asked.
//
//   auto w = tk::Workload::spawn_paused({argv, run_as_root});
//   ... attach anything that needs the pid ...
//   w->resume();                 // execs; UserError (exit 127/126) when exec fails
//   ... w->exited() / w->reap() ...
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tk {

struct ExitStatus {
    bool exited = false;  // exit() vs killed by a signal
    int code = 0;         // exit code when exited
    int signo = 0;        // the signal when killed
    bool core_dumped = false;
    // The status a shell would report: the exit code, or 128 + N when killed by signal N.
    int shell_code() const { return exited ? code : 128 + signo; }
    std::string describe() const;  // "exited with 0", "killed by SIGSEGV (core dumped)"
};

struct LaunchOptions {
    std::vector<std::string> argv;
    bool run_as_root = false;  // under sudo, keep root instead of SUDO_UID
    std::string stdout_to;     // a file for the workload's stdout ("/dev/null"); "" inherits ours
};

// Who the workload runs as.
struct Credentials {
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;
    std::string user, home;
    bool dropped = false;  // switching away from root
};

// Under sudo, as root: the uid and gid of the user who typed sudo (SUDO_UID, not 0; and
// SUDO_GID, else that uid). Nothing otherwise. Whom a launched command runs as, and whom
// the files we write belong to.
std::optional<std::pair<uid_t, gid_t>> sudo_invoker();

// The credentials a launched command gets: SUDO_UID/SUDO_GID and that user's groups when
// running as root under sudo (unless run_as_root), else our own.
Credentials workload_credentials(bool run_as_root);

// Where a command's program is, found like execvp would: ARGV0 itself when it has a '/',
// else the first executable file of that name in PATH's directories (an empty entry is
// the current directory). It says why not rather than throwing, for callers that word it
// their own way (`crashlab run`, which also needs the path made absolute).
struct CommandLookup {
    enum class Result {
        Found,          // path is the program (relative when ARGV0 or the PATH entry is)
        StatFailed,     // stat(path) fails: err (ENOENT: no such file; ENOTDIR, EACCES ...)
        NotExecutable,  // path is a directory (err EISDIR) or not executable (EACCES ...)
        NotInPath,      // no file of that name in PATH's directories, or an empty ARGV0
    };
    // In PATH, a name that is there but cannot be reached or run (any err but ENOENT and
    // ENOTDIR) is the answer only when no later directory has one that runs.
    Result result = Result::NotInPath;
    std::string path;
    int err = 0;
};
CommandLookup find_command(const std::string& argv0);

// find_command() for the tracers: the program, or a UserError with exit code 127 (not
// found) or 126 (not executable) and a clear message.
std::string resolve_command(const std::string& argv0);

// When the user of CREDS cannot reach PATH because a directory on the way (or the file
// itself) does not let that user through by its mode bits, the sentence that says so:
// "user nobody cannot reach /root/w/prog: /root (mode 0700, owner root) is closed to it".
// "" when the mode bits let that user through. Says why an exec after dropping root failed
// with EACCES, when the same path works as root (a checkout under /root, whose mode is 0700).
std::string path_closed_to(const std::string& path, const Credentials& creds);

class Workload {
  public:
    static std::unique_ptr<Workload> spawn_paused(const LaunchOptions& opts);
    ~Workload();  // a child that never ran or still runs is killed and reaped
    Workload(const Workload&) = delete;
    Workload& operator=(const Workload&) = delete;

    pid_t pid() const { return pid_; }
    const Credentials& credentials() const { return creds_; }

    // Lets the child exec. Throws UserError (127 or 126) when the exec fails.
    void resume();

    // True once the child has ended (it stays a zombie until reap()).
    bool exited();
    // Reaps the ended child: its status and the resource usage of it and every
    // descendant it waited for (wait4).
    ExitStatus reap();
    // Sends a signal to the child (if it has not been reaped).
    void signal(int signo);
    // SIGTERM, and SIGKILL after grace_ms if it is still alive; then reaps it.
    ExitStatus terminate(int grace_ms = 2000);

    std::optional<ExitStatus> status() const { return status_; }
    const struct rusage& rusage() const { return rusage_; }

  private:
    Workload() = default;
    pid_t pid_ = -1;
    std::string exe_;  // the resolved command
    int go_fd_ = -1;   // write end: one byte lets the child exec
    int err_fd_ = -1;  // read end: the child's errno if exec failed (close-on-exec)
    bool resumed_ = false;
    std::optional<ExitStatus> status_;
    struct rusage rusage_ = {};
    Credentials creds_;
};

}  // namespace tk
