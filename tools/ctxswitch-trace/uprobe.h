// Counting user-level (coroutine) switches: where a named switch function lives, and what
// a uprobe hit costs on this machine, measured on the spot.
#pragma once

#include <string>

namespace ctxswitch {

struct UserFunction {
    std::string binary;    // absolute path of the ELF file that defines it
    std::string function;  // symbol name
};

// SPEC is "FUNCTION" or "BINARY:FUNCTION". A bare name is looked up in the executable that
// will run (EXE), then in the shared libraries this tool has loaded too (libc for
// swapcontext). Throws tk::UserError saying what to do when it cannot be found.
UserFunction resolve_user_function(const std::string& spec, const std::string& exe);

// True when the ELF file at PATH defines FUNCTION (a FUNC symbol with an address).
bool elf_defines_function(const std::string& path, const std::string& function);

// Whether the kernel emulates the first instruction of FUNCTION (push, nop, jmp, call,
// jcc) rather than single-stepping it: the two differ in cost by an order of magnitude.
bool uprobe_is_emulated(const std::string& path, const std::string& function);

}  // namespace ctxswitch

// The functions the uprobe calibration probes, called in a loop with and without a uprobe:
// one whose first instruction the kernel emulates, one it has to single-step.
extern "C" void ctxswitch_uprobe_calibration_emulated(void);
extern "C" void ctxswitch_uprobe_calibration_stepped(void);
