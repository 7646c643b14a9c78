// Small readers of /proc and pidfds, for choosing and describing targets.
#pragma once

#include <sys/types.h>

#include <istream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tk {

bool process_exists(pid_t pid);
// The threads of a process (/proc/PID/task); empty when it is gone.
std::vector<pid_t> threads_of(pid_t pid);
// The thread group (process) a thread belongs to; nullopt when it is gone.
std::optional<pid_t> tgid_of(pid_t tid);
// Whether TID is a kernel thread (PF_KTHREAD in /proc/TID/stat): it makes no system calls.
bool is_kernel_thread(pid_t tid);
// /proc/TID/comm without the newline; "" when gone.
std::string comm_of(pid_t tid);
// The text-parsing halves of tgid_of and is_kernel_thread, for any text (the fuzz tests
// give them hostile input): the Tgid of /proc/TID/status text (nullopt without one), and
// PF_KTHREAD in /proc/TID/stat text.
std::optional<pid_t> tgid_in_status(std::istream& status);
bool kernel_thread_in_stat(std::string_view stat);
// pidfd for a process, or for a single thread (PIDFD_THREAD, Linux 6.9+). -1 with errno.
int pidfd_open(pid_t pid, bool thread);

// A user-facing error for an unusable -p/-t value (one line, what to do).
std::string describe_missing_task(pid_t pid, bool thread);

}  // namespace tk
