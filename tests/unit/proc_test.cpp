// The text-parsing halves of lib/core/proc: /proc/TID/status and /proc/TID/stat as the
// kernel writes them, and text it does not write (fuzz-proc gives them any bytes).
#include <sstream>

#include <gtest/gtest.h>

#include "proc.h"

namespace {

std::optional<pid_t> tgid(const std::string& text) {
    std::istringstream in(text);
    return tk::tgid_in_status(in);
}

TEST(Proc, TgidInStatus) {
    EXPECT_EQ(tgid("Name:\tcat\nUmask:\t0022\nState:\tR (running)\nTgid:\t4242\nPid:\t4243\n"),
              4242);
    EXPECT_EQ(tgid("Name:\tcat\nPid:\t4243\n"), std::nullopt);
    EXPECT_EQ(tgid(""), std::nullopt);
}

// std::stol threw std::invalid_argument or std::out_of_range out of tgid_of (found by
// fuzz-proc): a line that holds no pid is no tgid.
TEST(Proc, TgidLineWithoutANumberIsNoTgid) {
    EXPECT_EQ(tgid("Tgid:\n"), std::nullopt);
    EXPECT_EQ(tgid("Tgid:\tx\n"), std::nullopt);
    EXPECT_EQ(tgid("Tgid:\t99999999999999999999\n"), std::nullopt);
    EXPECT_EQ(tgid("Tgid:"), std::nullopt);
}

TEST(Proc, KernelThreadInStat) {
    // kthreadd (flags 0x208040: PF_KTHREAD among them) and a user process (0x400000)
    EXPECT_TRUE(tk::kernel_thread_in_stat("2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0"));
    EXPECT_FALSE(tk::kernel_thread_in_stat("4242 (cat) R 1 4242 4242 34816 4242 4194304 92 0"));
    // the name may hold spaces and parentheses
    EXPECT_TRUE(tk::kernel_thread_in_stat("7 (a) b) S 2 0 0 0 -1 2129984 0"));
    EXPECT_FALSE(tk::kernel_thread_in_stat(""));
    EXPECT_FALSE(tk::kernel_thread_in_stat("no parenthesis"));
    EXPECT_FALSE(tk::kernel_thread_in_stat("1 (x)"));
}

}  // namespace
