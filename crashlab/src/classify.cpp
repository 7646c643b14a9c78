// The classification rules: from the facts analyze() gathered (signal, si_code, fault
// address against the mappings, the faulting instruction, the frames, glibc's abort
// message, the current exception, the lock wait-for graph) to one class and a summary a
// person can act on. Every rule that fires leaves the facts it used in `evidence`.
#include <signal.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <initializer_list>
#include <string_view>

#include "classify.h"
#include "text.h"
#include "signals.h"
#include "symbolizer.h"

namespace crashlab {

namespace {

constexpr uint64_t kStackSlack = 64 * 1024;  // fault this close to sp: a stack access

// "config_limit(Config const*)" -> "config_limit"; keeps namespaces and templates.
std::string bare_name(const std::string& f) {
    return tk::strip_parameters(f);
}

std::string short_file(const std::string& file) {
    return base_name(file);
}

// "config_limit() at victim.cpp:46", "release_token() in crashlab-victim+0x12a0"
std::string where(const FrameReport& f) {
    std::string s = f.function.empty() ? "an unknown function" : bare_name(f.function) + "()";
    if (!f.file.empty() && f.line)
        s += " at " + short_file(f.file) + ":" + std::to_string(f.line);
    else if (!f.module.empty())
        s += " in " + base_name(f.module) + "+" + hex(f.module_offset);
    else
        s += " at " + hex(f.pc);
    return s;
}

bool name_is(const FrameReport& f, std::initializer_list<std::string_view> names) {
    std::string b = bare_name(f.function);
    for (std::string_view n : names)
        if (b == n)
            return true;
    return false;
}

const FrameReport* find_frame(const ThreadReport& t,
                              std::initializer_list<std::string_view> names) {
    for (const FrameReport& f : t.frames)
        if (name_is(f, names))
            return &f;
    return nullptr;
}

// The first frame in the program's own code: the place to look, below abort() and
// malloc's checks. Frames whose pc is in no module (a call to 0x0) are skipped too.
size_t first_user_frame(const ThreadReport& t, size_t from = 0) {
    for (size_t i = from; i < t.frames.size(); i++) {
        const FrameReport& f = t.frames[i];
        if (!f.module.empty() && !f.runtime)
            return i;
    }
    for (size_t i = from; i < t.frames.size(); i++)
        if (!t.frames[i].module.empty())
            return i;
    return from < t.frames.size() ? from : 0;
}

size_t thread_index(const Analysis& a, int tid) {
    for (size_t i = 0; i < a.threads.size(); i++)
        if (a.threads[i].tid == tid)
            return i;
    return 0;
}

void set_culprit(Analysis& a, size_t thread, size_t frame) {
    if (thread < a.threads.size() && frame < a.threads[thread].frames.size())
        a.culprit = Culprit{thread, frame};
}

std::string culprit_where(const Analysis& a) {
    const FrameReport* f = a.culprit_frame();
    return f ? where(*f) : std::string("an unknown place");
}

// The longest run of one function among consecutive machine frames: deep recursion.
struct Recursion {
    size_t count = 0;
    size_t first = 0;  // index into frames of the run's first frame
};
Recursion longest_run(const ThreadReport& t) {
    Recursion best, cur;
    std::string cur_name;
    for (size_t i = 0; i < t.frames.size(); i++) {
        const FrameReport& f = t.frames[i];
        if (f.inlined)
            continue;
        std::string name = f.function.empty() ? hex(f.pc) : f.function;
        if (cur.count && name == cur_name) {
            cur.count++;
        } else {
            cur = Recursion{1, i};
            cur_name = name;
        }
        if (cur.count > best.count)
            best = cur;
    }
    return best;
}

std::string access_word(const Instruction* insn) {
    if (!insn)
        return "access";
    const Operand* m = insn->memory();
    if (m && m->write)
        return "write";
    if (m && m->read)
        return "read";
    if (insn->pushes)
        return "write";
    return "access";
}

// "(field at offset 8)" when the instruction dereferenced a NULL base register.
std::string field_note(const Instruction* insn) {
    if (!insn)
        return {};
    const Operand* m = insn->memory();
    if (!m || m->base.empty() || !m->base_value || *m->base_value != 0 || !m->index.empty())
        return {};
    if (m->disp <= 0)
        return " (no offset: the pointer itself is NULL)";
    return " (field at offset " + std::to_string(m->disp) + ")";
}

std::string operand_evidence(const Instruction& insn) {
    std::string s = "faulting instruction " + insn.text();
    for (const Operand& op : insn.operands) {
        if (op.kind == Operand::Kind::Mem) {
            if (!op.base.empty() && op.base != "rip" && op.base_value)
                s += "; " + op.base + " = " + hex(*op.base_value);
            if (!op.index.empty() && op.index_value)
                s += "; " + op.index + " = " + hex(*op.index_value);
            if (op.address)
                s += "; address " + hex(*op.address);
        } else if (op.kind == Operand::Kind::Reg && op.value && op.read && op.reg != "rip") {
            s += "; " + op.reg + " = " + hex(*op.value);
        }
    }
    return s;
}

void fault_evidence(Analysis& a) {
    a.evidence.push_back(a.signal_name + " " + a.code_name + " (" + a.code_description + ") at " +
                         (a.fault ? hex(a.fault->address) : std::string("?")) +
                         (a.fault && a.fault->recomputed
                              ? " (the kernel reported 0; address computed from the "
                                "instruction)"
                              : ""));
    if (a.fault && !a.fault->description.empty())
        a.evidence.push_back("fault address: " + a.fault->description);
    if (a.instruction)
        a.evidence.push_back(operand_evidence(*a.instruction));
}

// What a jump landed on: "SYMBOL in SECTION of MODULE", the mapped file, or anonymous memory.
std::string jump_target(const FaultInfo& f) {
    if (f.symbol)
        return f.symbol->name + " in " + (f.section.empty() ? "" : f.section + " of ") +
               base_name(f.symbol->module);
    return f.mapping.empty() ? "anonymous memory" : f.mapping;
}

// Executing at the fault address: a jump or call to a bad place, made by the caller.
void classify_bad_jump(Analysis& a, const ThreadReport& t) {
    const FaultInfo& f = *a.fault;
    set_culprit(a, 0, first_user_frame(t, 1));
    if (t.frames.size() > 1 && t.frames[1].trust == Trust::ReturnAddressAtSp)
        a.evidence.push_back("the word at rsp (" + hex(t.frames[1].pc) +
                             ") is a return address right after a call: the caller "
                             "frame is recovered from it");
    if (f.region == "null-page") {
        a.kind = CrashKind::NullCall;
        a.summary = "call through a NULL function pointer (jumped to " + hex(f.address) +
                    ") from " + culprit_where(a);
    } else if (f.region == "mapped" || f.region == "guard-page") {
        a.kind = CrashKind::ExecNonexec;
        a.summary = "executing non-executable memory at " + hex(f.address) + " (" + jump_target(f) +
                    ", " + f.perms + ") called from " + culprit_where(a);
        a.evidence.push_back("the mapping at " + hex(f.address) + " has permissions " + f.perms +
                             ": no execute permission");
    } else {
        a.kind = CrashKind::WildPointer;
        a.summary = "jumped to unmapped address " + hex(f.address) +
                    " (a wild function pointer or a smashed return address) from " +
                    culprit_where(a);
    }
}

uint64_t distance(uint64_t x, uint64_t y) {
    return x <= y ? y - x : x - y;
}

// Stack overflow: the access is right at the stack pointer and hits the guard page or the
// gap below the stack.
bool hits_stack_end(const FaultInfo& f, uint64_t sp) {
    bool near_sp = distance(f.address, sp) <= kStackSlack;
    return f.region == "stack-guard" ||
           (near_sp && (f.region == "unmapped" || f.region == "guard-page"));
}

void classify_stack_overflow(Analysis& a, const ThreadReport& t) {
    const FaultInfo& f = *a.fault;
    uint64_t sp = t.regs.rsp;
    a.kind = CrashKind::StackOverflow;
    Recursion r = longest_run(t);
    if (r.count >= 16) {
        set_culprit(a, 0, r.first);
        a.summary =
            "stack overflow: " + culprit_where(a) + " repeated " + with_commas(r.count) + " times";
        a.evidence.push_back(bare_name(t.frames[r.first].function) + "() appears " +
                             with_commas(r.count) + " times in a row on the stack of thread " +
                             std::to_string(t.tid));
    } else {
        a.summary = "stack overflow in " + culprit_where(a) + ": sp " + hex(sp) + " ran into " +
                    (f.region == "unmapped" ? "the gap" : "the guard") + " below the stack";
    }
    a.evidence.push_back("fault address " + hex(f.address) + " is " +
                         std::to_string(distance(f.address, sp)) + " bytes " +
                         (f.address <= sp ? "below" : "above") + " the stack pointer " + hex(sp) +
                         ", at the end of the stack");
}

void classify_write_readonly(Analysis& a) {
    const FaultInfo& f = *a.fault;
    a.kind = CrashKind::WriteReadonly;
    std::string what = f.symbol ? f.symbol->name : f.section.empty() ? f.mapping : f.section;
    a.summary = "write to read-only memory at " + hex(f.address) + " (" + what +
                (f.section.empty() || what == f.section ? "" : " in " + f.section) +
                (f.mapping.empty() ? "" : " of " + base_name(f.mapping)) + ", " + f.perms +
                ") in " + culprit_where(a);
}

// An access to no mapping at all: a freed large block used again, or a wild pointer.
void classify_unmapped(Analysis& a, const std::string& access) {
    const FaultInfo& f = *a.fault;
    // glibc serves blocks above the mmap threshold (128 KiB) from their own mapping,
    // with the pointer 16 bytes into the first page; free() unmaps them at once. A
    // pointer of that shape into a hole is a freed large block used again.
    const Operand* m = a.instruction ? a.instruction->memory() : nullptr;
    if (m && m->base_value && (*m->base_value & 0xfff) == 0x10 && *m->base_value > kNullPageLimit) {
        a.kind = CrashKind::UseAfterFree;
        a.summary = "use after free (likely): " + access + " of " + hex(f.address) + " through " +
                    hex(*m->base_value) +
                    ", a large heap block that is no "
                    "longer mapped, in " +
                    culprit_where(a);
        a.evidence.push_back("pointer " + hex(*m->base_value) +
                             " = page start + 16: how glibc places a block it mmap()ed "
                             "for a large malloc(); its pages are unmapped now, as free() "
                             "does with such blocks");
        return;
    }
    a.kind = CrashKind::WildPointer;
    a.summary = "wild pointer: " + access + " of unmapped address " + hex(f.address) + " in " +
                culprit_where(a);
}

// A read or write of a bad address, by an instruction that is itself where it should be.
void classify_bad_access(Analysis& a) {
    const FaultInfo& f = *a.fault;
    const Instruction* insn = a.instruction ? &*a.instruction : nullptr;
    std::string access = access_word(insn);
    if (f.region == "null-page") {
        a.kind = access == "write" ? CrashKind::NullWrite : CrashKind::NullRead;
        a.summary = "NULL pointer " + access + " at " + hex(f.address) + field_note(insn) + " in " +
                    culprit_where(a);
    } else if (f.region == "non-canonical") {
        a.kind = CrashKind::WildPointer;
        a.summary = "wild pointer: " + access + " through non-canonical address " + hex(f.address) +
                    " in " + culprit_where(a);
        a.evidence.push_back("bits 47-63 of " + hex(f.address) +
                             " differ: no pointer on x86-64 looks like this (garbage or "
                             "freed memory reused as a pointer)");
    } else if (f.region == "mapped" && access == "write" &&
               f.perms.find('w') == std::string::npos) {
        classify_write_readonly(a);
    } else if (f.region == "unmapped") {
        classify_unmapped(a, access);
    } else {
        a.kind = CrashKind::WildPointer;
        a.summary = "invalid " + access + " of " + hex(f.address) + " (" + f.description + ") in " +
                    culprit_where(a);
    }
}

void classify_segv(Analysis& a, const ThreadReport& t) {
    fault_evidence(a);
    if (a.fault->address == t.regs.rip) {
        classify_bad_jump(a, t);
        return;
    }
    set_culprit(a, 0, first_user_frame(t, 0));
    if (hits_stack_end(*a.fault, t.regs.rsp))
        classify_stack_overflow(a, t);
    else
        classify_bad_access(a);
}

void classify_bus_error(Analysis& a) {
    const Instruction* insn = a.instruction ? &*a.instruction : nullptr;
    a.kind = CrashKind::BusError;
    if (a.fault && a.fault->region == "past-end-of-file")
        a.summary = "bus error: " + access_word(insn) + " past the end of mapped file " +
                    a.fault->mapping + " (" + a.fault->description + ") in " + culprit_where(a);
    else if (a.code == BUS_ADRALN)
        a.summary = "bus error: misaligned access at " + hex(a.fault ? a.fault->address : 0) +
                    " in " + culprit_where(a);
    else
        a.summary = "bus error (" + a.code_name + ") at " + hex(a.fault ? a.fault->address : 0) +
                    (a.fault && !a.fault->mapping.empty() ? " in " + a.fault->mapping : "") +
                    " in " + culprit_where(a);
}

// SIGFPE: a divide's divisor says which, 0 or the -1 that overflows a signed divide.
void classify_arithmetic(Analysis& a, const ThreadReport& t) {
    const Instruction* insn = a.instruction ? &*a.instruction : nullptr;
    if (insn && insn->is_divide && !insn->operands.empty()) {
        const Operand& divisor = insn->operands.back();
        std::optional<uint64_t> v = divisor.value;
        unsigned bytes = divisor.size ? divisor.size : 8;
        uint64_t mask = bytes >= 8 ? ~uint64_t(0) : (uint64_t(1) << (bytes * 8)) - 1;
        if (v && (*v & mask) == 0) {
            a.kind = CrashKind::DivZero;
            a.summary = "integer division by zero in " + culprit_where(a) + ": " + insn->text() +
                        " with " + divisor.text + " = 0";
            return;
        }
        if (v && insn->is_signed_divide && (*v & mask) == mask) {
            a.kind = CrashKind::DivOverflow;
            std::string lo = bytes == 4 ? "eax" : bytes == 2 ? "ax" : "rax";
            std::string min = bytes == 4 ? "INT_MIN" : bytes == 8 ? "LONG_MIN" : "the minimum";
            a.summary = "integer overflow in division: " + min + " / -1 in " + culprit_where(a) +
                        " (" + insn->text() + " with " + divisor.text + " = -1)";
            if (auto dividend = register_value(lo, t.regs))
                a.evidence.push_back("dividend " + lo + " = " + hex(*dividend) +
                                     ": the quotient does not fit");
            return;
        }
    }
    if (a.code == FPE_INTOVF) {
        a.kind = CrashKind::DivOverflow;
        a.summary = "integer overflow trap in " + culprit_where(a);
        return;
    }
    a.kind = CrashKind::Unknown;
    a.summary = "arithmetic exception (" + a.code_name + ") in " + culprit_where(a);
}

void classify_illegal_instruction(Analysis& a) {
    const Instruction* insn = a.instruction ? &*a.instruction : nullptr;
    if (insn && insn->is_trap) {
        a.kind = CrashKind::Trap;
        a.summary = "trap instruction (" + insn->mnemonic +
                    ": __builtin_trap() or a "
                    "compiler-inserted trap) reached in " +
                    culprit_where(a);
        return;
    }
    a.kind = CrashKind::Unknown;
    a.summary = "illegal instruction (" + a.code_name + ") in " + culprit_where(a);
}

void classify_fault(Analysis& a, const ThreadReport& t) {
    if (a.signo == SIGSEGV && a.fault) {
        classify_segv(a, t);
        return;
    }
    fault_evidence(a);
    set_culprit(a, 0, first_user_frame(t));
    switch (a.signo) {
        case SIGSEGV:  // without an address
            a.kind = CrashKind::WildPointer;
            a.summary = "general protection fault (" + a.code_name + ") in " + culprit_where(a) +
                        "; the address could not be recomputed";
            return;
        case SIGBUS:
            classify_bus_error(a);
            return;
        case SIGFPE:
            classify_arithmetic(a, t);
            return;
        case SIGILL:
            classify_illegal_instruction(a);
            return;
        default:
            a.kind = CrashKind::Unknown;
            a.summary = a.signal_name + " (" + a.code_name + ") in " + culprit_where(a);
    }
}

bool contains(const std::string& s, std::string_view part) {
    return s.find(part) != std::string::npos;
}

// glibc's abort message and the abort() frame: what every abort's evidence starts with.
void abort_evidence(Analysis& a, const ThreadReport& t) {
    if (!a.abort_message.empty())
        a.evidence.push_back("glibc's abort message (__abort_msg): '" + a.abort_message + "'");
    if (const FrameReport* f = find_frame(t, {"abort", "__GI_abort"}))
        a.evidence.push_back("abort() on the stack (frame #" + std::to_string(f->machine_index) +
                             ")");
}

bool stack_check_failed(const Analysis& a, const ThreadReport& t) {
    return find_frame(t, {"__stack_chk_fail", "__fortify_fail"}) ||
           contains(a.abort_message, "stack smashing");
}

void classify_stack_smash(Analysis& a) {
    a.kind = CrashKind::StackSmash;
    a.summary = "stack smashing detected: the stack protector's canary of " + culprit_where(a) +
                " was overwritten (a local buffer overflowed)";
    a.evidence.push_back("__stack_chk_fail() called when " +
                         (a.culprit_frame() ? bare_name(a.culprit_frame()->function) : "?") +
                         "() returned");
}

// malloc's own checks stopped the program: malloc_printerr() on the stack, or its words
// in the abort message.
bool heap_check_failed(const Analysis& a, const ThreadReport& t) {
    static const std::string_view malloc_words[] = {
        "malloc",       "free(",  "free():",     "realloc", "corrupted",
        "munmap_chunk", "tcache", "double free", "memalign"};
    bool failed = find_frame(t, {"malloc_printerr"}) != nullptr;
    for (std::string_view w : malloc_words)
        if (contains(a.abort_message, w))
            failed = true;
    return failed;
}

void classify_heap_check(Analysis& a) {
    const std::string& msg = a.abort_message;
    std::string quoted = msg.empty() ? "a heap check" : "'" + msg + "'";
    if (contains(msg, "double free")) {
        a.kind = CrashKind::DoubleFree;
        a.summary = "double free: glibc reported " + quoted + " in " + culprit_where(a);
    } else if (contains(msg, "invalid pointer") || contains(msg, "invalid size") ||
               contains(msg, "free(): invalid") || contains(msg, "munmap_chunk")) {
        a.kind = CrashKind::InvalidFree;
        a.summary = "invalid free: glibc reported " + quoted + " in " + culprit_where(a) +
                    " (the pointer is not one malloc() returned)";
    } else {
        a.kind = CrashKind::HeapCorruption;
        a.summary = "heap corruption: glibc reported " + quoted + " in " + culprit_where(a) +
                    " (an earlier write overran a heap block)";
    }
}

bool assertion_failed(const Analysis& a, const ThreadReport& t) {
    return contains(a.abort_message, "Assertion") ||
           find_frame(t, {"__assert_fail", "__assert_fail_base", "__GI___assert_fail"});
}

void classify_assert(Analysis& a) {
    const std::string& msg = a.abort_message;
    a.kind = CrashKind::Assert;
    std::string expr;
    size_t open = msg.find('`'), close = msg.rfind('\'');
    if (open != std::string::npos && close != std::string::npos && close > open)
        expr = msg.substr(open + 1, close - open - 1);
    a.summary = "assertion failed: " + (expr.empty() ? std::string("(message not found)") : expr) +
                " in " + culprit_where(a);
}

void classify_pure_virtual(Analysis& a) {
    a.kind = CrashKind::PureVirtual;
    a.summary = "pure virtual method called in " + culprit_where(a) +
                " (the object was under construction or destruction)";
    a.evidence.push_back(
        "__cxa_pure_virtual() on the stack: a call through a vtable slot "
        "of an abstract class");
}

// "std::runtime_error ('bad config')" for the exception being handled, with its evidence;
// "" when there is none.
std::string current_exception(Analysis& a) {
    if (!a.exception)
        return {};
    std::string ex = a.exception->type;
    if (!a.exception->message.empty())
        ex += " ('" + a.exception->message + "')";
    a.evidence.push_back(
        "exception being handled: " + a.exception->type +
        (a.exception->message.empty() ? "" : ", what() = '" + a.exception->message + "'"));
    return ex;
}

// What is left of an abort: std::terminate() for an exception that escaped a noexcept
// function or found no handler, or called directly; else abort() itself.
void classify_terminate(Analysis& a, const ThreadReport& t) {
    bool terminate = find_frame(t, {"std::terminate", "__cxxabiv1::__terminate",
                                    "__gnu_cxx::__verbose_terminate_handler"}) != nullptr;
    const FrameReport* thrower = find_frame(t, {"__cxa_throw", "__cxa_rethrow"});
    bool from_unwinder = find_frame(t, {"__cxa_call_terminate", "__gxx_personality_v0"}) != nullptr;
    std::string ex = current_exception(a);
    if (thrower) {
        // The thrower: the first program frame outside the runtime, below __cxa_throw.
        size_t after = size_t(thrower - t.frames.data());
        set_culprit(a, 0, first_user_frame(t, after));
    }
    if (thrower && from_unwinder) {
        a.kind = CrashKind::Terminate;
        a.summary = "exception " + (ex.empty() ? std::string("(type unknown)") : ex) +
                    " thrown in " + culprit_where(a) +
                    " escaped a noexcept function: the unwinder called std::terminate()";
        a.evidence.push_back(
            "__cxa_call_terminate / the personality routine on the stack: "
            "terminate was called during unwinding, not for a missing "
            "handler");
    } else if (thrower) {
        a.kind = CrashKind::UncaughtException;
        a.summary = "uncaught exception " + (ex.empty() ? std::string("(type unknown)") : ex) +
                    " thrown in " + culprit_where(a);
        a.evidence.push_back("__cxa_throw() found no handler and called std::terminate()");
    } else if (terminate) {
        a.kind = CrashKind::Terminate;
        a.summary = "std::terminate() called in " + culprit_where(a) +
                    (ex.empty() ? std::string() : " while handling " + ex);
    } else {
        a.kind = CrashKind::Abort;
        a.summary = "abort() called in " + culprit_where(a);
    }
}

void classify_abort(Analysis& a, const ThreadReport& t) {
    set_culprit(a, 0, first_user_frame(t));
    abort_evidence(a, t);
    if (stack_check_failed(a, t))
        classify_stack_smash(a);
    else if (heap_check_failed(a, t))
        classify_heap_check(a);
    else if (assertion_failed(a, t))
        classify_assert(a);
    else if (find_frame(t, {"__cxa_pure_virtual"}))
        classify_pure_virtual(a);
    else
        classify_terminate(a, t);
}

std::string thread_state_words(const ThreadReport& t) {
    return t.syscall < 0 ? std::string("running") : t.state;
}

void classify_sent(Analysis& a) {
    // Deadlock: threads blocked on mutexes whose owners wait in turn.
    if (!a.deadlock_cycle.empty()) {
        a.kind = CrashKind::Deadlock;
        std::string s = "deadlock:";
        for (size_t k = 0; k < a.deadlock_cycle.size(); k++) {
            const LockWait& w = a.lock_waits[a.deadlock_cycle[k]];
            const LockWait& held = a.lock_waits[a.deadlock_cycle[(k + a.deadlock_cycle.size() - 1) %
                                                                 a.deadlock_cycle.size()]];
            s += std::string(k ? ";" : "") + " thread " + std::to_string(w.tid) + " holds " +
                 held.name + " and waits for " + w.name;
            a.evidence.push_back("thread " + std::to_string(w.tid) + " is blocked in futex() on " +
                                 w.name + " (" + hex(w.mutex) + "), whose __owner is thread " +
                                 std::to_string(w.owner));
        }
        a.summary = s;
        size_t ti = thread_index(a, a.lock_waits[a.deadlock_cycle.front()].tid);
        set_culprit(a, ti, first_user_frame(a.threads[ti]));
        if (a.culprit_frame())
            a.summary += " (" + culprit_where(a) + ")";
        return;
    }
    if (a.signo == SIGABRT || a.timeout_fired) {
        a.kind = CrashKind::Hang;
        std::vector<size_t> running;
        for (size_t i = 0; i < a.threads.size(); i++)
            if (a.threads[i].syscall < 0 && !a.threads[i].frames.empty())
                running.push_back(i);
        std::string how = a.timeout_fired
                              ? "crashlab run --timeout sent " + a.signal_name
                              : a.signal_name + " from pid " + std::to_string(a.sender_pid);
        if (!running.empty()) {
            size_t ti = running.front();
            set_culprit(a, ti, first_user_frame(a.threads[ti]));
            a.summary = "hang: thread " + std::to_string(a.threads[ti].tid) +
                        " was busy (running, not in a system call) in " + culprit_where(a) +
                        " when " + how;
            for (size_t i : running)
                a.evidence.push_back("thread " + std::to_string(a.threads[i].tid) +
                                     " was running user code (no system call in progress)");
        } else {
            set_culprit(a, 0, first_user_frame(a.threads[0]));
            a.summary = "hang: all " + std::to_string(a.threads.size()) +
                        " threads were blocked (no lock cycle found); thread " +
                        std::to_string(a.threads[0].tid) + " " + a.threads[0].state + " in " +
                        culprit_where(a);
            for (const ThreadReport& th : a.threads)
                a.evidence.push_back("thread " + std::to_string(th.tid) + ": " +
                                     thread_state_words(th));
        }
        if (!a.lock_waits.empty() && a.deadlock_cycle.empty())
            a.evidence.push_back(std::to_string(a.lock_waits.size()) +
                                 " thread(s) wait on mutexes, but the owners form no cycle");
        return;
    }
    a.kind = CrashKind::ExternalSignal;
    set_culprit(a, 0, first_user_frame(a.threads[0]));
    a.summary = a.signal_name + " sent by pid " + std::to_string(a.sender_pid) + " (uid " +
                std::to_string(a.sender_uid) + ") with " +
                (a.code == SI_TKILL   ? "tgkill()"
                 : a.code == SI_QUEUE ? "sigqueue()"
                                      : "kill()") +
                ": not a fault; thread " + std::to_string(a.threads[0].tid) + " was " +
                thread_state_words(a.threads[0]) + " in " + culprit_where(a);
}

}  // namespace

const FrameReport* Analysis::culprit_frame() const {
    if (!culprit || culprit->thread >= threads.size() ||
        culprit->frame >= threads[culprit->thread].frames.size())
        return nullptr;
    return &threads[culprit->thread].frames[culprit->frame];
}

void classify(Analysis& a) {
    a.kind = CrashKind::Unknown;
    a.summary.clear();
    a.evidence.clear();
    a.culprit.reset();
    if (a.threads.empty()) {
        a.summary = a.signo ? a.signal_name + " (" + a.code_name +
                                  "); no thread registers "
                                  "in the core to say where"
                            : "no signal information and no threads in the core";
        return;
    }
    const ThreadReport& t = a.threads.front();
    if (a.signo == 0) {
        set_culprit(a, 0, first_user_frame(t));
        a.summary = "the core has no signal information; thread " + std::to_string(t.tid) +
                    " was in " + culprit_where(a);
        return;
    }
    if (a.sent) {
        std::string sender = a.sent_by_self
                                 ? "the process itself (pid " + std::to_string(a.sender_pid) + ")"
                                 : "pid " + std::to_string(a.sender_pid) + " (uid " +
                                       std::to_string(a.sender_uid) + ")";
        a.evidence.push_back(a.signal_name + " " + a.code_name + ": sent by " + sender +
                             (a.sent_by_self ? "" : ", not raised by a fault"));
        if (a.timeout_fired) {
            char secs[32];
            snprintf(secs, sizeof secs, "%g", a.timeout_seconds);
            a.evidence.push_back(std::string("crashlab run sent it after the --timeout of ") +
                                 secs + " s");
        }
    }
    if (is_fault_signal(a.signo) && !a.sent) {
        classify_fault(a, t);
    } else if (a.signo == SIGABRT && (a.sent_by_self || !a.sent) && !a.timeout_fired) {
        classify_abort(a, t);
    } else if (a.sent && !a.sent_by_self) {
        classify_sent(a);
    } else {
        set_culprit(a, 0, first_user_frame(t));
        a.summary =
            a.signal_name + " (" + a.code_name + ") raised by the process in " + culprit_where(a);
    }
}

}  // namespace crashlab
