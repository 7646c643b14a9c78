#include "evidence.h"

#include <cxxabi.h>
#include <sys/syscall.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>

namespace crashlab {

namespace {

constexpr long kFutexCmdMask = ~(128L | 256L);  // without PRIVATE and CLOCK_REALTIME
constexpr long kFutexWait = 0, kFutexLockPi = 6, kFutexWaitBitset = 9, kFutexLockPi2 = 13;

// libstdc++'s __cxa_exception layout (unwind-cxx.h), stable since GCC 3.4: the thrown
// object follows the 0x70-byte header; the header's _Unwind_Exception starts at 0x50.
constexpr uint64_t kCxaExceptionSize = 0x70;
constexpr uint64_t kUnwindHeaderOffset = 0x50;

std::string demangle_type(const std::string& mangled) {
    int status = 0;
    char* out = abi::__cxa_demangle(mangled.c_str(), nullptr, nullptr, &status);
    if (status != 0 || !out)
        return mangled;
    std::string s(out);
    free(out);
    return s;
}

// The address __cxa_get_globals returns for the thread with REGS, by evaluating its few
// instructions: the TLS access is either general/local dynamic (lea rdi,[rip+X]; call
// __tls_get_addr, X being a tls_index {module, offset} in the GOT) or initial exec (the
// thread pointer plus an offset loaded from the GOT).
std::optional<uint64_t> eh_globals_address(const AddressSpace& memory,
                                           const user_regs_struct& regs) {
    auto fn = memory.symbolizer().symbol_address("__cxa_get_globals", "libstdc++");
    if (!fn)
        return std::nullopt;
    std::optional<uint64_t> rax, rdi_got;
    uint64_t pc = *fn;
    for (int i = 0; i < 12; i++) {
        std::vector<uint8_t> code = memory.read(pc, 16);
        auto insn = decode(code, pc, nullptr);
        if (!insn)
            return std::nullopt;
        const Operand* mem = insn->memory();
        const std::string& m = insn->mnemonic;
        auto rip_target = [&]() -> std::optional<uint64_t> {
            if (mem && mem->base == "rip")
                return mem->address;
            return std::nullopt;
        };
        auto is_fs0 = [&] { return mem && mem->fs_segment && mem->base.empty() && mem->disp == 0; };
        if (m == "lea" && insn->operands.size() == 2 && insn->operands[0].reg == "rdi") {
            rdi_got = rip_target();
        } else if (insn->is_call) {
            // __tls_get_addr(&tls_index): dtv[module] + offset.
            if (!rdi_got)
                return std::nullopt;
            uint64_t module = 0, offset = 0, dtv = 0, block = 0;
            if (!memory.read_u64(*rdi_got, module) || !memory.read_u64(*rdi_got + 8, offset) ||
                !memory.read_u64(regs.fs_base + 8, dtv) ||
                !memory.read_u64(dtv + module * 16, block) || block == 0 || block == ~uint64_t(0))
                return std::nullopt;
            rax = block + offset;
        } else if ((m == "mov" || m == "add") && insn->operands.size() == 2 &&
                   insn->operands[0].reg == "rax") {
            std::optional<uint64_t> value;
            if (is_fs0()) {
                value = regs.fs_base;
            } else if (auto target = rip_target()) {
                uint64_t v;
                if (memory.read_u64(*target, v))
                    value = v;
            } else if (insn->operands[1].kind == Operand::Kind::Imm) {
                value = insn->operands[1].value;
            }
            if (!value)
                return std::nullopt;
            if (m == "mov")
                rax = value;
            else if (rax)
                rax = *rax + *value;
        } else if (m == "lea" && mem && mem->base == "rax" && mem->index.empty() && rax) {
            rax = *rax + uint64_t(mem->disp);
        } else if (insn->is_ret) {
            return rax;
        }
        pc += insn->bytes.size();
    }
    return std::nullopt;
}

bool in_mutex_lock_path(const ThreadReport& t) {
    for (const FrameReport& f : t.frames)
        if (f.function.find("mutex_lock") != std::string::npos ||
            f.function.find("lll_lock_wait") != std::string::npos ||
            f.function.find("mutex_timedlock") != std::string::npos ||
            f.function.find("mutex_clocklock") != std::string::npos)
            return true;
    return false;
}

}  // namespace

std::string read_abort_message(const AddressSpace& memory) {
    auto sym = memory.symbolizer().symbol_address("__abort_msg", "libc.so");
    uint64_t ptr = 0;
    uint32_t size = 0;
    if (!sym || !memory.read_u64(*sym, ptr) || ptr == 0 || !memory.read_u32(ptr, size))
        return {};
    std::string msg = memory.core().read_string(ptr + 4, std::min<uint32_t>(size, 4096));
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' '))
        msg.pop_back();
    return msg;
}

std::optional<ExceptionInfo> read_current_exception(const AddressSpace& memory,
                                                    const user_regs_struct& regs) {
    auto globals = eh_globals_address(memory, regs);
    uint64_t header = 0;
    if (!globals || !memory.read_u64(*globals, header) || header == 0)
        return std::nullopt;
    // A dependent exception (std::rethrow_exception) points at the primary one.
    std::vector<uint8_t> cls = memory.read(header + kUnwindHeaderOffset, 1);
    if (cls.size() == 1 && (cls[0] & 1)) {
        uint64_t primary = 0;
        if (!memory.read_u64(header, primary) || primary < kCxaExceptionSize)
            return std::nullopt;
        header = primary - kCxaExceptionSize;
    }
    uint64_t tinfo = 0, name_ptr = 0;
    if (!memory.read_u64(header, tinfo) || !memory.read_u64(tinfo + 8, name_ptr))
        return std::nullopt;
    std::string name = memory.core().read_string(name_ptr, 512);
    if (name.empty()) {
        std::vector<uint8_t> bytes = memory.read(name_ptr, 512);
        name.assign(bytes.begin(), bytes.end());
        name = name.substr(0, name.find('\0'));
    }
    if (name.empty())
        return std::nullopt;
    if (name[0] == '*')
        name.erase(0, 1);
    ExceptionInfo info;
    info.type = demangle_type(name);

    // what(): std::runtime_error and std::logic_error (and everything derived from them)
    // keep the message in a reference-counted string whose only member points at the
    // characters, right after the vtable pointer. Walk the single-inheritance chain of
    // type_infos to see whether the thrown type is one of them.
    uint64_t object = header + kCxaExceptionSize;
    uint64_t t = tinfo;
    for (int depth = 0; depth < 16 && t; depth++) {
        uint64_t np = 0;
        if (!memory.read_u64(t + 8, np))
            break;
        std::vector<uint8_t> raw = memory.read(np, 64);
        std::string n(raw.begin(), raw.end());
        n = n.substr(0, n.find('\0'));
        if (n == "St13runtime_error" || n == "St11logic_error") {
            uint64_t chars = 0;
            if (memory.read_u64(object + 8, chars))
                info.message = memory.core().read_string(chars, 1024);
            break;
        }
        uint64_t vptr = 0;
        if (!memory.read_u64(t, vptr))
            break;
        auto vt = memory.symbolizer().data_symbol(vptr);
        if (!vt || vt->name.find("__si_class_type_info") == std::string::npos)
            break;
        if (!memory.read_u64(t + 16, t))
            break;
    }
    return info;
}

std::vector<LockWait> find_lock_waits(const AddressSpace& memory,
                                      const std::vector<ThreadReport>& threads) {
    std::vector<LockWait> waits;
    for (const ThreadReport& t : threads) {
        if (t.syscall != SYS_futex)
            continue;
        long cmd = long(t.regs.rsi) & kFutexCmdMask;
        if (cmd != kFutexWait && cmd != kFutexWaitBitset && cmd != kFutexLockPi &&
            cmd != kFutexLockPi2)
            continue;
        if (!in_mutex_lock_path(t))
            continue;
        // The futex word is the mutex's first field (__lock); __owner is at offset 8.
        LockWait w;
        w.tid = t.tid;
        w.mutex = t.regs.rdi;
        uint32_t owner = 0;
        if (memory.read_u32(w.mutex + 8, owner))
            w.owner = int(owner);
        if (auto sym = memory.symbolizer().data_symbol(w.mutex))
            w.name = sym->offset ? sym->name + "+" + std::to_string(sym->offset) : sym->name;
        else
            w.name = "mutex at " + hex(w.mutex);
        waits.push_back(w);
    }
    return waits;
}

std::vector<size_t> find_wait_cycle(const std::vector<LockWait>& waits) {
    std::map<int, size_t> by_tid;
    for (size_t i = 0; i < waits.size(); i++)
        by_tid.emplace(waits[i].tid, i);
    for (size_t start = 0; start < waits.size(); start++) {
        std::vector<size_t> path;
        std::set<size_t> seen;
        size_t cur = start;
        while (true) {
            if (seen.count(cur)) {
                // The cycle is the part of the path from the first visit of CUR.
                auto it = std::find(path.begin(), path.end(), cur);
                return std::vector<size_t>(it, path.end());
            }
            seen.insert(cur);
            path.push_back(cur);
            auto next = by_tid.find(waits[cur].owner);
            if (next == by_tid.end())
                break;
            cur = next->second;
        }
    }
    return {};
}

}  // namespace crashlab
