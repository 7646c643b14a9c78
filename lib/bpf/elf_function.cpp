#include "elf_function.h"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include "errors.h"
#include "fd.h"

namespace tk {

namespace {

struct ElfFile {
    Fd fd;
    Elf* elf = nullptr;
    explicit ElfFile(const std::string& path) : fd(open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
        elf_version(EV_CURRENT);
        if (fd)
            elf = elf_begin(fd.get(), ELF_C_READ_MMAP, nullptr);
    }
    ~ElfFile() {
        if (elf)
            elf_end(elf);
    }
    ElfFile(const ElfFile&) = delete;
    ElfFile& operator=(const ElfFile&) = delete;
};

// The value of FUNCTION in the symbol table SCN (its header SH), skipping hidden versions
// when VERSYM (the .gnu.version section of a .dynsym) is given.
std::optional<uint64_t> symbol_value(Elf* elf, Elf_Scn* scn, const GElf_Shdr& sh, Elf_Scn* versym,
                                     const std::string& function) {
    Elf_Data* syms = elf_getdata(scn, nullptr);
    Elf_Data* vers = versym ? elf_getdata(versym, nullptr) : nullptr;
    size_t n = sh.sh_entsize ? sh.sh_size / sh.sh_entsize : 0;
    for (size_t i = 0; syms && i < n; i++) {
        GElf_Sym sym;
        if (!gelf_getsym(syms, int(i), &sym) || sym.st_shndx == SHN_UNDEF || sym.st_value == 0)
            continue;
        int type = GELF_ST_TYPE(sym.st_info);
        if (type != STT_FUNC && type != STT_GNU_IFUNC)
            continue;
        const char* name = elf_strptr(elf, sh.sh_link, sym.st_name);
        if (!name || function != name)
            continue;
        GElf_Versym v = 0;
        if (vers)
            gelf_getversym(vers, int(i), &v);
        if (v & 0x8000)
            continue;  // hidden: an old version kept for old binaries
        return sym.st_value;
    }
    return std::nullopt;
}

std::optional<uint64_t> file_offset_of(Elf* elf, uint64_t address) {
    size_t phnum = 0;
    elf_getphdrnum(elf, &phnum);
    for (size_t i = 0; i < phnum; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(elf, int(i), &ph) || ph.p_type != PT_LOAD)
            continue;
        if (address >= ph.p_vaddr && address < ph.p_vaddr + ph.p_filesz)
            return address - ph.p_vaddr + ph.p_offset;
    }
    return std::nullopt;
}

}  // namespace

std::optional<ElfFunction> find_elf_function(const std::string& path, const std::string& function,
                                             std::string& error) {
    ElfFile f(path);
    if (!f.fd) {
        error = errno_text("cannot open " + path);
        return std::nullopt;
    }
    if (!f.elf || elf_kind(f.elf) != ELF_K_ELF) {
        error = path + ": not an ELF file";
        return std::nullopt;
    }
    Elf_Scn *dynsym = nullptr, *versym = nullptr, *symtab = nullptr;
    GElf_Shdr dynsym_hdr{}, symtab_hdr{};
    for (Elf_Scn* scn = elf_nextscn(f.elf, nullptr); scn; scn = elf_nextscn(f.elf, scn)) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh))
            continue;
        if (sh.sh_type == SHT_DYNSYM)
            dynsym = scn, dynsym_hdr = sh;
        else if (sh.sh_type == SHT_SYMTAB)
            symtab = scn, symtab_hdr = sh;
        else if (sh.sh_type == SHT_GNU_versym)
            versym = scn;
    }
    std::optional<uint64_t> address;
    if (dynsym)
        address = symbol_value(f.elf, dynsym, dynsym_hdr, versym, function);
    if (!address && symtab)
        address = symbol_value(f.elf, symtab, symtab_hdr, nullptr, function);
    if (!address) {
        error = path + ": no function " + function;
        return std::nullopt;
    }
    std::optional<uint64_t> offset = file_offset_of(f.elf, *address);
    if (!offset) {
        error = path + ": " + function + " is in no loadable segment";
        return std::nullopt;
    }
    ElfFunction out;
    out.address = *address;
    out.file_offset = *offset;
    if (pread(f.fd.get(), out.first.data(), out.first.size(), off_t(*offset)) !=
        ssize_t(out.first.size()))
        out.first.fill(0);
    return out;
}

bool uprobe_emulates(const std::array<unsigned char, 4>& b) {
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

}  // namespace tk
