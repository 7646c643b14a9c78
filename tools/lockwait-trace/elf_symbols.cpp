#include "elf_symbols.h"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <fstream>

#include "errors.h"

namespace lockwait {

namespace {

struct ElfFile {
    int fd = -1;
    Elf* elf = nullptr;
    explicit ElfFile(const std::string& path) {
        elf_version(EV_CURRENT);
        fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd >= 0)
            elf = elf_begin(fd, ELF_C_READ_MMAP, nullptr);
    }
    ~ElfFile() {
        if (elf)
            elf_end(elf);
        if (fd >= 0)
            close(fd);
    }
};

}  // namespace

std::optional<uint64_t> function_file_offset(const std::string& path, const std::string& name,
                                             std::string& error) {
    ElfFile f(path);
    if (f.fd < 0) {
        error = tk::errno_text("cannot open " + path);
        return std::nullopt;
    }
    if (!f.elf || elf_kind(f.elf) != ELF_K_ELF) {
        error = path + ": not an ELF file";
        return std::nullopt;
    }
    Elf_Scn *dynsym = nullptr, *versym = nullptr;
    GElf_Shdr dynsym_hdr{};
    for (Elf_Scn* scn = elf_nextscn(f.elf, nullptr); scn; scn = elf_nextscn(f.elf, scn)) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh))
            continue;
        if (sh.sh_type == SHT_DYNSYM)
            dynsym = scn, dynsym_hdr = sh;
        if (sh.sh_type == SHT_GNU_versym)
            versym = scn;
    }
    if (!dynsym) {
        error = path + ": no dynamic symbol table";
        return std::nullopt;
    }
    Elf_Data* syms = elf_getdata(dynsym, nullptr);
    Elf_Data* vers = versym ? elf_getdata(versym, nullptr) : nullptr;
    size_t n = dynsym_hdr.sh_entsize ? dynsym_hdr.sh_size / dynsym_hdr.sh_entsize : 0;
    std::optional<uint64_t> vaddr;
    for (size_t i = 0; syms && i < n; i++) {
        GElf_Sym sym;
        if (!gelf_getsym(syms, int(i), &sym) || sym.st_shndx == SHN_UNDEF)
            continue;
        int type = GELF_ST_TYPE(sym.st_info);
        if (type != STT_FUNC && type != STT_GNU_IFUNC)
            continue;
        const char* sname = elf_strptr(f.elf, dynsym_hdr.sh_link, sym.st_name);
        if (!sname || name != sname)
            continue;
        GElf_Versym v = 0;
        if (vers)
            gelf_getversym(vers, int(i), &v);
        if (v & 0x8000)
            continue;  // hidden: an old version kept for old binaries
        vaddr = sym.st_value;
        break;
    }
    if (!vaddr) {
        error = path + ": no function " + name;
        return std::nullopt;
    }
    size_t phnum = 0;
    elf_getphdrnum(f.elf, &phnum);
    for (size_t i = 0; i < phnum; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(f.elf, int(i), &ph) || ph.p_type != PT_LOAD)
            continue;
        if (*vaddr >= ph.p_vaddr && *vaddr < ph.p_vaddr + ph.p_filesz)
            return *vaddr - ph.p_vaddr + ph.p_offset;
    }
    error = path + ": " + name + " is in no loadable segment";
    return std::nullopt;
}

std::string libc_of(pid_t pid) {
    std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
    std::string line;
    while (std::getline(maps, line)) {
        auto slash = line.find('/');
        if (slash == std::string::npos)
            continue;
        std::string path = line.substr(slash);
        auto base = path.substr(path.rfind('/') + 1);
        if (base == "libc.so.6")
            return path;
    }
    return "";
}

}  // namespace lockwait
