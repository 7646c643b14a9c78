// The crashing process's state, read by the collector from /proc/PID while the kernel holds
// the process (it is dumping core: it ends only once its core has been read from the pipe),
// as systemd-coredump does: the environment, cwd and root, the open files, the mappings, the
// limits, the cgroup and a part of status. Kept as process.json in the crash's directory
// (docs/crashlab.md, "The process's state").
#pragma once

#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

namespace crashlab {

constexpr const char* kProcessStateFile = "process.json";

// What is read, and how much of each piece at most: past a cap the piece is cut, and
// "truncated" names it.
struct ProcessStateOptions {
    bool environment = true;                  // false: /proc/PID/environ is not read at all
    size_t max_environment_bytes = 64 << 10;  // of environ
    size_t max_maps_bytes = 1 << 20;          // of maps (the mappings kept are whole lines)
    size_t max_open_files = 1024;             // fds, the lowest numbers first
    size_t max_cgroup_bytes = 4096;
};

// Reads /proc/PID, every file through one directory fd of it, so that all of it is one
// process's, and no link of the process's is followed (readlinkat only). The process must be
// dumping core (status CoreDumping 1), else tk::UserError (it ended, or PID is another
// process's now). A piece that cannot be read is left out, with its reason in "errors".
nlohmann::json capture_process_state(int pid, const ProcessStateOptions& options);

// The short section `crashlab show` prints: threads, memory, cwd, the limits that matter
// against their use (open files, stack), the open files, what was cut or left out.
std::string process_state_text(const nlohmann::json& state);

}  // namespace crashlab
