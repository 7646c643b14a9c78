// The crashing process's state, read by the collector from /proc/PID while the kernel holds
// the process (it is dumping core: it ends only once its core has been read from the pipe),
// as systemd-coredump does: the environment, cwd and root, the open files, the mappings, the
// limits, the cgroup and a part of status. Kept as process.json in the crash's directory
// (docs/crashlab.md, "The process's state").
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

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

// One file of /proc/PID as read.
struct ProcFile {
    std::string text;
    bool cut = false;   // there was more than its cap
    std::string error;  // why it could not be read ("" when it was)
};

// /proc/PID as read while the process was held: raw text, turned into JSON afterwards, so
// that the dying process waits for the reading only.
struct ProcessSnapshot {
    struct OpenFile {
        int fd = -1;
        std::string target, link_error;  // the link's text, or why it could not be read
        std::string fdinfo;
    };
    int pid = 0;
    ProcFile status, env, maps, limits, cgroup;
    bool environment_read = true;           // false: left out by the configuration
    std::map<std::string, ProcFile> links;  // exe, cwd, root
    std::vector<OpenFile> files;            // the lowest fds, at most max_open_files
    size_t file_count = 0;                  // all of them
    bool files_cut = false;
    std::string files_error;
    uint64_t read_us = 0;  // how long the reading took
};

// Reads /proc/PID, every file through one directory fd of it, so that all of it is one
// process's, and no link of the process's is followed (readlinkat only). The process must be
// dumping core (status CoreDumping 1), else tk::UserError (it ended, or PID is another
// process's now). A piece that cannot be read has its error.
ProcessSnapshot read_process_state(int pid, const ProcessStateOptions& options);

// The snapshot as process.json: a piece that could not be read is left out, with its reason
// in "errors"; the pieces cut at their caps are named in "truncated".
nlohmann::json process_state_json(const ProcessSnapshot& snapshot);

// The short section `crashlab show` prints: threads, memory, cwd, the limits that matter
// against their use (open files, stack), the open files, what was cut or left out.
std::string process_state_text(const nlohmann::json& state);

}  // namespace crashlab
