// The four ways pools runs a task: a pool of threads, a new thread per task, a pool of
// processes, a new process (fork) per task. Each executor takes tasks into numbered slots
// (one task in flight per slot) and hands back completions in the order they finish.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/cpus.h"

namespace pools {

enum class Mode { thread_pool, thread_per_task, process_pool, fork_per_task };
const char* mode_name(Mode m);
const std::vector<Mode>& all_modes();

// Fixed-size records, so a pipe carries them whole (writes up to PIPE_BUF are atomic, and
// several workers share one completion pipe).
struct Task {
    uint64_t id;
    uint32_t slot;
    uint32_t pad;
};
struct Completion {
    uint64_t id;
    uint32_t slot;
    int32_t executor;  // thread id or process id that ran it
    uint64_t result;   // the hash the task computed
};

struct TaskWork {
    const std::vector<unsigned char>* buffer = nullptr;
};
uint64_t run_task(const TaskWork& work);

class Executor {
  public:
    virtual ~Executor() = default;
    virtual void submit(const Task& task) = 0;
    virtual Completion next_completion() = 0;
    // Stops and reaps every worker; returns how many ended badly (non-zero exit status).
    virtual uint64_t finish() = 0;
};

std::unique_ptr<Executor> make_executor(Mode mode, unsigned slots, const TaskWork& work,
                                        const wl::CpuList& cpus);

}  // namespace pools
