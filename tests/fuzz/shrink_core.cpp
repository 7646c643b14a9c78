// fuzz-shrink-core: a small seed for the fuzzers from a real core.
//   fuzz-shrink-core IN OUT [--stack BYTES] [--elf-pages] [--writable BYTES] [--pn-xnum]
//
// A real core of a victim is megabytes, most of it memory no reader of the notes looks at,
// and a fuzzer mutates every byte it is given. The seed keeps the ELF header and the notes
// as they are and, of the memory, only what an analysis needs most: --stack BYTES (default
// 4096) of each thread's stack from a page below its stack pointer up; with --elf-pages the
// first page of every segment that starts with an ELF header (libdwfl finds the modules and
// their build-ids there); with --writable BYTES every writable segment of at most BYTES,
// whole (heap, .data, .bss, TLS: where glibc's abort message, the exception in flight and
// the mutexes are). Every PT_LOAD keeps its range of the process's memory, split where bytes
// are kept; the rest of it is "not dumped" (p_filesz 0), as the kernel writes memory it
// leaves out. Pieces are whole pages, at page-aligned file offsets, as in a core. --pn-xnum
// writes the program header count as the kernel does past 65534 mappings: e_phnum PN_XNUM,
// the count in section header 0.
#include <elf.h>
#include <sys/procfs.h>
#include <sys/user.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

namespace {

constexpr uint64_t kPage = 4096;

uint64_t page_down(uint64_t a) {
    return a & ~(kPage - 1);
}
uint64_t page_up(uint64_t a) {
    return (a + kPage - 1) & ~(kPage - 1);
}

[[noreturn]] void fail(const std::string& what) {
    fprintf(stderr, "fuzz-shrink-core: %s\n", what.c_str());
    exit(1);
}

struct Core {
    std::vector<uint8_t> bytes;
    Elf64_Ehdr eh{};
    std::vector<Elf64_Phdr> phdrs;
};

Core read_core(const char* path) {
    Core c;
    std::ifstream in(path, std::ios::binary);
    if (!in)
        fail(std::string(path) + ": cannot read");
    c.bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (c.bytes.size() < sizeof c.eh)
        fail(std::string(path) + ": too short for an ELF header");
    memcpy(&c.eh, c.bytes.data(), sizeof c.eh);
    if (memcmp(c.eh.e_ident, ELFMAG, SELFMAG) != 0 || c.eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        c.eh.e_type != ET_CORE || c.eh.e_phnum == PN_XNUM ||
        c.eh.e_phoff + uint64_t(c.eh.e_phnum) * sizeof(Elf64_Phdr) > c.bytes.size())
        fail(std::string(path) + ": not a 64-bit ELF core this tool can shrink");
    c.phdrs.resize(c.eh.e_phnum);
    memcpy(c.phdrs.data(), c.bytes.data() + c.eh.e_phoff, c.phdrs.size() * sizeof(Elf64_Phdr));
    return c;
}

// The stack pointer of every thread (NT_PRSTATUS of the "CORE" notes).
std::vector<uint64_t> stack_pointers(const Core& c) {
    std::vector<uint64_t> sps;
    for (const Elf64_Phdr& ph : c.phdrs) {
        if (ph.p_type != PT_NOTE || ph.p_offset + ph.p_filesz > c.bytes.size())
            continue;
        const uint8_t* p = c.bytes.data() + ph.p_offset;
        uint64_t pos = 0;
        while (pos + 12 <= ph.p_filesz) {
            uint32_t namesz, descsz, type;
            memcpy(&namesz, p + pos, 4);
            memcpy(&descsz, p + pos + 4, 4);
            memcpy(&type, p + pos + 8, 4);
            uint64_t desc = pos + 12 + ((uint64_t(namesz) + 3) & ~uint64_t(3));
            if (desc + descsz > ph.p_filesz)
                break;
            if (type == NT_PRSTATUS && namesz == 5 && memcmp(p + pos + 12, "CORE", 5) == 0 &&
                descsz >= sizeof(elf_prstatus)) {
                elf_prstatus pr;
                memcpy(&pr, p + desc, sizeof pr);
                sps.push_back(pr.pr_reg[offsetof(user_regs_struct, rsp) / 8]);
            }
            pos = desc + ((uint64_t(descsz) + 3) & ~uint64_t(3));
        }
    }
    return sps;
}

// The byte ranges of a PT_LOAD to keep, relative to its start, sorted and disjoint.
std::vector<std::pair<uint64_t, uint64_t>> kept_ranges(const Core& c, const Elf64_Phdr& ph,
                                                       const std::vector<uint64_t>& sps,
                                                       uint64_t stack, bool elf_pages,
                                                       uint64_t writable) {
    uint64_t avail = ph.p_offset >= c.bytes.size()
                         ? 0
                         : std::min<uint64_t>(ph.p_filesz, c.bytes.size() - ph.p_offset);
    std::vector<std::pair<uint64_t, uint64_t>> r;
    if ((ph.p_flags & PF_W) && ph.p_memsz <= writable && avail > 0)
        r.emplace_back(0, avail);
    if (elf_pages && avail >= SELFMAG && memcmp(c.bytes.data() + ph.p_offset, ELFMAG, SELFMAG) == 0)
        r.emplace_back(0, std::min(kPage, avail));
    for (uint64_t sp : sps) {
        if (sp < ph.p_vaddr || sp >= ph.p_vaddr + ph.p_memsz)
            continue;
        uint64_t lo = page_down(sp - ph.p_vaddr) - std::min(kPage, page_down(sp - ph.p_vaddr));
        uint64_t hi = std::min(avail, page_up(sp - ph.p_vaddr + stack));
        if (lo < hi)
            r.emplace_back(lo, hi);
    }
    std::sort(r.begin(), r.end());
    std::vector<std::pair<uint64_t, uint64_t>> merged;
    for (auto [lo, hi] : r) {
        if (!merged.empty() && lo <= merged.back().second)
            merged.back().second = std::max(merged.back().second, hi);
        else
            merged.emplace_back(lo, hi);
    }
    return merged;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3)
        fail(
            "usage: fuzz-shrink-core IN OUT [--stack BYTES] [--elf-pages] [--writable BYTES] "
            "[--pn-xnum]");
    uint64_t stack = kPage;
    bool elf_pages = false;
    uint64_t writable = 0;
    bool pn_xnum = false;
    for (int i = 3; i < argc; i++) {
        std::string a = argv[i];
        if (a == "--stack" && i + 1 < argc)
            stack = std::strtoull(argv[++i], nullptr, 10);
        else if (a == "--elf-pages")
            elf_pages = true;
        else if (a == "--writable" && i + 1 < argc)
            writable = std::strtoull(argv[++i], nullptr, 10);
        else if (a == "--pn-xnum")
            pn_xnum = true;
        else
            fail("unknown option " + a);
    }
    Core c = read_core(argv[1]);
    std::vector<uint64_t> sps = stack_pointers(c);

    // The new program headers, with the bytes each one's p_offset will point at.
    std::vector<Elf64_Phdr> out_ph;
    std::vector<std::pair<uint64_t, uint64_t>> data;  // (offset in the input, length)
    for (const Elf64_Phdr& ph : c.phdrs) {
        if (ph.p_type == PT_NOTE) {
            Elf64_Phdr n = ph;
            n.p_filesz = std::min<uint64_t>(ph.p_filesz, c.bytes.size() - ph.p_offset);
            out_ph.push_back(n);
            data.emplace_back(ph.p_offset, n.p_filesz);
            continue;
        }
        if (ph.p_type != PT_LOAD) {
            Elf64_Phdr o = ph;
            o.p_filesz = 0;
            out_ph.push_back(o);
            data.emplace_back(0, 0);
            continue;
        }
        uint64_t at = 0;
        auto piece = [&](uint64_t lo, uint64_t hi, bool keep) {
            Elf64_Phdr p = ph;
            p.p_vaddr = ph.p_vaddr + lo;
            p.p_paddr = 0;
            p.p_memsz = hi - lo;
            p.p_filesz = keep ? hi - lo : 0;
            out_ph.push_back(p);
            data.emplace_back(keep ? ph.p_offset + lo : 0, keep ? hi - lo : 0);
        };
        for (auto [lo, hi] : kept_ranges(c, ph, sps, stack, elf_pages, writable)) {
            if (at < lo)
                piece(at, lo, false);
            piece(lo, hi, true);
            at = hi;
        }
        if (at < ph.p_memsz)
            piece(at, ph.p_memsz, false);
    }

    Elf64_Ehdr eh = c.eh;
    eh.e_phoff = sizeof eh;
    eh.e_phnum = uint16_t(out_ph.size());
    eh.e_shoff = 0;
    eh.e_shnum = 0;
    eh.e_shstrndx = 0;
    std::vector<uint8_t> out(sizeof eh + out_ph.size() * sizeof(Elf64_Phdr));
    for (size_t i = 0; i < out_ph.size(); i++) {
        uint64_t len = data[i].second;
        if (out_ph[i].p_type == PT_LOAD)
            out.resize(page_up(out.size()));  // a core's memory is page-aligned in the file
        else
            out.resize((out.size() + 7) & ~size_t(7));
        out_ph[i].p_offset = out.size();
        out.insert(out.end(), c.bytes.begin() + std::ptrdiff_t(data[i].first),
                   c.bytes.begin() + std::ptrdiff_t(data[i].first + len));
    }
    if (pn_xnum) {
        eh.e_phnum = PN_XNUM;
        eh.e_shnum = 1;
        out.resize((out.size() + 7) & ~size_t(7));
        eh.e_shoff = out.size();
        eh.e_shentsize = sizeof(Elf64_Shdr);
        Elf64_Shdr sh0{};
        sh0.sh_info = uint32_t(out_ph.size());
        out.insert(out.end(), reinterpret_cast<const uint8_t*>(&sh0),
                   reinterpret_cast<const uint8_t*>(&sh0) + sizeof sh0);
    }
    memcpy(out.data(), &eh, sizeof eh);
    memcpy(out.data() + sizeof eh, out_ph.data(), out_ph.size() * sizeof(Elf64_Phdr));
    std::ofstream o(argv[2], std::ios::binary | std::ios::trunc);
    o.write(reinterpret_cast<const char*>(out.data()), std::streamsize(out.size()));
    if (!o)
        fail(std::string(argv[2]) + ": cannot write");
    printf("%s: %zu bytes (from %zu), %zu program headers (from %zu), %zu threads\n", argv[2],
           out.size(), c.bytes.size(), out_ph.size(), c.phdrs.size(), sps.size());
    return 0;
}
