// echo-bench's server: echo-server (next to this binary) started as a child process with
// --port 0; its port comes back through a pipe, its JSON report through a temporary file.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace echo {

class ServerProcess {
  public:
    // Starts `echo-server --model MODEL ARGS...` and waits until it listens.
    ServerProcess(const std::string& model, const std::vector<std::string>& args);
    ~ServerProcess();  // a server still running is killed and reaped
    ServerProcess(const ServerProcess&) = delete;
    ServerProcess& operator=(const ServerProcess&) = delete;

    pid_t pid() const { return pid_; }
    uint16_t port() const { return port_; }
    // Waits up to timeout_s for the server to exit by itself (SIGTERM after that) and
    // returns its report. Throws tk::UserError when it failed.
    nlohmann::json finish(double timeout_s);

  private:
    pid_t pid_ = -1;
    uint16_t port_ = 0;
    std::string report_path_;
};

}  // namespace echo
