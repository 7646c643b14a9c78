// The mappings of every traced process, captured while it lives: naming an address (the
// data symbol or mapping it lies in) and symbolizing a stack need them, and a workload
// that has exited by report time can no longer be asked.
//
// The kernel side reports a process (bpf/process_events.h) when its mappings should be
// read: at its exec, when first seen after the dynamic loader mapped its libraries; a
// MapsWatcher (lib/bpf/maps_watcher.h) reads /proc/PID/maps right then, and again every
// second for the processes it knows, to catch later dlopen()s.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "symbolizer.h"

namespace tk {

class ProcessMaps {
  public:
    // Reads /proc/PID/maps now; keeps the latest good copy. False if the process is gone.
    bool capture(pid_t pid);
    // Whether the latest capture of pid has a mapping holding `address`.
    bool covers(pid_t pid, uint64_t address) const;
    void note_parent(pid_t pid, pid_t ppid);
    // The mappings of pid, or of its nearest ancestor that we have (a forked child that
    // died young shares its parent's layout until it execs or maps more).
    std::shared_ptr<const std::vector<Mapping>> maps_of(pid_t pid) const;
    std::vector<pid_t> pids() const;
    size_t captures() const;

  private:
    mutable std::mutex mutex_;
    std::map<pid_t, std::shared_ptr<const std::vector<Mapping>>> maps_;
    std::map<pid_t, pid_t> parent_;
    size_t captures_ = 0;
};

// One symbolizer per distinct address-space layout (forked children share their
// parent's), built from the captured mappings.
class SymbolizerCache {
  public:
    explicit SymbolizerCache(ProcessMaps& maps) : maps_(maps) {}
    // null when the process's mappings were never captured (and it is gone)
    Symbolizer* of(pid_t pid);
    // The program's path (the lowest file mapping), "" when never captured.
    std::string executable_of(pid_t pid);
    // What the symbolizers could not do (missing debug info), each once.
    std::vector<std::string> warnings() const;

  private:
    ProcessMaps& maps_;
    std::map<std::string, std::unique_ptr<Symbolizer>> by_layout_;
    std::map<pid_t, Symbolizer*> by_pid_;
};

}  // namespace tk
