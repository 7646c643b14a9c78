#include "elf_inflate.h"

#include <dlfcn.h>
#include <elf.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

namespace tk {

namespace {

// The two inflaters, found at run time. libdeflate's ABI (soname libdeflate.so.0) and
// zlib's uncompress() have been stable for years; declaring the three functions here
// spares a build dependency for what is only a speed-up.
class Inflater {
  public:
    Inflater() {
        if (void* h = dlopen("libdeflate.so.0", RTLD_NOW | RTLD_LOCAL)) {
            alloc_ = reinterpret_cast<AllocFn>(dlsym(h, "libdeflate_alloc_decompressor"));
            free_ = reinterpret_cast<FreeFn>(dlsym(h, "libdeflate_free_decompressor"));
            zlib_ = reinterpret_cast<ZlibFn>(dlsym(h, "libdeflate_zlib_decompress"));
            if (!alloc_ || !free_ || !zlib_)
                alloc_ = nullptr;
        }
        if (void* h = dlopen("libz.so.1", RTLD_NOW | RTLD_LOCAL))
            uncompress_ = reinterpret_cast<UncompressFn>(dlsym(h, "uncompress"));
    }
    bool usable() const { return alloc_ || uncompress_; }

    // One per thread: libdeflate's decompressor is not shareable.
    class Session {
      public:
        explicit Session(const Inflater& in) : in_(in), d_(in.alloc_ ? in.alloc_() : nullptr) {}
        ~Session() {
            if (d_)
                in_.free_(d_);
        }
        Session(const Session&) = delete;
        Session& operator=(const Session&) = delete;
        // True when IN inflates to exactly OUT_SIZE bytes.
        bool inflate(const uint8_t* in, size_t in_size, uint8_t* out, size_t out_size) {
            if (d_) {
                size_t got = 0;
                return in_.zlib_(d_, in, in_size, out, out_size, &got) == 0 && got == out_size;
            }
            if (!in_.uncompress_)
                return false;
            unsigned long got = out_size;
            return in_.uncompress_(out, &got, in, in_size) == 0 && got == out_size;
        }

      private:
        const Inflater& in_;
        void* d_;
    };

  private:
    using AllocFn = void* (*)();
    using FreeFn = void (*)(void*);
    using ZlibFn = int (*)(void*, const void*, size_t, void*, size_t, size_t*);
    using UncompressFn = int (*)(unsigned char*, unsigned long*, const unsigned char*,
                                 unsigned long);
    AllocFn alloc_ = nullptr;
    FreeFn free_ = nullptr;
    ZlibFn zlib_ = nullptr;
    UncompressFn uncompress_ = nullptr;
};

const Inflater& inflater() {
    static const Inflater instance;
    return instance;
}

// A read-only mapping that unmaps itself.
struct Mapped {
    const uint8_t* data = nullptr;
    size_t size = 0;
    ~Mapped() {
        if (data)
            munmap(const_cast<uint8_t*>(data), size);
    }
};

uint64_t align_up(uint64_t v, uint64_t a) {
    return a > 1 ? (v + a - 1) / a * a : v;
}

struct Job {
    size_t section;
    const uint8_t* in;
    size_t in_size;
    uint64_t out_offset;
    uint64_t out_size;
};

int fail(std::string* why_not, const char* why) {
    if (why_not)
        *why_not = why;
    return -1;
}

// Each step below returns why it cannot go on, or nullptr.

const char* map_file(int fd, Mapped& in) {
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < off_t(sizeof(Elf64_Ehdr)))
        return "not an ELF file";
    in.size = size_t(st.st_size);
    void* m = mmap(nullptr, in.size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED)
        return "cannot map the file";
    in.data = static_cast<const uint8_t*>(m);
    return nullptr;
}

// The file's ELF header and section headers, checked against its size.
struct Headers {
    Elf64_Ehdr eh;
    std::vector<Elf64_Shdr> sh;         // the copy's, once laid out
    uint64_t end = sizeof(Elf64_Ehdr);  // of the ELF and program headers, copied as they are
};

const char* read_headers(const Mapped& in, Headers& h) {
    const Elf64_Ehdr& eh = h.eh;
    memcpy(&h.eh, in.data, sizeof h.eh);
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_shentsize != sizeof(Elf64_Shdr) ||
        eh.e_shnum == 0 || eh.e_shstrndx >= eh.e_shnum)
        return "not a 64-bit little-endian ELF file with sections";
    if (eh.e_shoff > in.size || (in.size - eh.e_shoff) / sizeof(Elf64_Shdr) < eh.e_shnum)
        return "section headers past the end of the file";
    if (eh.e_phnum) {
        if (eh.e_phoff > in.size || (in.size - eh.e_phoff) / sizeof(Elf64_Phdr) < eh.e_phnum)
            return "program headers past the end of the file";
        h.end = std::max<uint64_t>(h.end, eh.e_phoff + eh.e_phnum * sizeof(Elf64_Phdr));
    }
    h.sh.resize(eh.e_shnum);
    memcpy(h.sh.data(), in.data + eh.e_shoff, h.sh.size() * sizeof(Elf64_Shdr));
    const Elf64_Shdr& strtab = h.sh[eh.e_shstrndx];
    if (strtab.sh_offset > in.size || in.size - strtab.sh_offset < strtab.sh_size)
        return "section name table past the end of the file";
    return nullptr;
}

// The name of S, from the section name table STRTAB in the file.
std::string section_name(const Mapped& in, const Elf64_Shdr& strtab, const Elf64_Shdr& s) {
    if (s.sh_name >= strtab.sh_size)
        return {};
    const char* p = reinterpret_cast<const char*>(in.data + strtab.sh_offset + s.sh_name);
    return std::string(p, strnlen(p, strtab.sh_size - s.sh_name));
}

// The size and alignment of the compressed section S once inflated, from its header.
const char* inflated_size(const Mapped& in, const Elf64_Shdr& s, uint64_t& size, uint64_t& align) {
    Elf64_Chdr ch;
    if (s.sh_size < sizeof ch)
        return "a compressed section is too short";
    memcpy(&ch, in.data + s.sh_offset, sizeof ch);
    if (ch.ch_type != ELFCOMPRESS_ZLIB)
        return "a section is compressed with something other than zlib";
    if (ch.ch_size > (uint64_t(1) << 34))
        return "a compressed section claims an absurd size";
    size = ch.ch_size;
    align = ch.ch_addralign;
    return nullptr;
}

// The copy: headers where they were, then every section with data, inflated in place of
// its compressed form, then the section header table.
struct Layout {
    std::vector<Job> jobs;                       // the sections to inflate
    std::vector<uint64_t> src_offset, src_size;  // each section's bytes in the file (0: none)
    uint64_t shoff = 0, total = 0;
};

// Gives every section of H its place in the copy (H.sh becomes the copy's headers).
const char* lay_out(const Mapped& in, Headers& h, Layout& l) {
    std::vector<Elf64_Shdr>& sh = h.sh;
    l.src_offset.assign(sh.size(), 0);
    l.src_size.assign(sh.size(), 0);
    uint64_t offset = h.end;
    for (size_t i = 1; i < sh.size(); i++) {
        Elf64_Shdr& s = sh[i];
        if (s.sh_type == SHT_NOBITS || s.sh_size == 0)
            continue;
        if (s.sh_offset > in.size || in.size - s.sh_offset < s.sh_size)
            return "a section is past the end of the file";
        std::string name = section_name(in, sh[h.eh.e_shstrndx], s);
        if (name == ".debug_loclists" || name == ".debug_loc") {
            // Variable locations: never read by a symbolizer, and a fifth of the inflating.
            s.sh_type = SHT_NOBITS;
            s.sh_flags &= ~uint64_t(SHF_COMPRESSED);
            s.sh_size = 0;
            continue;
        }
        uint64_t out_size = s.sh_size, align = s.sh_addralign;
        if (s.sh_flags & SHF_COMPRESSED)
            if (const char* why = inflated_size(in, s, out_size, align))
                return why;
        offset = align_up(offset, std::max<uint64_t>(align, 1));
        l.src_offset[i] = s.sh_offset;
        l.src_size[i] = s.sh_size;
        if (s.sh_flags & SHF_COMPRESSED) {
            l.jobs.push_back({i, in.data + s.sh_offset + sizeof(Elf64_Chdr),
                              size_t(s.sh_size - sizeof(Elf64_Chdr)), offset, out_size});
            s.sh_flags &= ~uint64_t(SHF_COMPRESSED);
            s.sh_addralign = align;
        }
        s.sh_offset = offset;
        s.sh_size = out_size;
        offset += out_size;
    }
    if (l.jobs.empty())
        return "no compressed sections";
    l.shoff = align_up(offset, 8);
    l.total = l.shoff + sh.size() * sizeof(Elf64_Shdr);
    return nullptr;
}

// A memfd of SIZE bytes, mapped writable at OUT; -1 (and WHY) when that cannot be had.
int create_copy(uint64_t size, uint8_t*& out, const char*& why) {
    int out_fd = memfd_create("debuginfo", MFD_CLOEXEC);
    if (out_fd < 0) {
        why = "memfd_create failed";
        return -1;
    }
    if (ftruncate(out_fd, off_t(size)) != 0) {
        close(out_fd);
        why = "cannot size the in-memory copy";
        return -1;
    }
    void* om = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, out_fd, 0);
    if (om == MAP_FAILED) {
        close(out_fd);
        why = "cannot map the in-memory copy";
        return -1;
    }
    out = static_cast<uint8_t*>(om);
    return out_fd;
}

// Everything of the copy but the inflated sections: the headers, the sections kept as
// they are, the section header table.
void copy_unchanged(const Mapped& in, const Headers& h, const Layout& l, uint8_t* out) {
    const std::vector<Elf64_Shdr>& sh = h.sh;
    memcpy(out, in.data, h.end);
    Elf64_Ehdr new_eh = h.eh;
    new_eh.e_shoff = l.shoff;
    memcpy(out, &new_eh, sizeof new_eh);
    for (size_t i = 1; i < sh.size(); i++)
        if (l.src_size[i] && !(sh[i].sh_type == SHT_NOBITS) &&
            std::none_of(l.jobs.begin(), l.jobs.end(),
                         [&](const Job& j) { return j.section == i; }))
            memcpy(out + sh[i].sh_offset, in.data + l.src_offset[i], l.src_size[i]);
    memcpy(out + l.shoff, sh.data(), sh.size() * sizeof(Elf64_Shdr));
}

// Inflates every job into OUT: the biggest sections first, each to the least loaded
// worker. False when a section did not inflate to its recorded size.
bool inflate_all(const Inflater& inf, std::vector<Job>& jobs, uint8_t* out) {
    std::sort(jobs.begin(), jobs.end(),
              [](const Job& a, const Job& b) { return a.in_size > b.in_size; });
    unsigned workers =
        std::max(1u, std::min({std::thread::hardware_concurrency(), 4u, unsigned(jobs.size())}));
    std::vector<std::vector<const Job*>> plan(workers);
    std::vector<size_t> load(workers, 0);
    for (const Job& j : jobs) {
        size_t w = size_t(std::min_element(load.begin(), load.end()) - load.begin());
        plan[w].push_back(&j);
        load[w] += j.in_size;
    }
    std::atomic<bool> ok{true};
    auto run = [&](const std::vector<const Job*>& mine) {
        Inflater::Session session(inf);
        for (const Job* j : mine)
            if (ok && !session.inflate(j->in, j->in_size, out + j->out_offset, j->out_size))
                ok = false;
    };
    std::vector<std::thread> threads;
    for (unsigned w = 1; w < workers; w++)
        threads.emplace_back(run, std::cref(plan[w]));
    run(plan[0]);
    for (std::thread& t : threads)
        t.join();
    return ok;
}

}  // namespace

int inflate_debug_file(int fd, std::string* why_not) {
    const Inflater& inf = inflater();
    if (!inf.usable())
        return fail(why_not, "neither libdeflate nor zlib could be loaded");
    Mapped in;
    Headers h;
    Layout l;
    const char* why = map_file(fd, in);
    if (!why)
        why = read_headers(in, h);
    if (!why)
        why = lay_out(in, h, l);
    if (why)
        return fail(why_not, why);
    uint8_t* out = nullptr;
    int out_fd = create_copy(l.total, out, why);
    if (out_fd < 0)
        return fail(why_not, why);
    copy_unchanged(in, h, l, out);
    bool ok = inflate_all(inf, l.jobs, out);
    munmap(out, l.total);
    if (!ok) {
        close(out_fd);
        return fail(why_not, "a section did not inflate to its recorded size");
    }
    return out_fd;
}

}  // namespace tk
