#include "address_naming.h"

#include <cstdio>

#include "process_maps.h"
#include "text.h"

namespace tk {

namespace {

bool starts_with(const std::string& s, const char* prefix) {
    return s.rfind(prefix, 0) == 0;
}

// Shared memory as /proc/PID/maps shows it: a tmpfs file, a memfd, System V, or a shared
// anonymous mapping (backed by /dev/zero).
bool is_shared_memory(const Mapping& m) {
    return starts_with(m.path, "/dev/shm/") || starts_with(m.path, "/memfd:") ||
           starts_with(m.path, "/SYSV") || m.path == "/dev/zero" ||
           (m.perms.size() > 3 && m.perms[3] == 's' && m.path.empty());
}

const Mapping* mapping_at(const std::vector<tk::Mapping>& maps, uint64_t a) {
    for (const auto& m : maps)
        if (a >= m.start && a < m.end)
            return &m;
    return nullptr;
}

}  // namespace

const char* lock_name_kind_name(LockNameKind kind) {
    switch (kind) {
        case LockNameKind::Symbol:
            return "symbol";
        case LockNameKind::Mapping:
            return "mapping";
        case LockNameKind::Unknown:
            break;
    }
    return "unknown";
}

LockName name_address(uint64_t address, const NamingContext& ctx) {
    if (ctx.data_symbol) {
        if (auto ds = ctx.data_symbol(address)) {
            std::string name = ds->name;
            if (ds->offset)
                name += "+" + std::to_string(ds->offset);
            if (!ds->module.empty() && ds->module != ctx.executable)
                name += " (" + base_name(ds->module) + ")";
            return {name, LockNameKind::Symbol};
        }
    }
    if (ctx.module_of) {
        // inside a loaded object, but no symbol covers it: a static of a stripped library
        if (auto mod = ctx.module_of(address)) {
            std::string sec = ctx.section ? ctx.section(address) : "";
            return {base_name(mod->first) + (sec.empty() ? "" : " " + sec) + "+" +
                        hex(mod->second) + " (no symbol)",
                    LockNameKind::Mapping};
        }
    }
    if (!ctx.maps)
        return {"unknown: " + hex(address) + " (the process's mappings were not captured)",
                LockNameKind::Unknown};
    const Mapping* m = mapping_at(*ctx.maps, address);
    if (!m)
        return {"unmapped " + hex(address), LockNameKind::Unknown};
    uint64_t off = address - m->start;

    if (m->path == "[heap]")
        return {"[heap]+" + hex(off), LockNameKind::Mapping};
    if (m->path == "[stack]")
        return {"[stack]+" + hex(off) + " (main thread)", LockNameKind::Mapping};
    for (auto& [tid, sp] : ctx.thread_sps)
        if (sp >= m->start && sp < m->end && tid != ctx.main_tid)
            return {"stack of thread " + std::to_string(tid) + "+" + hex(off),
                    LockNameKind::Mapping};
    if (is_shared_memory(*m)) {
        std::string what =
            m->path.empty() || m->path == "/dev/zero" ? "shared anonymous memory" : m->path;
        return {what + "+" + hex(off + m->offset) +
                    (m->deleted && !m->path.empty() && m->path != "/dev/zero" ? " (deleted)" : ""),
                LockNameKind::Mapping};
    }
    if (!m->path.empty() && m->path[0] == '/')
        return {m->path + "+" + hex(off + m->offset), LockNameKind::Mapping};
    if (!m->path.empty())
        return {m->path + "+" + hex(off), LockNameKind::Mapping};
    return {"anonymous mapping " + hex(m->start) + "-" + hex(m->end) + " +" + hex(off),
            LockNameKind::Mapping};
}

NamingContext naming_context(pid_t pid, ProcessMaps& maps, SymbolizerCache& symbols,
                             std::shared_ptr<const std::vector<Mapping>>& maps_out) {
    maps_out = maps.maps_of(pid);
    Symbolizer* sym = symbols.of(pid);
    NamingContext ctx;
    ctx.maps = maps_out.get();
    if (sym) {
        ctx.data_symbol = [sym](uint64_t a) { return sym->data_symbol(a); };
        ctx.section = [sym](uint64_t a) { return sym->section_name(a); };
        ctx.module_of = [sym](uint64_t a) -> std::optional<std::pair<std::string, uint64_t>> {
            auto mod = sym->module_at(a);
            if (!mod)
                return std::nullopt;
            return std::make_pair(mod->name, a - mod->base);
        };
    }
    ctx.executable = symbols.executable_of(pid);
    ctx.main_tid = uint32_t(pid);
    return ctx;
}

}  // namespace tk
