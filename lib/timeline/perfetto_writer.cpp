#include "perfetto_writer.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/wire_format_lite.h>
#include <time.h>

#include <cstdio>
#include <cstring>
#include <set>

#include "perfetto_trace.pb.h"

namespace tk {

namespace pb = tk::perfetto;

namespace {

// The kernel's task states (include/linux/sched.h), as far as sched_switch reports them.
constexpr uint32_t kTaskReport = 0x7f;          // RUNNING .. PARKED, EXIT_DEAD, EXIT_ZOMBIE
constexpr uint32_t kTaskIdle = 0x402;           // TASK_UNINTERRUPTIBLE | TASK_NOLOAD
constexpr uint32_t kTaskUninterruptible = 0x2;  // what an rtlock wait is reported as
constexpr uint32_t kTaskRtlockWait = 0x1000;
constexpr uint32_t kTaskReportIdle = kTaskReport + 1;      // 0x80
constexpr uint32_t kTaskReportMax = kTaskReportIdle << 1;  // 0x100: preempted

// A bundle is flushed at this many events: Perfetto sorts events itself, and a bounded
// bundle keeps each packet small.
constexpr int kBundleEvents = 512;

// Track uuids: one per process and one per thread, apart from each other.
uint64_t process_uuid(uint32_t tgid) {
    return (uint64_t(1) << 32) | tgid;
}
uint64_t thread_uuid(uint32_t tid) {
    return (uint64_t(2) << 32) | tid;
}

std::string comm_text(const char (&comm)[TL_COMM_LEN]) {
    return std::string(comm, strnlen(comm, TL_COMM_LEN));
}

int fls(uint32_t v) {
    return v ? 32 - __builtin_clz(v) : 0;
}

}  // namespace

int64_t ftrace_prev_state(uint32_t state, uint32_t exit_state, bool preempt) {
    if (preempt)
        return kTaskReportMax;
    uint32_t s = (state | exit_state) & kTaskReport;
    if ((state & kTaskIdle) == kTaskIdle)
        s = kTaskReportIdle;
    if (state & kTaskRtlockWait)
        s = kTaskUninterruptible;
    int index = fls(s);
    return index ? int64_t(1) << (index - 1) : 0;
}

bool switched_out_asleep(int64_t reported) {
    return reported != 0 && reported != kTaskReportMax;
}

int64_t boot_minus_monotonic_ns() {
    struct timespec boot, mono;
    clock_gettime(CLOCK_BOOTTIME, &boot);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    return (int64_t(boot.tv_sec) - mono.tv_sec) * 1000000000 + (boot.tv_nsec - mono.tv_nsec);
}

struct PerfettoWriter::Impl {
    PerfettoTraceInfo info;
    std::string out;
    // What a bundle being filled needs besides its message: its compact arrays' last
    // times (they are deltas) and the interned names.
    struct Pending {
        pb::FtraceEventBundle bundle;
        int events = 0;
        uint64_t last_switch = 0, last_waking = 0;
        std::map<std::string, uint32_t> interned;
    };
    std::map<uint32_t, Pending> bundles;     // by CPU, not yet written
    std::map<uint32_t, uint32_t> running;    // by CPU: the next task of its last switch
    std::map<uint32_t, uint32_t> lost_seen;  // by CPU: the last running count
    std::set<uint32_t> threads, processes;   // described so far
    bool first_packet = true;
    uint64_t flows = 0;  // flow ids given so far

    uint64_t time(uint64_t ts) const { return ts + uint64_t(info.boot_offset_ns); }

    void append(pb::TracePacket& p) {
        p.set_trusted_packet_sequence_id(1);
        if (first_packet) {
            p.set_sequence_flags(1);  // SEQ_INCREMENTAL_STATE_CLEARED: track events may follow
            first_packet = false;
        }
        namespace wfl = google::protobuf::internal;
        google::protobuf::io::StringOutputStream stream(&out);
        google::protobuf::io::CodedOutputStream coded(&stream);
        coded.WriteTag(wfl::WireFormatLite::MakeTag(
            pb::Trace::kPacketFieldNumber, wfl::WireFormatLite::WIRETYPE_LENGTH_DELIMITED));
        coded.WriteVarint32(uint32_t(p.ByteSizeLong()));
        p.SerializeWithCachedSizes(&coded);
    }

    void flush(uint32_t cpu) {
        auto it = bundles.find(cpu);
        if (it == bundles.end())
            return;
        pb::TracePacket p;
        *p.mutable_ftrace_events() = std::move(it->second.bundle);
        bundles.erase(it);
        append(p);
    }

    // The bundle of R's CPU; a gap in its records (lost ones) starts a new one, marked.
    Pending& pending(const tl_record& r) {
        uint32_t seen = lost_seen[r.cpu];
        bool lost = r.lost != seen;
        if (lost) {
            flush(r.cpu);  // the events before the gap, in a bundle of their own
            lost_seen[r.cpu] = r.lost;
        }
        Pending& b = bundles[r.cpu];
        b.bundle.set_cpu(r.cpu);
        if (lost)
            b.bundle.set_lost_events(true);
        return b;
    }

    pb::FtraceEvent* event(const tl_record& r) {
        auto* e = pending(r).bundle.add_event();
        e->set_timestamp(time(r.ts));
        e->set_pid(r.pid);
        return e;
    }

    void after_event(uint32_t cpu) {
        if (++bundles[cpu].events >= kBundleEvents)
            flush(cpu);
    }

    // Compact form (CompactSched): Perfetto's own recorder writes the scheduler's events so,
    // about a sixth of the bytes. What it leaves out, Perfetto takes from the CPU's last
    // switch: the prev task of a switch, the waker of a waking. A record whose task is not
    // that one (the CPU ran an untraced task in between, or tracing began while it ran) is
    // written in full instead. Returns null when the compact form does not fit R.
    Pending* compact(const tl_record& r, bool is_switch) {
        auto it = running.find(r.cpu);
        if (it == running.end() || it->second != r.pid)
            return nullptr;
        Pending* b = &pending(r);
        uint64_t last = is_switch ? b->last_switch : b->last_waking;
        if (last && time(r.ts) < last) {  // out of order: a new bundle starts afresh
            flush(r.cpu);
            b = &pending(r);
        }
        return b;
    }

    uint32_t intern(Pending& b, const std::string& name) {
        auto [it, added] = b.interned.emplace(name, uint32_t(b.interned.size()));
        if (added)
            b.bundle.mutable_compact_sched()->add_intern_table(name);
        return it->second;
    }

    // A delta from the array's previous time; the first is absolute.
    uint64_t delta(uint64_t& last, uint64_t t) {
        uint64_t d = last ? t - last : t;
        last = t;
        return d;
    }

    void describe(uint32_t tid, uint32_t tgid, const std::string& name, uint64_t ts,
                  bool again = false) {
        if (tid == 0)
            return;  // the idle task: Perfetto knows it per CPU
        if (processes.insert(tgid).second || (again && tid == tgid)) {
            pb::TracePacket p;
            p.set_timestamp(time(ts));
            auto* d = p.mutable_track_descriptor();
            d->set_uuid(process_uuid(tgid));
            auto* pd = d->mutable_process();
            pd->set_pid(int32_t(tgid));
            if (tid == tgid)
                pd->set_process_name(name);
            append(p);
        }
        if (threads.insert(tid).second || again) {
            pb::TracePacket p;
            p.set_timestamp(time(ts));
            auto* d = p.mutable_track_descriptor();
            d->set_uuid(thread_uuid(tid));
            d->set_parent_uuid(process_uuid(tgid));
            auto* td = d->mutable_thread();
            td->set_pid(int32_t(tgid));
            td->set_tid(tid);
            td->set_thread_name(name);
            append(p);
        }
    }

    void add_switch(const tl_record& r) {
        if (Pending* cb = compact(r, true)) {
            Pending& b = *cb;
            auto* cs = b.bundle.mutable_compact_sched();
            cs->add_switch_timestamp(delta(b.last_switch, time(r.ts)));
            cs->add_switch_prev_state(
                ftrace_prev_state(r.sched.state, r.sched.exit_state, r.flags & TL_F_PREEMPT));
            cs->add_switch_next_pid(int32_t(r.other_pid));
            cs->add_switch_next_prio(r.other_prio);
            cs->add_switch_next_comm_index(intern(b, comm_text(r.other_comm)));
            running[r.cpu] = r.other_pid;
            after_event(r.cpu);
            return;
        }
        running[r.cpu] = r.other_pid;
        auto* s = event(r)->mutable_sched_switch();
        s->set_prev_comm(comm_text(r.comm));
        s->set_prev_pid(int32_t(r.pid));
        s->set_prev_prio(r.prio);
        s->set_prev_state(
            ftrace_prev_state(r.sched.state, r.sched.exit_state, r.flags & TL_F_PREEMPT));
        s->set_next_comm(comm_text(r.other_comm));
        s->set_next_pid(int32_t(r.other_pid));
        s->set_next_prio(r.other_prio);
        after_event(r.cpu);
    }

    // sched_wakeup_new is written as a waking: Perfetto reads no sched_wakeup_new, and
    // a new task becomes runnable, woken by its parent, the same way.
    void add_waking(const tl_record& r) {
        if (Pending* cb = compact(r, false)) {
            Pending& b = *cb;
            auto* cs = b.bundle.mutable_compact_sched();
            cs->add_waking_timestamp(delta(b.last_waking, time(r.ts)));
            cs->add_waking_pid(int32_t(r.other_pid));
            cs->add_waking_target_cpu(int32_t(r.sched.state));
            cs->add_waking_prio(r.other_prio);
            cs->add_waking_comm_index(intern(b, comm_text(r.other_comm)));
            cs->add_waking_common_flags(0);
            after_event(r.cpu);
            return;
        }
        auto* w = event(r)->mutable_sched_waking();
        w->set_comm(comm_text(r.other_comm));
        w->set_pid(int32_t(r.other_pid));
        w->set_prio(r.other_prio);
        w->set_success(1);
        w->set_target_cpu(int32_t(r.sched.state));
        after_event(r.cpu);
    }

    void add_rename(const tl_record& r) {
        auto* n = event(r)->mutable_task_rename();
        n->set_pid(int32_t(r.pid));
        n->set_oldcomm(comm_text(r.comm));
        n->set_newcomm(comm_text(r.other_comm));
        after_event(r.cpu);
        describe(r.pid, r.tgid, comm_text(r.other_comm), r.ts, true);
    }

    // Perfetto ends a thread at sched_process_free, which follows the exit once the task is
    // reaped; the exit is what we see, and nothing of the thread runs after it.
    void add_exit(const tl_record& r) {
        auto* f = event(r)->mutable_sched_process_free();
        f->set_comm(comm_text(r.comm));
        f->set_pid(int32_t(r.pid));
        f->set_prio(r.prio);
        after_event(r.cpu);
    }

    pb::TrackEvent* track_event(uint64_t ts, uint32_t tid, pb::TrackEvent::Type type,
                                pb::TracePacket& p) {
        p.set_timestamp(time(ts));
        auto* e = p.mutable_track_event();
        e->set_type(type);
        e->set_track_uuid(thread_uuid(tid));
        return e;
    }

    void add_instant(const tl_record& r, const std::string& name) {
        pb::TracePacket p;
        track_event(r.ts, r.pid, pb::TrackEvent::TYPE_INSTANT, p)->set_name(name);
        append(p);
    }

    std::string lock_text(uint32_t tgid, uint64_t addr) const {
        std::string name = info.names.lock ? info.names.lock(tgid, addr) : "";
        if (!name.empty())
            return name;
        char hex[32];
        snprintf(hex, sizeof hex, "0x%llx", (unsigned long long)addr);
        return hex;
    }

    // An epoll_wait/poll/select call: a slice named by the call, with the events it
    // returned and, when a wakeup inside it made it return, the ready-to-return latency.
    void add_call(const tl_record& r) {
        std::string name = info.names.call ? info.names.call(r.span.addr) : "";
        if (name.empty())
            name = "call " + std::to_string(r.span.addr);
        {
            pb::TracePacket p;
            auto* e = track_event(r.ts, r.pid, pb::TrackEvent::TYPE_SLICE_BEGIN, p);
            e->set_name(name);
            e->add_categories("io");
            auto* a = e->add_debug_annotations();
            a->set_name("returned");
            a->set_int_value(int64_t(r.span.value));
            if (r.span.at) {
                a = e->add_debug_annotations();
                a->set_name("ready_to_return_ns");
                a->set_uint_value(r.span.end - r.span.at);
            }
            append(p);
        }
        pb::TracePacket p;
        track_event(r.span.end, r.pid, pb::TrackEvent::TYPE_SLICE_END, p);
        append(p);
    }

    // A futex wait that slept: a slice "wait LOCK" on the waiter's track from the call to its
    // return. When a task woke it: an instant "wake LOCK" on the waker's track at the wakeup,
    // and inside the wait a slice "woken" from the wakeup to the return (the handoff and the
    // way out), which a flow arrow joins to the waker's instant. (A flow is read in time
    // order: it must start at the wakeup, not end at the wait's start, which comes before.)
    void add_lock_wait(const tl_record& r) {
        std::string lock = lock_text(r.tgid, r.span.addr);
        bool woken = r.other_pid != 0 && r.span.at >= r.ts && r.span.at <= r.span.end;
        uint64_t flow = woken ? ++flows : 0;
        if (woken) {  // first in the file: at a tie, the flow's start comes before its end
            pb::TracePacket p;
            auto* e = track_event(r.span.at, r.other_pid, pb::TrackEvent::TYPE_INSTANT, p);
            e->set_name("wake " + lock);
            e->add_categories("lock");
            e->add_flow_ids(flow);
            append(p);
        }
        {
            pb::TracePacket p;
            auto* e = track_event(r.ts, r.pid, pb::TrackEvent::TYPE_SLICE_BEGIN, p);
            e->set_name("wait " + lock);
            e->add_categories("lock");
            auto* a = e->add_debug_annotations();
            a->set_name("blocked_ns");
            a->set_uint_value(r.span.value);
            a = e->add_debug_annotations();
            a->set_name("futex_word");
            a->set_uint_value(r.span.addr);
            if (woken) {
                a = e->add_debug_annotations();
                a->set_name("woken_by");
                a->set_uint_value(r.other_pid);
            }
            append(p);
        }
        if (woken) {
            pb::TracePacket p;
            auto* e = track_event(r.span.at, r.pid, pb::TrackEvent::TYPE_SLICE_BEGIN, p);
            e->set_name("woken");
            e->add_categories("lock");
            e->add_terminating_flow_ids(flow);
            append(p);
            pb::TracePacket end;
            track_event(r.span.end, r.pid, pb::TrackEvent::TYPE_SLICE_END, end);
            append(end);
        }
        pb::TracePacket p;
        track_event(r.span.end, r.pid, pb::TrackEvent::TYPE_SLICE_END, p);
        append(p);
    }
};

PerfettoWriter::PerfettoWriter(PerfettoTraceInfo info) : impl_(std::make_unique<Impl>()) {
    impl_->info = std::move(info);
    pb::TracePacket p;
    auto* u = p.mutable_system_info()->mutable_utsname();
    u->set_sysname("Linux");
    u->set_release(impl_->info.kernel_release);
    impl_->append(p);
}

PerfettoWriter::~PerfettoWriter() = default;

void PerfettoWriter::add(const tl_record& r) {
    Impl& w = *impl_;
    w.describe(r.pid, r.tgid, comm_text(r.comm), r.ts);
    if (r.kind == TL_SWITCH || r.kind == TL_WAKING || r.kind == TL_WAKEUP_NEW)
        w.describe(r.other_pid, r.other_tgid, comm_text(r.other_comm), r.ts);
    switch (tl_kind(r.kind)) {
        case TL_SWITCH:
            w.add_switch(r);
            break;
        case TL_WAKING:
        case TL_WAKEUP_NEW:
            w.add_waking(r);
            break;
        case TL_RENAME:
            w.add_rename(r);
            break;
        case TL_EXIT:
            w.add_exit(r);
            break;
        case TL_USER_SWITCH:
            w.add_instant(r, w.info.user_switch_name);
            break;
        case TL_CALL:
            w.add_call(r);
            break;
        case TL_LOCK_WAIT:
            if (r.other_pid)
                w.describe(r.other_pid, r.other_tgid, comm_text(r.other_comm), r.ts);
            w.add_lock_wait(r);
            break;
    }
}

std::string PerfettoWriter::finish() {
    while (!impl_->bundles.empty())
        impl_->flush(impl_->bundles.begin()->first);
    return std::move(impl_->out);
}

}  // namespace tk
