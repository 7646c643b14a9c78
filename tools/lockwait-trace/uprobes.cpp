#include "uprobes.h"

#include <bpf/libbpf.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "bpf_skeleton.h"
#include "elf_function.h"
#include "kernel_features.h"
#include "lockwait.h"
#include "lockwait.skel.h"
#include "proc.h"
#include "uprobe_cost.h"

namespace lockwait {

namespace {

// Where a probe goes: the function, the program, and the cookie (the kind of lock call).
struct ProbeSpec {
    const char* function;
    bpf_program* prog;
    bool retprobe;
    uint64_t cookie;
    bool mutex_only;  // part of the calibration set
};

std::vector<ProbeSpec> probe_specs(lockwait_bpf* s) {
    auto& p = s->progs;
    return {
        {"pthread_mutex_lock", p.ulock_enter, false, LW_U_MUTEX, true},
        {"pthread_mutex_lock", p.ulock_return, true, 0, true},
        {"pthread_mutex_unlock", p.uunlock_enter, false, LW_U_MUTEX, true},
        {"pthread_mutex_trylock", p.ulock_enter, false, LW_U_MUTEX_TRY, false},
        {"pthread_mutex_trylock", p.ulock_return, true, 0, false},
        {"pthread_rwlock_rdlock", p.ulock_enter, false, LW_U_RWLOCK_READ, false},
        {"pthread_rwlock_rdlock", p.ulock_return, true, 0, false},
        {"pthread_rwlock_wrlock", p.ulock_enter, false, LW_U_RWLOCK_WRITE, false},
        {"pthread_rwlock_wrlock", p.ulock_return, true, 0, false},
        {"pthread_rwlock_unlock", p.uunlock_enter, false, LW_U_RWLOCK_WRITE, false},
        {"pthread_cond_wait", p.ucond_enter, false, 0, false},
        {"pthread_cond_wait", p.ucond_return, true, 0, false},
        {"pthread_cond_timedwait", p.ucond_enter, false, 0, false},
        {"pthread_cond_timedwait", p.ucond_return, true, 0, false},
        {"pthread_cond_clockwait", p.ucond_enter, false, 0, false},
        {"pthread_cond_clockwait", p.ucond_return, true, 0, false},
    };
}

// BPF_LINK_CREATE for a uprobe_multi link, as the kernel lays it out (the system's
// linux/bpf.h and libbpf 1.1 predate it).
constexpr uint32_t kAttachUprobeMulti = 48;  // BPF_TRACE_UPROBE_MULTI
constexpr uint32_t kUprobeMultiReturn = 1;   // BPF_F_UPROBE_MULTI_RETURN
struct UprobeMultiAttr {
    uint32_t prog_fd, target_fd, attach_type, flags;
    uint64_t path, offsets, ref_ctr_offsets, cookies;
    uint32_t cnt, multi_flags, pid, pad;
};
static_assert(sizeof(UprobeMultiAttr) == 64);

}  // namespace

bool kernel_has_uprobe_multi() {
    return tk::KernelFeatures::get().btf_has("bpf_uprobe_multi_link");
}

void use_uprobe_multi(lockwait_bpf* s) {
    for (auto* p : {s->progs.ulock_enter, s->progs.ulock_return, s->progs.uunlock_enter,
                    s->progs.ucond_enter, s->progs.ucond_return})
        bpf_program__set_expected_attach_type(p, bpf_attach_type(kAttachUprobeMulti));
}

Uprobes::Link::~Link() {
    if (link_)
        bpf_link__destroy(link_);
    if (fd_ >= 0)
        close(fd_);
}

Uprobes::Uprobes(lockwait_bpf* skel, bool multi) : skel_(skel), multi_(multi) {}
Uprobes::~Uprobes() {
    detach_all();
}

tk::Status Uprobes::offset_of(const std::string& libc, const std::string& function,
                              uint64_t& offset) {
    auto& offsets = offsets_[libc];
    auto it = offsets.find(function);
    if (it == offsets.end()) {
        std::string error;
        auto f = tk::find_elf_function(libc, function, error);
        if (!f)
            return tk::Status::error(error);
        it = offsets.emplace(function, f->file_offset).first;
    }
    offset = it->second;
    return {};
}

tk::Status Uprobes::attach_locked(pid_t pid, const std::string& libc, std::vector<Link>& out,
                                  bool only_mutex) {
    // the functions of every program, with their cookies
    std::map<bpf_program*, std::pair<std::vector<uint64_t>, std::vector<uint64_t>>> per_prog;
    std::map<bpf_program*, bool> returns;
    for (const auto& spec : probe_specs(skel_)) {
        if (only_mutex && !spec.mutex_only)
            continue;
        uint64_t offset = 0;
        tk::Status st = offset_of(libc, spec.function, offset);
        if (!st) {
            // an old libc may lack pthread_cond_clockwait: report, go on
            if (std::find(warnings_.begin(), warnings_.end(), st.message()) == warnings_.end())
                warnings_.push_back(st.message());
            continue;
        }
        auto failed = [&](int err) {
            return tk::Status::error(tk::errno_text(std::string("cannot attach a uprobe to ") +
                                                        spec.function + " in " + libc +
                                                        " for pid " + std::to_string(pid),
                                                    err));
        };
        if (multi_) {
            per_prog[spec.prog].first.push_back(offset);
            per_prog[spec.prog].second.push_back(spec.cookie);
            returns[spec.prog] = spec.retprobe;
            continue;
        }
        LIBBPF_OPTS(bpf_uprobe_opts, opts, .bpf_cookie = spec.cookie, .retprobe = spec.retprobe);
        struct bpf_link* link =
            bpf_program__attach_uprobe_opts(spec.prog, pid, libc.c_str(), offset, &opts);
        if (!link)
            return failed(errno);
        out.emplace_back(link);
    }
    for (auto& [prog, oc] : per_prog) {
        UprobeMultiAttr attr{};
        attr.prog_fd = uint32_t(bpf_program__fd(prog));
        attr.attach_type = kAttachUprobeMulti;
        attr.path = uint64_t(uintptr_t(libc.c_str()));
        attr.offsets = uint64_t(uintptr_t(oc.first.data()));
        attr.cookies = uint64_t(uintptr_t(oc.second.data()));
        attr.cnt = uint32_t(oc.first.size());
        attr.multi_flags = returns[prog] ? kUprobeMultiReturn : 0;
        attr.pid = uint32_t(pid);
        int fd = int(syscall(SYS_bpf, BPF_LINK_CREATE, &attr, sizeof attr));
        if (fd < 0)
            return tk::Status::error(tk::errno_text(std::string("cannot attach uprobes (") +
                                                    bpf_program__name(prog) + ") in " + libc +
                                                    " for pid " + std::to_string(pid)));
        out.emplace_back(fd);
    }
    return {};
}

tk::Status Uprobes::attach(pid_t pid, const std::string& libc) {
    std::lock_guard guard(mutex_);
    if (libc.empty())
        return tk::Status::error("pid " + std::to_string(pid) + " has no libc.so.6 mapped");
    if (done_.count({pid, libc}))
        return {};
    std::vector<Link> fresh;
    tk::Status st = attach_locked(pid, libc, fresh, false);
    if (!st)
        return st;
    for (auto& l : fresh)
        links_.push_back(std::move(l));
    done_.insert({pid, libc});
    return {};
}

void Uprobes::attach_if_new(pid_t pid) {
    std::string libc = libc_of(pid);
    if (libc.empty())
        return;
    tk::Status st = attach(pid, libc);
    if (!st && tk::process_exists(pid)) {  // one that ended meanwhile needs no probes
        std::lock_guard guard(mutex_);
        warnings_.push_back(st.message());
    }
}

void Uprobes::detach_all() {
    std::lock_guard guard(mutex_);
    tk::destroy_at_once(links_);
}

size_t Uprobes::processes() const {
    std::lock_guard guard(mutex_);
    std::set<pid_t> pids;
    for (auto& [pid, libc] : done_)
        pids.insert(pid);
    return pids.size();
}

size_t Uprobes::links() const {
    std::lock_guard guard(mutex_);
    return links_.size();
}

std::vector<std::string> Uprobes::warnings() const {
    std::lock_guard guard(mutex_);
    return warnings_;
}

namespace {

// ns for `n` lock/unlock pairs on a private mutex
// N lock/unlock pairs of a mutex nobody else takes: 3 uprobe hits each (the lock's entry
// and return, the unlock's entry).
void lock_unlock_pairs(int n) {
    static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    for (int i = 0; i < n; i++) {
        pthread_mutex_lock(&m);
        pthread_mutex_unlock(&m);
    }
}

}  // namespace

UprobeCost Uprobes::calibrate(const std::string& libc) {
    constexpr int kPairs = 4000, kRounds = 3;
    UprobeCost cost;
    if (libc.empty()) {
        cost.how = "not measured: no libc.so.6 in this process";
        return cost;
    }
    std::vector<Link> links;
    tk::Status st;
    cost.ns_per_hit = tk::measure_uprobe_hit_ns([] { lock_unlock_pairs(kPairs); }, 3 * kPairs,
                                                [&] {
                                                    std::lock_guard guard(mutex_);
                                                    st = attach_locked(getpid(), libc, links, true);
                                                    return bool(st);
                                                },
                                                [&] { tk::destroy_at_once(links); }, kRounds);
    if (!st) {
        cost.how = "not measured: " + st.message();
        return cost;
    }
    char buf[200];
    snprintf(buf, sizeof buf,
             "measured here after the run: %d pthread_mutex_lock/unlock pairs with and without the "
             "same uprobes "
             "(3 hits a pair: entry, return, entry), medians of %d rounds",
             kPairs, kRounds);
    cost.how = buf;
    return cost;
}

}  // namespace lockwait
