#include "timeline_recorder.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "bpf_maps.h"
#include "errors.h"
#include "output.h"
#include "text.h"

namespace tk {

namespace {

// The ring: large enough for the bursts between two reads (8 MB: about 70,000 records of
// 112 bytes and their 8-byte headers, 10 ms of events at 7 million a second).
constexpr uint32_t kRingBytes = 8u << 20;
constexpr auto kReadEvery = std::chrono::milliseconds(10);

}  // namespace

void size_timeline_ring(struct bpf_map* ring, const TraceOptions& opts) {
    if (opts.timeline())
        bpf_map__set_max_entries(ring, kRingBytes);
}

TimelineRecorder::TimelineRecorder(const TimelineMaps& maps, const TraceOptions& opts)
    : maps_(maps),
      max_records_(size_t(std::llround(opts.perfetto_limit_mb * 1e6 / sizeof(tl_record)))),
      path_(opts.perfetto),
      window_ns_(uint64_t(opts.flight_recorder * 1e9)),
      trigger_ns_(uint64_t(opts.trigger_ms * 1e6)) {
    ring_ = ring_buffer__new(maps.ring_fd, on_record, this, nullptr);
    if (!ring_)
        throw UserError(errno_text("cannot read the timeline's ring buffer", errno));
    thread_ = std::thread([this] { drain_until_stopped(); });
}

TimelineRecorder::~TimelineRecorder() {
    stop();
    ring_buffer__free(ring_);
}

int TimelineRecorder::on_record(void* self, void* data, size_t size) {
    auto* r = static_cast<TimelineRecorder*>(self);
    if (size < sizeof(tl_record))
        return 0;
    const tl_record& rec = *static_cast<const tl_record*>(data);
    std::lock_guard<std::mutex> lock(r->mutex_);
    if (r->window_ns_) {
        // the flight recorder keeps the last window, within the limit too
        while (!r->records_.empty() && (r->records_.front().ts + r->window_ns_ < rec.ts ||
                                        r->records_.size() >= r->max_records_))
            r->records_.pop_front();
        if (r->trigger_ns_ && r->trips(rec))
            r->write_requested_ = true;
    } else if (r->records_.size() >= r->max_records_) {
        r->over_limit_++;
        return 0;
    }
    r->records_.push_back(rec);
    return 0;
}

void TimelineRecorder::drain_until_stopped() {
    while (!stopping_.load()) {
        ring_buffer__consume(ring_);
        if (write_requested_.exchange(false)) {
            // (names are the report's, known at the end: locks are named by address here)
            try {
                TimelineSummary s = write_now(path_, {});
                fprintf(stderr, "timeline: wrote the last %g s to %s (%s events)\n",
                        double(window_ns_) / 1e9, s.file.c_str(), with_commas(s.events).c_str());
            } catch (const UserError& e) {
                fprintf(stderr, "timeline: %s\n", e.what());  // the run goes on
            }
        }
        std::this_thread::sleep_for(kReadEvery);
    }
}

void TimelineRecorder::stop() {
    if (!thread_.joinable())
        return;
    stopping_ = true;
    thread_.join();
    ring_buffer__consume(ring_);  // what was submitted before the probes stopped recording
    lost_ = 0;
    for (uint64_t n : per_cpu_values<uint64_t>(maps_.lost_fd, uint32_t(0)))
        lost_ += n;
}

bool TimelineRecorder::trips(const tl_record& r) {
    switch (tl_kind(r.kind)) {
        case TL_WAKING:
        case TL_WAKEUP_NEW:
            woken_at_[r.other_pid] = r.ts;
            return false;
        case TL_SWITCH: {
            woken_at_.erase(r.pid);
            auto it = woken_at_.find(r.other_pid);
            if (it == woken_at_.end())
                return false;
            bool late = r.ts - it->second > trigger_ns_;
            woken_at_.erase(it);
            return late;
        }
        case TL_LOCK_WAIT:
            return r.span.value > trigger_ns_;
        case TL_CALL:
            return r.span.at && r.span.end - r.span.at > trigger_ns_;
        default:
            return false;
    }
}

TimelineSummary TimelineRecorder::write(const std::string& path, const TimelineNames& names) {
    stop();
    return write_now(path, names);
}

TimelineSummary TimelineRecorder::write_now(const std::string& path, const TimelineNames& names) {
    PerfettoTraceInfo info;
    info.boot_offset_ns = boot_minus_monotonic_ns();
    struct utsname u;
    if (uname(&u) == 0)
        info.kernel_release = u.release;
    if (!maps_.user_switch_name.empty())
        info.user_switch_name = maps_.user_switch_name;
    info.names = names;
    PerfettoWriter writer(info);
    size_t events;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        for (const tl_record& r : records_)
            writer.add(r);
        events = records_.size();
    }
    std::string trace = writer.finish();
    write_output(path, trace, 0600);
    TimelineSummary s;
    s.file = path;
    s.events = events;
    s.lost = lost_;
    s.over_limit = over_limit_;
    s.bytes = trace.size();
    return s;
}

}  // namespace tk
