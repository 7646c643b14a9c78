#include "analysis.h"
#include "classify.h"

#include <elf.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <map>

#include "compressed_core.h"
#include "evidence.h"
#include "signals.h"
#include "signature.h"

namespace crashlab {

namespace {

std::string perms_text(uint32_t flags) {
    std::string p = "---";
    if (flags & PF_R)
        p[0] = 'r';
    if (flags & PF_W)
        p[1] = 'w';
    if (flags & PF_X)
        p[2] = 'x';
    return p;
}

bool canonical(uint64_t addr) {
    uint64_t top = addr >> 47;
    return top == 0 || top == 0x1ffff;
}

std::string syscall_name(long nr) {
    static const std::map<long, const char*> names = {
        {0, "read"},
        {1, "write"},
        {7, "poll"},
        {16, "ioctl"},
        {23, "select"},
        {24, "sched_yield"},
        {34, "pause"},
        {35, "nanosleep"},
        {42, "connect"},
        {43, "accept"},
        {44, "sendto"},
        {45, "recvfrom"},
        {46, "sendmsg"},
        {47, "recvmsg"},
        {61, "wait4"},
        {62, "kill"},
        {200, "tkill"},
        {234, "tgkill"},
        {72, "fcntl"},
        {128, "rt_sigtimedwait"},
        {130, "rt_sigsuspend"},
        {202, "futex"},
        {230, "clock_nanosleep"},
        {232, "epoll_wait"},
        {247, "waitid"},
        {257, "openat"},
        {270, "pselect6"},
        {271, "ppoll"},
        {281, "epoll_pwait"},
        {288, "accept4"},
        {426, "io_uring_enter"},
        {441, "epoll_pwait2"},
        {449, "futex_waitv"},
    };
    auto it = names.find(nr);
    return it != names.end() ? it->second : "syscall " + std::to_string(nr);
}

// Where is ADDR: null page, stack guard, a mapping (which, which permissions, which
// section and object), a hole between mappings, or not an address at all.
FaultInfo describe_address(uint64_t addr, const CoreFile& core, tk::Symbolizer& sym,
                           const std::vector<ThreadReport>& threads, int signo, int code) {
    FaultInfo f;
    f.address = addr;
    if (!canonical(addr)) {
        f.region = "non-canonical";
        f.description = "non-canonical address (not a valid user or kernel pointer)";
        return f;
    }
    const Segment* seg = core.segment_at(addr);
    // Neighbours, for "N KiB past the end of X".
    for (const Segment& s : core.segments()) {
        if (s.end() <= addr)
            f.nearest_below = s.end();
        else if (s.vaddr > addr && !f.nearest_above)
            f.nearest_above = s.vaddr;
    }
    // A stack overflow faults right at the stack pointer of the thread that overflowed (the
    // one that took the signal), in the guard page or the gap below its stack. Other
    // threads' stacks do not count: a freed block next to one is not an overflow.
    auto near_crashing_sp = [&](uint64_t a) -> const ThreadReport* {
        if (threads.empty())
            return nullptr;
        uint64_t sp = threads.front().regs.rsp;
        return (sp > a ? sp - a : a - sp) <= 64 * 1024 ? &threads.front() : nullptr;
    };
    if (seg) {
        f.perms = perms_text(seg->flags);
        if (const FileMapping* fm = core.file_at(addr)) {
            f.mapping = fm->path;
            uint64_t file_off = fm->offset + (addr - fm->start);
            f.description =
                "in " + fm->path + " (" + f.perms + ", file offset " + hex(file_off) + ")";
            std::string path = fm->path;
            strip_deleted(path);
            struct stat st;
            if (signo == SIGBUS && code == BUS_ADRERR) {
                if (stat(path.c_str(), &st) == 0 && uint64_t(st.st_size) <= file_off) {
                    f.region = "past-end-of-file";
                    f.description = "file offset " + hex(file_off) + ", but " + path + " is " +
                                    std::to_string(st.st_size) + " bytes now";
                    return f;
                }
                f.region = "past-end-of-file";
                f.description = "file offset " + hex(file_off) + " of " + path +
                                ": the kernel found no file page there (the file is shorter "
                                "than its mapping)";
                return f;
            }
        } else {
            const ThreadReport* t = nullptr;
            for (const ThreadReport& th : threads)
                if (th.regs.rsp >= seg->vaddr && th.regs.rsp < seg->end())
                    t = &th;
            f.mapping = t ? "[stack of thread " + std::to_string(t->tid) + "]" : "";
            f.description = "in anonymous memory " + hex(seg->vaddr) + "-" + hex(seg->end()) +
                            " (" + f.perms + ")" +
                            (t ? ", the stack of thread " + std::to_string(t->tid) : "");
        }
        f.section = sym.section_name(addr);
        f.symbol = sym.data_symbol(addr);
        if (!f.section.empty())
            f.description += ", section " + f.section;
        if (f.symbol)
            f.description += ", object " + f.symbol->name +
                             (f.symbol->offset ? "+" + std::to_string(f.symbol->offset) : "");
        if (seg->flags == 0) {
            const ThreadReport* t = near_crashing_sp(addr);
            f.region = t ? "stack-guard" : "guard-page";
            f.description =
                "in a PROT_NONE guard page" +
                (t ? " below the stack of thread " + std::to_string(t->tid) : std::string());
            return f;
        }
        f.region = "mapped";
        return f;
    }
    if (addr < kNullPageLimit) {
        f.region = "null-page";
        f.description = "NULL + " + hex(addr) + " (the first " +
                        std::to_string(kNullPageLimit / 1024) + " KiB are never mapped)";
        return f;
    }
    if (const ThreadReport* t = near_crashing_sp(addr)) {
        f.region = "stack-guard";
        f.description = "below the stack of thread " + std::to_string(t->tid) + " (sp " +
                        hex(t->regs.rsp) + "), in the gap the kernel keeps under a stack";
        return f;
    }
    f.region = "unmapped";
    f.description = "in no mapping";
    if (f.nearest_below)
        f.description +=
            ": " + format_bytes(addr - f.nearest_below) + " past the end of the mapping below";
    if (f.nearest_above)
        f.description += std::string(f.nearest_below ? "," : ":") + " " +
                         format_bytes(f.nearest_above - addr) + " before the next one";
    return f;
}

// The executable: --exe, else the file mapped at the entry point (NT_FILE + AT_ENTRY).
std::string find_executable(const CoreFile& core) {
    if (auto entry = core.auxv_value(AT_ENTRY))
        if (const FileMapping* f = core.file_at(*entry))
            return f->path;
    if (auto execfn = core.auxv_value(AT_EXECFN)) {
        std::string s = core.read_string(*execfn, 4096);
        if (!s.empty())
            return s;
    }
    if (!core.files().empty())
        return core.files().front().path;
    return {};
}

bool is_system_header(const std::string& file) {
    return file.rfind("/usr/include/", 0) == 0 || file.rfind("/usr/lib/gcc/", 0) == 0 ||
           file.rfind("/usr/local/include/", 0) == 0;
}

// A module's name as the process saw it: the path the core's NT_FILE note records for
// the address (libdwfl names libraries by soname), without " (deleted)".
std::string mapped_path(const CoreFile& core, uint64_t address, const std::string& fallback) {
    const FileMapping* f = core.file_at(address);
    if (!f)
        return fallback;
    std::string p = f->path;
    strip_deleted(p);
    return p;
}

void expand_frames(ThreadReport& r, const ThreadStack& stack, tk::Symbolizer& sym,
                   const CoreFile& core) {
    r.machine_frames = stack.frames.size();
    r.complete = stack.complete;
    r.stop_reason = stack.stop_reason;
    r.frames.reserve(stack.frames.size());
    std::map<std::string, bool> runtime_cache;
    for (size_t i = 0; i < stack.frames.size(); i++) {
        const MachineFrame& m = stack.frames[i];
        const tk::Symbol& s = sym.symbolize(m.pc, !m.activation);
        std::string module = s.module.empty() ? std::string() : mapped_path(core, m.pc, s.module);
        auto rt = runtime_cache.find(module);
        if (rt == runtime_cache.end())
            rt = runtime_cache.emplace(module, is_runtime_module(module)).first;
        FrameReport base;
        base.machine_index = i;
        base.pc = m.pc;
        base.symbol = s.symbol;
        base.symbol_offset = s.symbol_offset;
        base.module = std::move(module);
        base.module_offset = s.module_offset;
        base.trust = m.trust;
        base.runtime = rt->second;
        if (s.frames.empty()) {
            r.frames.push_back(std::move(base));
            continue;
        }
        for (size_t k = 0; k < s.frames.size(); k++) {
            const tk::SourceFrame& sf = s.frames[k];
            FrameReport f = k + 1 < s.frames.size() ? base : std::move(base);
            f.function = sf.function;
            f.defined_in = sf.defined_in;
            f.file = sf.file;
            f.line = sf.line;
            f.inlined = sf.inlined;
            // Inline functions of the standard headers (std::mutex::lock ...) compiled into
            // the program are still library code, not the place to look.
            if (is_system_header(sf.file))
                f.runtime = true;
            r.frames.push_back(std::move(f));
        }
    }
}

}  // namespace

bool is_runtime_module(const std::string& module) {
    std::string b = base_name(module);
    static const char* prefixes[] = {"libc.so",  "libc-",   "libstdc++.so",  "libgcc_s.so",
                                     "ld-linux", "libm.so", "libpthread.so", "libdl.so",
                                     "librt.so", "[vdso"};
    for (const char* p : prefixes)
        if (b.rfind(p, 0) == 0)
            return true;
    return false;
}

namespace {

// Who crashed: NT_PRPSINFO, else the first thread's tid.
void read_process(Analysis& a, const CoreFile& core) {
    if (const auto& ps = core.process()) {
        a.pid = ps->pid;
        a.ppid = ps->ppid;
        a.uid = ps->uid;
        a.gid = ps->gid;
        a.name = ps->fname;
        a.command_line = ps->psargs;
    } else if (!core.threads().empty()) {
        a.pid = core.threads().front().tid;
    }
}

// Whether the executable is still there and is the one that crashed (its build-id).
void check_executable(Analysis& a, const CoreFile& core, tk::Symbolizer& sym) {
    std::string exe_on_disk = a.executable;
    if (strip_deleted(exe_on_disk)) {
        a.executable = exe_on_disk;  // the name it had; the warning says it is gone
        a.warnings.push_back("the executable " + exe_on_disk +
                             " was deleted before the crash; symbols only if a copy with the "
                             "same build-id is found (--exe PATH)");
    }
    if (auto entry = core.auxv_value(AT_ENTRY)) {
        if (auto mod = sym.module_at(*entry)) {
            a.executable_found = !mod->file.empty();
            if (!a.executable_found) {
                struct stat st;
                bool exists = !exe_on_disk.empty() && stat(exe_on_disk.c_str(), &st) == 0;
                a.warnings.push_back(
                    exists ? "the executable " + exe_on_disk +
                                 " does not match the core (build-id " + mod->build_id +
                                 "): it was rebuilt since; pass the original with --exe PATH"
                           : "the executable " +
                                 (exe_on_disk.empty() ? std::string("?") : exe_on_disk) +
                                 " is missing: pass it with --exe PATH; its frames have no names");
            }
        }
    } else {
        a.executable_found = !a.executable.empty();
    }
}

// The signal and its si_code, and who sent it when a process did.
void read_signal(Analysis& a, const CoreFile& core) {
    if (const auto& si = core.siginfo()) {
        a.signo = si->signo;
        a.code = si->code;
        a.signal_name = signal_name(si->signo);
        CodeName cn = signal_code(si->signo, si->code);
        a.code_name = cn.name;
        a.code_description = cn.description;
        a.sent = si->sender_fields();
        if (a.sent) {
            a.sender_pid = si->pid;
            a.sender_uid = si->uid;
            a.sent_by_self = si->pid == a.pid;
        }
    } else if (!core.threads().empty() && core.threads().front().cursig) {
        a.signo = core.threads().front().cursig;
        a.signal_name = signal_name(a.signo);
        a.code_name = "unknown";
        a.code_description = "no NT_SIGINFO note";
    }
}

// Every thread's state and unwound frames, the crashing thread first. Returns whether the
// unwinder could attach at all.
bool unwind_threads(Analysis& a, const CoreFile& core, tk::Symbolizer& sym, AddressSpace& memory,
                    const AnalyzeOptions& options) {
    Unwinder unwinder(memory, sym.dwfl());
    tk::Status attached = unwinder.attach();
    if (!attached)
        a.warnings.push_back(attached.message());
    for (size_t i = 0; i < core.threads().size(); i++) {
        const ThreadStatus& ts = core.threads()[i];
        ThreadReport r;
        r.tid = ts.tid;
        r.crashed = i == 0;
        r.regs = ts.regs;
        r.syscall = ts.in_syscall() ? long(ts.regs.orig_rax) : -1;
        r.state = r.syscall < 0 ? "running" : "blocked in " + syscall_name(r.syscall) + "()";
        if (attached) {
            ThreadStack stack = unwinder.unwind(i, options.max_frames);
            expand_frames(r, stack, sym, core);
        }
        a.threads.push_back(std::move(r));
    }
    if (!a.threads.empty())
        a.crashing_tid = a.threads.front().tid;

    return bool(attached);
}

// The faulting instruction (decoded, with the values of its memory operands) and the
// fault address, described against the mappings.
void find_fault(Analysis& a, const CoreFile& core, tk::Symbolizer& sym, AddressSpace& memory) {
    if (a.threads.empty())
        return;
    const user_regs_struct& regs = a.threads.front().regs;
    // The instruction matters when it faulted; a signal that was sent (abort's tgkill,
    // a kill from outside) interrupted whatever was there.
    bool fault = core.siginfo() && !a.sent && is_fault_signal(core.siginfo()->signo);
    std::vector<uint8_t> code =
        fault && memory.executable(regs.rip) ? memory.read(regs.rip, 16) : std::vector<uint8_t>();
    if (!code.empty())
        a.instruction = decode(code, regs.rip, &regs);
    if (a.instruction) {
        // Values of memory operands (a divisor in [rbp-0x18] at -O0), where readable.
        for (Operand& op : a.instruction->operands) {
            if (op.kind != Operand::Kind::Mem || !op.address || !op.read || op.size == 0 ||
                op.size > 8)
                continue;
            std::vector<uint8_t> bytes = memory.read(*op.address, op.size);
            if (bytes.size() != op.size)
                continue;
            uint64_t v = 0;
            memcpy(&v, bytes.data(), bytes.size());
            op.value = v;
        }
    }
    if (a.instruction) {
        tk::Symbol s = sym.symbolize(regs.rip);
        if (!s.symbol.empty())
            a.instruction_where = s.symbol + "+" + hex(s.symbol_offset);
    }
    if (const auto& si = core.siginfo(); si && !a.sent && is_fault_signal(si->signo)) {
        uint64_t addr = si->addr;
        bool recomputed = false;
        if (si->code == SI_KERNEL && addr == 0) {
            // A general protection fault (non-canonical or misaligned address): the
            // kernel does not know the address; the instruction does.
            const Operand* m = a.instruction ? a.instruction->memory() : nullptr;
            if (m && m->address) {
                addr = *m->address;
                recomputed = true;
            }
        }
        if (si->code != SI_KERNEL || recomputed) {
            a.fault = describe_address(addr, core, sym, a.threads, si->signo, si->code);
            a.fault->recomputed = recomputed;
        }
    }
}

// What the C and C++ runtimes left in memory: glibc's abort message, the exception in
// flight, and which thread waits for which mutex.
void read_runtime_evidence(Analysis& a, AddressSpace& memory) {
    if (a.signo == SIGABRT) {
        a.abort_message = read_abort_message(memory);
        if (!a.threads.empty())
            a.exception = read_current_exception(memory, a.threads.front().regs);
    }
    if (a.sent || a.signo == SIGABRT) {
        a.lock_waits = find_lock_waits(memory, a.threads);
        a.deadlock_cycle = find_wait_cycle(a.lock_waits);
    }
}

// Advice for the modules the crashing thread runs through: where their debug information
// would come from.
void advise_on_debug_info(Analysis& a) {
    const ThreadReport* t = a.crashing_thread();
    if (!t)
        return;
    std::map<std::string, bool> seen;
    for (const FrameReport& f : t->frames) {
        if (f.module.empty() || seen[f.module])
            continue;
        seen[f.module] = true;
        for (const tk::ModuleInfo& m : a.modules)
            if (m.name == f.module && !m.has_dwarf && !m.file.empty())
                a.notes.push_back(
                    "no debug information for " + base_name(m.name) + " (build-id " +
                    (m.build_id.empty() ? "none" : m.build_id) + "): names come from " +
                    (m.has_symtab ? ".symtab" : ".dynsym") +
                    ", no file:line. Install its debug package (the -dbg/-dbgsym one) or "
                    "pass --debug-dir DIR holding DIR/.build-id/" +
                    (m.build_id.size() > 2 ? m.build_id.substr(0, 2) + "/" + m.build_id.substr(2)
                                           : "xx/rest") +
                    ".debug" +
                    (getenv("DEBUGINFOD_URLS") && *getenv("DEBUGINFOD_URLS")
                         ? "; the debuginfod servers of DEBUGINFOD_URLS did not have it"
                         : "; or set DEBUGINFOD_URLS to a debuginfod server that has it"));
    }
    if (!t->complete && !t->stop_reason.empty())
        a.warnings.push_back("thread " + std::to_string(t->tid) +
                             ": unwinding stopped: " + t->stop_reason);
}

}  // namespace

Analysis analyze(const std::string& core_path, const AnalyzeOptions& options) {
    // A compressed core (systemd-coredump's, the collector's) is read inflated in memory.
    Compression packed = compression_of(core_path);
    tk::Fd inflated;
    if (packed != Compression::None)
        inflated = inflate_core(core_path, packed);
    CoreFile core(inflated ? "/proc/self/fd/" + std::to_string(inflated.get())
                           : core_path);  // throws tk::UserError on a file that is no core
    Analysis a;
    a.core_path = core_path;
    if (packed != Compression::None)
        a.notes.push_back(std::string("the core was ") + name_of(packed) +
                          "-compressed: read inflated in memory");
    a.core_size = core.file_size();
    a.truncated = core.truncated();
    a.notes_damaged = core.notes_damaged();
    for (const std::string& p : core.problems())
        a.warnings.push_back(p);
    a.timeout_fired = options.timeout_fired;
    a.timeout_seconds = options.timeout_seconds;
    read_process(a, core);
    a.executable = options.executable.empty() ? find_executable(core) : options.executable;

    // debuginfod only when the user set DEBUGINFOD_URLS: a report should not wait on the
    // network unasked
    const char* urls = getenv("DEBUGINFOD_URLS");
    bool offline = !urls || !*urls;
    tk::Symbolizer sym(
        tk::Symbolizer::Options{options.debug_dirs, offline, options.system_debug_dir});
    if (core.elf()) {
        if (tk::Status st = sym.add_core(core.elf(), options.executable); !st)
            a.warnings.push_back(st.message());
    } else {
        a.warnings.push_back("libelf cannot read the core: no modules, no symbols");
    }
    AddressSpace memory(core, sym);
    check_executable(a, core, sym);
    read_signal(a, core);
    bool unwound = unwind_threads(a, core, sym, memory, options);
    find_fault(a, core, sym, memory);
    read_runtime_evidence(a, memory);

    a.modules = sym.modules();
    for (tk::ModuleInfo& m : a.modules)
        m.name = mapped_path(core, m.low, m.name);
    for (const std::string& w : sym.warnings())
        a.warnings.push_back(w);

    classify(a);
    compute_signature(a);
    if (a.truncated || a.notes_damaged)
        a.summary += a.truncated ? " (partial: the core is truncated)"
                                 : " (partial: the core's notes are damaged)";
    advise_on_debug_info(a);
    a.partial = a.truncated || a.notes_damaged || !core.problems().empty() || !a.executable_found ||
                !unwound;
    return a;
}

}  // namespace crashlab
