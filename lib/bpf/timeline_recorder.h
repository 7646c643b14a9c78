// The timeline mode's user side (--perfetto, docs/timeline.md): sizes and switches on the
// kernel side's ring (bpf/timeline.bpf.h) before load, drains it while the run goes on
// (a thread that wakes every few milliseconds: the programs submit without waking anyone),
// keeps the records up to --perfetto-limit, and writes the Perfetto trace at the end.
#pragma once

#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "perfetto_writer.h"
#include "run_report.h"
#include "timeline.h"
#include "trace_session.h"

struct bpf_map;
struct ring_buffer;

namespace tk {

// Before load: the ring's size in timeline mode (a page otherwise: the mode is off).
void size_timeline_ring(struct bpf_map* ring, const TraceOptions& opts);

// What a tool's kernel side gives the recorder: its ring and its per-CPU loss counter.
struct TimelineMaps {
    int ring_fd = -1;
    int lost_fd = -1;
    std::string user_switch_name;  // the name of --user-switch instants, if any
};

class TimelineRecorder {
  public:
    // Starts draining the ring. Throws UserError when it cannot be read.
    TimelineRecorder(const TimelineMaps& maps, const TraceOptions& opts);
    ~TimelineRecorder();
    TimelineRecorder(const TimelineRecorder&) = delete;
    TimelineRecorder& operator=(const TimelineRecorder&) = delete;

    // After the probes stopped recording: the rest of the ring is read, the thread ends,
    // and the losses are counted.
    void stop();
    // --flight-recorder: write the trace of the last SECONDS soon, from the recorder's
    // thread (SIGUSR1 asks this; a tripped --trigger-ms does it itself).
    void request_write() { write_requested_ = true; }
    // Encodes the trace and writes it to --perfetto's file (owner only). Returns what the
    // report says of it.
    // NAMES name what the tool's records point at (locks, system calls).
    TimelineSummary write(const std::string& path, const TimelineNames& names = {});

  private:
    static int on_record(void* self, void* data, size_t size);
    void drain_until_stopped();
    // --trigger-ms: whether R ends a wait longer than the trigger (a wakeup-to-run, a
    // blocked lock wait, an epoll/poll/select call's ready-to-return).
    bool trips(const tl_record& r);
    TimelineSummary write_now(const std::string& path, const TimelineNames& names);

    TimelineMaps maps_;
    size_t max_records_;
    std::string path_;
    uint64_t window_ns_ = 0;   // --flight-recorder (0: keep everything up to the limit)
    uint64_t trigger_ns_ = 0;  // --trigger-ms
    std::map<uint32_t, uint64_t> woken_at_;  // --trigger-ms: tid -> its pending wakeup
    std::mutex mutex_;                       // records_, between the thread and write()
    std::deque<tl_record> records_;
    std::atomic<bool> write_requested_{false};
    uint64_t over_limit_ = 0;
    uint64_t lost_ = 0;
    struct ring_buffer* ring_ = nullptr;
    std::atomic<bool> stopping_{false};
    std::thread thread_;
};

}  // namespace tk
