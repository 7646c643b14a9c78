// Reading a tracer's BPF maps from user space: per-CPU values, hash-map keys, and the
// per-task state every tracer keeps (bpf/common.bpf.h TK_TASK_STATE).
#pragma once

#include <bpf/bpf.h>
#include <sys/types.h>

#include <array>
#include <set>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

struct bpf_map;

namespace tk {

// libbpf_num_possible_cpus(), or UserError: the size of every per-CPU value.
int possible_cpus();

// Calls f(key) for every key of a hash map (keys added meanwhile may or may not be seen).
template <typename K, typename F>
void for_each_key(int fd, F&& f) {
    K key{}, next{};
    for (int err = bpf_map_get_next_key(fd, nullptr, &next); !err;
         err = bpf_map_get_next_key(fd, &key, &next)) {
        key = next;
        f(key);
    }
}

// Calls f(key, value) for every entry of a hash map (an entry deleted between the key's
// walk and its lookup is skipped).
template <typename K, typename V, typename F>
void for_each_entry(int fd, F&& f) {
    V value{};
    for_each_key<K>(fd, [&](const K& key) {
        if (bpf_map_lookup_elem(fd, &key, &value) == 0)
            f(key, value);
    });
}

// The per-CPU copies of one key of a per-CPU map (empty when the key is missing).
template <typename V, typename K>
std::vector<V> per_cpu_values(int fd, const K& key) {
    std::vector<V> values(static_cast<size_t>(possible_cpus()));
    if (bpf_map_lookup_elem(fd, &key, values.data()) != 0)
        values.clear();
    return values;
}

// N 64-bit counters kept as one per-CPU array value (key 0), added up over the CPUs.
template <size_t N>
std::array<uint64_t, N> sum_per_cpu_counters(int fd) {
    struct Counters {
        uint64_t c[N];
    };
    std::array<uint64_t, N> sum{};
    uint32_t zero = 0;
    for (const auto& cpu : per_cpu_values<Counters>(fd, zero))
        for (size_t i = 0; i < N; i++)
            sum[i] += cpu.c[i];
    return sum;
}

// The stacks of a BPF_MAP_TYPE_STACK_TRACE map (fd) that IDS name (negative ids: none),
// DEPTH addresses deep, innermost frame first, without the zero padding.
std::map<int32_t, std::vector<uint64_t>> read_stack_traces(int fd, const std::set<int32_t>& ids,
                                                           size_t depth);

// The maps in which a tracer's BPF side keeps per-task state: task-local storage for the
// tp_btf programs (from user space its key is a pidfd of the task), a tid-keyed hash for
// the raw_tp twins, and `live`, the tid -> pid index of the traced tasks alive now.
class TaskStateMaps {
  public:
    TaskStateMaps(int task_storage_fd, int by_tid_fd, int live_fd, bool use_task_storage)
        : storage_(task_storage_fd),
          by_tid_(by_tid_fd),
          live_(live_fd),
          task_storage_(use_task_storage) {}

    // Gives thread TID of process PID its first state (VALUE, the map's value type). False
    // when it is gone, or already has a state (its creator's fork probe was first).
    bool adopt(pid_t tid, pid_t pid, const void* value) const;

    // Adopts every thread of PID, VALUE(tid) giving each one's first state; walks
    // /proc/PID/task again until a pass finds no new thread (threads created meanwhile by
    // an adopted thread are adopted by the fork probe). Throws UserError when PID is gone.
    // Returns how many threads it adopted.
    size_t adopt_process(pid_t pid, const std::function<const void*(pid_t tid)>& value) const;

    // Adopts thread TID alone, VALUE(pid) giving its first state. Throws UserError when it
    // is gone or already traced.
    void adopt_thread(pid_t tid, const std::function<const void*(pid_t pid)>& value) const;

    // -p and -t for a tool whose per-task STATE has `follow` (trace what the task creates)
    // and `stats.tid`, `stats.pid`: the first state is that, zero elsewhere.
    template <typename State>
    size_t trace_process(pid_t pid) const {
        State st{};
        return adopt_process(pid,
                             [&](pid_t tid) { return &(st = first_state<State>(tid, pid, true)); });
    }
    template <typename State>
    void trace_thread(pid_t tid) const {
        State st{};
        adopt_thread(tid, [&](pid_t pid) { return &(st = first_state<State>(tid, pid, false)); });
    }

    // Reads the state of every live traced task into VALUE (the map's value type) and calls
    // fn(tid, pid) with it; tasks that ended meanwhile are skipped.
    void for_each_live(void* value,
                       const std::function<void(uint32_t tid, uint32_t pid)>& fn) const;

    size_t live_count() const;

  private:
    template <typename State>
    static State first_state(pid_t tid, pid_t pid, bool follow) {
        State st{};
        st.follow = follow;
        st.stats.tid = uint32_t(tid);
        st.stats.pid = uint32_t(pid);
        return st;
    }

    int storage_, by_tid_, live_;
    bool task_storage_;
};

// Sizes a tracer's thread records before load (bpf/common.bpf.h TK_THREAD_RECORDS: `live`
// and `exited`) for COUNT threads (--max-threads). TASK_STATE_HASH, the raw_tp twins'
// tid-keyed task state (TK_TASK_STATE; null for a tool without it), gets the same size when
// it is used and one entry when task storage is. Throws UserError when libbpf refuses.
void size_thread_records(bpf_map* live, bpf_map* exited, bpf_map* task_state_hash,
                         bool task_storage, uint32_t count);

// Adds to WARNINGS the report's line for threads that did not fit in records of KEPT threads
// (DROPPED_LIVE from the live index, DROPPED_EXITED from the exited records), if any.
void warn_of_dropped_threads(std::vector<std::string>& warnings, uint32_t kept,
                             uint64_t dropped_live, uint64_t dropped_exited);

// The threads of a report: LIVE (tid -> row, read from their state first), then the final
// records of the threads that ended, from EXITED_FD (a hash keyed by exit sequence number
// whose values are ROW's `stats`, with `tid` and `comm`). A thread that ended after it was
// read live is taken from `exited`; a reused tid may appear more than once.
template <typename Row>
std::vector<Row> threads_with_exited(int exited_fd, std::map<uint32_t, Row> live) {
    std::vector<Row> out;
    for_each_key<uint32_t>(exited_fd, [&](uint32_t key) {
        Row row;
        if (bpf_map_lookup_elem(exited_fd, &key, &row.stats) != 0)
            return;
        row.comm.assign(row.stats.comm, strnlen(row.stats.comm, sizeof row.stats.comm));
        row.alive = false;
        live.erase(row.stats.tid);
        out.push_back(row);
    });
    for (auto& [tid, row] : live)
        out.push_back(row);
    return out;
}

}  // namespace tk
