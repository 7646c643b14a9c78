// The mappings of every traced process, captured while it lives: naming a lock (the data
// symbol or mapping an address lies in) and symbolizing a stack need them, and a workload
// that has exited by report time can no longer be asked.
//
// The kernel side reports a process at its exec and at its first futex call (after the
// dynamic loader mapped its libraries); a watcher thread reads /proc/PID/maps right then,
// and again every second for the processes it knows, to catch later dlopen()s.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fd.h"
#include "symbolizer.h"

struct ring_buffer;

namespace lockwait {

class ProcessMaps {
  public:
    // Reads /proc/PID/maps now; keeps the latest good copy. False if the process is gone.
    bool capture(pid_t pid);
    // Whether the latest capture of pid has a mapping holding `address`.
    bool covers(pid_t pid, uint64_t address) const;
    void note_parent(pid_t pid, pid_t ppid);
    // The mappings of pid, or of its nearest ancestor that we have (a forked child that
    // died young shares its parent's layout until it execs or maps more).
    std::shared_ptr<const std::vector<tk::Mapping>> maps_of(pid_t pid) const;
    std::vector<pid_t> pids() const;
    size_t captures() const;

  private:
    mutable std::mutex mutex_;
    std::map<pid_t, std::shared_ptr<const std::vector<tk::Mapping>>> maps_;
    std::map<pid_t, pid_t> parent_;
    size_t captures_ = 0;
};

// Consumes the kernel's ring buffer of processes to read, on a thread of its own.
class MapsWatcher {
  public:
    // on_process(pid, execed) runs on the watcher thread for every reported process: a
    // fork, an exec (execed: its libraries are not mapped yet), a first futex call.
    // Uprobes are attached to new processes from there.
    MapsWatcher(int ring_buffer_fd, ProcessMaps& maps,
                std::function<void(pid_t, bool)> on_process = {});
    ~MapsWatcher();  // stops the thread
    MapsWatcher(const MapsWatcher&) = delete;
    MapsWatcher& operator=(const MapsWatcher&) = delete;

    // Drains what is queued now (before a report).
    void drain();

  private:
    static int on_event(void* ctx, void* data, size_t size);
    void run();
    void wake_up();
    ProcessMaps& maps_;
    std::function<void(pid_t, bool)> on_process_;
    struct ring_buffer* rb_ = nullptr;
    // drain(): the caller takes a ticket; the watcher, the only reader of the ring buffer,
    // consumes what is queued and reports the ticket done.
    std::mutex drain_mutex_;
    std::condition_variable drained_cv_;
    uint64_t drain_requested_ = 0, drained_ = 0;
    std::atomic<bool> stop_{false};
    // Wakes the watcher at once for drain() and the end (an eventfd), so that neither
    // waits out its poll; the watcher waits on it and the ring buffer together.
    tk::Fd wake_;
    tk::Fd poll_;
    std::thread thread_;
};

}  // namespace lockwait
