// tk::write_output: files are replaced whole, devices and FIFOs are written in place.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "errors.h"
#include "output.h"

namespace fs = std::filesystem;

namespace {

struct TempDir {
    fs::path path;
    TempDir() {
        char tmpl[] = "/tmp/output-test-XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~TempDir() { fs::remove_all(path); }
};

std::string read_all(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

TEST(WriteOutput, ReplacesAFileWholeAndLeavesNothingElse) {
    TempDir d;
    fs::path out = d.path / "report.json";
    tk::write_output(out, "first, longer content\n");
    tk::write_output(out, "second\n");
    EXPECT_EQ(read_all(out), "second\n");
    EXPECT_EQ(std::distance(fs::directory_iterator(d.path), fs::directory_iterator()), 1);
    EXPECT_THROW(tk::write_output(d.path / "missing-dir" / "x.json", "x"), tk::UserError);
    EXPECT_THROW(tk::write_output(d.path, "x"), tk::UserError);  // a directory
}

TEST(WriteOutput, ModeAndOwner) {
    TempDir d;
    fs::path out = d.path / "private.json";
    tk::write_output_as(out, "x\n", 0600, -1, -1);
    struct stat st;
    ASSERT_EQ(stat(out.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    if (geteuid() != 0)
        GTEST_SKIP() << "handing a file to another user needs root";
    tk::write_output_as(out, "y\n", 0640, 65534, 65534);
    ASSERT_EQ(stat(out.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0640u);
    EXPECT_EQ(st.st_uid, 65534u);
    EXPECT_EQ(st.st_gid, 65534u);
}

TEST(WriteOutput, ThroughASymlinkReplacesTheFileItNames) {
    TempDir d;
    tk::write_output(d.path / "real.json", "old\n");
    fs::create_symlink("real.json", d.path / "link.json");
    tk::write_output(d.path / "link.json", "new\n");
    EXPECT_TRUE(fs::is_symlink(d.path / "link.json"));
    EXPECT_EQ(read_all(d.path / "real.json"), "new\n");
    EXPECT_EQ(std::distance(fs::directory_iterator(d.path), fs::directory_iterator()), 2);
}

TEST(WriteOutput, DevFdGoesToThatDescriptor) {
    // what a shell's >(jq .) passes; also /dev/stdout. Renaming a file over /dev/fd/N
    // fails, and over /dev/stdout it replaced the link (as root)
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    tk::write_output("/dev/fd/" + std::to_string(p[1]), "through fd\n");
    close(p[1]);
    char buf[64] = {};
    ssize_t n = read(p[0], buf, sizeof buf - 1);
    close(p[0]);
    EXPECT_EQ(std::string(buf, n > 0 ? size_t(n) : 0), "through fd\n");
}

TEST(WriteOutput, ADeviceStaysADevice) {
    // A temporary file renamed over the target replaced /dev/null with a regular file when
    // run as root. As root the test writes to a null device of its own, so that a
    // regression cannot break the machine's; otherwise to /dev/null itself.
    TempDir d;
    fs::path dev = "/dev/null";
    if (geteuid() == 0) {
        dev = d.path / "null";
        ASSERT_EQ(mknod(dev.c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
    }
    tk::write_output(dev, "{}\n");
    struct stat st;
    ASSERT_EQ(stat(dev.c_str(), &st), 0);
    EXPECT_TRUE(S_ISCHR(st.st_mode));
}

TEST(WriteOutput, WritesIntoAFifo) {
    TempDir d;
    fs::path fifo = d.path / "pipe";
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    int rd = open(fifo.c_str(), O_RDONLY | O_NONBLOCK);  // so that the writer need not wait
    ASSERT_GE(rd, 0);
    tk::write_output(fifo, "through the pipe\n");
    char buf[64] = {};
    ssize_t n = read(rd, buf, sizeof buf - 1);
    close(rd);
    EXPECT_EQ(std::string(buf, n > 0 ? size_t(n) : 0), "through the pipe\n");
    EXPECT_TRUE(fs::is_fifo(fifo));
}
