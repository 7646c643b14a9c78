#include "kernel_features.h"

#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <fstream>
#include <memory>
#include <mutex>

#include "errors.h"

namespace tk {

struct KernelFeatures::BtfHandle {
    struct btf* btf = nullptr;
    ~BtfHandle() { btf__free(btf); }
};

namespace {

bool path_exists(const std::string& p) {
    struct stat st;
    return stat(p.c_str(), &st) == 0;
}

Privileges probe_privileges() {
    Privileges p;
    p.root = geteuid() == 0;
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    if (syscall(SYS_capget, &hdr, data) == 0) {
        auto has = [&](int cap) { return (data[cap / 32].effective >> (cap % 32)) & 1; };
        p.cap_bpf = has(39 /* CAP_BPF */);
        p.cap_perfmon = has(38 /* CAP_PERFMON */);
        p.cap_sys_admin = has(CAP_SYS_ADMIN);
    }
    return p;
}

std::string find_tracefs() {
    for (const char* p : {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"})
        if (path_exists(std::string(p) + "/events"))
            return p;
    return "";
}

// The C spelling of a BTF type, enough to show a tracepoint's prototype.
std::string type_name(const struct btf* btf, __u32 id) {
    std::string suffix;
    for (int depth = 0; depth < 16; depth++) {
        const struct btf_type* t = btf__type_by_id(btf, id);
        if (!t)
            return "?" + suffix;
        switch (btf_kind(t)) {
            case BTF_KIND_PTR:
                suffix = " *" + suffix;
                id = t->type;
                continue;
            case BTF_KIND_CONST:
            case BTF_KIND_VOLATILE:
            case BTF_KIND_RESTRICT:
            case BTF_KIND_TYPE_TAG:
                id = t->type;
                continue;
            case BTF_KIND_STRUCT:
                return "struct " + std::string(btf__name_by_offset(btf, t->name_off)) + suffix;
            case BTF_KIND_UNION:
                return "union " + std::string(btf__name_by_offset(btf, t->name_off)) + suffix;
            case BTF_KIND_ENUM:
                return "enum " + std::string(btf__name_by_offset(btf, t->name_off)) + suffix;
            case 0:
                return "void" + suffix;
            default:
                return std::string(btf__name_by_offset(btf, t->name_off)) + suffix;
        }
    }
    return "?";
}

}  // namespace

const KernelFeatures& KernelFeatures::get() {
    static KernelFeatures* features = [] {
        auto* f = new KernelFeatures();
        f->probe();
        return f;
    }();
    return *features;
}

void KernelFeatures::probe() {
    struct utsname u;
    if (uname(&u) == 0)
        release = u.release;
    privileges = probe_privileges();
    btf = path_exists("/sys/kernel/btf/vmlinux");
    tracefs_path = find_tracefs();
    vmlinux_ = std::make_shared<BtfHandle>();
    if (btf)
        vmlinux_->btf = btf__load_vmlinux_btf();
    if (privileges.can_trace()) {
        int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
        if (fd >= 0) {
            bpf_stats = true;
            close(fd);
        }
    }
}

bool KernelFeatures::btf_has(const std::string& name) const {
    if (!vmlinux_ || !vmlinux_->btf)
        return false;
    return btf__find_by_name(vmlinux_->btf, name.c_str()) > 0;
}

const TracepointSupport& KernelFeatures::tracepoint(const std::string& name) const {
    static std::mutex lock;
    std::lock_guard guard(lock);
    auto it = tracepoints_.find(name);
    if (it != tracepoints_.end())
        return it->second;

    TracepointSupport s;
    auto slash = name.find('/');
    if (slash != std::string::npos) {
        // classic tracepoint "system/event"
        s.tracefs = !tracefs_path.empty() && path_exists(tracefs_path + "/events/" + name);
    } else {
        if (vmlinux_ && vmlinux_->btf) {
            struct btf* b = vmlinux_->btf;
            int id = btf__find_by_name_kind(b, ("btf_trace_" + name).c_str(), BTF_KIND_TYPEDEF);
            if (id > 0) {
                s.typed = true;
                // typedef -> pointer -> function prototype (void *, args...)
                const struct btf_type* t = btf__type_by_id(b, btf__type_by_id(b, id)->type);
                if (t && btf_is_ptr(t))
                    t = btf__type_by_id(b, t->type);
                if (t && btf_is_func_proto(t)) {
                    const struct btf_param* p = btf_params(t);
                    for (int i = 1; i < btf_vlen(t); i++)
                        s.args.push_back(type_name(b, p[i].type));
                }
            }
        }
        if (!tracefs_path.empty()) {
            // sched_switch lives in events/sched/sched_switch; look through the systems
            for (const char* sys : {"sched", "syscalls", "lock", "signal", "raw_syscalls"})
                if (path_exists(tracefs_path + "/events/" + sys + "/" + name))
                    s.tracefs = true;
        }
    }
    return tracepoints_.emplace(name, s).first->second;
}

void KernelFeatures::require_tracing(const std::string& tool, bool as_if_no_btf) const {
    (void)tool;
    if (!privileges.can_trace())
        throw UserError("needs root or CAP_BPF and CAP_PERFMON: run with sudo");
    if (!btf || as_if_no_btf)
        throw UserError(
            "the kernel has no BTF (/sys/kernel/btf/vmlinux is missing): use a kernel built "
            "with CONFIG_DEBUG_INFO_BTF=y");
}

void KernelFeatures::print(std::ostream& out, const std::vector<std::string>& tps) const {
    auto yn = [](bool b) { return b ? "yes" : "no"; };
    out << "kernel:            " << release << "\n";
    out << "privileges:        root " << yn(privileges.root) << ", CAP_BPF "
        << yn(privileges.cap_bpf) << ", CAP_PERFMON " << yn(privileges.cap_perfmon)
        << ", CAP_SYS_ADMIN " << yn(privileges.cap_sys_admin) << " -> "
        << (privileges.can_trace() ? "can trace" : "cannot trace: run with sudo") << "\n";
    out << "BTF:               "
        << (btf ? "/sys/kernel/btf/vmlinux" : "missing (CONFIG_DEBUG_INFO_BTF=y needed)") << "\n";
    out << "tracefs:           "
        << (tracefs_path.empty() ? "not mounted (mount -t tracefs nodev /sys/kernel/tracing)"
                                 : tracefs_path)
        << "\n";
    out << "BPF run-time stats: "
        << (bpf_stats                ? "yes"
            : privileges.can_trace() ? "no"
                                     : "unknown (not privileged)")
        << "\n";
    out << "tracepoints:\n";
    for (auto& name : tps) {
        const auto& s = tracepoint(name);
        out << "  " << name << ": ";
        if (s.typed) {
            out << "tp_btf (";
            for (size_t i = 0; i < s.args.size(); i++)
                out << (i ? ", " : "") << s.args[i];
            out << ")";
            if (s.tracefs)
                out << ", tracefs";
        } else if (s.tracefs) {
            out << "tracefs/raw_tp only (no BTF type)";
        } else {
            out << "MISSING";
        }
        out << "\n";
    }
}

std::string ensure_tracefs() {
    std::string found = find_tracefs();
    if (!found.empty())
        return found;
    if (mount("nodev", "/sys/kernel/tracing", "tracefs", 0, nullptr) == 0 &&
        path_exists("/sys/kernel/tracing/events"))
        return "/sys/kernel/tracing";
    throw UserError(errno_text("tracefs is not mounted and mounting it failed") +
                    ": run 'mount -t tracefs nodev /sys/kernel/tracing' as root");
}

}  // namespace tk
