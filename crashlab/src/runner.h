// crashlab run: run a command with core dumps on, wait (with an optional timeout that
// turns a hang into a core), find the core the kernel wrote, analyse it, and keep
// everything in a crash directory readable by its owner only.
#pragma once

#include <string>
#include <vector>

#include "analysis.h"

namespace crashlab {

struct RunOptions {
    std::vector<std::string> command;
    double timeout = 0;  // seconds; 0: wait forever
    std::string crash_root = "crashlab-crashes";
    bool as_root = false;  // under sudo: keep root instead of SUDO_UID/SUDO_GID
    std::string json;      // "": text on stdout; "-": JSON on stdout; else a file
    bool quiet = false;    // no report on stdout (the files are still written)
    AnalyzeOptions analyze;
};

// Runs it all; returns the exit status crashlab should exit with: the command's own
// status, or 128 + the signal when it died of one. Throws tk::UserError for problems
// the user has to fix (command not found, crash directory not writable ...).
int run_command(const RunOptions& options);

// What /proc/sys/kernel/core_pattern says, interpreted.
struct CorePattern {
    std::string raw;
    bool piped = false;  // "|/usr/lib/systemd/systemd-coredump ..."
    std::string
        handler;  // "systemd-coredump", "apport", "crashlab" (its collector), or the program
    bool uses_pid = false;  // core_uses_pid
};
CorePattern read_core_pattern();

// The path the kernel writes a core to for PATTERN (relative to CWD), for a process with
// these attributes; "%t" (time) becomes "*" (the caller globs), and so does "%s" when
// SIGNO is 0 (not known yet).
std::string expand_core_pattern(const CorePattern& pattern, const std::string& cwd, int pid,
                                int uid, int gid, int signo, const std::string& comm,
                                const std::string& exe_path);

// What to tell the user when the core went to a handler: one line with a command to get it.
std::string piped_core_advice(const CorePattern& pattern, int pid);

// A file readable by its owner only (0600), written whole or not at all (a temporary file
// renamed into place), and owned by UID/GID when they are >= 0.
void write_private_file(const std::string& path, const std::string& content, int uid, int gid);

}  // namespace crashlab
