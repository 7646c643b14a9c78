#include "bpf_maps.h"

#include <algorithm>

#include <bpf/libbpf.h>
#include <unistd.h>

#include <set>

#include "errors.h"
#include "proc.h"

namespace tk {

void size_thread_records(bpf_map* live, bpf_map* exited, bpf_map* task_state_hash,
                         bool task_storage, uint32_t count) {
    int err = bpf_map__set_max_entries(live, count) || bpf_map__set_max_entries(exited, count);
    if (task_state_hash)
        err = err || bpf_map__set_max_entries(task_state_hash, task_storage ? 1 : count);
    if (err)
        throw UserError("cannot size the thread records for --max-threads " +
                        std::to_string(count));
}

void warn_of_dropped_threads(std::vector<std::string>& warnings, uint32_t kept,
                             uint64_t dropped_live, uint64_t dropped_exited) {
    if (!dropped_live && !dropped_exited)
        return;
    warnings.push_back("more threads than the " + std::to_string(kept) +
                       " kept: rows missing for threads that did not fit (dropped: " +
                       std::to_string(dropped_live) + " alive, " + std::to_string(dropped_exited) +
                       " ended); the totals count them all; raise --max-threads");
}

int possible_cpus() {
    static const int n = libbpf_num_possible_cpus();
    if (n <= 0)
        throw UserError("cannot read the number of possible CPUs");
    return n;
}

bool TaskStateMaps::adopt(pid_t tid, pid_t pid, const void* value) const {
    int err;
    if (task_storage_) {
        int fd = pidfd_open(tid, tid != pid);
        if (fd < 0)
            return false;  // gone meanwhile
        err = bpf_map_update_elem(storage_, &fd, value, BPF_NOEXIST);
        close(fd);
    } else {
        uint32_t key = uint32_t(tid);
        err = bpf_map_update_elem(by_tid_, &key, value, BPF_NOEXIST);
    }
    if (err)
        return false;
    uint32_t k = uint32_t(tid), v = uint32_t(pid);
    bpf_map_update_elem(live_, &k, &v, BPF_ANY);
    return true;
}

size_t TaskStateMaps::adopt_process(pid_t pid,
                                    const std::function<const void*(pid_t tid)>& value) const {
    std::set<pid_t> seen;
    size_t adopted = 0;
    for (int pass = 0; pass < 100; pass++) {
        bool fresh = false;
        for (pid_t tid : threads_of(pid)) {
            if (!seen.insert(tid).second)
                continue;
            fresh = true;
            adopted += adopt(tid, pid, value(tid));
        }
        if (!fresh)
            break;
    }
    if (seen.empty())
        throw UserError(describe_missing_task(pid, false));
    return adopted;
}

void TaskStateMaps::adopt_thread(pid_t tid,
                                 const std::function<const void*(pid_t pid)>& value) const {
    auto pid = tgid_of(tid);
    if (!pid)
        throw UserError(describe_missing_task(tid, true));
    if (!adopt(tid, *pid, value(*pid)))
        throw UserError("cannot trace thread " + std::to_string(tid) +
                        ": it is gone or already traced");
}

void TaskStateMaps::for_each_live(void* value,
                                  const std::function<void(uint32_t tid, uint32_t pid)>& fn) const {
    for_each_key<uint32_t>(live_, [&](uint32_t tid) {
        uint32_t pid = 0;
        if (bpf_map_lookup_elem(live_, &tid, &pid) != 0)
            return;
        int found;
        if (task_storage_) {
            int fd = pidfd_open(pid_t(tid), tid != pid);
            if (fd < 0)
                return;
            found = bpf_map_lookup_elem(storage_, &fd, value);
            close(fd);
        } else {
            found = bpf_map_lookup_elem(by_tid_, &tid, value);
        }
        if (found == 0)
            fn(tid, pid);
    });
}

size_t TaskStateMaps::live_count() const {
    size_t n = 0;
    for_each_key<uint32_t>(live_, [&](uint32_t) { n++; });
    return n;
}

std::map<int32_t, std::vector<uint64_t>> read_stack_traces(int fd, const std::set<int32_t>& ids,
                                                           size_t depth) {
    std::map<int32_t, std::vector<uint64_t>> out;
    std::vector<uint64_t> ips(depth);
    for (int32_t id : ids) {
        if (id < 0)
            continue;
        std::fill(ips.begin(), ips.end(), 0);
        uint32_t key = uint32_t(id);
        if (bpf_map_lookup_elem(fd, &key, ips.data()) != 0)
            continue;
        auto& frames = out[id];
        for (uint64_t ip : ips) {
            if (!ip)
                break;
            frames.push_back(ip);
        }
    }
    return out;
}

}  // namespace tk
