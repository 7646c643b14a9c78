#include "kernel_symbols.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace lockwait {

KernelSymbols KernelSymbols::load() {
    std::ifstream in("/proc/kallsyms");
    return parse(in);
}

KernelSymbols KernelSymbols::parse(std::istream& in) {
    KernelSymbols k;
    std::string line;
    bool any_address = false;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string addr, type, name, module;
        if (!(fields >> addr >> type >> name))
            continue;
        // functions only: text (t/T) and weak (w/W) symbols
        char t = type.empty() ? 0 : type[0];
        if (t != 't' && t != 'T' && t != 'w' && t != 'W')
            continue;
        fields >> module;
        if (module.size() > 2 && module.front() == '[')
            module = module.substr(1, module.size() - 2);
        uint64_t a = std::strtoull(addr.c_str(), nullptr, 16);
        any_address |= a != 0;
        k.syms_.push_back({a, name, module});
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

}  // namespace lockwait
