#include "kernel_symbols.h"

#include <algorithm>
#include <cstdio>
#include <fstream>

namespace tk {

KernelSymbols KernelSymbols::load() {
    std::ifstream in("/proc/kallsyms");
    return parse(in);
}

KernelSymbols KernelSymbols::parse(std::istream& in) {
    // ~120k lines: split by hand, istringstream per line takes half a second
    KernelSymbols k;
    std::string line;
    bool any_address = false;
    while (std::getline(in, line)) {
        // "ffffffff81000000 T _stext" or "... t helper\t[module]"
        size_t sp1 = line.find(' ');
        if (sp1 == std::string::npos || sp1 + 3 >= line.size() || line[sp1 + 2] != ' ')
            continue;
        char t = line[sp1 + 1];
        // functions only: text (t/T) and weak (w/W) symbols
        if (t != 't' && t != 'T' && t != 'w' && t != 'W')
            continue;
        size_t name_start = sp1 + 3;
        size_t name_end = line.find_first_of(" \t", name_start);
        std::string name = line.substr(
            name_start, name_end == std::string::npos ? std::string::npos : name_end - name_start);
        std::string module;
        if (name_end != std::string::npos) {
            size_t open = line.find('[', name_end), close = line.rfind(']');
            if (open != std::string::npos && close != std::string::npos && close > open)
                module = line.substr(open + 1, close - open - 1);
        }
        uint64_t a = std::strtoull(line.c_str(), nullptr, 16);
        any_address |= a != 0;
        k.syms_.push_back({a, std::move(name), std::move(module)});
    }
    if (!any_address) {
        k.syms_.clear();
        return k;
    }
    std::stable_sort(k.syms_.begin(), k.syms_.end(),
                     [](const Sym& a, const Sym& b) { return a.address < b.address; });
    return k;
}

const KernelSymbols::Sym* KernelSymbols::find(uint64_t address) const {
    auto it = std::upper_bound(syms_.begin(), syms_.end(), address,
                               [](uint64_t a, const Sym& s) { return a < s.address; });
    if (it == syms_.begin())
        return nullptr;
    --it;
    // a symbol that several names share: the first one listed
    auto first = it;
    while (first != syms_.begin() && (first - 1)->address == it->address)
        --first;
    // past the end of the last function of a region: not a function
    constexpr uint64_t kMaxFunctionSize = 1 << 20;
    if (address - first->address >= kMaxFunctionSize)
        return nullptr;
    return &*first;
}

std::string KernelSymbols::describe(uint64_t address) const {
    char buf[64];
    const Sym* s = find(address);
    if (!s) {
        snprintf(buf, sizeof buf, "0x%llx", (unsigned long long)address);
        return buf;
    }
    snprintf(buf, sizeof buf, "+0x%llx", (unsigned long long)(address - s->address));
    std::string out = s->name + buf;
    if (!s->module.empty())
        out += " [" + s->module + "]";
    return out;
}

std::string KernelSymbols::function(uint64_t address) const {
    const Sym* s = find(address);
    return s ? s->name : "";
}

bool KernelSymbols::is_tracing_machinery(const std::string& function) {
    for (const char* prefix : {"bpf_", "__bpf", "__traceiter", "trace_contention", "perf_"})
        if (function.rfind(prefix, 0) == 0)
            return true;
    return false;
}

}  // namespace tk
