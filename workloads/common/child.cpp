#include "common/child.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "errors.h"
#include "json_text.h"

namespace wl {

Child Child::spawn(const std::function<int(int)>& body) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        throw tk::UserError(tk::errno_text("pipe"));
    pid_t parent = getpid();
    // Anything still buffered would otherwise be printed again by the child.
    std::fflush(stdout);
    std::fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        close(fds[0]);
        close(fds[1]);
        throw tk::UserError(tk::errno_text("fork", err) + ": check the process limit (ulimit -u)");
    }
    if (pid == 0) {
        close(fds[0]);
        int status = 1;
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);  // the parent is already gone
        try {
            status = body(fds[1]);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "%s: child %d: %s\n", program_invocation_short_name, int(getpid()),
                         e.what());
        }
        _exit(status);
    }
    close(fds[1]);
    return Child(pid, fds[0]);
}

Child::Child(Child&& other) noexcept : pid_(other.pid_), result_fd_(other.result_fd_) {
    other.pid_ = -1;
    other.result_fd_ = -1;
}

Child& Child::operator=(Child&& other) noexcept {
    if (this != &other) {
        this->~Child();
        pid_ = other.pid_;
        result_fd_ = other.result_fd_;
        other.pid_ = -1;
        other.result_fd_ = -1;
    }
    return *this;
}

Child::~Child() {
    close_result();
    if (pid_ > 0) {
        kill(pid_, SIGKILL);
        while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
        }
    }
}

void Child::close_result() {
    if (result_fd_ >= 0)
        close(result_fd_);
    result_fd_ = -1;
}

nlohmann::json Child::read_result() {
    std::string text;
    char buf[4096];
    while (result_fd_ >= 0) {
        ssize_t n = read(result_fd_, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            throw tk::UserError(tk::errno_text("reading a child's result"));
        if (n == 0)
            break;
        text.append(buf, size_t(n));
    }
    close_result();
    if (text.empty())
        throw tk::UserError("child " + std::to_string(pid_) +
                            " sent no result: see its message above");
    return nlohmann::json::parse(text);
}

int Child::wait() {
    if (pid_ <= 0)
        throw tk::UserError("internal: waiting for a child twice");
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0) {
        if (errno != EINTR)
            throw tk::UserError(tk::errno_text("waitpid"));
    }
    pid_ = -1;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}

std::optional<int> Child::wait_for(int ms) {
    if (pid_ <= 0)
        return std::nullopt;
    for (int waited = 0;; waited++) {
        int status = 0;
        pid_t got = waitpid(pid_, &status, WNOHANG);
        if (got == pid_) {
            pid_ = -1;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        if (got < 0 && errno != EINTR)
            return std::nullopt;
        if (waited >= ms)
            return std::nullopt;
        usleep(1000);
    }
}

void send_result(int result_fd, const nlohmann::json& j) {
    std::string text = tk::json_text(j, -1);
    const char* p = text.data();
    size_t left = text.size();
    while (left > 0) {
        ssize_t n = write(result_fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            throw tk::UserError(tk::errno_text("sending a result to the parent"));
        p += n;
        left -= size_t(n);
    }
}

std::string describe_status(int code) {
    if (code > 128)
        return "killed by signal " + std::to_string(code - 128) + " (" + strsignal(code - 128) +
               ")";
    return "exited with status " + std::to_string(code);
}

}  // namespace wl
