#include "stacks.h"

#include <algorithm>
#include <cinttypes>
#include <cstring>
#include <sstream>

#include "histogram.h"
#include "kernel_symbols.h"
#include "process_maps.h"
#include "text.h"

namespace ctxswitch {

namespace {

const std::vector<uint64_t>* ips_of(const RawStacks& raw, int32_t id) {
    if (id < 0)
        return nullptr;
    auto it = raw.ips.find(id);
    return it == raw.ips.end() ? nullptr : &it->second;
}

// A user frame's name: the function (each inlined one too), else the mapping and offset.
std::vector<std::string> user_frames(tk::Symbolizer* sym, const std::vector<uint64_t>* ips) {
    std::vector<std::string> out;
    if (!ips)
        return out;
    for (size_t i = 0; i < ips->size(); i++) {
        uint64_t ip = (*ips)[i];
        if (!sym) {
            out.push_back(tk::hex(ip));
            continue;
        }
        const tk::Symbol& s = sym->symbolize(ip, i > 0);
        bool named = false;
        for (size_t f = 0; f < s.frames.size(); f++) {
            const std::string& fn = s.frames[f].function;
            // (an inlined copy of the function into itself, as glibc's syscall wrappers
            // have, would show the same name twice)
            if (fn.empty() || (f > 0 && fn == s.frames[f - 1].function))
                continue;
            out.push_back(fn);
            named = true;
        }
        if (named)
            continue;
        if (!s.symbol.empty())
            out.push_back(s.symbol);
        else if (!s.module.empty())
            out.push_back(tk::hex(ip) + " [" + tk::base_name(s.module) + "+" +
                          tk::hex(s.module_offset) + "]");
        else
            out.push_back(tk::hex(ip));
    }
    return out;
}

// Kernel frames by function name (the offset would split one function into many frames),
// without the tracing machinery the probe ran in.
std::vector<std::string> kernel_frames(const tk::KernelSymbols* ksyms,
                                       const std::vector<uint64_t>* ips) {
    std::vector<std::string> out;
    if (!ips)
        return out;
    for (uint64_t ip : *ips) {
        std::string fn = ksyms ? ksyms->function(ip) : "";
        if (out.empty() && tk::KernelSymbols::is_tracing_machinery(fn))
            continue;
        out.push_back(fn.empty() ? tk::hex(ip) : fn);
    }
    return out;
}

void render_frames(std::ostringstream& out, const std::vector<std::string>& frames,
                   size_t max_frames) {
    size_t n = std::min(frames.size(), max_frames);
    for (size_t i = 0; i < n; i++)
        out << "        " << frames[i] << "\n";
    if (n < frames.size())
        out << "        ... " << frames.size() - n << " more frames\n";
}

nlohmann::json frames_json(const std::vector<std::string>& frames) {
    return nlohmann::json(frames);
}

std::string process_name(const OffCpuStack& e) {
    return e.comm.empty() ? "pid " + std::to_string(e.pid) : e.comm;
}

}  // namespace

OffCpuStacks resolve_stacks(const RawStacks& raw, const std::map<uint32_t, std::string>& comms,
                            tk::SymbolizerCache& symbols, const tk::KernelSymbols* ksyms) {
    OffCpuStacks out;
    out.enabled = true;
    // the mappings are those of the image a process runs last: a user stack taken before
    // an exec (a launched command waiting to be let go) cannot be named with them
    std::map<uint32_t, uint32_t> last_image;
    for (const auto& row : raw.rows)
        last_image[row.key.pid] = std::max(last_image[row.key.pid], row.key.execs);
    for (const auto& row : raw.rows) {
        const cs_stack_key& k = row.key;
        OffCpuStack e;
        e.pid = k.pid;
        auto comm = comms.find(k.pid);
        if (comm != comms.end())
            e.comm = comm->second;
        e.off_cpu_ns = row.value.off_cpu_ns;
        e.count = row.value.count;
        if (k.execs < last_image[k.pid] && ips_of(raw, k.user_stack))
            e.user = {kBeforeExec};
        else
            e.user = user_frames(symbols.of(pid_t(k.pid)), ips_of(raw, k.user_stack));
        e.kernel = kernel_frames(ksyms, ips_of(raw, k.kernel_stack));
        e.woken = k.waker_comm[0] != 0;
        if (e.woken) {
            e.waker_pid = k.waker_pid;
            e.waker_comm = std::string(k.waker_comm, strnlen(k.waker_comm, sizeof k.waker_comm));
            if (k.waker_pid)
                e.waker_user =
                    user_frames(symbols.of(pid_t(k.waker_pid)), ips_of(raw, k.waker_user_stack));
            e.waker_kernel = kernel_frames(ksyms, ips_of(raw, k.waker_kernel_stack));
        }
        out.off_cpu_ns += e.off_cpu_ns;
        out.count += e.count;
        out.entries.push_back(std::move(e));
    }
    std::stable_sort(
        out.entries.begin(), out.entries.end(),
        [](const OffCpuStack& a, const OffCpuStack& b) { return a.off_cpu_ns > b.off_cpu_ns; });
    for (auto& w : symbols.warnings())
        out.warnings.push_back("symbolizer: " + w);
    return out;
}

std::string stacks_text(const OffCpuStacks& s, uint64_t off_cpu_total_ns, size_t top,
                        size_t max_frames) {
    std::ostringstream out;
    out << tk::strprintf(
        "off-CPU stacks: %zu distinct, %s off-CPU in %" PRIu64
        " periods (%.1f%% of the off-CPU time above)",
        s.entries.size(), tk::format_ns(double(s.off_cpu_ns)).c_str(), s.count,
        off_cpu_total_ns ? 100.0 * double(s.off_cpu_ns) / double(off_cpu_total_ns) : 0.0);
    size_t n = std::min(top, s.entries.size());
    if (n)
        out << "; the top " << n << " by off-CPU time, frames innermost first:";
    out << "\n";
    for (size_t i = 0; i < n; i++) {
        const OffCpuStack& e = s.entries[i];
        out << tk::strprintf("  %s  %5.1f%%  %" PRIu64 " times  %s (pid %u)\n",
                             tk::format_ns(double(e.off_cpu_ns)).c_str(),
                             s.off_cpu_ns ? 100.0 * double(e.off_cpu_ns) / double(s.off_cpu_ns) : 0,
                             e.count, process_name(e).c_str(), e.pid);
        out << "      asleep in (kernel):\n";
        render_frames(out, e.kernel, max_frames);
        out << "      called from (user):\n";
        if (e.user.empty())
            out << "        (no user stack)\n";
        render_frames(out, e.user, max_frames);
        if (!e.woken) {
            out << "      woken by: not seen\n";
            continue;
        }
        if (e.waker_pid)
            out << "      woken by " << e.waker_comm << " (pid " << e.waker_pid << "), in:\n";
        else
            out << "      woken from an interrupt, in:\n";
        render_frames(out, e.waker_kernel, max_frames);
        render_frames(out, e.waker_user, max_frames);
    }
    for (const auto& w : s.warnings)
        out << "warning: " << w << "\n";
    return out.str();
}

nlohmann::json stacks_json(const OffCpuStacks& s) {
    nlohmann::json j = {
        {"off_cpu_ns", s.off_cpu_ns}, {"count", s.count}, {"distinct", s.entries.size()}};
    auto& a = j["stacks"] = nlohmann::json::array();
    for (const auto& e : s.entries) {
        nlohmann::json row = {{"pid", e.pid},
                              {"comm", e.comm},
                              {"off_cpu_ns", e.off_cpu_ns},
                              {"count", e.count},
                              {"user_stack", frames_json(e.user)},
                              {"kernel_stack", frames_json(e.kernel)}};
        if (e.woken)
            row["waker"] = {{"pid", e.waker_pid},
                            {"comm", e.waker_comm},
                            {"user_stack", frames_json(e.waker_user)},
                            {"kernel_stack", frames_json(e.waker_kernel)}};
        a.push_back(std::move(row));
    }
    if (!s.warnings.empty())
        j["warnings"] = s.warnings;
    return j;
}

std::vector<tk::FlameStack> flame_stacks(const OffCpuStacks& s) {
    std::vector<tk::FlameStack> out;
    for (const auto& e : s.entries) {
        if (!e.off_cpu_ns)
            continue;
        tk::FlameStack st;
        st.ns = e.off_cpu_ns;
        st.frames.push_back({process_name(e), tk::FlameKind::task});
        for (auto it = e.user.rbegin(); it != e.user.rend(); ++it)
            st.frames.push_back({*it, tk::FlameKind::user});
        for (auto it = e.kernel.rbegin(); it != e.kernel.rend(); ++it)
            st.frames.push_back({*it, tk::FlameKind::kernel});
        if (e.woken) {
            st.frames.push_back({kWakerSeparator, tk::FlameKind::waker});
            for (const auto& f : e.waker_kernel)
                st.frames.push_back({f, tk::FlameKind::waker});
            for (const auto& f : e.waker_user)
                st.frames.push_back({f, tk::FlameKind::waker});
            st.frames.push_back({e.waker_comm, tk::FlameKind::waker});
        }
        out.push_back(std::move(st));
    }
    return out;
}

std::string folded_stacks(const OffCpuStacks& s) {
    return tk::folded_text(flame_stacks(s));
}

std::string flame_graph(const OffCpuStacks& s, const std::string& command) {
    tk::FlameGraphText text;
    text.title = "ctxswitch-trace: off-CPU time by sleeper stack -- and waker stack";
    text.subtitle = command;
    text.measure = "off-CPU";
    return tk::flame_graph_svg(flame_stacks(s), text);
}

}  // namespace ctxswitch
