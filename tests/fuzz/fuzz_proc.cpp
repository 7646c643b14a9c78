// Fuzz target: the parsers of /proc text the tracers use, all on the same input: the lines
// of /proc/PID/maps (tk::parse_proc_maps, which the symbolizer and lockwait-trace's maps
// capture use; lockwait::libc_in_maps), /proc/kallsyms (tk::KernelSymbols, with
// lookups at the addresses it lists), /proc/PID/status (tk::tgid_in_status) and
// /proc/PID/stat (tk::kernel_thread_in_stat). None of them may fail on any text.
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "elf_symbols.h"
#include "kernel_symbols.h"
#include "proc.h"
#include "symbolizer.h"

namespace {

void kallsyms(const std::string& text) {
    std::istringstream in(text);
    tk::KernelSymbols k = tk::KernelSymbols::parse(in);
    // Look up what the text lists, and around it.
    std::istringstream lines(text);
    std::string line;
    for (int n = 0; n < 8 && std::getline(lines, line); n++) {
        uint64_t a = std::strtoull(line.c_str(), nullptr, 16);
        for (uint64_t probe : {a, a - 1, a + 1, a + (1 << 20)}) {
            k.describe(probe);
            k.function(probe);
        }
    }
    k.describe(0);
    k.describe(UINT64_MAX);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    {
        std::istringstream in(text);
        std::vector<tk::Mapping> maps;
        (void)tk::parse_proc_maps(in, "maps", maps);
    }
    {
        std::istringstream in(text);
        lockwait::libc_in_maps(in);
    }
    kallsyms(text);
    {
        std::istringstream in(text);
        tk::tgid_in_status(in);
    }
    tk::kernel_thread_in_stat(text);
    return 0;
}
