// Reads the processes a tracer's BPF side reports (struct process_event of
// bpf/process_events.h, through a ring buffer) and captures their mappings into a
// ProcessMaps at once, on a thread of its own, while they live.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

#include "fd.h"
#include "process_maps.h"

struct ring_buffer;

namespace tk {

// Consumes the kernel's ring buffer of processes to read, on a thread of its own.
class MapsWatcher {
  public:
    // When the mappings of the processes it knows are read again (for later dlopen()s).
    enum class Refresh {
        EverySecond,    // a tracer's run: every known process that lives, each second
        OnReportsOnly,  // only when the kernel reports an address the capture does not cover
    };
    // on_process(pid, execed) runs on the watcher thread for every reported process: a
    // fork, an exec (execed: its libraries are not mapped yet), a first sighting.
    // Uprobes are attached to new processes from there.
    MapsWatcher(int ring_buffer_fd, ProcessMaps& maps,
                std::function<void(pid_t, bool)> on_process = {},
                Refresh refresh = Refresh::EverySecond);
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
    Refresh refresh_;
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

}  // namespace tk
