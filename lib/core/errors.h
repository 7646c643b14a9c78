// Errors, the way every tool reports them.
//
// A fatal user error (not root, no such PID, bad option value ...) is thrown once as
// UserError and reported by main() as one line "TOOL: what is wrong: what to do" with a
// non-zero exit status. Recoverable problems are returned as values (Status, or an
// std::optional with an error string) and usually end up as a warning in the report.
#pragma once

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace tk {

class UserError : public std::runtime_error {
  public:
    explicit UserError(const std::string& message, int exit_code = 1)
        : std::runtime_error(message), exit_code_(exit_code) {}
    int exit_code() const { return exit_code_; }

  private:
    int exit_code_;
};

// A recoverable outcome: ok, or what went wrong.
class Status {
  public:
    Status() = default;
    static Status error(std::string message) { return Status(std::move(message)); }
    bool ok() const { return message_.empty(); }
    explicit operator bool() const { return ok(); }
    const std::string& message() const { return message_; }

  private:
    explicit Status(std::string message) : message_(std::move(message)) {}
    std::string message_;
};

// "what: strerror(err)"
inline std::string errno_text(const std::string& what, int err = errno) {
    return what + ": " + std::strerror(err);
}

}  // namespace tk
