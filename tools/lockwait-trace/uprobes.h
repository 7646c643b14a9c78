// --uprobes: libc's pthread lock functions (glibc 2.34+ keeps them in libc.so.6), probed
// per traced process, and the measured cost of one uprobe hit.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "elf_symbols.h"
#include "errors.h"

struct lockwait_bpf;
struct bpf_link;

namespace lockwait {

struct UprobeCost {
    double ns_per_hit = 0;  // 0: not measured
    std::string how;        // how it was measured, or why not
};

// Whether this kernel has uprobe_multi links (Linux 6.6+): one link per program and
// process instead of one per function, which matters because every uprobe link costs a
// grace period (tens of ms here) when it is closed. Decided before the programs load.
bool kernel_has_uprobe_multi();
// Prepares the programs for uprobe_multi links (before load).
void use_uprobe_multi(lockwait_bpf* skel);

class Uprobes {
  public:
    Uprobes(lockwait_bpf* skel, bool multi);
    ~Uprobes();
    Uprobes(const Uprobes&) = delete;
    Uprobes& operator=(const Uprobes&) = delete;

    // Attaches every probe for one process (its threads; not processes it forks later),
    // unless already done for this pid and libc. Thread-safe.
    tk::Status attach(pid_t pid, const std::string& libc_path);
    // attach() with the libc the process has mapped, if it has one not yet probed.
    void attach_if_new(pid_t pid);
    void detach_all();

    // Times pthread_mutex_lock/unlock pairs in this process with and without the same
    // programs attached; call after detach_all() (the target no longer pays for it).
    UprobeCost calibrate(const std::string& libc_path);

    size_t processes() const;
    size_t links() const;
    std::vector<std::string> warnings() const;

  private:
    // a libbpf link (perf-event uprobe) or a bare uprobe_multi link fd
    class Link {
      public:
        explicit Link(struct bpf_link* l) : link_(l) {}
        explicit Link(int fd) : fd_(fd) {}
        Link(Link&& o) noexcept : link_(o.link_), fd_(o.fd_) { o.link_ = nullptr, o.fd_ = -1; }
        Link& operator=(Link&&) = delete;
        ~Link();

      private:
        struct bpf_link* link_ = nullptr;
        int fd_ = -1;
    };
    tk::Status attach_locked(pid_t pid, const std::string& libc_path, std::vector<Link>& out,
                             bool only_mutex);
    tk::Status offset_of(const std::string& libc, const std::string& function, uint64_t& offset);
    lockwait_bpf* skel_;
    bool multi_;
    mutable std::mutex mutex_;
    std::vector<Link> links_;
    std::set<std::pair<pid_t, std::string>> done_;
    std::map<std::string, std::map<std::string, uint64_t>> offsets_;  // libc -> function -> offset
    std::vector<std::string> warnings_;
};

}  // namespace lockwait
