#include "uprobe.h"

#include <dlfcn.h>

#include <climits>
#include <cstdlib>

#include "elf_function.h"
#include "errors.h"

// Two calibration targets, because a uprobe's cost depends on the probed instruction: the
// kernel emulates a few (push, nop, jmp, call, jcc) and single-steps every other one out of
// line, which costs an extra trap (about 10x more in a VM).
asm(R"(
    .text
    .globl ctxswitch_uprobe_calibration_emulated
    .type ctxswitch_uprobe_calibration_emulated, @function
ctxswitch_uprobe_calibration_emulated:
    push %rbp
    pop %rbp
    ret
    .size ctxswitch_uprobe_calibration_emulated, .-ctxswitch_uprobe_calibration_emulated
    .globl ctxswitch_uprobe_calibration_stepped
    .type ctxswitch_uprobe_calibration_stepped, @function
ctxswitch_uprobe_calibration_stepped:
    mov %rdi, %rax
    ret
    .size ctxswitch_uprobe_calibration_stepped, .-ctxswitch_uprobe_calibration_stepped
)");

namespace ctxswitch {

bool elf_defines_function(const std::string& path, const std::string& function) {
    std::string error;
    return tk::find_elf_function(path, function, error).has_value();
}

bool uprobe_is_emulated(const std::string& path, const std::string& function) {
    std::string error;
    auto f = tk::find_elf_function(path, function, error);
    return f && tk::uprobe_emulates(f->first);
}

UserFunction resolve_user_function(const std::string& spec, const std::string& exe) {
    auto colon = spec.rfind(':');
    if (colon != std::string::npos) {
        UserFunction f{spec.substr(0, colon), spec.substr(colon + 1)};
        char real[PATH_MAX];
        if (!realpath(f.binary.c_str(), real))
            throw tk::UserError(tk::errno_text("--user-switch: cannot open " + f.binary));
        f.binary = real;
        if (!elf_defines_function(f.binary, f.function))
            throw tk::UserError("--user-switch: " + f.binary + " does not define a function " +
                                f.function);
        return f;
    }
    if (!exe.empty()) {
        char real[PATH_MAX];
        if (realpath(exe.c_str(), real) && elf_defines_function(real, spec))
            return {real, spec};
    }
    // a library function (swapcontext): where our own copy of the library comes from is
    // where the workload's comes from too, for the system libraries we share
    if (void* addr = dlsym(RTLD_DEFAULT, spec.c_str())) {
        Dl_info info;
        char real[PATH_MAX];
        if (dladdr(addr, &info) && info.dli_fname && realpath(info.dli_fname, real))
            return {real, spec};
    }
    throw tk::UserError("--user-switch: no function " + spec + " in " +
                        (exe.empty() ? "the target" : exe) +
                        " or the system libraries: name its file as BINARY:" + spec);
}

}  // namespace ctxswitch
