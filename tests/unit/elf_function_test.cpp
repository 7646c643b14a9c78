// Where a function lies in an ELF file, for a uprobe (lib/bpf/elf_function.h).
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "elf_function.h"

extern "C" __attribute__((noinline, used)) int elf_function_test_target(int x) {
    return x + 1;
}

namespace {

std::string libc_path() {
    std::ifstream maps("/proc/self/maps");
    std::string line;
    while (std::getline(maps, line)) {
        auto slash = line.find('/');
        if (slash != std::string::npos && line.substr(line.rfind('/') + 1) == "libc.so.6")
            return line.substr(slash);
    }
    return "";
}

}  // namespace

TEST(ElfFunction, DefaultVersionOfAVersionedFunction) {
    std::string libc = libc_path();
    if (libc.empty())
        GTEST_SKIP() << "this test binary has no libc.so.6 mapped";
    std::string error;
    auto lock = tk::find_elf_function(libc, "pthread_mutex_lock", error);
    ASSERT_TRUE(lock) << error;
    // pthread_cond_wait has an old (hidden) and a default definition: one answer, not an error
    auto wait = tk::find_elf_function(libc, "pthread_cond_wait", error);
    ASSERT_TRUE(wait) << error;
    EXPECT_NE(lock->file_offset, wait->file_offset);
    EXPECT_FALSE(tk::find_elf_function(libc, "no_such_function_xyz", error));
    EXPECT_NE(error.find("no function no_such_function_xyz"), std::string::npos);
    EXPECT_FALSE(tk::find_elf_function("/etc/hostname", "x", error));
    EXPECT_NE(error.find("not an ELF file"), std::string::npos) << error;
}

TEST(ElfFunction, AProgramsOwnFunctionWithItsFirstBytes) {
    std::string error;
    auto f = tk::find_elf_function("/proc/self/exe", "elf_function_test_target", error);
    ASSERT_TRUE(f) << error;
    // the bytes at its file offset are the code the process runs
    unsigned char live[4];
    memcpy(live, reinterpret_cast<const void*>(&elf_function_test_target), sizeof live);
    EXPECT_EQ(0, memcmp(live, f->first.data(), sizeof live));
}

TEST(ElfFunction, WhichFirstInstructionsTheKernelEmulates) {
    EXPECT_TRUE(tk::uprobe_emulates({0x55, 0x48, 0x89, 0xe5}));   // push %rbp
    EXPECT_TRUE(tk::uprobe_emulates({0x41, 0x57, 0, 0}));         // push %r15
    EXPECT_FALSE(tk::uprobe_emulates({0xf3, 0x0f, 0x1e, 0xfa}));  // endbr64: stepped
    EXPECT_TRUE(tk::uprobe_emulates({0xe9, 0, 0, 0}));            // jmp
    EXPECT_FALSE(tk::uprobe_emulates({0x48, 0x89, 0xf8, 0xc3}));  // mov %rdi,%rax
}
