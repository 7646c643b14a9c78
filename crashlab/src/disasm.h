// The faulting instruction: decoded with capstone, its operands evaluated against the
// crashing thread's registers. This is where "NULL pointer read at 0x8 (field at offset 8)"
// comes from: the memory operand [rax+8] with rax = 0.
#pragma once

#include <sys/user.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace crashlab {

struct Operand {
    enum class Kind { Reg, Imm, Mem } kind = Kind::Reg;
    std::string text;  // "rax", "0x10", "qword ptr [rax + 8]"
    bool read = false, write = false;
    unsigned size = 0;  // bytes
    // Reg: the register and its value. Mem: base/index registers and the address.
    std::string reg;
    std::optional<uint64_t> value;  // register value, or the immediate
    std::string base, index;
    std::optional<uint64_t> base_value, index_value;
    int scale = 1;
    int64_t disp = 0;
    bool fs_segment = false;
    std::optional<uint64_t> address;  // effective address of a memory operand
};

struct Instruction {
    uint64_t address = 0;
    std::vector<uint8_t> bytes;
    std::string mnemonic, operands_text;  // "mov", "rax, qword ptr [rax + 8]"
    std::vector<Operand> operands;
    bool is_call = false, is_jump = false, is_ret = false;
    bool is_divide = false;  // div / idiv
    bool is_signed_divide = false;
    bool is_trap = false;  // ud2, ud1, ud0
    bool pushes = false;   // push/call: writes below rsp implicitly
    std::string text() const {
        return mnemonic + (operands_text.empty() ? "" : " " + operands_text);
    }
    // The explicit memory operand, if any (x86 has at most one).
    const Operand* memory() const;
};

// Decodes the first instruction of CODE at ADDRESS. nullopt if the bytes are no instruction.
std::optional<Instruction> decode(const std::vector<uint8_t>& code, uint64_t address,
                                  const user_regs_struct* regs);

// True if the LEN bytes ending at END (code ending at a return address) decode as a call
// instruction that ends exactly at END: the test that a stack word is a return address.
bool call_ends_at(const std::vector<uint8_t>& code_before, uint64_t end);

// The value of a register by its capstone name ("eax", "r8d", "rip"); sub-registers are
// masked to their width.
std::optional<uint64_t> register_value(const std::string& name, const user_regs_struct& regs);

}  // namespace crashlab
