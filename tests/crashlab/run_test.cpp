// crashlab run / list / gdb / analyze as a user meets them: the crash directory and its
// permissions and metadata, exit statuses, running as the sudo user, the text view of a
// deep recursion, stripped binaries without their debug file, and the gdb launcher.
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>

#include <gtest/gtest.h>

#include "harness.h"
#include "integration/harness.h"  // harness::ReachableCopy

using namespace crashlab_test;

namespace {

mode_t mode_of(const std::string& path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0;
}

uid_t owner_of(const std::string& path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0 ? st.st_uid : uid_t(-1);
}

TEST(Run, CrashDirectoryIsPrivateAndDescribed) {
    std::string dir = fresh_dir("run-private");
    Result r = run({CRASHLAB_BIN, "run", "--dir", dir + "/crashes", "--", VICTIM_O0, "abort"});
    ASSERT_TRUE(r.exited);
    EXPECT_EQ(r.code, 128 + 6) << r.err;
    EXPECT_NE(r.out.find("class       abort"), std::string::npos) << r.out;
    std::vector<std::string> runs = glob(dir + "/crashes/*");
    ASSERT_EQ(runs.size(), 1u);
    EXPECT_EQ(mode_of(dir + "/crashes"), 0700u);
    EXPECT_EQ(mode_of(runs[0]), 0700u);
    for (const char* f : {"core", "metadata.json", "report.txt", "report.json"})
        EXPECT_EQ(mode_of(runs[0] + "/" + f), 0600u) << f;
    nlohmann::json m = load_json(runs[0] + "/metadata.json");
    EXPECT_EQ(m["command"][0], VICTIM_O0);
    EXPECT_EQ(m["command"][1], "abort");
    EXPECT_EQ(m["executable"], VICTIM_O0);
    EXPECT_EQ(m["signal_name"], "SIGABRT");
    EXPECT_EQ(m["class"], "abort");
    EXPECT_FALSE(m["timeout_fired"].get<bool>());
    EXPECT_TRUE(m["build_ids"].contains(VICTIM_O0)) << m["build_ids"].dump();
    EXPECT_EQ(m["uid"].get<int>(), int(geteuid()));
    nlohmann::json rep = load_json(runs[0] + "/report.json");
    EXPECT_EQ(rep["class"], "abort");
    remove_tree(dir);
}

TEST(Run, NoCrashPassesTheExitStatusThrough) {
    std::string dir = fresh_dir("run-nocrash");
    Result r = run({CRASHLAB_BIN, "run", "--dir", dir, "--", "/bin/sh", "-c", "exit 3"});
    ASSERT_TRUE(r.exited);
    EXPECT_EQ(r.code, 3);
    EXPECT_NE(r.err.find("no crash"), std::string::npos) << r.err;
    EXPECT_TRUE(glob(dir + "/*").empty()) << "nothing to keep";
    remove_tree(dir);
}

TEST(Run, CommandNotFoundIsOneLine) {
    std::string dir = fresh_dir("run-notfound");
    Result r = run({CRASHLAB_BIN, "run", "--dir", dir, "--", "no-such-program-anywhere"});
    ASSERT_TRUE(r.exited);
    EXPECT_EQ(r.code, 127) << "like a shell";
    EXPECT_NE(r.err.find("not found in PATH"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1);
    remove_tree(dir);
}

// The launcher finds the program; crashlab says in its own words why it cannot run it.
TEST(Run, NotExecutableIs126) {
    std::string dir = fresh_dir("run-notexecutable");
    for (const char* program : {"/etc/passwd", "/tmp"}) {
        Result r = run({CRASHLAB_BIN, "run", "--dir", dir, "--", program});
        ASSERT_TRUE(r.exited);
        EXPECT_EQ(r.code, 126) << "like a shell";
        EXPECT_EQ(r.err, std::string("crashlab: cannot run ") + program +
                             ": not executable: check the path\n");
    }
    EXPECT_TRUE(glob(dir + "/*").empty()) << "no crash directory for a command that never ran";
    remove_tree(dir);
}

TEST(Run, TimeoutTurnsAHangIntoACore) {
    std::string dir = fresh_dir("run-timeout");
    Result r =
        run({CRASHLAB_BIN, "run", "-q", "--timeout", "0.5", "--dir", dir, "--", VICTIM_O2, "hang"});
    ASSERT_TRUE(r.exited);
    EXPECT_EQ(r.code, 128 + 6) << r.err;
    std::vector<std::string> meta = glob(dir + "/*/metadata.json");
    ASSERT_EQ(meta.size(), 1u);
    nlohmann::json m = load_json(meta[0]);
    EXPECT_TRUE(m["timeout_fired"].get<bool>());
    EXPECT_EQ(m["class"], "hang");
    remove_tree(dir);
}

// Under sudo the victim runs as the invoking user: its core, its directory and the reports
// belong to that user, not to root.
TEST(Run, UnderSudoTheCommandRunsAsTheInvokingUser) {
    if (geteuid() != 0) {
        // In CI the suite runs as root and this must not be skipped there.
        const char* ci = getenv("CI");
        if (ci && std::string(ci) == "true")
            FAIL() << "CI=true but not root: this test needs root (it pretends to be sudo)";
        GTEST_SKIP() << "needs root (it pretends to be sudo)";
    }
    struct passwd* nobody = getpwnam("nobody");
    ASSERT_NE(nobody, nullptr);
    std::string uid = std::to_string(nobody->pw_uid), gid = std::to_string(nobody->pw_gid);
    std::string dir = fresh_dir("run-sudo");
    // The build tree may be closed to nobody (a checkout under /root): it gets a copy.
    harness::ReachableCopy victim(VICTIM_O0);
    Result r = run(
        {CRASHLAB_BIN, "run", "-q", "--dir", dir + "/crashes", "--", victim.path(), "null-write"},
        {"SUDO_UID=" + uid, "SUDO_GID=" + gid});
    ASSERT_TRUE(r.exited);
    ASSERT_EQ(r.code, 128 + 11) << r.err;
    std::vector<std::string> runs = glob(dir + "/crashes/*");
    ASSERT_EQ(runs.size(), 1u);
    EXPECT_EQ(owner_of(runs[0]), nobody->pw_uid);
    for (const char* f : {"core", "metadata.json", "report.json", "report.txt"}) {
        EXPECT_EQ(owner_of(runs[0] + "/" + f), nobody->pw_uid) << f;
        EXPECT_EQ(mode_of(runs[0] + "/" + f), 0600u) << f;
    }
    nlohmann::json m = load_json(runs[0] + "/metadata.json");
    EXPECT_EQ(m["uid"].get<uid_t>(), nobody->pw_uid);
    nlohmann::json rep = load_json(runs[0] + "/report.json");
    EXPECT_EQ(rep["process"]["uid"].get<uid_t>(), nobody->pw_uid) << "the core says who crashed";
    EXPECT_EQ(rep["class"], "null-write");

    // --as-root keeps root.
    std::string dir2 = fresh_dir("run-sudo-root");
    Result r2 =
        run({CRASHLAB_BIN, "run", "-q", "--as-root", "--dir", dir2, "--", VICTIM_O0, "null-write"},
            {"SUDO_UID=" + uid, "SUDO_GID=" + gid});
    ASSERT_EQ(r2.code, 128 + 11) << r2.err;
    std::vector<std::string> meta = glob(dir2 + "/*/metadata.json");
    ASSERT_EQ(meta.size(), 1u);
    EXPECT_EQ(load_json(meta[0])["uid"].get<int>(), 0);
    remove_tree(dir);
    remove_tree(dir2);
}

TEST(Run, UnderSudoAProgramTheUserCannotReachIsOneClearLine) {
    if (geteuid() != 0)
        GTEST_SKIP() << "needs root (it pretends to be sudo)";
    struct passwd* nobody = getpwnam("nobody");
    ASSERT_NE(nobody, nullptr);
    // The victim in a directory only root may enter, like a checkout under /root.
    harness::ReachableCopy copy(VICTIM_O0);
    chmod(copy.dir().c_str(), 0700);
    std::string dir = fresh_dir("run-sudo-closed");
    Result r = run({CRASHLAB_BIN, "run", "-q", "--dir", dir, "--", copy.path(), "null-write"},
                   {"SUDO_UID=" + std::to_string(nobody->pw_uid),
                    "SUDO_GID=" + std::to_string(nobody->pw_gid)});
    ASSERT_TRUE(r.exited);
    EXPECT_NE(r.code, 0);
    EXPECT_EQ(r.err, "crashlab: user nobody cannot reach " + copy.path() + ": " + copy.dir() +
                         " (mode 0700, owner root) is closed to it: put the program where that "
                         "user can reach it, or keep root for it with --as-root\n");
    remove_tree(dir);
}

// The command runs in crashlab's working directory: a relative path among its arguments
// works. Where core_pattern is a name relative to that directory ("core" here), the kernel
// unlinks a file of that name to write the core: the file that was there is kept and put
// back, byte for byte and the same inode, and the new core is moved into the crash
// directory, nothing left behind.
TEST(Run, KeepsTheWorkingDirectoryAndAFileCalledCore) {
    std::string pattern = read_file("/proc/sys/kernel/core_pattern");
    if (pattern.empty() || pattern[0] == '|' || pattern[0] == '/')
        GTEST_SKIP() << "core_pattern is not a relative name: " << pattern;
    std::string dir = fresh_dir("run-cwd");
    // Every name the kernel could give this crash's core, taken by an earlier file.
    const std::string earlier = "an earlier core, not crashlab's to touch\n";
    std::string name = pattern.substr(0, pattern.find('%'));
    while (!name.empty() && (name.back() == '\n' || name.back() == '.'))
        name.pop_back();
    std::ofstream(dir + "/" + name) << earlier;
    struct stat before {};
    ASSERT_EQ(stat((dir + "/" + name).c_str(), &before), 0);
    std::ofstream(dir + "/kind") << "null-read\n";
    Result r = run({CRASHLAB_BIN, "run", "-q", "--dir", "crashes", "--json", "a.json", "--", "sh",
                    "-c", std::string("exec ") + VICTIM_O0 + " $(cat kind)"},
                   {}, dir);
    ASSERT_TRUE(r.exited);
    EXPECT_EQ(r.code, 128 + 11) << r.err;
    EXPECT_EQ(load_json(dir + "/a.json")["class"], "null-read") << "the command read ./kind";
    std::vector<std::string> runs = glob(dir + "/crashes/*");
    ASSERT_EQ(runs.size(), 1u);
    nlohmann::json m = load_json(runs[0] + "/metadata.json");
    EXPECT_EQ(m["cwd"], dir);
    EXPECT_EQ(m["core"], runs[0] + "/core");
    EXPECT_EQ(mode_of(runs[0] + "/core"), 0600u);
    nlohmann::json rep = load_json(runs[0] + "/report.json");
    EXPECT_EQ(rep["process"]["pid"], m["pid"]) << "the core is this crash's";
    struct stat after {};
    ASSERT_EQ(stat((dir + "/" + name).c_str(), &after), 0);
    EXPECT_EQ(read_file(dir + "/" + name), earlier);
    EXPECT_EQ(after.st_ino, before.st_ino);
    EXPECT_EQ(after.st_nlink, 1u) << "no second name left behind";
    std::vector<std::string> left;
    for (const auto& e : std::filesystem::directory_iterator(dir))
        left.push_back(e.path().filename());
    std::sort(left.begin(), left.end());
    std::vector<std::string> expected = {"a.json", "crashes", "kind", name};
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(left, expected);
    remove_tree(dir);
}

// A hard core limit of 0 lets the kernel write no core file, and only root may raise it:
// one line, and the command does not run.
TEST(Run, AHardCoreLimitOfZeroIsOneLine) {
    std::string dir = fresh_dir("run-rlimit");
    std::vector<std::string> argv = {"prlimit", "--core=0:0"};
    std::unique_ptr<harness::ReachableCopy> crashlab;
    if (geteuid() == 0) {  // root may raise it: the limit holds for a user
        crashlab = std::make_unique<harness::ReachableCopy>(CRASHLAB_BIN);
        argv.insert(argv.end(), {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                 crashlab->path()});
        chmod(dir.c_str(), 01777);
    } else {
        argv.push_back(CRASHLAB_BIN);
    }
    argv.insert(argv.end(),
                {"run", "--dir", dir + "/crashes", "--", "/bin/sh", "-c", "touch " + dir + "/ran"});
    Result r = run(argv, {}, dir);
    ASSERT_TRUE(r.exited);
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("the hard RLIMIT_CORE is 0 here"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_TRUE(glob(dir + "/*").empty()) << "nothing ran, nothing made";
    remove_tree(dir);
}

// Under sudo the command runs as the user in crashlab's working directory: where the core
// would be written there and that user may not write it, one line before anything runs.
TEST(Run, UnderSudoAWorkingDirectoryTheUserCannotWriteIsOneLine) {
    if (geteuid() != 0) {
        const char* ci = getenv("CI");
        if (ci && std::string(ci) == "true")
            FAIL() << "CI=true but not root: this test needs root (it pretends to be sudo)";
        GTEST_SKIP() << "needs root (it pretends to be sudo)";
    }
    std::string pattern = read_file("/proc/sys/kernel/core_pattern");
    if (pattern.empty() || pattern[0] == '|' || pattern[0] == '/')
        GTEST_SKIP() << "core_pattern is not a relative name: " << pattern;
    struct passwd* nobody = getpwnam("nobody");
    ASSERT_NE(nobody, nullptr);
    std::string dir = fresh_dir("run-sudo-cwd");
    chmod(dir.c_str(), 0755);
    harness::ReachableCopy victim(VICTIM_O0);
    Result r = run(
        {CRASHLAB_BIN, "run", "-q", "--dir", dir + "/crashes", "--", victim.path(), "null-read"},
        {"SUDO_UID=" + std::to_string(nobody->pw_uid),
         "SUDO_GID=" + std::to_string(nobody->pw_gid)},
        dir);
    ASSERT_TRUE(r.exited);
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(
        r.err.find("crashlab: the working directory " + dir + " is not writable by user nobody"),
        std::string::npos)
        << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_TRUE(glob(dir + "/crashes/*").empty()) << "no crash directory left";
    remove_tree(dir);
}

// A program whose name is not UTF-8 (Latin-1 "\xe9") crashes: the name is in the core's
// notes, the command line, the module list and the crash directory's name. The reports stay
// JSON, with U+FFFD for the byte; before, crashlab run and analyze --json stopped with
// "internal error: ... invalid UTF-8 byte" and wrote no report (found by fuzz-analyze).
TEST(Run, NamesThatAreNotUtf8StayJson) {
    std::string dir = fresh_dir("run-latin1");
    std::string victim = dir + "/victim-\xe9";
    std::filesystem::copy_file(VICTIM_O0, victim);
    Result r =
        run({CRASHLAB_BIN, "run", "-q", "--dir", dir + "/crashes", "--", victim, "null-read"});
    ASSERT_TRUE(r.exited);
    EXPECT_EQ(r.code, 128 + 11) << r.err;
    EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;
    std::vector<std::string> runs = glob(dir + "/crashes/*");
    ASSERT_EQ(runs.size(), 1u);
    const std::string replaced = "victim-\xef\xbf\xbd";  // U+FFFD
    nlohmann::json m = load_json(runs[0] + "/metadata.json");
    EXPECT_EQ(m["executable"], dir + "/" + replaced);
    EXPECT_EQ(m["class"], "null-read");
    nlohmann::json rep = load_json(runs[0] + "/report.json");
    EXPECT_EQ(rep["class"], "null-read");
    EXPECT_EQ(rep["process"]["name"], replaced);
    ASSERT_FALSE(rep["threads"][0]["frames"].empty());
    EXPECT_EQ(rep["threads"][0]["frames"][0]["module"], dir + "/" + replaced);

    Result a = run({CRASHLAB_BIN, "analyze", "--json", "-", runs[0] + "/core"});
    EXPECT_EQ(a.code, 0) << a.err;
    EXPECT_TRUE(nlohmann::json::accept(a.out)) << a.out.substr(0, 300);
    // gdb gets the program itself (from the core), not the metadata's replaced name.
    Result g = run({CRASHLAB_BIN, "gdb", "--print", runs[0] + "/core"});
    EXPECT_EQ(g.code, 0) << g.err;
    EXPECT_NE(g.out.find(victim), std::string::npos) << g.out;
    remove_tree(dir);
}

TEST(List, EveryKind) {
    Result r = run({CRASHLAB_BIN, "list", "--json"});
    ASSERT_EQ(r.code, 0);
    nlohmann::json j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j.size(), 25u);
    Result text = run({CRASHLAB_BIN, "list"});
    for (const char* k : {"null-read", "deadlock", "external-signal", "wild-pointer"})
        EXPECT_NE(text.out.find(k), std::string::npos) << k;
}

class OneCore : public testing::Test {
  protected:
    // A fresh core of KIND from BINARY; returns its path.
    std::string crash(const std::string& name, const std::string& binary, const std::string& kind) {
        dir_ = fresh_dir(name);
        Result r = run({CRASHLAB_BIN, "run", "-q", "--dir", dir_, "--", binary, kind});
        std::vector<std::string> cores = glob(dir_ + "/*/core");
        EXPECT_EQ(cores.size(), 1u) << r.err;
        return cores.empty() ? std::string() : cores[0];
    }
    void TearDown() override {
        if (!HasFailure() && !dir_.empty())
            remove_tree(dir_);
    }
    std::string dir_;
};

// 87,000 frames in the JSON, a handful of lines in the text.
TEST_F(OneCore, TextViewCollapsesRecursion) {
    std::string core = crash("text-recursion", VICTIM_O0, "stack-overflow");
    Result r = run({CRASHLAB_BIN, "analyze", "--no-modules", core});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("more times (frames #1-#"), std::string::npos) << r.out.substr(0, 3000);
    EXPECT_LT(std::count(r.out.begin(), r.out.end(), '\n'), 80);
    Result limited = run({CRASHLAB_BIN, "analyze", "--json", "-", "--max-frames", "50", core});
    ASSERT_EQ(limited.code, 0) << limited.err;
    nlohmann::json j = nlohmann::json::parse(limited.out);
    EXPECT_EQ(j["threads"][0]["frames"].size(), 50u);
    EXPECT_NE(j["threads"][0]["stop_reason"].get<std::string>().find("--max-frames"),
              std::string::npos);
    EXPECT_EQ(j["class"], "stack-overflow");
}

// Without the separate debug file: names only where the binary has symbols, and a note
// that says how to get the rest. Not a partial report: the core is fine.
TEST_F(OneCore, StrippedWithoutDebugFileSaysWhatIsMissing) {
    std::string core = crash("stripped-nodebug", VICTIM_STRIPPED, "null-read");
    Result r = run({CRASHLAB_BIN, "analyze", "--json", "-", core});
    ASSERT_EQ(r.code, 0) << r.err;
    nlohmann::json j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["class"], "null-read") << j["summary"];
    bool note = false;
    for (const auto& n : j["notes"])
        note |= n.get<std::string>().find("no debug information for crashlab-victim-stripped") !=
                    std::string::npos &&
                n.get<std::string>().find(".build-id/") != std::string::npos;
    EXPECT_TRUE(note) << j["notes"].dump();
    EXPECT_TRUE(j["threads"][0]["frames"][0]["file"].is_null());
}

// .symtab but no DWARF (strip --strip-debug): function names, no lines.
TEST_F(OneCore, SymtabNamesWithoutDwarf) {
    std::string work = fresh_dir("symtab-only-bin");
    std::string bin = work + "/victim-symtab";
    Result s = run({"objcopy", "--strip-debug", VICTIM_O2, bin});
    ASSERT_EQ(s.code, 0) << s.err;
    std::string core = crash("symtab-only", bin, "div-zero");
    Result r = run({CRASHLAB_BIN, "analyze", "--json", "-", core});
    ASSERT_EQ(r.code, 0) << r.err;
    nlohmann::json j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["class"], "div-zero");
    EXPECT_EQ(unqualified(j["culprit"]["function"]), "average");
    EXPECT_TRUE(j["culprit"]["line"].is_null());
    bool symtab_note = false;
    for (const auto& n : j["notes"])
        symtab_note |= n.get<std::string>().find("names come from .symtab") != std::string::npos;
    EXPECT_TRUE(symtab_note) << j["notes"].dump();
    remove_tree(work);
}

TEST_F(OneCore, GdbOpensTheRightSession) {
    std::string core = crash("gdb-launch", VICTIM_O0, "div-zero");
    Result print = run({CRASHLAB_BIN, "gdb", "--print", core});
    ASSERT_EQ(print.code, 0) << print.err;
    EXPECT_NE(print.out.find(VICTIM_O0), std::string::npos) << print.out;
    EXPECT_NE(print.out.find(core), std::string::npos) << print.out;
    // The real thing, in batch mode: the executable comes from the crash directory's
    // metadata, and gdb's backtrace names the faulting function.
    Result bt = run({CRASHLAB_BIN, "gdb", core, "--", "-batch", "-ex", "bt"});
    ASSERT_TRUE(bt.exited);
    EXPECT_EQ(bt.code, 0) << bt.err;
    EXPECT_NE(bt.out.find("average"), std::string::npos) << bt.out;
    Result missing = run({CRASHLAB_BIN, "gdb", dir_ + "/no-core"});
    EXPECT_EQ(missing.code, 1);
}

}  // namespace
