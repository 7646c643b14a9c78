// A forked child process that runs a function and can send one JSON result back.
//
// RAII: a Child that is destroyed while still running is killed and reaped, so an error in
// the parent never leaves a partner process behind. The child dies with its parent
// (PR_SET_PDEATHSIG), and leaves through _exit, so it never runs the parent's destructors
// or flushes the parent's stdio buffers twice.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace wl {

class Child {
  public:
    // The body runs in the child; its return value is the child's exit status. It may send
    // one result with send_result(result_fd, ...). An exception in the body is printed as
    // one line on stderr and the child exits with status 1.
    static Child spawn(const std::function<int(int result_fd)>& body);

    Child(Child&& other) noexcept;
    Child& operator=(Child&& other) noexcept;
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    ~Child();

    pid_t pid() const { return pid_; }
    // Reads the result the child sent (until it closes its end). Throws if it sent none.
    nlohmann::json read_result();
    // Waits for the child; returns its exit status, or 128 + signal number if killed.
    int wait();
    // Like wait(), but gives up after `ms` milliseconds (the child stays running).
    std::optional<int> wait_for(int ms);
    bool running() const { return pid_ > 0; }

  private:
    Child(pid_t pid, int result_fd) : pid_(pid), result_fd_(result_fd) {}
    void close_result();
    pid_t pid_ = -1;
    int result_fd_ = -1;
};

// Called in the child: writes j to result_fd (the parent reads it with read_result()).
void send_result(int result_fd, const nlohmann::json& j);

// "exited with status 3" / "killed by signal 9 (Killed)"
std::string describe_status(int status_code);

}  // namespace wl
