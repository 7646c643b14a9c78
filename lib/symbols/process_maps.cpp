#include "process_maps.h"

#include <algorithm>

#include "proc.h"

namespace tk {

namespace {

// What tells two address-space layouts apart: the files mapped and where they are based.
std::string layout_signature(const std::vector<Mapping>& maps) {
    std::string sig;
    for (const auto& m : maps)
        if (!m.path.empty() && m.path[0] == '/')
            sig += m.path + "@" + std::to_string(m.start - m.offset) + ";";
    return sig;
}

}  // namespace

bool ProcessMaps::capture(pid_t pid) {
    auto maps = std::make_shared<std::vector<Mapping>>();
    if (!read_proc_maps(pid, *maps) || maps->empty())
        return false;
    std::lock_guard guard(mutex_);
    maps_[pid] = std::move(maps);
    captures_++;
    return true;
}

bool ProcessMaps::covers(pid_t pid, uint64_t address) const {
    std::lock_guard guard(mutex_);
    auto it = maps_.find(pid);
    if (it == maps_.end())
        return false;
    for (const auto& m : *it->second)
        if (address >= m.start && address < m.end)
            return true;
    return false;
}

void ProcessMaps::note_parent(pid_t pid, pid_t ppid) {
    std::lock_guard guard(mutex_);
    if (ppid > 0 && ppid != pid)
        parent_.emplace(pid, ppid);
}

std::shared_ptr<const std::vector<Mapping>> ProcessMaps::maps_of(pid_t pid) const {
    std::lock_guard guard(mutex_);
    for (int depth = 0; depth < 16; depth++) {
        auto it = maps_.find(pid);
        if (it != maps_.end())
            return it->second;
        auto p = parent_.find(pid);
        if (p == parent_.end())
            return nullptr;
        pid = p->second;
    }
    return nullptr;
}

std::vector<pid_t> ProcessMaps::pids() const {
    std::lock_guard guard(mutex_);
    std::vector<pid_t> out;
    for (auto& [pid, m] : maps_)
        out.push_back(pid);
    return out;
}

size_t ProcessMaps::captures() const {
    std::lock_guard guard(mutex_);
    return captures_;
}

Symbolizer* SymbolizerCache::of(pid_t pid) {
    auto it = by_pid_.find(pid);
    if (it != by_pid_.end())
        return it->second;
    auto maps = maps_.maps_of(pid);
    if (!maps && process_exists(pid) && maps_.capture(pid))
        maps = maps_.maps_of(pid);
    if (!maps)
        return by_pid_[pid] = nullptr;
    std::string sig = layout_signature(*maps);
    auto& slot = by_layout_[sig];
    if (!slot) {
        slot = std::make_unique<Symbolizer>();
        slot->add_mappings(*maps);
    }
    return by_pid_[pid] = slot.get();
}

std::string SymbolizerCache::executable_of(pid_t pid) {
    auto maps = maps_.maps_of(pid);
    if (!maps)
        return "";
    // the lowest file mapping is the program (PIE or not, libraries load above it)
    for (const auto& m : *maps)
        if (!m.path.empty() && m.path[0] == '/')
            return m.path;
    return "";
}

std::vector<std::string> SymbolizerCache::warnings() const {
    std::vector<std::string> out;
    for (auto& [sig, sym] : by_layout_)
        for (auto& w : sym->warnings())
            if (std::find(out.begin(), out.end(), w) == out.end())
                out.push_back(w);
    return out;
}

}  // namespace tk
