#include "core_file.h"

#include <elf.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/procfs.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace crashlab {

namespace {

// The kernel's layouts for x86-64; glibc's structs match them, which these pin down.
static_assert(sizeof(elf_prstatus) == 336);
static_assert(sizeof(elf_prpsinfo) == 136);
static_assert(sizeof(user_regs_struct) == 27 * 8);
constexpr size_t kSigInfoSize = 128;

// The core's own idea of fields, read at fixed offsets from possibly unaligned bytes.
template <class T>
T load(const uint8_t* p) {
    T v;
    memcpy(&v, p, sizeof v);
    return v;
}

uint64_t align4(uint64_t n) {
    return (n + 3) & ~uint64_t(3);
}

std::string bounded_string(const char* p, size_t max) {
    size_t n = 0;
    while (n < max && p[n])
        n++;
    return std::string(p, n);
}

}  // namespace

std::string format_bytes(uint64_t bytes) {
    char buf[32];
    if (bytes >= (uint64_t(1) << 30))
        snprintf(buf, sizeof buf, "%.1f GiB", double(bytes) / double(1 << 30));
    else if (bytes >= (1 << 20))
        snprintf(buf, sizeof buf, "%.1f MiB", double(bytes) / double(1 << 20));
    else if (bytes >= (1 << 10))
        snprintf(buf, sizeof buf, "%.1f KiB", double(bytes) / double(1 << 10));
    else
        snprintf(buf, sizeof buf, "%llu bytes", (unsigned long long)bytes);
    return buf;
}

bool SigInfo::fault_fields() const {
    return code > 0 && code != SI_KERNEL &&
           (signo == SIGSEGV || signo == SIGBUS || signo == SIGFPE || signo == SIGILL ||
            signo == SIGTRAP);
}

bool SigInfo::sender_fields() const {
    // SI_USER (kill), SI_QUEUE (sigqueue), SI_TKILL (tkill/tgkill), SI_MESGQ, SI_ASYNCIO,
    // SI_SIGIO are <= 0 and carry si_pid/si_uid; SI_KERNEL and fault codes do not.
    return code == SI_USER || code == SI_QUEUE || code == SI_TKILL || code == SI_MESGQ;
}

CoreFile::CoreFile(const std::string& path) : path_(path) {
    fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
        int err = errno;
        if (err == ENOENT)
            throw tk::UserError(path +
                                ": no such file: check the path (crashlab run prints "
                                "where it put the core)");
        throw tk::UserError(tk::errno_text(path, err) +
                            (err == EACCES ? ": cores are readable by their owner only; "
                                             "run as that user or with sudo"
                                           : ""));
    }
    struct stat st;
    if (fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd_);
        fd_ = -1;
        throw tk::UserError(path + ": not a regular file: give the path of a core file");
    }
    size_ = uint64_t(st.st_size);
    if (size_ < sizeof(Elf64_Ehdr)) {
        close(fd_);
        fd_ = -1;
        throw tk::UserError(path + ": not a core file (" + std::to_string(size_) +
                            " bytes, too short for an ELF header)");
    }
    void* map = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd_, 0);
    if (map == MAP_FAILED) {
        int err = errno;
        close(fd_);
        fd_ = -1;
        throw tk::UserError(tk::errno_text(path + ": cannot map the file", err));
    }
    data_ = static_cast<const uint8_t*>(map);
    try {
        parse_headers();
    } catch (...) {
        munmap(const_cast<uint8_t*>(data_), size_);
        close(fd_);
        fd_ = -1;
        throw;
    }
    elf_version(EV_CURRENT);
    elf_ = elf_begin(fd_, ELF_C_READ_MMAP, nullptr);
}

CoreFile::~CoreFile() {
    if (elf_)
        elf_end(elf_);
    if (data_)
        munmap(const_cast<uint8_t*>(data_), size_);
    if (fd_ >= 0)
        close(fd_);
}

void CoreFile::problem(std::string text) {
    if (std::find(problems_.begin(), problems_.end(), text) == problems_.end())
        problems_.push_back(std::move(text));
}

void CoreFile::damaged_note(std::string text) {
    problem(std::move(text));
    notes_damaged_ = true;
}

void CoreFile::parse_headers() {
    Elf64_Ehdr eh;
    memcpy(&eh, data_, sizeof eh);
    check_elf_header(eh);
    std::vector<Elf64_Phdr> notes = read_program_headers(eh, program_header_count(eh));
    if (expected_size_ > size_)
        problem("truncated core: " + format_bytes(size_) + " of " + format_bytes(expected_size_) +
                " present (disk full, a size limit, or a copy cut short); memory past the "
                "cut is missing");
    read_note_segments(notes);
    if (threads_.empty())
        problem("no thread registers (NT_PRSTATUS) in the core: no backtraces possible");
    if (!siginfo_)
        problem("no signal information (NT_SIGINFO) in the core");
}

// Only an x86-64 ELF core is read at all; anything else is refused with what to give instead.
void CoreFile::check_elf_header(const Elf64_Ehdr& eh) const {
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
        throw tk::UserError(path_ +
                            ": not a core file (no ELF header): give the core the "
                            "kernel wrote, e.g. ./core or core.PID");
    if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
        eh.e_machine != EM_X86_64)
        throw tk::UserError(path_ +
                            ": an ELF file for another architecture: crashlab reads "
                            "x86-64 cores only");
    if (eh.e_type != ET_CORE)
        throw tk::UserError(path_ + ": an ELF " +
                            (eh.e_type == ET_EXEC || eh.e_type == ET_DYN
                                 ? std::string("executable or library")
                                 : std::string("file")) +
                            ", not a core: give the core file (and the executable with "
                            "--exe)");
    if (eh.e_phentsize != sizeof(Elf64_Phdr))
        throw tk::UserError(path_ + ": damaged core: program header size " +
                            std::to_string(eh.e_phentsize) + " (expected 56)");
}

// How many program headers there are and are in the file (fewer when it is truncated).
uint64_t CoreFile::program_header_count(const Elf64_Ehdr& eh) {
    // More than 65534 mappings: the real count is in section header 0 (PN_XNUM).
    uint64_t phnum = eh.e_phnum;
    if (phnum == PN_XNUM) {
        if (eh.e_shoff && eh.e_shoff <= size_ && size_ - eh.e_shoff >= sizeof(Elf64_Shdr)) {
            Elf64_Shdr sh0;
            memcpy(&sh0, data_ + eh.e_shoff, sizeof sh0);
            phnum = sh0.sh_info;
        } else {
            problem(
                "damaged core: more than 65534 program headers but no section header "
                "with their count");
            phnum = 0;
        }
    }
    if (eh.e_phoff > size_ || phnum > (size_ - eh.e_phoff) / sizeof(Elf64_Phdr)) {
        uint64_t fit = eh.e_phoff > size_ ? 0 : (size_ - eh.e_phoff) / sizeof(Elf64_Phdr);
        problem("truncated core: only " + std::to_string(fit) + " of " + std::to_string(phnum) +
                " program headers are in the file");
        expected_size_ = eh.e_phoff + phnum * sizeof(Elf64_Phdr);
        phnum = fit;
    }
    return phnum;
}

// The PT_LOADs become segments (sorted by address); the PT_NOTEs are returned.
std::vector<Elf64_Phdr> CoreFile::read_program_headers(const Elf64_Ehdr& eh, uint64_t phnum) {
    std::vector<Elf64_Phdr> notes;
    for (uint64_t i = 0; i < phnum; i++) {
        Elf64_Phdr ph;
        memcpy(&ph, data_ + eh.e_phoff + i * sizeof(Elf64_Phdr), sizeof ph);
        uint64_t end = ph.p_offset + ph.p_filesz;
        if (end < ph.p_offset) {  // wrapped: nonsense
            problem("damaged core: program header " + std::to_string(i) +
                    " has an impossible file range");
            continue;
        }
        expected_size_ = std::max(expected_size_, end);
        if (ph.p_type == PT_NOTE)
            notes.push_back(ph);
        else if (ph.p_type == PT_LOAD)
            add_segment(ph);
    }
    std::sort(segments_.begin(), segments_.end(),
              [](const Segment& a, const Segment& b) { return a.vaddr < b.vaddr; });
    return notes;
}

void CoreFile::add_segment(const Elf64_Phdr& ph) {
    Segment s;
    s.vaddr = ph.p_vaddr;
    s.memsz = ph.p_memsz;
    s.offset = ph.p_offset;
    s.filesz = std::min(ph.p_filesz, ph.p_memsz);
    s.available = ph.p_offset >= size_ ? 0 : std::min(s.filesz, size_ - ph.p_offset);
    s.flags = ph.p_flags;
    if (s.vaddr + s.memsz < s.vaddr) {
        char where[32];
        snprintf(where, sizeof where, "0x%llx", (unsigned long long)s.vaddr);
        problem(std::string("damaged core: segment at ") + where +
                " wraps around the address space");
        return;
    }
    segments_.push_back(s);
}

// The notes of every PT_NOTE, as much of each as the file holds.
void CoreFile::read_note_segments(const std::vector<Elf64_Phdr>& notes) {
    if (notes.empty())
        problem("damaged core: no PT_NOTE segment (no threads, registers or signal info)");
    for (const Elf64_Phdr& ph : notes) {
        if (ph.p_offset >= size_) {
            damaged_note(
                "truncated core: the notes (threads, registers, signal) are past the "
                "end of the file");
            continue;
        }
        uint64_t avail = std::min(ph.p_filesz, size_ - ph.p_offset);
        if (avail < ph.p_filesz)
            damaged_note(
                "truncated core: the notes are cut short; some threads or signal "
                "information may be missing");
        parse_notes(data_ + ph.p_offset, avail, ph.p_offset);
    }
}

void CoreFile::parse_notes(const uint8_t* p, uint64_t size, uint64_t file_offset) {
    uint64_t pos = 0;
    while (pos < size) {
        if (size - pos < 12) {
            damaged_note("damaged note at file offset " + std::to_string(file_offset + pos) +
                         ": header cut short");
            return;
        }
        uint32_t namesz = load<uint32_t>(p + pos);
        uint32_t descsz = load<uint32_t>(p + pos + 4);
        uint32_t type = load<uint32_t>(p + pos + 8);
        uint64_t name_off = pos + 12;
        uint64_t desc_off = name_off + align4(namesz);
        uint64_t next = desc_off + align4(descsz);
        if (desc_off > size || next > size || descsz > size) {
            damaged_note("damaged note at file offset " + std::to_string(file_offset + pos) +
                         ": sizes (name " + std::to_string(namesz) + ", data " +
                         std::to_string(descsz) +
                         ") run past the notes; the notes after it are "
                         "lost");
            return;
        }
        std::string name = bounded_string(reinterpret_cast<const char*>(p + name_off), namesz);
        // "CORE" carries the process notes, "LINUX" the extra register sets.
        if (name == "CORE")
            parse_note(type, p + desc_off, descsz);
        pos = next;
    }
}

void CoreFile::parse_note(uint32_t type, const uint8_t* desc, uint64_t size) {
    switch (type) {
        case NT_PRSTATUS:
            parse_prstatus(desc, size);
            break;
        case NT_PRPSINFO:
            parse_prpsinfo(desc, size);
            break;
        case NT_SIGINFO:
            parse_siginfo(desc, size);
            break;
        case NT_AUXV:
            parse_auxv(desc, size);
            break;
        case NT_FILE:
            parse_file_note(desc, size);
            break;
        default:
            break;
    }
}

void CoreFile::parse_prstatus(const uint8_t* desc, uint64_t size) {
    if (size < sizeof(elf_prstatus)) {
        damaged_note("damaged NT_PRSTATUS note (" + std::to_string(size) +
                     " bytes): a thread's registers are missing");
        return;
    }
    elf_prstatus pr;
    memcpy(&pr, desc, sizeof pr);
    ThreadStatus t;
    t.tid = pr.pr_pid;
    t.cursig = pr.pr_cursig;
    t.sigpend = pr.pr_sigpend;
    t.sighold = pr.pr_sighold;
    memcpy(&t.regs, pr.pr_reg, sizeof t.regs);
    threads_.push_back(t);
}

void CoreFile::parse_prpsinfo(const uint8_t* desc, uint64_t size) {
    if (size < sizeof(elf_prpsinfo)) {
        damaged_note("damaged NT_PRPSINFO note: process name and arguments missing");
        return;
    }
    elf_prpsinfo ps;
    memcpy(&ps, desc, sizeof ps);
    ProcessInfo info;
    info.pid = ps.pr_pid;
    info.ppid = ps.pr_ppid;
    info.uid = int(ps.pr_uid);
    info.gid = int(ps.pr_gid);
    info.state = ps.pr_sname;
    info.fname = bounded_string(ps.pr_fname, sizeof ps.pr_fname);
    // The kernel separates the arguments with NULs only if they did not fit; it
    // already replaced them with spaces otherwise. Trailing spaces are padding.
    std::string args = bounded_string(ps.pr_psargs, sizeof ps.pr_psargs);
    while (!args.empty() && args.back() == ' ')
        args.pop_back();
    info.psargs = args;
    process_ = info;
}

void CoreFile::parse_siginfo(const uint8_t* desc, uint64_t size) {
    if (size < kSigInfoSize) {
        damaged_note("damaged NT_SIGINFO note: the signal's details are missing");
        return;
    }
    SigInfo si;
    si.signo = load<int32_t>(desc);
    si.error = load<int32_t>(desc + 4);
    si.code = load<int32_t>(desc + 8);
    // The union starts at offset 16: si_addr for faults, si_pid + si_uid for senders.
    si.addr = load<uint64_t>(desc + 16);
    si.pid = load<int32_t>(desc + 16);
    si.uid = load<int32_t>(desc + 20);
    siginfo_ = si;
}

void CoreFile::parse_auxv(const uint8_t* desc, uint64_t size) {
    for (uint64_t off = 0; off + 16 <= size; off += 16) {
        uint64_t key = load<uint64_t>(desc + off), value = load<uint64_t>(desc + off + 8);
        if (key == AT_NULL)
            break;
        auxv_.emplace_back(key, value);
    }
}

// NT_FILE: count, page size, count x {start, end, offset in pages}, then count paths.
void CoreFile::parse_file_note(const uint8_t* desc, uint64_t size) {
    if (size < 16) {
        damaged_note("damaged NT_FILE note: the list of mapped files is missing");
        return;
    }
    uint64_t count = load<uint64_t>(desc);
    uint64_t page = load<uint64_t>(desc + 8);
    if (count > (size - 16) / 24 || page == 0 || (page & (page - 1)) != 0) {
        damaged_note("damaged NT_FILE note (" + std::to_string(count) + " entries, page size " +
                     std::to_string(page) + " in " + std::to_string(size) +
                     " bytes): the list of mapped files is unusable");
        return;
    }
    const char* names = reinterpret_cast<const char*>(desc + 16 + count * 24);
    const char* names_end = reinterpret_cast<const char*>(desc + size);
    for (uint64_t i = 0; i < count; i++) {
        FileMapping f;
        f.start = load<uint64_t>(desc + 16 + i * 24);
        f.end = load<uint64_t>(desc + 16 + i * 24 + 8);
        uint64_t pages = load<uint64_t>(desc + 16 + i * 24 + 16);
        f.offset = pages * page;
        if (names >= names_end) {
            damaged_note("damaged NT_FILE note: " + std::to_string(count - i) +
                         " file names missing");
            break;
        }
        size_t len = strnlen(names, size_t(names_end - names));
        f.path.assign(names, len);
        names += len + 1;
        if (f.end < f.start || pages > (UINT64_MAX / page)) {
            damaged_note("damaged NT_FILE note: entry for " + f.path + " has impossible bounds");
            continue;
        }
        files_.push_back(std::move(f));
    }
    std::sort(files_.begin(), files_.end(),
              [](const FileMapping& a, const FileMapping& b) { return a.start < b.start; });
}

std::optional<uint64_t> CoreFile::auxv_value(uint64_t type) const {
    for (const auto& [k, v] : auxv_)
        if (k == type)
            return v;
    return std::nullopt;
}

const Segment* CoreFile::segment_at(uint64_t addr) const {
    if (last_segment_ < segments_.size()) {
        const Segment& s = segments_[last_segment_];
        if (addr >= s.vaddr && addr < s.end())
            return &s;
    }
    auto it = std::upper_bound(segments_.begin(), segments_.end(), addr,
                               [](uint64_t a, const Segment& s) { return a < s.vaddr; });
    if (it == segments_.begin())
        return nullptr;
    --it;
    if (addr >= it->end())
        return nullptr;
    last_segment_ = size_t(it - segments_.begin());
    return &*it;
}

const FileMapping* CoreFile::file_at(uint64_t addr) const {
    auto it = std::upper_bound(files_.begin(), files_.end(), addr,
                               [](uint64_t a, const FileMapping& f) { return a < f.start; });
    if (it == files_.begin())
        return nullptr;
    --it;
    return addr < it->end ? &*it : nullptr;
}

size_t CoreFile::read(uint64_t addr, void* out, size_t len) const {
    auto* dst = static_cast<uint8_t*>(out);
    size_t done = 0;
    while (done < len) {
        const Segment* s = segment_at(addr + done);
        if (!s)
            break;
        uint64_t in_seg = addr + done - s->vaddr;
        if (in_seg >= s->available)
            break;  // not dumped, or past the truncation
        size_t n = size_t(std::min<uint64_t>(len - done, s->available - in_seg));
        memcpy(dst + done, data_ + s->offset + in_seg, n);
        done += n;
    }
    return done;
}

std::string CoreFile::read_string(uint64_t addr, size_t max_len) const {
    std::string s;
    char buf[64];
    while (s.size() < max_len) {
        size_t want = std::min(sizeof buf, max_len - s.size());
        size_t got = read(addr + s.size(), buf, want);
        size_t n = strnlen(buf, got);
        s.append(buf, n);
        if (n < got || got < want)
            break;
    }
    return s;
}

bool strip_deleted(std::string& path) {
    static const std::string kDeleted = " (deleted)";
    if (path.size() <= kDeleted.size() ||
        path.compare(path.size() - kDeleted.size(), kDeleted.size(), kDeleted) != 0)
        return false;
    path.resize(path.size() - kDeleted.size());
    return true;
}

}  // namespace crashlab
