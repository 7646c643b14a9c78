// Reading an ELF core file ourselves: program headers, the notes (NT_PRSTATUS per thread,
// NT_SIGINFO, NT_FILE, NT_AUXV, NT_PRPSINFO) and the dumped memory.
//
// A core is untrusted input: it may be truncated (disk full, RLIMIT_CORE too small, a
// copy cut short) or damaged. Every length and offset is checked against the bytes that
// are really there; what cannot be read becomes a `problem` (a line for the report) rather
// than a failure, so the analysis can still say what it knows. Only a file that is not
// an x86-64 ELF core at all is refused.
#pragma once

#include <elf.h>
#include <sys/user.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "errors.h"

typedef struct Elf Elf;

namespace crashlab {

// One PT_LOAD: a range of the process's memory and where its bytes are in the file.
struct Segment {
    uint64_t vaddr = 0;
    uint64_t memsz = 0;
    uint64_t offset = 0;
    uint64_t filesz = 0;     // bytes the kernel dumped (0 for file text it chose to omit)
    uint64_t available = 0;  // bytes of filesz really present (less when truncated)
    uint32_t flags = 0;      // PF_R | PF_W | PF_X: the mapping's permissions
    uint64_t end() const { return vaddr + memsz; }
};

// NT_PRSTATUS: one per thread; the first is the thread that took the fatal signal.
struct ThreadStatus {
    int tid = 0;
    int cursig = 0;  // signal being delivered to this thread (0 for bystanders)
    uint64_t sigpend = 0, sighold = 0;
    user_regs_struct regs{};
    // orig_rax >= 0: the thread was inside this system call (futex = 202) when it stopped.
    bool in_syscall() const { return int64_t(regs.orig_rax) >= 0; }
};

// NT_SIGINFO: the siginfo_t of the signal that killed the process.
struct SigInfo {
    int signo = 0;
    int code = 0;
    int error = 0;
    uint64_t addr = 0;  // si_addr for SIGSEGV/SIGBUS/SIGFPE/SIGILL/SIGTRAP
    int pid = 0;        // si_pid and si_uid for signals sent by a process
    int uid = 0;
    bool fault_fields() const;   // signo is a fault signal and code > 0 (kernel-generated)
    bool sender_fields() const;  // code is SI_USER, SI_TKILL, SI_QUEUE ...: pid/uid valid
};

// NT_FILE: one file-backed mapping.
struct FileMapping {
    uint64_t start = 0, end = 0;
    uint64_t offset = 0;  // bytes
    std::string path;     // may end in " (deleted)"
};

// Removes the " (deleted)" the kernel appends to the path of a file deleted while mapped;
// true when there was one.
bool strip_deleted(std::string& path);

// NT_PRPSINFO
struct ProcessInfo {
    int pid = 0, ppid = 0, uid = 0, gid = 0;
    char state = 0;
    std::string fname;   // first 15 characters of the executable's name
    std::string psargs;  // first 80 bytes of the command line
};

class CoreFile {
  public:
    // Opens PATH. Throws tk::UserError (one line, what to do) when PATH is missing,
    // unreadable, or not an x86-64 ELF core; anything less is a problem() and the
    // remaining information is still usable.
    explicit CoreFile(const std::string& path);
    ~CoreFile();
    CoreFile(const CoreFile&) = delete;
    CoreFile& operator=(const CoreFile&) = delete;

    const std::string& path() const { return path_; }
    uint64_t file_size() const { return size_; }
    // Bytes the program headers say the core should have (> file_size when truncated).
    uint64_t expected_size() const { return expected_size_; }
    bool truncated() const { return expected_size_ > size_; }
    bool notes_damaged() const { return notes_damaged_; }

    const std::vector<Segment>& segments() const { return segments_; }
    const std::vector<ThreadStatus>& threads() const { return threads_; }
    const std::optional<SigInfo>& siginfo() const { return siginfo_; }
    const std::vector<FileMapping>& files() const { return files_; }
    const std::vector<std::pair<uint64_t, uint64_t>>& auxv() const { return auxv_; }
    const std::optional<ProcessInfo>& process() const { return process_; }
    std::optional<uint64_t> auxv_value(uint64_t type) const;

    // Things wrong with the file, one line each ("truncated: 12 MiB of 40 MiB present").
    const std::vector<std::string>& problems() const { return problems_; }

    // Copies process memory at ADDR from the core; returns the number of bytes that were
    // there (stops at the first byte the core does not have). O(log segments).
    size_t read(uint64_t addr, void* out, size_t len) const;
    bool read_u64(uint64_t addr, uint64_t& value) const {
        return read(addr, &value, sizeof value) == sizeof value;
    }
    std::string read_string(uint64_t addr, size_t max_len) const;

    // The PT_LOAD containing ADDR (nullptr when ADDR is in no mapping).
    const Segment* segment_at(uint64_t addr) const;
    const FileMapping* file_at(uint64_t addr) const;

    // A libelf handle on the same file, for libdwfl.
    Elf* elf() const { return elf_; }

  private:
    void parse_headers();
    void check_elf_header(const Elf64_Ehdr& eh) const;
    uint64_t program_header_count(const Elf64_Ehdr& eh);
    std::vector<Elf64_Phdr> read_program_headers(const Elf64_Ehdr& eh, uint64_t phnum);
    void add_segment(const Elf64_Phdr& ph);
    void read_note_segments(const std::vector<Elf64_Phdr>& notes);
    void parse_notes(const uint8_t* p, uint64_t size, uint64_t file_offset);
    void parse_note(uint32_t type, const uint8_t* desc, uint64_t size);
    void parse_prstatus(const uint8_t* desc, uint64_t size);
    void parse_prpsinfo(const uint8_t* desc, uint64_t size);
    void parse_siginfo(const uint8_t* desc, uint64_t size);
    void parse_auxv(const uint8_t* desc, uint64_t size);
    void parse_file_note(const uint8_t* desc, uint64_t size);
    void problem(std::string text);
    void damaged_note(std::string text);  // a problem() that leaves the notes incomplete

    std::string path_;
    int fd_ = -1;
    const uint8_t* data_ = nullptr;  // the whole file, mapped read-only
    uint64_t size_ = 0;
    uint64_t expected_size_ = 0;
    bool notes_damaged_ = false;
    Elf* elf_ = nullptr;

    std::vector<Segment> segments_;  // sorted by vaddr
    std::vector<ThreadStatus> threads_;
    std::optional<SigInfo> siginfo_;
    std::vector<FileMapping> files_;
    std::vector<std::pair<uint64_t, uint64_t>> auxv_;
    std::optional<ProcessInfo> process_;
    std::vector<std::string> problems_;
    mutable size_t last_segment_ = 0;  // the unwinder reads one stack over and over
};

// "12.3 MiB"
std::string format_bytes(uint64_t bytes);

}  // namespace crashlab
