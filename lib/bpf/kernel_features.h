// What this kernel and this process can do, probed once and cached (bpftrace's feature
// probe, retsnoop's calibration). Every tool asks here before it loads anything, and
// `--features` prints the whole answer.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace tk {

struct Privileges {
    bool root = false;
    bool cap_bpf = false;
    bool cap_perfmon = false;
    bool cap_sys_admin = false;
    // BPF tracing needs root, CAP_SYS_ADMIN, or CAP_BPF together with CAP_PERFMON
    bool can_trace() const { return root || cap_sys_admin || (cap_bpf && cap_perfmon); }
};

// A tracepoint as the kernel offers it to BPF.
struct TracepointSupport {
    bool typed = false;    // BTF has btf_trace_NAME: tp_btf (and raw_tp) can attach
    bool tracefs = false;  // has a tracefs event (classic tracepoint / raw_tp by name)
    // the typed prototype's arguments after the leading void *, e.g. {"bool"}
    std::vector<std::string> args;
    bool exists() const { return typed || tracefs; }
};

class KernelFeatures {
  public:
    // Probed on first use; later calls return the cached answer.
    static const KernelFeatures& get();

    std::string release;  // uname -r
    Privileges privileges;
    bool btf = false;          // /sys/kernel/btf/vmlinux
    std::string tracefs_path;  // empty when tracefs is not reachable
    bool bpf_stats = false;    // BPF run-time statistics can be enabled

    // Looks up (and caches) one tracepoint: "sched_switch", or "syscalls/sys_enter_futex"
    // for a classic tracepoint under a system (checked in tracefs only).
    const TracepointSupport& tracepoint(const std::string& name) const;
    // Resolves a kernel variable or function in BTF (e.g. "__preempt_count").
    bool btf_has(const std::string& name) const;

    // The full report for --features, for the given tracepoints of interest.
    void print(std::ostream& out, const std::vector<std::string>& tracepoints) const;

    // Fatal unless this process may load and attach tracing programs and the kernel has
    // BTF: one line saying what is missing and what to do. AS_IF_NO_BTF: behave as on a
    // kernel without BTF (--without btf, for testing).
    void require_tracing(const std::string& tool, bool as_if_no_btf = false) const;

  private:
    KernelFeatures() = default;
    void probe();
    struct BtfHandle;
    std::shared_ptr<BtfHandle> vmlinux_;
    mutable std::map<std::string, TracepointSupport> tracepoints_;
};

// Mounts tracefs at /sys/kernel/tracing when it is not mounted anywhere (classic
// tracepoints such as syscalls:* need it to be found by libbpf). Returns the mount point
// in use, or an error saying what to do.
std::string ensure_tracefs();

}  // namespace tk
