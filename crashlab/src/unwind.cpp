#include "unwind.h"

#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>

#include "disasm.h"
#include "text.h"

namespace crashlab {

using tk::hex;

namespace {

// x86-64 DWARF register numbers.
constexpr unsigned kDwarfRbp = 6, kDwarfRsp = 7;
constexpr int kDwarfRegs = 17;  // rax..r15 and the return address column (rip)

// How far above the last good frame stack scanning looks for a return address.
constexpr uint64_t kScanBytes = 16 * 1024;
constexpr int kMaxScans = 4;

}  // namespace

const char* trust_name(Trust t) {
    switch (t) {
        case Trust::Context:
            return "context";
        case Trust::Cfi:
            return "cfi";
        case Trust::FramePointer:
            return "frame-pointer";
        case Trust::ReturnAddressAtSp:
            return "return-address-at-sp";
        case Trust::StackScan:
            return "stack-scan";
    }
    return "?";
}

struct Unwinder::ThreadCtx {
    Unwinder* self = nullptr;
    const ThreadStatus* status = nullptr;
    // Where the next walk starts; the thread's saved registers unless a heuristic moved it.
    user_regs_struct start{};
};

struct Unwinder::Walk {
    ThreadCtx* ctx = nullptr;
    ThreadStack* out = nullptr;
    size_t max_frames = 0;
    // The first frame of this walk is a return address found by a heuristic; libdwfl was
    // given pc - 1 (inside the call, so it picks the caller's CFI row) and we report pc.
    bool first_is_return = false;
    uint64_t first_pc = 0;
    Trust first_trust = Trust::Context;
    size_t frames_this_walk = 0;
    bool aborted_by_us = false;
    std::string abort_reason;
    // Registers of the last frame we accepted, to resume from after a failure.
    uint64_t last_sp = 0, last_rbp = 0;
};

struct UnwinderCallbacks {
    static pid_t next_thread(Dwfl*, void* arg, void** thread_argp) {
        auto* self = static_cast<Unwinder*>(arg);
        // *thread_argp is the ThreadCtx of the previous thread (NULL at the start).
        size_t next = 0;
        if (*thread_argp) {
            for (size_t i = 0; i < self->threads_.size(); i++)
                if (self->threads_[i].get() == *thread_argp)
                    next = i + 1;
        }
        if (next >= self->threads_.size())
            return 0;
        *thread_argp = self->threads_[next].get();
        return self->threads_[next]->status->tid;
    }

    static bool get_thread(Dwfl*, pid_t tid, void* arg, void** thread_argp) {
        auto* self = static_cast<Unwinder*>(arg);
        for (const auto& t : self->threads_)
            if (t->status->tid == tid) {
                *thread_argp = t.get();
                return true;
            }
        return false;
    }

    static bool memory_read(Dwfl*, Dwarf_Addr addr, Dwarf_Word* result, void* arg) {
        auto* self = static_cast<Unwinder*>(arg);
        uint64_t v;
        if (self->memory_.core().read_u64(addr, v) || self->memory_.read_u64(addr, v)) {
            *result = v;
            return true;
        }
        self->read_failed_ = true;
        self->last_failed_read_ = addr;
        return false;
    }

    static bool set_initial_registers(Dwfl_Thread* thread, void* thread_arg) {
        auto* ctx = static_cast<Unwinder::ThreadCtx*>(thread_arg);
        const user_regs_struct& r = ctx->start;
        Dwarf_Word regs[kDwarfRegs] = {r.rax, r.rdx, r.rcx, r.rbx, r.rsi, r.rdi, r.rbp, r.rsp, r.r8,
                                       r.r9,  r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, r.rip};
        if (!dwfl_thread_state_registers(thread, 0, kDwarfRegs, regs))
            return false;
        dwfl_thread_state_register_pc(thread, r.rip);
        return true;
    }

    static int on_frame(Dwfl_Frame* state, void* arg) {
        auto* w = static_cast<Unwinder::Walk*>(arg);
        Unwinder* self = w->ctx->self;
        Dwarf_Addr pc = 0;
        bool activation = false;
        if (!dwfl_frame_pc(state, &pc, &activation)) {
            w->aborted_by_us = true;
            w->abort_reason = std::string("no pc: ") + dwfl_errmsg(-1);
            return DWARF_CB_ABORT;
        }
        Dwarf_Word sp = 0, rbp = 0;
        bool have_sp = dwfl_frame_reg(state, kDwarfRsp, &sp) == 0;
        if (dwfl_frame_reg(state, kDwarfRbp, &rbp) != 0)
            rbp = 0;

        MachineFrame f;
        f.pc = pc;
        f.activation = activation;
        f.sp = sp;
        std::vector<MachineFrame>& frames = w->out->frames;
        if (w->frames_this_walk == 0) {
            f.trust = w->first_trust;
            if (w->first_is_return) {
                f.pc = w->first_pc;
                f.activation = false;
            }
        } else {
            // How did libdwfl get here from the previous frame: CFI, or its frame-pointer
            // fallback (taken only when the previous pc has no CFI)?
            const MachineFrame& prev = frames.back();
            uint64_t lookup = prev.activation ? prev.pc : prev.pc - 1;
            f.trust = self->has_cfi(lookup) ? Trust::Cfi : Trust::FramePointer;
            // A return address must point at code; anything else is stack garbage.
            if (!self->memory_.executable(f.pc)) {
                w->aborted_by_us = true;
                w->abort_reason = "corrupted stack: return address " + hex(f.pc) + " (at frame " +
                                  std::to_string(frames.size()) + ") points to no code";
                return DWARF_CB_ABORT;
            }
            if (have_sp && sp < prev.sp) {
                w->aborted_by_us = true;
                w->abort_reason = "corrupted stack: the stack pointer moved down (" + hex(sp) +
                                  " below " + hex(prev.sp) + ")";
                return DWARF_CB_ABORT;
            }
            if (sp == prev.sp && f.pc == prev.pc) {
                w->aborted_by_us = true;
                w->abort_reason = "unwinding loops at " + hex(f.pc);
                return DWARF_CB_ABORT;
            }
        }
        frames.push_back(f);
        w->frames_this_walk++;
        w->last_sp = sp;
        w->last_rbp = rbp;
        if (w->max_frames && frames.size() >= w->max_frames) {
            w->out->hit_limit = true;
            w->aborted_by_us = true;
            w->abort_reason =
                "stopped after " + std::to_string(w->max_frames) + " frames (--max-frames)";
            return DWARF_CB_ABORT;
        }
        return DWARF_CB_OK;
    }
};

namespace {

const Dwfl_Thread_Callbacks kCallbacks = {
    UnwinderCallbacks::next_thread,
    UnwinderCallbacks::get_thread,
    UnwinderCallbacks::memory_read,
    UnwinderCallbacks::set_initial_registers,
    nullptr,  // detach: nothing to undo, the core stays ours
    nullptr,  // thread_detach
};

}  // namespace

Unwinder::Unwinder(const AddressSpace& memory, Dwfl* dwfl) : memory_(memory), dwfl_(dwfl) {
    for (const ThreadStatus& t : memory_.core().threads()) {
        auto ctx = std::make_unique<ThreadCtx>();
        ctx->self = this;
        ctx->status = &t;
        ctx->start = t.regs;
        threads_.push_back(std::move(ctx));
    }
}

// Out of line: ThreadCtx is complete only here.
Unwinder::~Unwinder() = default;

tk::Status Unwinder::attach() {
    if (threads_.empty())
        return tk::Status::error("the core has no thread registers");
    if (!dwfl_)
        return tk::Status::error("no libdwfl session");
    const CoreFile& core = memory_.core();
    pid_t pid = core.process() ? core.process()->pid : core.threads().front().tid;
    if (!dwfl_attach_state(dwfl_, core.elf(), pid, &kCallbacks, this))
        return tk::Status::error(std::string("libdwfl cannot unwind this core: ") +
                                 dwfl_errmsg(-1));
    attached_ = true;
    return {};
}

bool Unwinder::has_cfi(uint64_t lookup_pc) {
    auto it = cfi_cache_.find(lookup_pc);
    if (it != cfi_cache_.end())
        return it->second;
    bool found = false;
    if (Dwfl_Module* mod = dwfl_addrmodule(dwfl_, lookup_pc)) {
        Dwarf_Addr bias = 0;
        for (Dwarf_CFI* cfi : {dwfl_module_eh_cfi(mod, &bias), (Dwarf_CFI*)nullptr}) {
            if (!cfi)
                cfi = dwfl_module_dwarf_cfi(mod, &bias);
            Dwarf_Frame* frame = nullptr;
            if (cfi && dwarf_cfi_addrframe(cfi, lookup_pc - bias, &frame) == 0) {
                free(frame);
                found = true;
                break;
            }
        }
    }
    cfi_cache_.emplace(lookup_pc, found);
    return found;
}

bool Unwinder::looks_like_return_address(uint64_t value) {
    auto it = ra_cache_.find(value);
    if (it != ra_cache_.end())
        return it->second;
    bool ok = false;
    if (value >= 8 && memory_.executable(value)) {
        std::vector<uint8_t> before = memory_.read(value - 7, 7);
        ok = before.size() == 7 && call_ends_at(before, value);
    }
    ra_cache_.emplace(value, ok);
    return ok;
}

bool Unwinder::walk(ThreadCtx& ctx, Walk& w) {
    read_failed_ = false;
    int rc = dwfl_getthread_frames(dwfl_, ctx.status->tid, UnwinderCallbacks::on_frame, &w);
    if (rc == 0) {
        w.out->complete = true;
        w.out->stop_reason = "end of stack";
        return true;
    }
    if (w.aborted_by_us) {
        w.out->stop_reason = w.abort_reason;
        return w.out->hit_limit;
    }
    // libdwfl gave up. Say why in terms of the core.
    const CoreFile& core = memory_.core();
    std::string why = dwfl_errmsg(-1);
    if (read_failed_) {
        why = "stack memory at " + hex(last_failed_read_) + " is not in the core";
        if (core.truncated())
            why += " (the core is truncated)";
    } else if (!w.out->frames.empty()) {
        const MachineFrame& last = w.out->frames.back();
        uint64_t lookup = last.activation ? last.pc : last.pc - 1;
        if (!dwfl_addrmodule(dwfl_, lookup))
            why = "no module at " + hex(last.pc) + " (code outside every known file)";
        else if (!has_cfi(lookup))
            why =
                "no unwind information (CFI) for " + hex(last.pc) + " and no usable frame pointer";
    }
    w.out->stop_reason = why;
    return false;
}

ThreadStack Unwinder::unwind(size_t index, size_t max_frames) {
    ThreadStack out;
    if (index >= threads_.size() || !attached_)
        return out;
    ThreadCtx& ctx = *threads_[index];
    out.tid = ctx.status->tid;
    const user_regs_struct& regs = ctx.status->regs;

    Walk w;
    w.ctx = &ctx;
    w.out = &out;
    w.max_frames = max_frames;
    ctx.start = regs;

    // A pc outside executable memory: the thread called (or jumped to) a bad address.
    // If the word at rsp is a return address, the call pushed it: the caller is known.
    uint64_t ra = 0;
    if (!memory_.executable(regs.rip) && memory_.read_u64(regs.rsp, ra) &&
        looks_like_return_address(ra)) {
        MachineFrame bad;
        bad.pc = regs.rip;
        bad.sp = regs.rsp;
        bad.activation = true;
        bad.trust = Trust::Context;
        out.frames.push_back(bad);
        ctx.start.rip = ra - 1;
        ctx.start.rsp = regs.rsp + 8;
        w.first_is_return = true;
        w.first_pc = ra;
        w.first_trust = Trust::ReturnAddressAtSp;
    }

    bool done = walk(ctx, w);
    // Stack scanning: resume above the last good frame at a word that is a return address.
    for (int scans = 0; !done && scans < kMaxScans && !out.frames.empty(); scans++) {
        uint64_t from = out.frames.back().sp;
        if (!from)
            break;
        const Segment* seg = memory_.core().segment_at(from);
        uint64_t limit = seg ? std::min(seg->end(), from + kScanBytes) : from;
        uint64_t found_slot = 0, found_ra = 0;
        for (uint64_t slot = from; slot + 8 <= limit; slot += 8) {
            uint64_t v;
            if (!memory_.core().read_u64(slot, v))
                break;
            // The last frame's own return address would just repeat the failure.
            if (v != out.frames.back().pc && looks_like_return_address(v)) {
                found_slot = slot;
                found_ra = v;
                break;
            }
        }
        if (!found_ra)
            break;
        std::string reason = out.stop_reason;
        ctx.start = regs;
        ctx.start.rip = found_ra - 1;
        ctx.start.rsp = found_slot + 8;
        ctx.start.rbp = w.last_rbp;
        Walk next;
        next.ctx = &ctx;
        next.out = &out;
        next.max_frames = max_frames;
        next.first_is_return = true;
        next.first_pc = found_ra;
        next.first_trust = Trust::StackScan;
        size_t before = out.frames.size();
        done = walk(ctx, next);
        if (out.frames.size() == before)
            break;
        // Keep the first failure visible: it is why the later frames are guesses.
        out.stop_reason = reason + "; resumed by stack scanning; then: " + out.stop_reason;
        w = next;
    }
    return out;
}

}  // namespace crashlab
