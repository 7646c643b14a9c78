// The shared symbolizer on this very test process: a function of ours by address, a global
// mutex by address (the lock names of the tracers), the same answers from mappings
// captured earlier (the process-is-gone path), and the failure modes.
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <mutex>

#include <gtest/gtest.h>

#include "elf_inflate.h"
#include "harness.h"
#include "symbolizer.h"

namespace {

// Things to look up. Not static, and used, so the linker keeps their symbols.
std::mutex g_symbolizer_test_lock;
long g_symbolizer_test_table[16] = {1, 2, 3};

__attribute__((noinline, used)) int symbolizer_test_target(int x) {
    return x * 3 + int(g_symbolizer_test_table[x & 15]);  // TARGET-LINE
}

int target_line() {
    // The line of the TARGET-LINE marker in this file.
    FILE* f = fopen(__FILE__, "r");
    if (!f)
        return 0;
    char buf[512];
    int n = 0, found = 0;
    while (fgets(buf, sizeof buf, f)) {
        n++;
        if (strstr(buf, "// TARGET-LINE") && !strstr(buf, "strstr"))
            found = n;
    }
    fclose(f);
    return found;
}

uint64_t addr_of(const void* p) {
    return reinterpret_cast<uint64_t>(p);
}

void check_function(tk::Symbolizer& sym) {
    ASSERT_EQ(symbolizer_test_target(1), 5);
    uint64_t fn = addr_of(reinterpret_cast<const void*>(&symbolizer_test_target));
    tk::Symbol s = sym.symbolize(fn + 4);
    EXPECT_EQ(s.function(), "(anonymous namespace)::symbolizer_test_target(int)");
    EXPECT_EQ(s.symbol_offset, 4u);
    EXPECT_NE(s.module.find("crashlab_tests"), std::string::npos) << s.module;
    EXPECT_TRUE(s.has_dwarf);
    ASSERT_FALSE(s.frames.empty());
    EXPECT_NE(s.frames.back().file.find("symbolizer_test.cpp"), std::string::npos);
    EXPECT_FALSE(s.build_id.empty());
    // Somewhere in the function body: the marked line or the function's first line.
    int line = s.frames.back().line;
    EXPECT_TRUE(line == target_line() || line == target_line() - 1) << line;
}

void check_data(tk::Symbolizer& sym) {
    auto lock = sym.data_symbol(addr_of(&g_symbolizer_test_lock));
    ASSERT_TRUE(lock.has_value());
    EXPECT_EQ(lock->name, "(anonymous namespace)::g_symbolizer_test_lock");
    EXPECT_EQ(lock->offset, 0u);
    EXPECT_EQ(lock->section, ".bss");
    EXPECT_EQ(lock->size, sizeof(std::mutex));
    auto third = sym.data_symbol(addr_of(&g_symbolizer_test_table[2]));
    ASSERT_TRUE(third.has_value());
    EXPECT_EQ(third->name, "(anonymous namespace)::g_symbolizer_test_table");
    EXPECT_EQ(third->offset, 2 * sizeof(long));
    EXPECT_EQ(third->section, ".data");
    // The heap is nobody's symbol.
    auto* heap = new long(5);
    EXPECT_FALSE(sym.data_symbol(addr_of(heap)).has_value());
    delete heap;
}

TEST(Symbolizer, LiveProcessFunctionAndGlobal) {
    tk::Symbolizer sym;
    ASSERT_TRUE(sym.add_process(getpid()).ok());
    check_function(sym);
    check_data(sym);
    // libc's functions have names whether or not its debug package is installed.
    tk::Symbol s = sym.symbolize(addr_of(reinterpret_cast<const void*>(&getpid)));
    EXPECT_NE(s.module.find("libc.so"), std::string::npos) << s.module;
    EXPECT_FALSE(s.function().empty());
    auto found = sym.symbol_address("getpid", "libc.so");
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(*found, addr_of(reinterpret_cast<const void*>(&getpid)));
    EXPECT_EQ(sym.section_name(addr_of(&g_symbolizer_test_lock)), ".bss");
}

TEST(Symbolizer, CapturedMappingsAfterTheProcessIsGone) {
    // A child captures its maps and exits: the parent symbolizes the child's addresses
    // from the captured list alone. The child is a fork of us, so its code addresses are
    // ours, which is what lets the test know the right answers.
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t child = fork();
    if (child == 0) {
        close(fds[0]);
        char c = 'x';
        ssize_t n = write(fds[1], &c, 1);  // "my maps are ready to read"
        (void)n;
        pause();
        _exit(0);
    }
    close(fds[1]);
    char c;
    ASSERT_EQ(read(fds[0], &c, 1), 1);
    std::vector<tk::Mapping> maps;
    ASSERT_TRUE(tk::read_proc_maps(child, maps).ok());
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
    ASSERT_FALSE(maps.empty());
    bool has_build_id = false;
    for (const tk::Mapping& m : maps)
        has_build_id |= m.path.find("crashlab_tests") != std::string::npos && !m.build_id.empty();
    EXPECT_TRUE(has_build_id);

    tk::Symbolizer sym;
    ASSERT_TRUE(sym.add_mappings(maps).ok());
    check_function(sym);
    check_data(sym);
    EXPECT_TRUE(sym.warnings().empty()) << sym.warnings().front();
}

TEST(Symbolizer, ChangedFileIsNotTrusted) {
    std::vector<tk::Mapping> maps;
    ASSERT_TRUE(tk::read_proc_maps(getpid(), maps).ok());
    for (tk::Mapping& m : maps)
        if (m.path.find("crashlab_tests") != std::string::npos)
            m.build_id = "00112233445566778899aabbccddeeff00112233";  // "a different build"
    tk::Symbolizer sym;
    ASSERT_TRUE(sym.add_mappings(maps).ok());
    tk::Symbol s = sym.symbolize(addr_of(reinterpret_cast<const void*>(&symbolizer_test_target)));
    EXPECT_TRUE(s.function().empty()) << s.function();
    ASSERT_FALSE(sym.warnings().empty());
    EXPECT_NE(sym.warnings().front().find("changed on disk"), std::string::npos);
}

TEST(Symbolizer, UnknownAddressAndMissingProcess) {
    tk::Symbolizer sym;
    ASSERT_TRUE(sym.add_process(getpid()).ok());
    tk::Symbol s = sym.symbolize(0x10);
    EXPECT_TRUE(s.module.empty());
    EXPECT_TRUE(s.function().empty());
    tk::Symbolizer other;
    tk::Status st = other.add_process(999999999);
    EXPECT_FALSE(st.ok());
    EXPECT_NE(st.message().find("/proc/999999999/maps"), std::string::npos) << st.message();
}

TEST(Symbolizer, Demangle) {
    EXPECT_EQ(tk::demangle("_ZN3foo3barEv"), "foo::bar()");
    EXPECT_EQ(tk::demangle("main"), "main");
    EXPECT_EQ(tk::demangle("_Znot_valid"), "_Znot_valid");
}

}  // namespace

namespace {

// The inflated copy of a debug file with zlib-compressed sections has every section's
// bytes as the uncompressed original, and no compressed section left.
TEST(ElfInflate, InflatedCopyMatchesTheUncompressedOriginal) {
    std::string dir = crashlab_test::fresh_dir("inflate");
    std::string compressed = dir + "/victim.zdebug";
    crashlab_test::Result made = crashlab_test::run(
        {"objcopy", "--only-keep-debug", "--compress-debug-sections=zlib", VICTIM_O2, compressed});
    ASSERT_EQ(made.code, 0) << made.err;
    int fd = open(compressed.c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    std::string why;
    int copy = tk::inflate_debug_file(fd, &why);
    ASSERT_GE(copy, 0) << why;
    close(fd);

    // Section name -> contents, for both files, with libelf (independent of elf_inflate).
    auto sections = [](int f, bool* any_compressed) {
        std::map<std::string, std::string> out;
        elf_version(EV_CURRENT);
        Elf* e = elf_begin(f, ELF_C_READ, nullptr);
        size_t shstrndx = 0;
        elf_getshdrstrndx(e, &shstrndx);
        for (Elf_Scn* s = elf_nextscn(e, nullptr); s; s = elf_nextscn(e, s)) {
            GElf_Shdr sh;
            gelf_getshdr(s, &sh);
            std::string name = elf_strptr(e, shstrndx, sh.sh_name);
            if (sh.sh_flags & SHF_COMPRESSED)
                *any_compressed = true;
            if (sh.sh_type == SHT_NOBITS || name.rfind(".debug_", 0) != 0)
                continue;
            Elf_Data* d = elf_rawdata(s, nullptr);
            out[name] = d && d->d_size ? std::string(static_cast<char*>(d->d_buf), d->d_size) : "";
        }
        elf_end(e);
        return out;
    };
    bool copy_compressed = false, orig_compressed = false;
    auto got = sections(copy, &copy_compressed);
    int orig = open(VICTIM_O2, O_RDONLY);
    auto want = sections(orig, &orig_compressed);
    close(orig);
    close(copy);
    EXPECT_FALSE(copy_compressed);
    ASSERT_TRUE(want.count(".debug_info"));
    for (const auto& [name, bytes] : want) {
        if (name == ".debug_loclists" || name == ".debug_loc") {
            EXPECT_FALSE(got.count(name)) << name << " is left out on purpose";
            continue;
        }
        ASSERT_TRUE(got.count(name)) << name;
        EXPECT_TRUE(got[name] == bytes) << name << " differs after inflating";
    }
    // A file without compressed sections is left alone.
    int plain = open(VICTIM_O2, O_RDONLY);
    EXPECT_EQ(tk::inflate_debug_file(plain, &why), -1);
    EXPECT_EQ(why, "no compressed sections");
    close(plain);
}

}  // namespace
