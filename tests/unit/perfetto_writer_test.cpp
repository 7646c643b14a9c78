// The Perfetto writer without BPF: records in, a trace the generated parser reads out.
#include "perfetto_writer.h"

#include <cstring>

#include <gtest/gtest.h>

#include "perfetto_trace.pb.h"

namespace pb = tk::perfetto;

namespace {

tl_record record(tl_kind kind, uint64_t ts, uint32_t cpu, uint32_t pid, uint32_t other) {
    tl_record r{};
    r.kind = uint16_t(kind);
    r.ts = ts;
    r.cpu = cpu;
    r.pid = r.tgid = pid;
    r.other_pid = r.other_tgid = other;
    r.prio = r.other_prio = 120;
    strcpy(r.comm, "a");
    strcpy(r.other_comm, "b");
    return r;
}

pb::Trace decode(const std::string& bytes) {
    pb::Trace t;
    EXPECT_TRUE(t.ParseFromString(bytes));
    return t;
}

}  // namespace

// The kernel's __trace_sched_switch_state, which Perfetto reads for kernels from 4.14 on.
TEST(PerfettoWriter, PrevStateAsTheTracepointReportsIt) {
    EXPECT_EQ(tk::ftrace_prev_state(0, 0, false), 0);           // R
    EXPECT_EQ(tk::ftrace_prev_state(0, 0, true), 0x100);        // R+ (preempted)
    EXPECT_EQ(tk::ftrace_prev_state(0x1, 0, true), 0x100);      // preempted while going to sleep
    EXPECT_EQ(tk::ftrace_prev_state(0x1, 0, false), 0x1);       // S
    EXPECT_EQ(tk::ftrace_prev_state(0x2, 0, false), 0x2);       // D
    EXPECT_EQ(tk::ftrace_prev_state(0x402, 0, false), 0x80);    // I (TASK_IDLE)
    EXPECT_EQ(tk::ftrace_prev_state(0x1000, 0, false), 0x2);    // an rtlock wait shows as D
    EXPECT_EQ(tk::ftrace_prev_state(0x80, 0x10, false), 0x10);  // TASK_DEAD, EXIT_DEAD: X
    EXPECT_EQ(tk::ftrace_prev_state(0x80, 0x20, false), 0x20);  // EXIT_ZOMBIE: Z
    EXPECT_TRUE(tk::switched_out_asleep(0x1));
    EXPECT_FALSE(tk::switched_out_asleep(0));
    EXPECT_FALSE(tk::switched_out_asleep(0x100));
}

TEST(PerfettoWriter, BundlesPerCpuDescriptorsAndLosses) {
    tk::PerfettoTraceInfo info;
    info.boot_offset_ns = 1000;
    info.kernel_release = "6.18.0";
    tk::PerfettoWriter w(info);
    auto sw = record(TL_SWITCH, 10, 0, 100, 101);
    sw.sched.state = 0x1;
    w.add(sw);
    // 101 runs on CPU 0 now: its switch out is written in compact form
    auto sw2 = record(TL_SWITCH, 15, 0, 101, 100);
    sw2.flags = TL_F_PREEMPT;
    w.add(sw2);
    w.add(record(TL_WAKING, 20, 1, 101, 100));
    auto late = record(TL_SWITCH, 30, 1, 101, 0);
    late.lost = 3;  // three records of CPU 1 were lost before this one
    w.add(late);
    auto rename = record(TL_RENAME, 40, 0, 100, 100);
    strcpy(rename.other_comm, "renamed");
    w.add(rename);
    pb::Trace t = decode(w.finish());

    ASSERT_GE(t.packet_size(), 1);
    EXPECT_EQ(t.packet(0).system_info().utsname().release(), "6.18.0");
    EXPECT_EQ(t.packet(0).sequence_flags(), 1u);
    int events = 0, lost_bundles = 0, compact_switches = 0;
    std::map<int64_t, std::string> names;
    for (const auto& p : t.packet()) {
        EXPECT_EQ(p.trusted_packet_sequence_id(), 1u);
        if (p.has_track_descriptor() && p.track_descriptor().has_thread())
            names[p.track_descriptor().thread().tid()] =
                p.track_descriptor().thread().thread_name();
        if (!p.has_ftrace_events())
            continue;
        const auto& b = p.ftrace_events();
        lost_bundles += b.lost_events();
        if (b.has_compact_sched()) {
            const auto& cs = b.compact_sched();
            ASSERT_EQ(cs.switch_timestamp_size(), 1);
            EXPECT_EQ(b.cpu(), 0u);
            EXPECT_EQ(cs.switch_timestamp(0), 1015u);  // the first time is absolute
            EXPECT_EQ(cs.switch_prev_state(0), 0x100);
            EXPECT_EQ(cs.switch_next_pid(0), 100);
            EXPECT_EQ(cs.intern_table(int(cs.switch_next_comm_index(0))), "b");
            compact_switches++;
        }
        for (const auto& e : b.event()) {
            events++;
            EXPECT_GT(e.timestamp(), 1000u);  // moved to CLOCK_BOOTTIME
            if (e.has_sched_switch() && e.sched_switch().prev_pid() == 100) {
                EXPECT_EQ(b.cpu(), 0u);
                EXPECT_EQ(e.timestamp(), 1010u);
                EXPECT_EQ(e.sched_switch().prev_state(), 0x1);
                EXPECT_EQ(e.sched_switch().next_comm(), "b");
            }
            if (e.has_sched_waking()) {
                EXPECT_EQ(e.pid(), 101u);  // the waker
                EXPECT_EQ(e.sched_waking().pid(), 100);
            }
            if (e.has_task_rename()) {
                EXPECT_EQ(e.task_rename().newcomm(), "renamed");
            }
        }
    }
    EXPECT_EQ(events, 4);  // in full: their task is not the one the CPU ran last
    EXPECT_EQ(compact_switches, 1);
    EXPECT_EQ(lost_bundles, 1);
    EXPECT_EQ(names[100], "renamed");
    EXPECT_EQ(names[101], "b");  // first seen as the next task of the switch
}
