#include "disasm.h"

#include <capstone/capstone.h>

#include <cstddef>
#include <cstring>
#include <memory>

namespace crashlab {

namespace {

// A capstone handle with details on, opened once per process.
class Capstone {
  public:
    Capstone() {
        if (cs_open(CS_ARCH_X86, CS_MODE_64, &handle_) != CS_ERR_OK) {
            handle_ = 0;
            return;
        }
        cs_option(handle_, CS_OPT_DETAIL, CS_OPT_ON);
    }
    ~Capstone() {
        if (handle_)
            cs_close(&handle_);
    }
    Capstone(const Capstone&) = delete;
    Capstone& operator=(const Capstone&) = delete;
    csh get() const { return handle_; }

  private:
    csh handle_ = 0;
};

csh capstone() {
    static Capstone cs;
    return cs.get();
}

struct InsnDeleter {
    size_t count;
    void operator()(cs_insn* insn) const { cs_free(insn, count); }
};

struct RegSlot {
    const char* names[4];  // 64, 32, 16, 8-bit low
    size_t offset;
};

#define SLOT(field) offsetof(user_regs_struct, field)
const RegSlot kRegs[] = {
    {{"rax", "eax", "ax", "al"}, SLOT(rax)},      {{"rbx", "ebx", "bx", "bl"}, SLOT(rbx)},
    {{"rcx", "ecx", "cx", "cl"}, SLOT(rcx)},      {{"rdx", "edx", "dx", "dl"}, SLOT(rdx)},
    {{"rsi", "esi", "si", "sil"}, SLOT(rsi)},     {{"rdi", "edi", "di", "dil"}, SLOT(rdi)},
    {{"rbp", "ebp", "bp", "bpl"}, SLOT(rbp)},     {{"rsp", "esp", "sp", "spl"}, SLOT(rsp)},
    {{"r8", "r8d", "r8w", "r8b"}, SLOT(r8)},      {{"r9", "r9d", "r9w", "r9b"}, SLOT(r9)},
    {{"r10", "r10d", "r10w", "r10b"}, SLOT(r10)}, {{"r11", "r11d", "r11w", "r11b"}, SLOT(r11)},
    {{"r12", "r12d", "r12w", "r12b"}, SLOT(r12)}, {{"r13", "r13d", "r13w", "r13b"}, SLOT(r13)},
    {{"r14", "r14d", "r14w", "r14b"}, SLOT(r14)}, {{"r15", "r15d", "r15w", "r15b"}, SLOT(r15)},
    {{"rip", "eip", "ip", nullptr}, SLOT(rip)},
};
#undef SLOT

}  // namespace

std::optional<uint64_t> register_value(const std::string& name, const user_regs_struct& regs) {
    const char* high8[] = {"ah", "bh", "ch", "dh"};
    const size_t high8_slot[] = {0, 1, 2, 3};
    for (size_t i = 0; i < 4; i++)
        if (name == high8[i]) {
            uint64_t v;
            memcpy(&v, reinterpret_cast<const char*>(&regs) + kRegs[high8_slot[i]].offset, 8);
            return (v >> 8) & 0xff;
        }
    static const uint64_t masks[] = {~uint64_t(0), 0xffffffffu, 0xffffu, 0xffu};
    for (const RegSlot& r : kRegs)
        for (int w = 0; w < 4; w++)
            if (r.names[w] && name == r.names[w]) {
                uint64_t v;
                memcpy(&v, reinterpret_cast<const char*>(&regs) + r.offset, 8);
                return v & masks[w];
            }
    return std::nullopt;
}

const Operand* Instruction::memory() const {
    for (const Operand& op : operands)
        if (op.kind == Operand::Kind::Mem)
            return &op;
    return nullptr;
}

std::optional<Instruction> decode(const std::vector<uint8_t>& code, uint64_t address,
                                  const user_regs_struct* regs) {
    csh h = capstone();
    if (!h || code.empty())
        return std::nullopt;
    cs_insn* raw = nullptr;
    size_t n = cs_disasm(h, code.data(), code.size(), address, 1, &raw);
    if (n == 0)
        return std::nullopt;
    std::unique_ptr<cs_insn, InsnDeleter> insn(raw, InsnDeleter{n});

    Instruction out;
    out.address = address;
    out.bytes.assign(insn->bytes, insn->bytes + insn->size);
    out.mnemonic = insn->mnemonic;
    out.operands_text = insn->op_str;
    out.is_call = cs_insn_group(h, raw, CS_GRP_CALL);
    out.is_jump = cs_insn_group(h, raw, CS_GRP_JUMP);
    out.is_ret = cs_insn_group(h, raw, CS_GRP_RET);
    out.is_divide = out.mnemonic == "div" || out.mnemonic == "idiv";
    out.is_signed_divide = out.mnemonic == "idiv";
    out.is_trap = out.mnemonic == "ud2" || out.mnemonic == "ud1" || out.mnemonic == "ud0";
    out.pushes = out.is_call || out.mnemonic.rfind("push", 0) == 0;

    const cs_x86& x86 = insn->detail->x86;
    for (uint8_t i = 0; i < x86.op_count; i++) {
        const cs_x86_op& op = x86.operands[i];
        Operand o;
        o.size = op.size;
        o.read = op.access & CS_AC_READ;
        o.write = op.access & CS_AC_WRITE;
        switch (op.type) {
            case X86_OP_REG:
                o.kind = Operand::Kind::Reg;
                o.reg = cs_reg_name(h, op.reg);
                o.text = o.reg;
                if (regs)
                    o.value = register_value(o.reg, *regs);
                break;
            case X86_OP_IMM:
                o.kind = Operand::Kind::Imm;
                o.value = uint64_t(op.imm);
                o.text = std::to_string(op.imm);
                break;
            case X86_OP_MEM: {
                o.kind = Operand::Kind::Mem;
                o.scale = op.mem.scale;
                o.disp = op.mem.disp;
                o.fs_segment = op.mem.segment == X86_REG_FS;
                // rip-relative operands are known without registers: address of the next insn.
                bool known = true;
                uint64_t ea = uint64_t(op.mem.disp);
                if (op.mem.base != X86_REG_INVALID) {
                    o.base = cs_reg_name(h, op.mem.base);
                    if (op.mem.base == X86_REG_RIP)
                        o.base_value = address + insn->size;  // rip-relative: the next insn
                    else if (regs)
                        o.base_value = register_value(o.base, *regs);
                    known = known && o.base_value.has_value();
                    if (o.base_value)
                        ea += *o.base_value;
                }
                if (op.mem.index != X86_REG_INVALID) {
                    o.index = cs_reg_name(h, op.mem.index);
                    if (regs)
                        o.index_value = register_value(o.index, *regs);
                    known = known && o.index_value.has_value();
                    if (o.index_value)
                        ea += *o.index_value * uint64_t(int64_t(op.mem.scale));
                }
                if (op.mem.segment == X86_REG_FS || op.mem.segment == X86_REG_GS) {
                    known = known && regs;
                    if (regs)
                        ea += op.mem.segment == X86_REG_FS ? regs->fs_base : regs->gs_base;
                }
                if (known)
                    o.address = ea;
                break;
            }
            default:
                continue;
        }
        out.operands.push_back(std::move(o));
    }
    // lea computes an address without touching memory: not a memory access.
    if (out.mnemonic == "lea" || out.mnemonic == "nop")
        for (Operand& o : out.operands)
            if (o.kind == Operand::Kind::Mem)
                o.read = o.write = false;
    return out;
}

bool call_ends_at(const std::vector<uint8_t>& code_before, uint64_t end) {
    // Calls are 2 (call reg) to 7 (call [base+index*s+disp32]) bytes; try each length.
    csh h = capstone();
    if (!h)
        return false;
    for (size_t len = 2; len <= 7 && len <= code_before.size(); len++) {
        const uint8_t* p = code_before.data() + code_before.size() - len;
        cs_insn* raw = nullptr;
        size_t n = cs_disasm(h, p, len, end - len, 1, &raw);
        if (n == 0)
            continue;
        std::unique_ptr<cs_insn, InsnDeleter> insn(raw, InsnDeleter{n});
        if (insn->size == len && cs_insn_group(h, raw, CS_GRP_CALL))
            return true;
    }
    return false;
}

}  // namespace crashlab
