#include "symbolizer.h"

#include "elf_inflate.h"
#include "fd.h"

#include <cxxabi.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <gelf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <unordered_map>

namespace tk {

namespace {

std::string hex_bytes(const unsigned char* bits, size_t len) {
    static const char digits[] = "0123456789abcdef";
    std::string s;
    s.reserve(len * 2);
    for (size_t i = 0; i < len; i++) {
        s += digits[bits[i] >> 4];
        s += digits[bits[i] & 15];
    }
    return s;
}

// The CRC-32 of a whole file, as .gnu_debuglink records it (zlib's polynomial).
uint32_t crc32_of_fd(int fd) {
    static const auto table = [] {
        std::array<uint32_t, 256> t{};
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
        return t;
    }();
    uint32_t crc = 0xffffffffu;
    unsigned char buf[65536];
    off_t pos = 0;
    ssize_t n;
    while ((n = pread(fd, buf, sizeof buf, pos)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            crc = table[(crc ^ buf[i]) & 0xff] ^ (crc >> 8);
        pos += n;
    }
    return crc ^ 0xffffffffu;
}

bool is_elf_fd(int fd) {
    unsigned char magic[4];
    return pread(fd, magic, 4, 0) == 4 && memcmp(magic, ELFMAG, SELFMAG) == 0;
}

// Build-id of the ELF file open at FD ("" if it has none or is not ELF).
std::string build_id_of_fd(int fd) {
    if (!is_elf_fd(fd))
        return {};
    elf_version(EV_CURRENT);
    Elf* elf = elf_begin(fd, ELF_C_READ_MMAP, nullptr);
    if (!elf)
        return {};
    const void* bits = nullptr;
    ssize_t len = dwelf_elf_gnu_build_id(elf, &bits);
    std::string id =
        len > 0 ? hex_bytes(static_cast<const unsigned char*>(bits), size_t(len)) : std::string();
    elf_end(elf);
    return id;
}

std::string module_build_id(Dwfl_Module* mod) {
    const unsigned char* bits = nullptr;
    GElf_Addr vaddr = 0;
    int len = dwfl_module_build_id(mod, &bits, &vaddr);
    return len > 0 ? hex_bytes(bits, size_t(len)) : std::string();
}

// The name a DIE's function goes by: its demangled linkage name when it has one (so that
// overloads are told apart, as gdb and eu-stack print them), else DW_AT_name. Follows
// DW_AT_abstract_origin and DW_AT_specification, which is where inlined instances and
// out-of-line member functions keep their names.
std::string die_function_name(Dwarf_Die* die) {
    Dwarf_Attribute attr;
    for (int at : {DW_AT_linkage_name, DW_AT_MIPS_linkage_name}) {
        if (dwarf_attr_integrate(die, at, &attr))
            if (const char* s = dwarf_formstring(&attr))
                return demangle(s);
    }
    if (dwarf_attr_integrate(die, DW_AT_name, &attr))
        if (const char* s = dwarf_formstring(&attr))
            return s;
    return {};
}

bool has_linkage_name(Dwarf_Die* die) {
    Dwarf_Attribute attr;
    return dwarf_attr_integrate(die, DW_AT_linkage_name, &attr) ||
           dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr);
}

// The call site of an inlined instance: DW_AT_call_file (an index into the CU's file table)
// and DW_AT_call_line.
void call_site(Dwarf_Die* inlined, Dwarf_Die* cudie, std::string& file, int& line, int& column) {
    Dwarf_Attribute attr;
    Dwarf_Word value;
    file.clear();
    line = column = 0;
    if (dwarf_attr(inlined, DW_AT_call_file, &attr) && dwarf_formudata(&attr, &value) == 0) {
        Dwarf_Files* files;
        size_t nfiles;
        if (dwarf_getsrcfiles(cudie, &files, &nfiles) == 0 && value < nfiles)
            if (const char* f = dwarf_filesrc(files, value, nullptr, nullptr))
                file = f;
    }
    if (dwarf_attr(inlined, DW_AT_call_line, &attr) && dwarf_formudata(&attr, &value) == 0)
        line = int(value);
    if (dwarf_attr(inlined, DW_AT_call_column, &attr) && dwarf_formudata(&attr, &value) == 0)
        column = int(value);
}

// The source line of ADDR (relative to the CU's module) the way gdb chooses it. Several rows
// of the line table can share one address (location views: an inlined call that emits no
// code of its own starts and ends there); libdw returns the last of them, gdb the last one
// that is a statement boundary, which is the line the programmer wrote for that code.
bool line_at(Dwarf_Die* cudie, Dwarf_Addr addr, std::string& file, int& line, int& column) {
    Dwarf_Lines* lines = nullptr;
    size_t n = 0;
    if (dwarf_getsrclines(cudie, &lines, &n) != 0 || n == 0)
        return false;
    auto address = [&](size_t i) {
        Dwarf_Addr a = 0;
        dwarf_lineaddr(dwarf_onesrcline(lines, i), &a);
        return a;
    };
    // Rows are sorted by address: find the last row at or below ADDR.
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (address(mid) <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return false;
    size_t last = lo - 1;
    Dwarf_Addr at = address(last);
    auto flag = [&](size_t i, int (*fn)(Dwarf_Line*, bool*)) {
        bool b = false;
        fn(dwarf_onesrcline(lines, i), &b);
        return b;
    };
    size_t chosen = SIZE_MAX;
    for (size_t i = last + 1; i-- > 0 && address(i) == at;) {
        if (flag(i, dwarf_lineendsequence))
            continue;
        if (chosen == SIZE_MAX)
            chosen = i;  // the last row, unless a statement row precedes it
        if (flag(i, dwarf_linebeginstatement)) {
            chosen = i;
            break;
        }
    }
    if (chosen == SIZE_MAX)
        return false;  // ADDR is past the end of a sequence: no line
    Dwarf_Line* l = dwarf_onesrcline(lines, chosen);
    const char* f = dwarf_linesrc(l, nullptr, nullptr);
    dwarf_lineno(l, &line);
    dwarf_linecol(l, &column);
    file = f ? f : "";
    return line != 0;
}

// A function as its compile unit declares it: file, line, name.
struct Declaration {
    std::string file;
    int line = 0;
    std::string name;
};

// Every function (DW_TAG_subprogram, at any depth: namespaces, classes, lambdas inside
// functions) the compile unit declares, with where.
void collect_declarations(Dwarf_Die* die, std::vector<Declaration>& out) {
    Dwarf_Die child;
    if (dwarf_child(die, &child) != 0)
        return;
    do {
        int tag = dwarf_tag(&child);
        if (tag == DW_TAG_subprogram) {
            int line = 0;
            const char* file = dwarf_decl_file(&child);
            if (file && dwarf_decl_line(&child, &line) == 0 && line > 0) {
                std::string name = die_function_name(&child);
                if (!name.empty())
                    out.push_back({file, line, std::move(name)});
            }
        }
        if (tag == DW_TAG_subprogram || tag == DW_TAG_namespace || tag == DW_TAG_class_type ||
            tag == DW_TAG_structure_type || tag == DW_TAG_union_type || tag == DW_TAG_lexical_block)
            collect_declarations(&child, out);
    } while (dwarf_siblingof(&child, &child) == 0);
}

bool elf_has_sections(Elf* elf) {
    size_t n = 0;
    return elf && elf_getshdrnum(elf, &n) == 0 && n > 0;
}

// "__libc_start_main@@GLIBC_2.34" -> "__libc_start_main": the version is noise in a backtrace.
std::string strip_version(const char* name) {
    std::string s(name);
    size_t at = s.find('@');
    if (at != std::string::npos && at > 0)
        s.resize(at);
    return s;
}

bool elf_has_section_named(Elf* elf, const char* name) {
    size_t shstrndx;
    if (!elf || elf_getshdrstrndx(elf, &shstrndx) != 0)
        return false;
    for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn; scn = elf_nextscn(elf, scn)) {
        GElf_Shdr shdr;
        if (!gelf_getshdr(scn, &shdr) || shdr.sh_type == SHT_NOBITS)
            continue;
        const char* n = elf_strptr(elf, shstrndx, shdr.sh_name);
        if (n && strcmp(n, name) == 0)
            return true;
    }
    return false;
}

bool elf_has_section_type(Elf* elf, GElf_Word type) {
    if (!elf)
        return false;
    for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn; scn = elf_nextscn(elf, scn)) {
        GElf_Shdr shdr;
        if (gelf_getshdr(scn, &shdr) && shdr.sh_type == type)
            return true;
    }
    return false;
}

// Parses one line of /proc/PID/maps. Returns false on a malformed line.
bool parse_maps_line(const std::string& line, Mapping& m) {
    unsigned long long start, end, offset, inode;
    char perms[8] = {};
    unsigned dev_major, dev_minor;
    int consumed = 0;
    if (sscanf(line.c_str(), "%llx-%llx %7s %llx %x:%x %llu %n", &start, &end, perms, &offset,
               &dev_major, &dev_minor, &inode, &consumed) < 7)
        return false;
    m.start = start;
    m.end = end;
    m.offset = offset;
    m.perms = perms;
    m.path = consumed > 0 && size_t(consumed) <= line.size() ? line.substr(size_t(consumed))
                                                             : std::string();
    static const std::string kDeleted = " (deleted)";
    if (m.path.size() > kDeleted.size() &&
        m.path.compare(m.path.size() - kDeleted.size(), kDeleted.size(), kDeleted) == 0) {
        m.deleted = true;
        m.path.resize(m.path.size() - kDeleted.size());
    }
    return true;
}

// The vDSO is the same image in every process on one kernel: when the process that owned a
// [vdso] mapping is gone, ours stands in for it.
std::vector<char> own_vdso_image() {
    std::ifstream maps("/proc/self/maps");
    std::string line;
    while (std::getline(maps, line)) {
        Mapping m;
        if (parse_maps_line(line, m) && m.path == "[vdso]") {
            const char* p = reinterpret_cast<const char*>(uintptr_t(m.start));
            return std::vector<char>(p, p + (m.end - m.start));
        }
    }
    return {};
}

// An anonymous in-memory file holding BYTES, so that libdwfl (which wants a file
// descriptor) can read an ELF image that exists only in memory.
Fd memory_file(const char* name, const char* data, size_t size) {
    Fd fd(memfd_create(name, MFD_CLOEXEC));
    if (fd.get() < 0)
        return fd;
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(fd.get(), data + done, size - done);
        if (n <= 0)
            return Fd();
        done += size_t(n);
    }
    return fd;
}

}  // namespace

std::string demangle(std::string_view name) {
    if (name.size() < 2 || name[0] != '_' || name[1] != 'Z')
        return std::string(name);
    std::string mangled(name);
    int status = 0;
    char* out = abi::__cxa_demangle(mangled.c_str(), nullptr, nullptr, &status);
    if (status != 0 || !out)
        return mangled;
    std::string result(out);
    free(out);
    return result;
}

namespace {

// Index just past the balanced group that opens at NAME[I] ("(", "<", "{" or "[").
size_t skip_group(std::string_view name, size_t i) {
    int depth = 0;
    for (; i < name.size(); i++) {
        char c = name[i];
        if (c == '(' || c == '<' || c == '{' || c == '[') {
            depth++;
        } else if (c == ')' || c == '>' || c == '}' || c == ']') {
            if (--depth == 0)
                return i + 1;
        }
    }
    return name.size();
}

// Splits a demangled name at its own parameter list; COMPONENT gets the start of the
// last "::" component.
std::string split_name(std::string_view in, size_t* component) {
    std::string s(in);
    static const std::string anon = "(anonymous namespace)::";
    for (size_t p; (p = s.find(anon)) != std::string::npos;)
        s.erase(p, anon.size());
    size_t start = 0, i = 0;
    while (i < s.size()) {
        char c = s[i];
        if (i == start && s.compare(i, 8, "operator") == 0) {
            // operator(), operator<<, operator new ...: the symbol is part of the name.
            i += 8;
            if (s.compare(i, 2, "()") == 0)
                i += 2;
            while (i < s.size() && s[i] != '(')
                i++;
            continue;
        }
        if (c == '<' || c == '{' || c == '[') {
            i = skip_group(s, i);
        } else if (c == '(') {
            size_t end = skip_group(s, i);
            if (s.compare(end, 2, "::") != 0) {
                s.resize(i);
                break;
            }
            i = end;  // an enclosing function's parameters: "f(int)::{lambda()#1}"
        } else if (c == ':' && i + 1 < s.size() && s[i + 1] == ':') {
            i += 2;
            start = i;
        } else {
            i++;
        }
    }
    if (component)
        *component = std::min(start, s.size());
    return s;
}

}  // namespace

std::string strip_parameters(std::string_view name) {
    return split_name(name, nullptr);
}

std::string function_base_name(std::string_view name) {
    size_t start = 0;
    std::string s = split_name(name, &start);
    std::string last = s.substr(start);
    // Drop template arguments (but not an operator's own '<').
    if (last.rfind("operator", 0) != 0) {
        size_t lt = last.find('<');
        if (lt != std::string::npos)
            last.resize(lt);
    }
    while (!last.empty() && last.back() == ' ')
        last.pop_back();
    return last;
}

const std::string& Symbol::function() const {
    static const std::string empty;
    if (!frames.empty())
        return frames.front().function;
    return symbol.empty() ? empty : symbol;
}

Status parse_proc_maps(std::istream& in, const std::string& source, std::vector<Mapping>& out) {
    out.clear();
    std::string line;
    while (std::getline(in, line)) {
        Mapping m;
        if (!parse_maps_line(line, m))
            return Status::error(source + ": unexpected line '" + line + "'");
        out.push_back(std::move(m));
    }
    return {};
}

Status read_proc_maps(pid_t pid, std::vector<Mapping>& out) {
    std::string path = "/proc/" + std::to_string(pid) + "/maps";
    std::ifstream in(path);
    if (!in)
        return Status::error(errno_text("cannot read " + path));
    if (Status st = parse_proc_maps(in, path, out); !st)
        return st;
    std::map<std::string, std::string> ids;  // path -> build-id, each file read once
    for (Mapping& m : out) {
        if (!m.path.empty() && m.path[0] == '/') {
            auto it = ids.find(m.path);
            if (it == ids.end()) {
                // map_files reaches the very file mapped, even if it was deleted or
                // replaced since, or lives in another mount namespace.
                char name[128];
                snprintf(name, sizeof name, "/proc/%d/map_files/%llx-%llx", int(pid),
                         (unsigned long long)m.start, (unsigned long long)m.end);
                Fd fd(open(name, O_RDONLY | O_CLOEXEC));
                if (fd.get() < 0)
                    fd = Fd(open(m.path.c_str(), O_RDONLY | O_CLOEXEC));
                it = ids.emplace(m.path, fd.get() >= 0 ? build_id_of_fd(fd.get()) : "").first;
            }
            m.build_id = it->second;
        }
    }
    return {};
}

struct Symbolizer::Impl {
    Options options;
    std::string debuginfo_path_text;
    char* debuginfo_path = nullptr;  // libdwfl keeps a char** to this
    Dwfl_Callbacks callbacks{};
    Dwfl* dwfl = nullptr;
    std::unordered_map<uint64_t, Symbol> cache[2];  // [return_address]
    std::vector<std::string> warnings;
    // Module name -> the file we opened for it (libdwfl only remembers the fd's name).
    std::map<std::string, std::string> opened_files;
    // Modules whose DWARF a lookup has already loaded.
    std::set<Dwfl_Module*> dwarf_loaded;
    // The functions each compile unit declares (by the CU DIE's address), read once.
    std::map<const void*, std::vector<Declaration>> declarations;

    // SourceFrame::defined_in for FILE:LINE in the compile unit CUDIE.
    std::string function_holding(Dwarf_Die* cudie, const std::string& file, int line) {
        if (file.empty() || line <= 0)
            return {};
        auto it = declarations.find(cudie->addr);
        if (it == declarations.end()) {
            std::vector<Declaration> d;
            collect_declarations(cudie, d);
            it = declarations.emplace(cudie->addr, std::move(d)).first;
        }
        const Declaration* best = nullptr;
        for (const Declaration& d : it->second)
            if (d.line <= line && (!best || d.line > best->line) && d.file == file)
                best = &d;
        return best ? best->name : std::string();
    }

    explicit Impl(Options o) : options(std::move(o)) {
        elf_version(EV_CURRENT);
        if (options.offline)
            unsetenv("DEBUGINFOD_URLS");
        // "-" : no CRC checks (build-ids are checked instead); "" : the file's own
        // directory; ".debug" : its .debug subdirectory; then the system and user dirs.
        debuginfo_path_text = "-:.debug";
        if (!options.system_debug_dir.empty())
            debuginfo_path_text += ":" + options.system_debug_dir;
        for (const std::string& d : options.debug_dirs)
            if (!d.empty())
                debuginfo_path_text += ":" + d;
        debuginfo_path = debuginfo_path_text.data();
        callbacks.find_elf = dwfl_build_id_find_elf;
        callbacks.find_debuginfo = find_debuginfo;
        callbacks.debuginfo_path = &debuginfo_path;
        dwfl = dwfl_begin(&callbacks);
    }
    ~Impl() {
        if (dwfl)
            dwfl_end(dwfl);
    }

    void warn(std::string w) {
        if (std::find(warnings.begin(), warnings.end(), w) == warnings.end())
            warnings.push_back(std::move(w));
    }

    // Report one file-backed module. BASE is where file offset 0 is (or would be) mapped.
    void report_file(const std::string& name, Fd fd, const std::string& file_name, uint64_t base) {
        if (fd.get() < 0 || !is_elf_fd(fd.get()))
            return;
        int raw = fd.release();
        Dwfl_Module* mod =
            dwfl_report_elf(dwfl, name.c_str(), file_name.c_str(), raw, GElf_Addr(base), false);
        if (!mod) {
            close(raw);
            warn(name + ": " + dwfl_errmsg(-1));
            return;
        }
        opened_files[name] = file_name;
    }

    // Groups MAPS into files and reports each; OPEN returns the fd for one file.
    template <class OpenFn>
    void report_mappings(const std::vector<Mapping>& maps, OpenFn open_file) {
        // Lowest file offset of each file decides its base (the first PT_LOAD is mapped
        // from file offset 0 in every layout the linkers produce).
        std::map<std::string, const Mapping*> first;
        std::vector<std::string> order;
        for (const Mapping& m : maps) {
            if (m.path.empty() || (m.path[0] != '/' && m.path != "[vdso]"))
                continue;
            auto it = first.find(m.path);
            if (it == first.end()) {
                first.emplace(m.path, &m);
                order.push_back(m.path);
            } else if (m.offset < it->second->offset) {
                it->second = &m;
            }
        }
        for (const std::string& path : order) {
            const Mapping& m = *first[path];
            std::string file_name = path;
            Fd fd = open_file(m, file_name);
            report_file(path, std::move(fd), file_name, m.start - m.offset);
        }
    }

    Dwfl_Module* module(uint64_t address) {
        return dwfl ? dwfl_addrmodule(dwfl, address) : nullptr;
    }

    ModuleInfo module_info(Dwfl_Module* mod) {
        ModuleInfo info;
        Dwarf_Addr low = 0, high = 0;
        const char* name =
            dwfl_module_info(mod, nullptr, &low, &high, nullptr, nullptr, nullptr, nullptr);
        info.name = name ? name : "";
        info.low = low;
        info.high = high;
        GElf_Addr bias = 0;
        Elf* elf = dwfl_module_getelf(mod, &bias);
        info.base = bias;
        info.build_id = module_build_id(mod);
        // Opening a module's DWARF decompresses all of its debug sections (tens of MB for
        // libc): only do it for modules a symbolization already needed; for the others,
        // look for the debug file the way libdwfl would, without loading it.
        Dwarf* dw = nullptr;
        if (dwarf_loaded.count(mod)) {
            Dwarf_Addr dbias = 0;
            dw = dwfl_module_getdwarf(mod, &dbias);
            info.has_dwarf = dw != nullptr;
        } else {
            probe_debug_file(elf, info);
        }
        const char* mainfile = nullptr;
        const char* debugfile = nullptr;
        dwfl_module_info(mod, nullptr, nullptr, nullptr, nullptr, nullptr, &mainfile, &debugfile);
        auto it = opened_files.find(info.name);
        if (it != opened_files.end())
            info.file = it->second;
        else if (mainfile)
            info.file = mainfile;
        else if (elf_has_sections(elf))
            // Opened by libdwfl from the core's NT_FILE name without recording it. A module
            // rebuilt from the core's memory has program headers only.
            info.file = info.name;
        if (debugfile && (!mainfile || strcmp(debugfile, mainfile) != 0))
            info.debug_file = debugfile;
        info.has_symtab = info.has_symtab || elf_has_section_type(elf, SHT_SYMTAB) ||
                          (dw && elf_has_section_type(dwarf_getelf(dw), SHT_SYMTAB));
        return info;
    }

    // Where a module's separate debug file may be, in the order libdwfl's standard search
    // tries them: DIR/.build-id/xx/rest.debug for /usr/lib/debug and each user directory,
    // then the .gnu_debuglink name next to the file, in its .debug subdirectory, and under
    // each debug directory (with and without the file's own directory).
    std::vector<std::string> debug_candidates(const std::string& build_id, const std::string& file,
                                              const char* debuglink) const {
        std::vector<std::string> dirs;
        if (!options.system_debug_dir.empty())
            dirs.push_back(options.system_debug_dir);
        for (const std::string& d : options.debug_dirs)
            if (!d.empty())
                dirs.push_back(d);
        std::vector<std::string> out;
        if (build_id.size() > 2)
            for (const std::string& d : dirs)
                out.push_back(d + "/.build-id/" + build_id.substr(0, 2) + "/" + build_id.substr(2) +
                              ".debug");
        if (debuglink && *debuglink) {
            std::string dir =
                file.find('/') == std::string::npos ? "." : file.substr(0, file.rfind('/'));
            out.push_back(dir + "/" + debuglink);
            out.push_back(dir + "/.debug/" + debuglink);
            for (const std::string& d : dirs) {
                out.push_back(d + dir + "/" + debuglink);
                out.push_back(d + "/" + debuglink);
            }
        }
        return out;
    }

    // The first candidate that is an ELF file with BUILD_ID, or, for a module without a
    // build-id, whose CRC is the debuglink's CRC. Returns its open descriptor (-1: none);
    // PATH gets its name.
    Fd open_debug_file(const std::string& build_id, const std::string& file, const char* debuglink,
                       std::string& path, bool* has_dwarf = nullptr, bool* has_symtab = nullptr,
                       uint32_t debuglink_crc = 0) const {
        for (const std::string& c : debug_candidates(build_id, file, debuglink)) {
            Fd fd(open(c.c_str(), O_RDONLY | O_CLOEXEC));
            if (fd.get() < 0 || !is_elf_fd(fd.get()))
                continue;
            if (build_id.empty() && (!debuglink_crc || crc32_of_fd(fd.get()) != debuglink_crc))
                continue;
            Elf* debug = elf_begin(fd.get(), ELF_C_READ_MMAP, nullptr);
            if (!debug)
                continue;
            const void* bits = nullptr;
            ssize_t len = dwelf_elf_gnu_build_id(debug, &bits);
            bool match =
                build_id.empty() || (len > 0 && hex_bytes(static_cast<const unsigned char*>(bits),
                                                          size_t(len)) == build_id);
            if (match) {
                if (has_dwarf)
                    *has_dwarf = elf_has_section_named(debug, ".debug_info");
                if (has_symtab)
                    *has_symtab = elf_has_section_type(debug, SHT_SYMTAB);
                elf_end(debug);
                path = c;
                return fd;
            }
            elf_end(debug);
        }
        return Fd();
    }

    // For modules() without loading DWARF: fills has_dwarf, debug_file and has_symtab.
    void probe_debug_file(Elf* elf, ModuleInfo& info) {
        if (!elf)
            return;
        if (elf_has_section_named(elf, ".debug_info")) {
            info.has_dwarf = true;
            return;
        }
        GElf_Word crc = 0;
        const char* link = dwelf_elf_gnu_debuglink(elf, &crc);
        std::string path;
        bool dwarf = false, symtab = false;
        Fd fd = open_debug_file(info.build_id, info.file.empty() ? info.name : info.file, link,
                                path, &dwarf, &symtab);
        if (fd.get() >= 0 && dwarf) {
            info.has_dwarf = true;
            info.debug_file = path;
            info.has_symtab = symtab;
        }
    }

    // libdwfl's find_debuginfo callback. Finds the file like the standard one, checked by
    // build-id, and hands libdw an inflated in-memory copy when its sections are
    // compressed (elf_inflate.h): that is most of the time of a short backtrace.
    static int find_debuginfo(Dwfl_Module* mod, void** userdata, const char* modname,
                              Dwarf_Addr base, const char* file_name, const char* debuglink,
                              GElf_Word crc, char** debuginfo_file_name) {
        auto* self = userdata ? static_cast<Impl*>(*userdata) : nullptr;
        if (self) {
            std::string id = module_build_id(mod);
            std::string path;
            Fd fd = self->open_debug_file(id,
                                          file_name ? file_name
                                          : modname ? modname
                                                    : "",
                                          debuglink, path, nullptr, nullptr, crc);
            if (fd.get() >= 0) {
                *debuginfo_file_name = strdup(path.c_str());
                int copy = inflate_debug_file(fd.get());
                return copy >= 0 ? copy : fd.release();
            }
            // Offline, that was every place there is: the standard search would only add
            // debuginfod, and it loads libdebuginfod (and curl, TLS ...) just to find
            // DEBUGINFOD_URLS unset: milliseconds for nothing.
            if (self->options.offline)
                return -1;
        }
        return dwfl_standard_find_debuginfo(mod, userdata, modname, base, file_name, debuglink, crc,
                                            debuginfo_file_name);
    }

    // Every module's userdata slot points back here, for find_debuginfo.
    void tag_modules() {
        dwfl_getmodules(
            dwfl,
            [](Dwfl_Module*, void** userdata, const char*, Dwarf_Addr, void* arg) -> int {
                *userdata = arg;
                return DWARF_CB_OK;
            },
            this, 0);
    }

    Symbol symbolize(uint64_t address, bool return_address) {
        Symbol s;
        s.address = address;
        uint64_t lookup = return_address && address > 0 ? address - 1 : address;
        Dwfl_Module* mod = module(lookup);
        if (!mod)
            return s;
        Dwarf_Addr low = 0;
        const char* name =
            dwfl_module_info(mod, nullptr, &low, nullptr, nullptr, nullptr, nullptr, nullptr);
        s.module = name ? name : "";
        s.module_offset = address - low;
        s.build_id = module_build_id(mod);

        GElf_Off offset = 0;
        GElf_Sym sym;
        if (const char* sname =
                dwfl_module_addrinfo(mod, lookup, &offset, &sym, nullptr, nullptr, nullptr)) {
            s.symbol = demangle(strip_version(sname));
            s.symbol_offset = offset + (address - lookup);
        }

        Dwarf_Addr bias = 0;
        dwarf_loaded.insert(mod);
        Dwarf_Die* cudie = dwfl_module_addrdie(mod, lookup, &bias);
        if (cudie) {
            std::string file;
            int line = 0, column = 0;
            line_at(cudie, lookup - bias, file, line, column);
            // The innermost scope at the address, then its containing DIEs in the tree:
            // the chain of concrete inlined instances up to the real function. (The
            // scopes dwarf_getscopes returns past an inlined instance are those of its
            // abstract definition, which say nothing about where it was inlined.)
            Dwarf_Die* innermost = nullptr;
            int n = dwarf_getscopes(cudie, lookup - bias, &innermost);
            Dwarf_Die* scopes = nullptr;
            if (n > 0)
                n = dwarf_getscopes_die(&innermost[0], &scopes);
            free(innermost);
            for (int i = 0; i < n; i++) {
                int tag = dwarf_tag(&scopes[i]);
                if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram)
                    continue;
                SourceFrame f;
                f.function = die_function_name(&scopes[i]);
                f.file = file;
                f.line = line;
                f.column = column;
                f.inlined = tag == DW_TAG_inlined_subroutine;
                f.defined_in = function_holding(cudie, file, line);
                if (!f.inlined) {
                    // The machine-level function. DWARF names the real function where the
                    // ELF symbol may be an alias (__libc_start_main for
                    // __libc_start_main_impl); but without a linkage name DWARF has only
                    // the bare name, and the symbol, when it is the same function, adds
                    // namespaces and parameter types.
                    if (f.function.empty() ||
                        (!has_linkage_name(&scopes[i]) && !s.symbol.empty() &&
                         function_base_name(s.symbol) == function_base_name(f.function)))
                        f.function = s.symbol;
                    s.frames.push_back(std::move(f));
                    break;
                }
                s.frames.push_back(std::move(f));
                call_site(&scopes[i], cudie, file, line, column);
            }
            free(scopes);
            if (s.frames.empty() && (!file.empty() || !s.symbol.empty()))
                s.frames.push_back({s.symbol, file, line, column, false, {}});
            s.has_dwarf = !file.empty();
            if (s.symbol.empty() && !s.frames.empty())
                s.symbol = s.frames.back().function;
        } else if (!s.symbol.empty()) {
            s.frames.push_back({s.symbol, "", 0, 0, false, {}});
        }
        return s;
    }
};

Symbolizer::Symbolizer() : Symbolizer(Options{}) {}
Symbolizer::Symbolizer(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Symbolizer::~Symbolizer() = default;
Symbolizer::Symbolizer(Symbolizer&&) noexcept = default;
Symbolizer& Symbolizer::operator=(Symbolizer&&) noexcept = default;

Dwfl* Symbolizer::dwfl() {
    return impl_->dwfl;
}
const std::vector<std::string>& Symbolizer::warnings() const {
    return impl_->warnings;
}

Status Symbolizer::add_process(pid_t pid) {
    if (!impl_->dwfl)
        return Status::error("libdwfl: cannot start: " + std::string(dwfl_errmsg(-1)));
    std::vector<Mapping> maps;
    if (Status st = read_proc_maps(pid, maps); !st)
        return st;
    dwfl_report_begin_add(impl_->dwfl);
    impl_->report_mappings(maps, [&](const Mapping& m, std::string& file_name) {
        if (m.path == "[vdso]") {
            // Reading /proc/PID/mem needs the same permission as ptrace, not an attach.
            std::string mem = "/proc/" + std::to_string(pid) + "/mem";
            Fd in(open(mem.c_str(), O_RDONLY | O_CLOEXEC));
            std::vector<char> image(m.end - m.start);
            if (in.get() < 0 || pread(in.get(), image.data(), image.size(), off_t(m.start)) !=
                                    ssize_t(image.size()))
                return Fd();
            file_name = "[vdso]";
            return memory_file("vdso", image.data(), image.size());
        }
        if (!m.deleted) {
            Fd fd(open(m.path.c_str(), O_RDONLY | O_CLOEXEC));
            if (fd.get() >= 0)
                return fd;
        }
        char name[128];
        snprintf(name, sizeof name, "/proc/%d/map_files/%llx-%llx", int(pid),
                 (unsigned long long)m.start, (unsigned long long)m.end);
        file_name = name;
        return Fd(open(name, O_RDONLY | O_CLOEXEC));
    });
    if (dwfl_report_end(impl_->dwfl, nullptr, nullptr) != 0)
        return Status::error("libdwfl: " + std::string(dwfl_errmsg(-1)));
    impl_->tag_modules();
    impl_->cache[0].clear();
    impl_->cache[1].clear();
    impl_->declarations.clear();
    return {};
}

Status Symbolizer::add_mappings(const std::vector<Mapping>& maps) {
    if (!impl_->dwfl)
        return Status::error("libdwfl: cannot start: " + std::string(dwfl_errmsg(-1)));
    std::vector<char> vdso;
    dwfl_report_begin_add(impl_->dwfl);
    impl_->report_mappings(maps, [&](const Mapping& m, std::string& file_name) {
        if (m.path == "[vdso]") {
            if (vdso.empty())
                vdso = own_vdso_image();
            file_name = "[vdso]";
            return vdso.empty() ? Fd() : memory_file("vdso", vdso.data(), vdso.size());
        }
        Fd fd(open(m.path.c_str(), O_RDONLY | O_CLOEXEC));
        if (fd.get() < 0) {
            impl_->warn(errno_text(m.path));
            return fd;
        }
        if (!m.build_id.empty() && build_id_of_fd(fd.get()) != m.build_id) {
            impl_->warn(m.path + ": changed on disk since it was mapped (build-id " + m.build_id +
                        " expected); not symbolized");
            return Fd();
        }
        return fd;
    });
    if (dwfl_report_end(impl_->dwfl, nullptr, nullptr) != 0)
        return Status::error("libdwfl: " + std::string(dwfl_errmsg(-1)));
    impl_->tag_modules();
    impl_->cache[0].clear();
    impl_->cache[1].clear();
    impl_->declarations.clear();
    return {};
}

Status Symbolizer::add_core(Elf* core, const std::string& executable) {
    if (!impl_->dwfl)
        return Status::error("libdwfl: cannot start: " + std::string(dwfl_errmsg(-1)));
    dwfl_report_begin(impl_->dwfl);
    int n =
        dwfl_core_file_report(impl_->dwfl, core, executable.empty() ? nullptr : executable.c_str());
    int end = dwfl_report_end(impl_->dwfl, nullptr, nullptr);
    if (n < 0)
        return Status::error("cannot find the modules in the core: " +
                             std::string(dwfl_errmsg(-1)));
    if (end != 0)
        return Status::error("libdwfl: " + std::string(dwfl_errmsg(-1)));
    impl_->tag_modules();
    impl_->cache[0].clear();
    impl_->cache[1].clear();
    impl_->declarations.clear();
    return {};
}

const Symbol& Symbolizer::symbolize(uint64_t address, bool return_address) {
    auto& cache = impl_->cache[return_address ? 1 : 0];
    auto it = cache.find(address);
    if (it == cache.end())
        it = cache.emplace(address, impl_->symbolize(address, return_address)).first;
    return it->second;
}

std::optional<DataSymbol> Symbolizer::data_symbol(uint64_t address) {
    Dwfl_Module* mod = impl_->module(address);
    if (!mod)
        return std::nullopt;
    GElf_Off offset = 0;
    GElf_Sym sym;
    GElf_Word shndx = 0;
    Elf* elf = nullptr;
    Dwarf_Addr bias = 0;
    const char* name = dwfl_module_addrinfo(mod, address, &offset, &sym, &shndx, &elf, &bias);
    if (!name || !*name)
        return std::nullopt;
    int type = GELF_ST_TYPE(sym.st_info);
    if (type == STT_FUNC || type == STT_SECTION || type == STT_FILE || type == STT_GNU_IFUNC)
        return std::nullopt;
    // A symbol without a size only names its first byte; past the end of a sized one the
    // address belongs to something anonymous (padding, another object without a symbol).
    if (sym.st_size ? offset >= sym.st_size : offset != 0)
        return std::nullopt;
    DataSymbol d;
    d.name = demangle(name);
    d.offset = offset;
    d.size = sym.st_size;
    const char* mname =
        dwfl_module_info(mod, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr);
    d.module = mname ? mname : "";
    size_t shstrndx;
    if (elf && shndx != SHN_UNDEF && shndx < SHN_LORESERVE &&
        elf_getshdrstrndx(elf, &shstrndx) == 0)
        if (Elf_Scn* scn = elf_getscn(elf, shndx)) {
            GElf_Shdr shdr;
            if (gelf_getshdr(scn, &shdr))
                if (const char* sn = elf_strptr(elf, shstrndx, shdr.sh_name))
                    d.section = sn;
        }
    return d;
}

std::optional<uint64_t> Symbolizer::symbol_address(std::string_view name,
                                                   std::string_view module_hint) {
    struct Search {
        std::string_view name, hint;
        std::optional<uint64_t> found;
    } search{name, module_hint, std::nullopt};
    if (!impl_->dwfl)
        return std::nullopt;
    dwfl_getmodules(
        impl_->dwfl,
        [](Dwfl_Module* mod, void**, const char* mname, Dwarf_Addr, void* arg) -> int {
            auto* s = static_cast<Search*>(arg);
            if (!s->hint.empty() && (!mname || !strstr(mname, std::string(s->hint).c_str())))
                return DWARF_CB_OK;
            int n = dwfl_module_getsymtab(mod);
            for (int i = 1; i < n; i++) {
                GElf_Sym sym;
                GElf_Addr addr = 0;
                GElf_Word shndx = 0;
                const char* sname =
                    dwfl_module_getsym_info(mod, i, &sym, &addr, &shndx, nullptr, nullptr);
                if (sname && shndx != SHN_UNDEF && s->name == sname) {
                    s->found = addr;
                    return DWARF_CB_ABORT;
                }
            }
            return DWARF_CB_OK;
        },
        &search, 0);
    return search.found;
}

std::vector<uint8_t> Symbolizer::read_module_bytes(uint64_t address, size_t size) {
    std::vector<uint8_t> out;
    Dwfl_Module* mod = impl_->module(address);
    if (!mod)
        return out;
    GElf_Addr bias = 0;
    Elf* elf = dwfl_module_getelf(mod, &bias);
    if (!elf)
        return out;
    size_t file_size = 0;
    const char* image = elf_rawfile(elf, &file_size);
    size_t phnum = 0;
    if (!image || elf_getphdrnum(elf, &phnum) != 0)
        return out;
    // Program headers rather than sections: modules rebuilt from a core's memory have no
    // section headers.
    uint64_t vaddr = address - bias;
    for (size_t i = 0; i < phnum; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(elf, int(i), &ph) || ph.p_type != PT_LOAD)
            continue;
        if (vaddr < ph.p_vaddr || vaddr >= ph.p_vaddr + ph.p_filesz)
            continue;
        uint64_t off = ph.p_offset + (vaddr - ph.p_vaddr);
        uint64_t avail = std::min<uint64_t>(ph.p_vaddr + ph.p_filesz - vaddr, size);
        if (off >= file_size)
            return out;
        avail = std::min<uint64_t>(avail, file_size - off);
        out.assign(image + off, image + off + avail);
        return out;
    }
    return out;
}

std::string Symbolizer::section_name(uint64_t address) {
    Dwfl_Module* mod = impl_->module(address);
    if (!mod)
        return {};
    // The main file has the section headers; a module rebuilt from memory does not, but
    // the separate debug file (same addresses, NOBITS contents) does.
    GElf_Addr bias = 0;
    Elf* elfs[2] = {dwfl_module_getelf(mod, &bias), nullptr};
    Dwarf_Addr dbias = 0;
    if (!elf_has_sections(elfs[0]))
        if (Dwarf* dw = dwfl_module_getdwarf(mod, &dbias))
            elfs[1] = dwarf_getelf(dw);
    for (Elf* elf : elfs) {
        size_t shstrndx;
        if (!elf || elf_getshdrstrndx(elf, &shstrndx) != 0)
            continue;
        uint64_t vaddr = address - bias;
        for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn; scn = elf_nextscn(elf, scn)) {
            GElf_Shdr sh;
            if (!gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_ALLOC))
                continue;
            if (vaddr >= sh.sh_addr && vaddr < sh.sh_addr + sh.sh_size)
                if (const char* n = elf_strptr(elf, shstrndx, sh.sh_name))
                    return n;
        }
    }
    return {};
}

std::optional<ModuleInfo> Symbolizer::module_at(uint64_t address) {
    Dwfl_Module* mod = impl_->module(address);
    if (!mod)
        return std::nullopt;
    return impl_->module_info(mod);
}

std::vector<ModuleInfo> Symbolizer::modules() {
    std::vector<Dwfl_Module*> mods;
    if (impl_->dwfl)
        dwfl_getmodules(
            impl_->dwfl,
            [](Dwfl_Module* mod, void**, const char*, Dwarf_Addr, void* arg) -> int {
                static_cast<std::vector<Dwfl_Module*>*>(arg)->push_back(mod);
                return DWARF_CB_OK;
            },
            &mods, 0);
    std::vector<ModuleInfo> out;
    for (Dwfl_Module* m : mods)
        out.push_back(impl_->module_info(m));
    std::sort(out.begin(), out.end(),
              [](const ModuleInfo& a, const ModuleInfo& b) { return a.low < b.low; });
    return out;
}

}  // namespace tk
