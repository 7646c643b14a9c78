// The facts of a crash, as `crashlab analyze` finds them in a core: the process, the
// signal, the fault, every thread's frames, the runtime's own evidence, and the verdict.
// analyze() (analysis.h) fills an Analysis from the core alone (plus the files the core
// names, when they are still there); classify() (classify.h) decides its kind; the text
// report and the JSON (report.h) read it.
#pragma once

#include <sys/user.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core_file.h"
#include "coredumpctl.h"
#include "disasm.h"
#include "kinds.h"
#include "symbolizer.h"
#include "text.h"
#include "unwind.h"

namespace crashlab {

using tk::base_name;
using tk::hex;
using tk::with_commas;

// Addresses below this are the NULL page: a fault there is a NULL dereference (the largest
// usual vm.mmap_min_addr; nothing is ever mapped below it).
constexpr uint64_t kNullPageLimit = 64 * 1024;

// One source-level frame: a machine frame expands to its inlined functions, innermost
// first, then the function really on the stack.
struct FrameReport {
    size_t machine_index = 0;  // which machine frame (#N in the text view)
    uint64_t pc = 0;
    std::string function;    // demangled, "" when unknown
    std::string defined_in;  // the function whose source holds file:line (SourceFrame)
    std::string symbol;      // the ELF symbol (machine-level function), for offsets
    uint64_t symbol_offset = 0;
    std::string module;  // path; "" when the pc is in no module
    uint64_t module_offset = 0;
    std::string file;
    int line = 0;
    bool inlined = false;
    Trust trust = Trust::Cfi;
    bool runtime = false;  // in the C/C++ runtime (libc, libstdc++, libgcc_s, ld.so)
};

struct ThreadReport {
    int tid = 0;
    bool crashed = false;  // the thread the fatal signal was delivered to
    long syscall = -1;     // system call it was blocked in (orig_rax), -1: running
    std::string state;     // "running", "blocked in futex()"
    std::vector<FrameReport> frames;
    size_t machine_frames = 0;
    bool complete = false;
    std::string stop_reason;
    user_regs_struct regs{};
};

struct FaultInfo {
    uint64_t address = 0;
    bool recomputed = false;  // si_addr was 0 (SI_KERNEL): computed from the instruction
    // null-page, unmapped, stack-guard, guard-page, mapped, past-end-of-file, non-canonical
    std::string region;
    std::string description;  // "NULL + 0x8", "in .rodata of victim (r--p)" ...
    std::string perms;        // of the mapping it falls in ("" if none)
    std::string mapping;      // file of that mapping, "[stack]"-like label, or ""
    std::string section;      // ELF section, when in a module
    std::optional<tk::DataSymbol> symbol;
    uint64_t nearest_below = 0, nearest_above = 0;  // neighbouring mappings (0: none)
};

struct ExceptionInfo {
    std::string type;     // "std::runtime_error"
    std::string message;  // what(), when the type carries one we know how to read
};

// A thread blocked on a pthread mutex, with the mutex's owner from its __owner field.
struct LockWait {
    int tid = 0;
    uint64_t mutex = 0;
    std::string name;  // "accounts_lock", or "mutex at 0x..."
    int owner = 0;     // 0: unowned (or not readable)
};

struct Culprit {
    size_t thread = 0;  // index into threads
    size_t frame = 0;   // index into that thread's frames
};

struct Analysis {
    // the core
    std::string core_path;
    uint64_t core_size = 0;
    bool truncated = false;
    bool notes_damaged = false;
    // the process
    int pid = 0, ppid = 0, uid = -1, gid = -1;
    std::string name;          // NT_PRPSINFO fname
    std::string command_line;  // NT_PRPSINFO psargs (first 80 bytes)
    std::string executable;    // path (NT_FILE / AT_EXECFN / --exe)
    bool executable_found = false;
    std::vector<tk::ModuleInfo> modules;

    // the signal
    int signo = 0, code = 0;
    std::string signal_name, code_name, code_description;
    bool sent = false;  // by a process (kill, tgkill, sigqueue), not by a fault
    int sender_pid = 0, sender_uid = -1;
    bool sent_by_self = false;
    std::optional<FaultInfo> fault;
    std::optional<Instruction> instruction;
    std::string instruction_where;  // "config_limit+0x10"

    // runtime evidence
    std::string abort_message;  // glibc's __abort_msg
    std::optional<ExceptionInfo> exception;
    std::vector<LockWait> lock_waits;
    std::vector<size_t> deadlock_cycle;  // indexes into lock_waits, in wait-for order
    bool timeout_fired = false;          // crashlab run --timeout sent the signal
    double timeout_seconds = 0;

    // the verdict
    CrashKind kind = CrashKind::Unknown;
    std::string summary;
    std::vector<std::string> evidence;
    std::optional<Culprit> culprit;

    int crashing_tid = 0;
    std::vector<ThreadReport> threads;  // the crashing thread first
    // the buckets (signature.h): what stays across rebuilds, and the exact form
    std::string signature, bucket, exact_signature;
    std::vector<std::string> warnings;  // what is missing or doubtful
    std::vector<std::string> notes;     // advice (how to get debug info ...)
    bool partial = false;               // the core itself is damaged or the exe is missing
    // what systemd-coredump's journal says about the crash, when the core came from there
    std::optional<CoredumpJournalEntry> systemd_coredump;

    const ThreadReport* crashing_thread() const {
        return threads.empty() ? nullptr : &threads.front();
    }
    const FrameReport* culprit_frame() const;
};

// Whether MODULE (a path) is part of the C/C++ runtime rather than the program.
bool is_runtime_module(const std::string& module);

}  // namespace crashlab
