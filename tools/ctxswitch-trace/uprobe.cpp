#include "uprobe.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <cstdlib>

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

namespace {

// Finds FUNCTION's symbol in the ELF file at PATH; copies up to 4 of its first bytes.
bool find_function(const std::string& path, const std::string& function, unsigned char first[4]) {
    elf_version(EV_CURRENT);
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool found = false;
    if (Elf* elf = elf_begin(fd, ELF_C_READ, nullptr)) {
        Elf_Scn* scn = nullptr;
        while (!found && (scn = elf_nextscn(elf, scn))) {
            GElf_Shdr sh;
            if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM))
                continue;
            Elf_Data* data = elf_getdata(scn, nullptr);
            size_t n = sh.sh_entsize ? sh.sh_size / sh.sh_entsize : 0;
            for (size_t i = 0; data && i < n; i++) {
                GElf_Sym sym;
                if (!gelf_getsym(data, int(i), &sym))
                    continue;
                if (GELF_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_value == 0)
                    continue;
                const char* name = elf_strptr(elf, sh.sh_link, sym.st_name);
                if (!name || function != name)
                    continue;
                found = true;
                // the bytes at the symbol's address, from the section that holds it
                Elf_Scn* code = elf_getscn(elf, sym.st_shndx);
                GElf_Shdr csh;
                if (code && gelf_getshdr(code, &csh) && sym.st_value >= csh.sh_addr &&
                    sym.st_value + 4 <= csh.sh_addr + csh.sh_size && csh.sh_type == SHT_PROGBITS) {
                    off_t at = off_t(csh.sh_offset + (sym.st_value - csh.sh_addr));
                    if (pread(fd, first, 4, at) != 4)
                        memset(first, 0, 4);
                }
                break;
            }
        }
        elf_end(elf);
    }
    close(fd);
    return found;
}

}  // namespace

bool elf_defines_function(const std::string& path, const std::string& function) {
    unsigned char first[4] = {};
    return find_function(path, function, first);
}

bool uprobe_is_emulated(const std::string& path, const std::string& function) {
    unsigned char b[4] = {};
    if (!find_function(path, function, b))
        return false;
    if (b[0] >= 0x50 && b[0] <= 0x57)
        return true;  // push reg
    if (b[0] == 0x41 && b[1] >= 0x50 && b[1] <= 0x57)
        return true;  // push r8-r15
    if (b[0] == 0x90 || (b[0] == 0x0f && b[1] == 0x1f))
        return true;  // nop
    if (b[0] == 0xe8 || b[0] == 0xe9 || b[0] == 0xeb)
        return true;  // call, jmp
    if ((b[0] >= 0x70 && b[0] <= 0x7f) || (b[0] == 0x0f && b[1] >= 0x80 && b[1] <= 0x8f))
        return true;  // jcc
    return false;
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
