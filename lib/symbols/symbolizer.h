// The one symbolizer: addresses to function, module, file:line and inlined frames, for
// user stacks in the tracers and backtraces in the crash lab. Built on elfutils libdwfl.
//
// Three ways to tell it where the code is:
//   - a live process:       sym.add_process(pid)       (reads /proc/PID/maps now)
//   - a process that is gone: sym.add_mappings(maps)   (maps captured earlier with
//                                                       read_proc_maps while it lived)
//   - a core file:          sym.add_core(elf, exe)     (the crash lab)
//
// Debug information is looked up the way gdb and eu-stack do it: the module itself, then a
// separate debug file by build-id (DIR/.build-id/xx/rest.debug) or by .gnu_debuglink, in
// /usr/lib/debug (Options::system_debug_dir) and in every directory of Options::debug_dirs;
// a candidate must carry the module's build-id (or the debuglink's CRC). A debug file with
// compressed sections is handed to libdw as an inflated in-memory copy (elf_inflate.h), the
// main cost of a short backtrace otherwise. Without DWARF, names come from .symtab or
// .dynsym and file:line stays empty.
//
// Typical use in a tracer:
//   auto maps = std::vector<tk::Mapping>();
//   tk::read_proc_maps(pid, maps);          // while the process lives
//   ...                                     // later, perhaps after it exited
//   tk::Symbolizer sym({.debug_dirs = {}});
//   sym.add_mappings(maps);
//   const tk::Symbol& s = sym.symbolize(user_stack[i], i > 0);
//   auto lock = sym.data_symbol(futex_address);   // "g_queue_lock"
//
// Not thread-safe: one Symbolizer per thread (libdwfl handles are not shareable).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <istream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "errors.h"

// libdwfl types, so that users of this header do not need the elfutils headers.
typedef struct Dwfl Dwfl;
typedef struct Elf Elf;

namespace tk {

// One line of /proc/PID/maps (or one file of a core's NT_FILE note).
struct Mapping {
    uint64_t start = 0;  // [start, end)
    uint64_t end = 0;
    uint64_t offset = 0;   // file offset mapped at start
    std::string perms;     // "r-xp"; may be empty when unknown
    std::string path;      // "/usr/lib/x86_64-linux-gnu/libc.so.6", "[vdso]", "" (anonymous)
    bool deleted = false;  // the kernel appended " (deleted)": the file was unlinked
    std::string build_id;  // hex, when known (read_proc_maps fills it for ELF files)
};

// Reads /proc/PID/maps, with the build-id of every mapped ELF file (so that a later
// symbolization can tell when a file changed on disk after the process exited).
Status read_proc_maps(pid_t pid, std::vector<Mapping>& out);
// The text-parsing half of read_proc_maps: the lines of /proc/PID/maps text, without
// build-ids. An error names SOURCE and the first line that is not a mapping.
Status parse_proc_maps(std::istream& in, const std::string& source, std::vector<Mapping>& out);

// One source-level frame at an address. A machine frame whose address lies in inlined code
// expands to several of these: the inlined functions innermost first, then the function
// that is really on the stack (inlined == false).
struct SourceFrame {
    std::string function;  // demangled: "parse_config(Config const*)", "" when unknown
    std::string file;      // as recorded in DWARF (usually absolute); "" without line info
    int line = 0;
    int column = 0;
    bool inlined = false;
    // The function whose source holds file:line: of the functions the compile unit declares
    // in that file, the one declared nearest above the line (demangled). It names the
    // source even where the compiler kept no record of an inlining (GCC -O2 may attribute
    // an inlined function's instruction to its caller but keep the callee's line).
    std::string defined_in;
};

struct Symbol {
    uint64_t address = 0;
    std::string module;          // path of the module as the process saw it; "" if none
    uint64_t module_offset = 0;  // address - module load base: stable across ASLR
    std::string build_id;        // hex, "" when the module has none
    std::string symbol;          // ELF symbol (or DWARF subprogram) containing the address
    uint64_t symbol_offset = 0;
    std::vector<SourceFrame> frames;  // innermost first; at least one when symbol is known
    bool has_dwarf = false;           // file:line came from debug information

    // The innermost function name ("" when unknown).
    const std::string& function() const;
};

// An object in a module's .data/.bss/.rodata: "g_queue_lock", "accounts_lock+8".
struct DataSymbol {
    std::string name;  // demangled
    uint64_t offset = 0;
    uint64_t size = 0;
    std::string module;
    std::string section;  // ".bss", ".data" ... ("" when the module's sections are unknown)
};

struct ModuleInfo {
    std::string name;            // path as the process saw it (NT_FILE, /proc/PID/maps)
    std::string file;            // the ELF file actually opened ("" if none was found)
    std::string debug_file;      // separate debug file ("" if none or if DWARF is in `file`)
    uint64_t low = 0, high = 0;  // address range
    uint64_t base = 0;           // load bias
    std::string build_id;        // hex
    bool has_dwarf = false;
    bool has_symtab = false;  // .symtab (full) rather than only .dynsym
};

class Symbolizer {
  public:
    struct Options {
        // Extra directories searched for separate debug files, by build-id
        // (DIR/.build-id/xx/rest.debug) and by debuglink name (DIR/name.debug).
        std::vector<std::string> debug_dirs;
        // Keep elfutils from asking debuginfod servers (DEBUGINFOD_URLS is unset for the
        // process, and libdebuginfod is never loaded): a report should not hang on the
        // network. Off only when the user asks for it.
        bool offline = true;
        // The system's separate debug files, searched first ("": none; the fuzz target of
        // the analysis leaves them out, since inflating libc's takes most of its time).
        std::string system_debug_dir = "/usr/lib/debug";
    };

    Symbolizer();
    explicit Symbolizer(Options options);
    ~Symbolizer();
    Symbolizer(Symbolizer&&) noexcept;
    Symbolizer& operator=(Symbolizer&&) noexcept;
    Symbolizer(const Symbolizer&) = delete;
    Symbolizer& operator=(const Symbolizer&) = delete;

    // Modules of a live process. Files are opened through /proc/PID/map_files when
    // possible, so deleted or replaced binaries still resolve while the process lives.
    Status add_process(pid_t pid);
    // Modules from mappings captured earlier (read_proc_maps); the process may be gone.
    // A file whose build-id no longer matches the captured one is skipped with a warning.
    Status add_mappings(const std::vector<Mapping>& maps);
    // Modules of a core file (libdwfl finds them through NT_FILE and the build-ids in the
    // core's memory). CORE must outlive the Symbolizer. EXECUTABLE overrides the
    // executable named in the core ("" to use the core's).
    Status add_core(Elf* core, const std::string& executable);

    // Symbolize ADDRESS. RETURN_ADDRESS says the address is a return address (any frame
    // but the innermost): the source lookup then uses address - 1, inside the call.
    // Results are cached, so repeated addresses (deep recursion) cost a lookup; the
    // reference stays valid until the next add_*() or the Symbolizer's end.
    const Symbol& symbolize(uint64_t address, bool return_address = false);

    // The data object containing ADDRESS (a global mutex, a string literal's array ...).
    std::optional<DataSymbol> data_symbol(uint64_t address);

    // Address of a named ELF symbol (functions and objects); MODULE_HINT restricts the
    // search to modules whose name contains it ("libc.so"). Searches .symtab then .dynsym.
    std::optional<uint64_t> symbol_address(std::string_view name,
                                           std::string_view module_hint = {});

    // Bytes of a module's file image at ADDRESS (for disassembling code that is not in a
    // core). Returns fewer bytes, or none, where the module has no file data.
    std::vector<uint8_t> read_module_bytes(uint64_t address, size_t size);

    // ELF section name containing ADDRESS (".text", ".rodata", ".bss"), "" if unknown.
    std::string section_name(uint64_t address);

    std::optional<ModuleInfo> module_at(uint64_t address);
    std::vector<ModuleInfo> modules();

    // Problems met on the way (a file missing, a build-id mismatch); never fatal.
    const std::vector<std::string>& warnings() const;

    // For code that drives libdwfl directly (the crash lab's unwinder).
    Dwfl* dwfl();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// "_ZN3foo3barEv" -> "foo::bar()"; names that are not mangled come back unchanged.
std::string demangle(std::string_view name);

// "(anonymous namespace)::Cls::run(int) const" -> "Cls::run": the name without its
// parameter list (parameter lists of enclosing functions, as in a lambda's
// "f(int)::{lambda()#1}::operator()()", are kept) and without anonymous namespaces.
std::string strip_parameters(std::string_view name);
// The last component of strip_parameters() without template arguments: "run",
// "operator()", "~Job". What two tools that print names differently still agree on.
std::string function_base_name(std::string_view name);

}  // namespace tk
