// RAII owner of a bpftool-generated skeleton: open, set read-only globals, load, attach
// program by program (so a missing probe is reported, not fatal), detach, destroy.
//
//   tk::Skeleton<ctxswitch_bpf> skel(tk::skeleton_ops<ctxswitch_bpf>(
//       ctxswitch_bpf__open, ctxswitch_bpf__load, ctxswitch_bpf__destroy));
//   skel->rodata->launcher_tgid = getpid();
//   skel.load();
//   skel.attach(skel->progs.switch_btf, "sched_switch");
#pragma once

#include <bpf/libbpf.h>

#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "errors.h"

namespace tk {

// Destroys the elements of ITEMS (links) all at once, each in a thread of its own, and
// clears it. Detaching a uprobe or a perf-event tracepoint waits for the kernel's RCU grace
// periods, 20 to 80 ms each here: one after another, a dozen links took a second to let go.
// Together the waits overlap.
template <class T>
void destroy_at_once(std::vector<T>& items) {
    std::vector<std::thread> threads;
    try {
        for (auto& item : items)
            threads.emplace_back([owned = std::move(item)]() mutable {
                auto gone = std::move(owned);
                (void)gone;
            });
    } catch (const std::system_error&) {
        // no thread to spare: what is left goes one by one, below
    }
    for (auto& t : threads)
        t.join();
    items.clear();
}

// libbpf's messages are collected here rather than printed: the tool shows them when a
// load fails (the verifier log says why) or with -v.
void capture_libbpf_messages(bool echo_to_stderr);
std::string take_libbpf_messages();

// A probe we tried to attach: what, whether it worked, and why not.
struct ProbeStatus {
    std::string name;  // "sched_switch (tp_btf)"
    bool attached = false;
    std::string error;  // why not
};

// Run-time statistics of one loaded program (kernel.bpf_stats_enabled).
struct ProgramStats {
    std::string name;
    uint64_t run_count = 0;
    uint64_t run_time_ns = 0;
};

class LinkSet {
  public:
    // Attaches one program; the status is recorded and returned.
    const ProbeStatus& attach(struct bpf_program* prog, const std::string& name);
    // Takes ownership of a link made some other way (a uprobe with options, say); a null
    // link records the failure with errno.
    const ProbeStatus& adopt(struct bpf_link* link, const std::string& name);
    void detach_all() { destroy_at_once(links_); }
    const std::vector<ProbeStatus>& probes() const { return probes_; }
    bool all_attached() const;

  private:
    struct LinkDeleter {
        void operator()(struct bpf_link* l) const { bpf_link__destroy(l); }
    };
    std::vector<std::unique_ptr<struct bpf_link, LinkDeleter>> links_;
    std::vector<ProbeStatus> probes_;
};

template <typename S>
struct SkeletonOps {
    S* (*open)();
    int (*load)(S*);
    void (*destroy)(S*);
};

template <typename S>
SkeletonOps<S> skeleton_ops(S* (*open)(), int (*load)(S*), void (*destroy)(S*)) {
    return {open, load, destroy};
}

template <typename S>
class Skeleton {
  public:
    explicit Skeleton(SkeletonOps<S> ops) : ops_(ops) {
        skel_ = ops_.open();
        if (!skel_)
            throw UserError(errno_text("cannot open the BPF object") + "\n" +
                            take_libbpf_messages());
    }
    ~Skeleton() {
        links_.detach_all();
        if (skel_)
            ops_.destroy(skel_);
    }
    Skeleton(const Skeleton&) = delete;
    Skeleton& operator=(const Skeleton&) = delete;

    S* operator->() { return skel_; }
    S* get() { return skel_; }
    struct bpf_object* object() {
        return skel_->obj;
    }

    // Loads into the kernel; on failure returns the reason (with libbpf's log).
    Status try_load() {
        if (ops_.load(skel_) != 0) {
            int err = errno;
            return Status::error(errno_text("loading the BPF programs failed", err) + "\n" +
                                 take_libbpf_messages());
        }
        loaded_ = true;
        return {};
    }
    bool loaded() const { return loaded_; }

    const ProbeStatus& attach(struct bpf_program* prog, const std::string& name) {
        return links_.attach(prog, name);
    }
    const ProbeStatus& adopt(struct bpf_link* link, const std::string& name) {
        return links_.adopt(link, name);
    }
    void detach_all() { links_.detach_all(); }
    const std::vector<ProbeStatus>& probes() const { return links_.probes(); }

    std::vector<ProgramStats> program_stats();

  private:
    SkeletonOps<S> ops_;
    S* skel_ = nullptr;
    bool loaded_ = false;
    LinkSet links_;
};

std::vector<ProgramStats> program_stats_of(struct bpf_object* obj);

template <typename S>
std::vector<ProgramStats> Skeleton<S>::program_stats() {
    return program_stats_of(object());
}

// Keeps kernel.bpf_stats_enabled on while alive (for -v run-time statistics).
class BpfStatsGuard {
  public:
    BpfStatsGuard();
    ~BpfStatsGuard();
    bool enabled() const { return fd_ >= 0; }

  private:
    int fd_ = -1;
};

}  // namespace tk
