#include "echo/server_process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <fstream>

#include "errors.h"

namespace echo {

namespace {

std::string sibling(const std::string& name) {
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        throw tk::UserError(tk::errno_text("readlink /proc/self/exe"));
    std::string dir(self, size_t(n));
    return dir.substr(0, dir.rfind('/') + 1) + name;
}

void on_alarm(int) {}

// waitpid that gives up after timeout_s (SIGALRM interrupts it); -1 when it timed out.
pid_t wait_with_timeout(pid_t pid, int* status, double timeout_s) {
    struct sigaction sa {
    }, old{};
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, &old);
    alarm(unsigned(timeout_s) + 1);
    pid_t r = waitpid(pid, status, 0);  // EINTR once the alarm fires
    int err = errno;
    alarm(0);
    sigaction(SIGALRM, &old, nullptr);
    errno = err;
    return r;
}

}  // namespace

ServerProcess::ServerProcess(const std::string& model, const std::vector<std::string>& args) {
    std::string exe = sibling("echo-server");
    if (access(exe.c_str(), X_OK) != 0)
        throw tk::UserError(exe + " is missing: build the echo workloads (target echo-server)");
    report_path_ = "/tmp/echo-bench-" + std::to_string(getpid()) + "-server.json";
    int ready[2];
    if (pipe(ready) != 0)
        throw tk::UserError(tk::errno_text("pipe"));
    std::vector<std::string> argv = {
        exe,      "--model",    model,    "--port", "0", "--ready-fd", std::to_string(ready[1]),
        "--json", report_path_, "--quiet"};
    argv.insert(argv.end(), args.begin(), args.end());
    pid_ = fork();
    if (pid_ < 0)
        throw tk::UserError(tk::errno_text("fork"));
    if (pid_ == 0) {
        close(ready[0]);
        std::vector<char*> cargv;
        for (auto& a : argv)
            cargv.push_back(a.data());
        cargv.push_back(nullptr);
        execv(exe.c_str(), cargv.data());
        _exit(127);
    }
    close(ready[1]);
    // a blocking read: the port, or EOF when the server failed to start
    char buf[32] = {};
    ssize_t n;
    do
        n = read(ready[0], buf, sizeof buf - 1);
    while (n < 0 && errno == EINTR);
    close(ready[0]);
    port_ = n > 0 ? uint16_t(std::atoi(buf)) : 0;
    if (!port_) {
        int status;
        waitpid(pid_, &status, 0);
        pid_ = -1;
        throw tk::UserError("echo-server did not start (see its message above)");
    }
}

ServerProcess::~ServerProcess() {
    if (pid_ > 0) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
    }
    if (!report_path_.empty())
        unlink(report_path_.c_str());
}

nlohmann::json ServerProcess::finish(double timeout_s) {
    int status = 0;
    if (wait_with_timeout(pid_, &status, timeout_s) != pid_) {
        kill(pid_, SIGTERM);  // it reports what it did so far
        waitpid(pid_, &status, 0);
    }
    pid_ = -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw tk::UserError("echo-server failed (" +
                            (WIFEXITED(status)
                                 ? "exit status " + std::to_string(WEXITSTATUS(status))
                                 : "signal " + std::to_string(WTERMSIG(status))) +
                            ")");
    std::ifstream in(report_path_);
    try {
        return nlohmann::json::parse(in);
    } catch (const std::exception& e) {
        throw tk::UserError(std::string("echo-server wrote no readable report: ") + e.what());
    }
}

}  // namespace echo
