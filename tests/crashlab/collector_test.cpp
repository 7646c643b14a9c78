// The collector installed for real: kernel.core_pattern pipes real crashes to `crashlab
// collect`, which stores them; `crashlab ls` and `show` read the store. These tests change
// the machine-wide core_pattern, so ctest runs them alone (RUN_SERIAL), and every test puts
// the previous pattern back, even when it fails.
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "coredumpctl.h"  // crashlab::journald_running
#include "errors.h"
#include "process_state.h"
#include "harness.h"
#include "integration/harness.h"  // harness::ReachableCopy, have_root, in_ci

using namespace crashlab_test;

namespace {

constexpr const char* kPatternFile = "/proc/sys/kernel/core_pattern";

std::string read_line(const std::string& path) {
    std::string s = read_file(path);
    while (!s.empty() && s.back() == '\n')
        s.pop_back();
    return s;
}

void write_line(const std::string& path, const std::string& value) {
    std::ofstream(path) << value << "\n";
}

struct Stat {
    uid_t uid = uid_t(-1);
    mode_t mode = 0;
};
Stat stat_of(const std::string& path) {
    struct stat st;
    if (lstat(path.c_str(), &st) != 0)
        return {};
    return {st.st_uid, st.st_mode & 07777};
}

// systemd-coredump as Debian's sysctl.d file installs it (its own pattern).
constexpr const char* kSystemdCoredump = "/lib/systemd/systemd-coredump";
constexpr const char* kSystemdCoredumpPattern =
    "|/lib/systemd/systemd-coredump %P %u %g %s %t 9223372036854775808 %h %d";

// Run by the kernel, systemd-coredump hands the core to its service through the socket
// /run/systemd/coredump, which systemd's systemd-coredump.socket unit listens on
// (Accept=yes, one systemd-coredump per connection). Where PID 1 is not systemd (here, CI)
// the object listens there with systemd-socket-activate, as the unit would, for its life.
class CoredumpService {
  public:
    CoredumpService() {
        if (read_line("/proc/1/comm") == "systemd")
            return;
        unlink(kSocket);
        mkdir("/run/systemd", 0755);
        service_ = std::make_unique<harness::Background>(std::vector<std::string>{
            "systemd-socket-activate", "--seqpacket", "--accept", "-l", kSocket, kSystemdCoredump});
        for (int i = 0; i < 100 && access(kSocket, F_OK) != 0; i++)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ~CoredumpService() {
        if (!service_)
            return;
        service_.reset();
        unlink(kSocket);
    }
    CoredumpService(const CoredumpService&) = delete;
    CoredumpService& operator=(const CoredumpService&) = delete;

  private:
    static constexpr const char* kSocket = "/run/systemd/coredump";
    std::unique_ptr<harness::Background> service_;
};

// A journald for systemd-coredump to log its COREDUMP_* entry into. When one already
// listens on /run/systemd/journal/socket it is used as it is. Otherwise Debian's
// systemd-journald runs by itself (not socket-activated, it makes its own sockets under
// /run/systemd/journal) in a mount namespace of its own where a fresh tmpfs hides
// /run/log/journal: its journal files are written there and vanish with it, and the
// machine's journal directory is left as it was. Only its sockets are shared, so that
// systemd-coredump, in the kernel's namespace, reaches it; reading the journal means
// entering its namespace (in()). The object stops it and removes its sockets.
class TestJournald {
  public:
    TestJournald() {
        if (crashlab::journald_running())
            return;
        const char* journald = "/lib/systemd/systemd-journald";
        if (access(journald, X_OK) != 0) {
            problem_ = std::string(journald) + " is not installed (package systemd)";
            return;
        }
        mkdir("/run/log", 0755);
        mkdir("/run/log/journal", 02755);
        journald_ = std::make_unique<harness::Background>(std::vector<std::string>{
            "unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
            std::string("mount -t tmpfs -o mode=2755 crashlab-test-journal /run/log/journal "
                        "&& exec ") +
                journald});
        for (int i = 0; i < 250 && !crashlab::journald_running(); i++)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        if (!crashlab::journald_running())
            problem_ =
                "systemd-journald started by the test does not listen on "
                "/run/systemd/journal/socket";
    }
    ~TestJournald() {
        if (!journald_)
            return;
        journald_.reset();
        for (const char* s : {"socket", "stdout", "dev-log", "io.systemd.journal"})
            unlink((std::string("/run/systemd/journal/") + s).c_str());
    }
    TestJournald(const TestJournald&) = delete;
    TestJournald& operator=(const TestJournald&) = delete;

    const std::string& problem() const { return problem_; }
    // ARGV run where this journal's files are seen.
    std::vector<std::string> in(std::vector<std::string> argv) const {
        if (journald_)
            argv.insert(
                argv.begin(),
                {"nsenter", "--mount=/proc/" + std::to_string(journald_->pid()) + "/ns/mnt", "--"});
        return argv;
    }

  private:
    std::unique_ptr<harness::Background> journald_;
    std::string problem_;
};

// A store of the test's own, with a configuration in a root-owned directory, and the
// core_pattern and fs.suid_dumpable as they were put back at the end.
class Collector : public testing::Test {
  protected:
    void SetUp() override {
        if (geteuid() != 0) {
            if (harness::in_ci())
                FAIL() << "CI=true but not root: the collector tests must run";
            GTEST_SKIP() << "needs root (it installs the collector in kernel.core_pattern)";
        }
        saved_pattern_ = read_line(kPatternFile);
        saved_suid_dumpable_ = read_line("/proc/sys/fs/suid_dumpable");
        saved_pipe_limit_ = read_line(kPipeLimitFile);
        char tmpl[] = "/tmp/clt-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        chmod(dir_.c_str(), 0755);
        config_ = dir_ + "/c.conf";
        store_ = dir_ + "/store";
        write_config("");
    }
    void TearDown() override {
        if (!saved_pattern_.empty())
            write_line(kPatternFile, saved_pattern_);
        if (!saved_suid_dumpable_.empty())
            write_line("/proc/sys/fs/suid_dumpable", saved_suid_dumpable_);
        if (!saved_pipe_limit_.empty())
            write_line(kPipeLimitFile, saved_pipe_limit_);
        if (!dir_.empty())
            remove_tree(dir_);
    }

    void write_config(const std::string& extra) {
        std::ofstream(config_) << "# crashlab collector test\nstore = " << store_ << "\n" << extra;
        chmod(config_.c_str(), 0644);
    }

    Result install() {
        Result r = run({CRASHLAB_BIN, "install", "--config", config_});
        EXPECT_TRUE(r.exited && r.code == 0) << r.out << r.err;
        EXPECT_NE(read_line(kPatternFile).find(" collect "), std::string::npos);
        return r;
    }

    // The crashes the store has, once COUNT have their metadata (the collector goes on
    // after the process ended: it compresses and analyses).
    std::vector<std::string> wait_for_crashes(size_t count) {
        std::vector<std::string> found;
        for (int i = 0; i < 600; i++) {
            found = glob(store_ + "/crashes/*/metadata.json");
            if (found.size() >= count)
                break;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        for (std::string& f : found)
            f = f.substr(0, f.rfind('/'));
        return found;
    }

    nlohmann::json ls_as(const std::string& who) {
        std::vector<std::string> argv = {CRASHLAB_BIN, "ls", "--json", "--config", config_};
        if (!who.empty())
            argv.insert(argv.begin(),
                        {"setpriv", "--reuid=" + who, "--regid=" + who, "--clear-groups"});
        Result r = run(argv);
        EXPECT_TRUE(r.exited && r.code == 0) << r.err;
        return nlohmann::json::parse(r.out, nullptr, false);
    }

    static constexpr const char* kPipeLimitFile = "/proc/sys/kernel/core_pipe_limit";
    std::string saved_pattern_, saved_suid_dumpable_, saved_pipe_limit_, dir_, config_, store_;
};

// The core.zst of a crash decompresses to an ELF core.
std::string core_magic(const std::string& zst) {
    std::string packed = read_file(zst);
    std::string out(4096, '\0');
    ZSTD_DCtx* d = ZSTD_createDCtx();
    ZSTD_inBuffer in = {packed.data(), packed.size(), 0};
    ZSTD_outBuffer o = {out.data(), out.size(), 0};
    size_t r = ZSTD_decompressStream(d, &o, &in);
    ZSTD_freeDCtx(d);
    if (ZSTD_isError(r) || o.pos < 18)
        return "";
    return out.substr(0, 4) + (out[16] == 4 ? "core" : "?");  // e_type ET_CORE
}

TEST_F(Collector, StoresARealCrashForItsOwner) {
    std::string before = read_line(kPatternFile);
    // at 0 the kernel would not hold the process for the collector: install raises it
    write_line(kPipeLimitFile, "0");
    Result inst = install();
    EXPECT_NE(inst.out.find("core_pattern was: " + before), std::string::npos) << inst.out;
    EXPECT_NE(inst.out.find("core_pipe_limit was 0, now 16"), std::string::npos) << inst.out;
    EXPECT_EQ(read_line(kPipeLimitFile), "16");

    // The victim crashes as nobody, started by nothing of crashlab's.
    harness::ReachableCopy victim(VICTIM_O0);
    Result crash = run({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        victim.path(), "null-read"});
    EXPECT_FALSE(crash.exited);
    EXPECT_EQ(crash.code, 11);
    std::vector<std::string> crashes = wait_for_crashes(1);
    ASSERT_EQ(crashes.size(), 1u);
    const std::string& c = crashes[0];

    // Owner-only, for the process's owner.
    EXPECT_EQ(stat_of(store_).uid, 0u);
    EXPECT_EQ(stat_of(store_).mode, 0755u);
    EXPECT_EQ(stat_of(c).uid, 65534u);
    EXPECT_EQ(stat_of(c).mode, 0700u);
    for (const char* f : {"metadata.json", "analysis.json", "report.txt", "core.zst"}) {
        EXPECT_EQ(stat_of(c + "/" + f).uid, 65534u) << f;
        EXPECT_EQ(stat_of(c + "/" + f).mode, 0600u) << f;
    }
    EXPECT_EQ(stat_of(c + "/core").mode, 0u) << "the raw core is gone once compressed";
    EXPECT_EQ(core_magic(c + "/core.zst"),
              "\x7f"
              "ELFcore");

    // The kernel's facts and the verdict.
    nlohmann::json m = load_json(c + "/metadata.json");
    EXPECT_EQ(m["uid"], 65534);
    EXPECT_EQ(m["signal"], 11);
    EXPECT_EQ(m["dumpable"], 1);
    EXPECT_EQ(m["executable"], victim.path());
    EXPECT_EQ(m["pid"], m["ns_pid"]);
    EXPECT_EQ(m["class"], "null-read");
    EXPECT_EQ(load_json(c + "/analysis.json")["bucket"], m["bucket"]);
    EXPECT_EQ(m["bucket"].get<std::string>().size(), 16u);
    // The stored core.zst is analysed as it is, to the same bucket.
    Result zst = run({CRASHLAB_BIN, "analyze", "--json", "-", c + "/core.zst"});
    ASSERT_EQ(zst.code, 0) << zst.err;
    EXPECT_EQ(nlohmann::json::parse(zst.out)["bucket"], m["bucket"]);

    // ls: nobody sees the crash, another user does not, root does.
    nlohmann::json mine = ls_as("65534");
    ASSERT_EQ(mine["buckets"].size(), 1u) << mine.dump();
    EXPECT_EQ(mine["buckets"][0]["bucket"], m["bucket"]);
    EXPECT_EQ(mine["buckets"][0]["count"], 1);
    EXPECT_EQ(ls_as("1")["buckets"].size(), 0u) << "daemon (uid 1) sees no crash of nobody's";
    EXPECT_EQ(ls_as("")["buckets"].size(), 1u);
    // show: the full analysis.
    Result show = run({CRASHLAB_BIN, "show", "last", "--json", "--config", config_});
    ASSERT_EQ(show.code, 0) << show.err;
    nlohmann::json shown = nlohmann::json::parse(show.out);
    EXPECT_EQ(shown["class"], "null-read");
    EXPECT_EQ(shown["stored"]["id"], m["id"]);

    // crashlab run, with the collector installed, takes the core from the store: its
    // crash directory gets the store's core.zst and the analysis of it.
    Result r = run({CRASHLAB_BIN, "run", "-q", "--dir", dir_ + "/run", "--json", dir_ + "/run.json",
                    "--", VICTIM_O0, "null-read"});
    EXPECT_EQ(r.code, 128 + 11);
    EXPECT_NE(r.err.find("core_pattern pipes cores to crashlab's collector: the core is taken "
                         "from its store"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("in its store (`crashlab show "), std::string::npos) << r.err;
    std::vector<std::string> copied = glob(dir_ + "/run/*/core.zst");
    ASSERT_EQ(copied.size(), 1u) << r.err;
    EXPECT_EQ(stat_of(copied[0]).mode, 0600u);
    EXPECT_EQ(core_magic(copied[0]),
              "\x7f"
              "ELFcore");
    nlohmann::json ran = load_json(dir_ + "/run.json");
    EXPECT_EQ(ran["class"], "null-read");
    EXPECT_EQ(ran["bucket"], m["bucket"]) << "the same bug as nobody's crash";
    std::vector<std::string> stored = wait_for_crashes(2);
    EXPECT_EQ(stored.size(), 2u);
    EXPECT_EQ(glob(crash_cwd() + "/*").size(), 0u) << "nothing left in the working directory";

    // uninstall puts the pattern and the pipe limit back.
    Result un = run({CRASHLAB_BIN, "uninstall"});
    EXPECT_EQ(un.code, 0) << un.err;
    EXPECT_EQ(read_line(kPatternFile), before);
    EXPECT_EQ(read_line(kPipeLimitFile), "0");
    EXPECT_NE(un.out.find("core_pipe_limit restored: 0"), std::string::npos) << un.out;
}

// A process whose owner may not read its core (it changed its user: fs.suid_dumpable 2
// makes its core root's) is stored for root only.
TEST_F(Collector, NotDumpableByItsOwnerIsRootOnly) {
    install();
    write_line("/proc/sys/fs/suid_dumpable", "2");
    // Starts as root, becomes nobody, then takes a SIGSEGV: the kernel marks it
    // dumpable by root only (%d = 2).
    Result crash = run({"python3", "-c",
                        "import os, signal\nos.setgid(65534)\nos.setuid(65534)\n"
                        "os.kill(os.getpid(), signal.SIGSEGV)"});
    EXPECT_FALSE(crash.exited);
    std::vector<std::string> crashes = wait_for_crashes(1);
    ASSERT_EQ(crashes.size(), 1u);
    nlohmann::json m = load_json(crashes[0] + "/metadata.json");
    EXPECT_EQ(m["dumpable"], 2);
    EXPECT_EQ(m["uid"], 65534);
    EXPECT_EQ(stat_of(crashes[0]).uid, 0u);
    EXPECT_EQ(stat_of(crashes[0]).mode, 0700u);
    EXPECT_EQ(stat_of(crashes[0] + "/core.zst").uid, 0u);
    EXPECT_EQ(ls_as("65534")["buckets"].size(), 0u) << "nobody may not read it";
}

// The crash directories that are in DIRS and not in BEFORE.
std::vector<std::string> new_crashes(const std::vector<std::string>& dirs,
                                     const std::vector<std::string>& before) {
    std::vector<std::string> out;
    for (const std::string& d : dirs)
        if (std::find(before.begin(), before.end(), d) == before.end())
            out.push_back(d);
    return out;
}

// The collector keeps the process's state from /proc/PID, read while the kernel holds the
// dying process: the environment, cwd, the open files, the maps, the limits, the cgroup and
// status, in process.json, the owner's and 0600. The victim runs as nobody with what the
// test gives it: a variable, fd 7 open on a file, a working directory, RLIMIT_NOFILE and
// RLIMIT_STACK. The configuration leaves the environment out, then the whole state.
TEST_F(Collector, KeepsTheProcessState) {
    install();
    harness::ReachableCopy victim(VICTIM_O0);
    std::string cwd = dir_ + "/cwd", seven = dir_ + "/seven.txt";
    ASSERT_EQ(mkdir(cwd.c_str(), 0755), 0);
    std::ofstream(seven) << "fd seven\n";
    chmod(seven.c_str(), 0644);
    auto crash = [&] {
        Result r = run({"prlimit", "--nofile=321:654", "--stack=4194304:16777216", "--", "setpriv",
                        "--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c",
                        "cd \"$1\" && exec 7<\"$2\" && CRASHLAB_TEST_MARK=seen-by-the-collector "
                        "exec \"$3\" null-read",
                        "sh", cwd, seven, victim.path()});
        EXPECT_FALSE(r.exited) << r.err;
        EXPECT_EQ(r.code, 11) << r.err;
    };
    crash();
    std::vector<std::string> crashes = wait_for_crashes(1);
    ASSERT_EQ(crashes.size(), 1u);
    const std::string first = crashes[0];
    std::string file = first + "/process.json";
    EXPECT_EQ(stat_of(file).uid, 65534u);
    EXPECT_EQ(stat_of(file).mode, 0600u);
    nlohmann::json m = load_json(first + "/metadata.json");
    EXPECT_EQ(m["process_state"], "process.json") << m.dump();
    nlohmann::json p = load_json(file);
    EXPECT_EQ(p["pid"], m["pid"]);
    EXPECT_EQ(p["exe"], victim.path());
    EXPECT_EQ(p["cwd"], cwd);
    EXPECT_EQ(p["root"], "/");
    EXPECT_EQ(p["status"]["CoreDumping"], "1");
    EXPECT_EQ(p["status"]["Threads"], "1");
    EXPECT_EQ(p["status"]["Uid"].get<std::string>().substr(0, 6), "65534 ") << p["status"];
    EXPECT_EQ(p["truncated"], nlohmann::json::array());
    EXPECT_EQ(p["errors"], nlohmann::json::object());
    EXPECT_TRUE(p["capture_us"].is_number_unsigned()) << p["capture_us"];
    // the environment the victim was given
    const nlohmann::json& env = p["environment"];
    EXPECT_NE(std::find(env.begin(), env.end(), "CRASHLAB_TEST_MARK=seen-by-the-collector"),
              env.end())
        << env;
    // fd 7 on the file, read-only, and the standard three
    bool found_seven = false;
    for (const nlohmann::json& f : p["open_files"])
        if (f["fd"] == 7) {
            found_seven = true;
            EXPECT_EQ(f["target"], seven);
            EXPECT_EQ(f["access"], "read");
            EXPECT_EQ(f["pos"], 0);
        }
    EXPECT_TRUE(found_seven) << p["open_files"];
    EXPECT_EQ(p["open_file_count"], p["open_files"].size());
    EXPECT_GE(p["open_file_count"].get<size_t>(), 4u);
    // the limits prlimit set
    EXPECT_EQ(p["limits"]["RLIMIT_NOFILE"]["soft"], 321);
    EXPECT_EQ(p["limits"]["RLIMIT_NOFILE"]["hard"], 654);
    EXPECT_EQ(p["limits"]["RLIMIT_NOFILE"]["units"], "files");
    EXPECT_EQ(p["limits"]["RLIMIT_STACK"]["soft"], 4194304);
    EXPECT_EQ(p["limits"]["RLIMIT_STACK"]["hard"], 16777216);
    EXPECT_EQ(p["limits"].size(), 16u) << p["limits"];
    // its cgroup is the test's (the victim was not moved)
    std::string own_cgroup = read_file("/proc/self/cgroup");
    ASSERT_FALSE(p["cgroup"].empty());
    for (const nlohmann::json& line : p["cgroup"])
        EXPECT_NE(own_cgroup.find(line.get<std::string>()), std::string::npos) << line;
    // the maps name the executable; cross-checked with the core's own file mappings (its
    // NT_FILE note, as the analysis read it): every module the core names is mapped from
    // its file at the same start
    // (the analysis may name a library by another path to it: /lib is /usr/lib here)
    auto canonical = [](const std::string& path) {
        std::error_code ec;
        std::filesystem::path c = std::filesystem::weakly_canonical(path, ec);
        return ec ? path : c.string();
    };
    std::map<std::string, std::string> lowest;  // path -> lowest start
    for (const nlohmann::json& map : p["maps"])
        if (map.contains("path") && !lowest.count(canonical(map["path"])))
            lowest[canonical(map["path"])] = map["start"];
    EXPECT_TRUE(lowest.count(canonical(victim.path()))) << p["maps"];
    nlohmann::json a = load_json(first + "/analysis.json");
    size_t checked = 0;
    for (const nlohmann::json& mod : a["modules"]) {
        if (!mod["file"].is_string() || mod["file"].get<std::string>().rfind("/", 0) != 0)
            continue;
        std::string f = canonical(mod["file"]);
        ASSERT_TRUE(lowest.count(f)) << f << " is in the core, not in maps";
        EXPECT_EQ(lowest[f], mod["low"]) << f;
        checked++;
    }
    EXPECT_GE(checked, 2u) << "the victim and libc at least";

    // show: the section, and --json's process_state
    Result show = run({CRASHLAB_BIN, "show", "last", "--config", config_});
    ASSERT_EQ(show.code, 0) << show.err;
    EXPECT_NE(show.out.find("the process when it crashed (process.json)"), std::string::npos)
        << show.out;
    EXPECT_NE(show.out.find("open files  " + std::to_string(p["open_file_count"].get<size_t>()) +
                            " of RLIMIT_NOFILE 321 (hard 654)"),
              std::string::npos)
        << show.out;
    EXPECT_NE(show.out.find("  fd 7  read  " + seven), std::string::npos) << show.out;
    EXPECT_NE(show.out.find("cwd         " + cwd), std::string::npos) << show.out;
    EXPECT_NE(show.out.find("mapped of RLIMIT_STACK 4 MiB"), std::string::npos) << show.out;
    Result shown = run({CRASHLAB_BIN, "show", "last", "--json", "--config", config_});
    ASSERT_EQ(shown.code, 0) << shown.err;
    nlohmann::json sj = nlohmann::json::parse(shown.out);
    EXPECT_EQ(sj["process_state"]["cwd"], cwd);
    EXPECT_EQ(sj["process"]["pid"], m["ns_pid"]) << "the analysis's process is still there";

    // process_environment = no: no environment, said so
    write_config("process_environment = no\n");
    crash();
    std::vector<std::string> second = new_crashes(wait_for_crashes(2), crashes);
    ASSERT_EQ(second.size(), 1u);
    std::string text = read_file(second[0] + "/process.json");
    EXPECT_EQ(text.find("CRASHLAB_TEST_MARK"), std::string::npos);
    nlohmann::json q = nlohmann::json::parse(text);
    EXPECT_FALSE(q.contains("environment"));
    EXPECT_EQ(q["left_out"], nlohmann::json::array({"environment"}));
    EXPECT_EQ(q["cwd"], cwd) << "the rest is kept";

    // an environment past its cap (64 KiB) is cut, between two variables, and said so
    write_config("");
    crashes = wait_for_crashes(2);
    {
        Result r =
            run({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "env",
                 "CRASHLAB_TEST_BIG=" + std::string(100 << 10, 'x'), victim.path(), "null-read"});
        EXPECT_FALSE(r.exited) << r.err;
    }
    std::vector<std::string> big = new_crashes(wait_for_crashes(3), crashes);
    ASSERT_EQ(big.size(), 1u);
    nlohmann::json b = load_json(big[0] + "/process.json");
    EXPECT_EQ(b["truncated"], nlohmann::json::array({"environment"}));
    size_t kept = 0;
    for (const nlohmann::json& var : b["environment"]) {
        EXPECT_EQ(var.get<std::string>().rfind("CRASHLAB_TEST_BIG=", 0), std::string::npos)
            << "a variable the cap cut is left out";
        kept += var.get<std::string>().size() + 1;
    }
    EXPECT_LE(kept, size_t(64 << 10));
    EXPECT_EQ(b["cwd"], std::filesystem::current_path().string()) << "the rest is kept";
    EXPECT_FALSE(b["maps"].empty());

    // process_state = no: no process.json, and the metadata says why
    write_config("process_state = no\n");
    crashes = wait_for_crashes(3);
    crash();
    std::vector<std::string> third = new_crashes(wait_for_crashes(4), crashes);
    ASSERT_EQ(third.size(), 1u);
    EXPECT_EQ(stat_of(third[0] + "/process.json").mode, 0u);
    nlohmann::json off = load_json(third[0] + "/metadata.json");
    EXPECT_EQ(off["process_state"], "");
    EXPECT_EQ(off["process_state_missing"], "process_state = no in the configuration");
}

// A switch of the configuration that is neither yes nor no: one line naming the file, the
// line and the key.
TEST_F(Collector, RefusesASwitchThatIsNeitherYesNorNo) {
    write_config("process_environment = maybe\n");
    Result r = run({CRASHLAB_BIN, "ls", "--config", config_});
    EXPECT_EQ(r.code, 1);
    EXPECT_EQ(r.err, "crashlab: " + config_ +
                         ":3: process_environment: 'maybe' is not a switch: give yes or no\n");
}

// /proc/PID of a process that is not dumping core (this one) is refused: the collector never
// keeps the state of a process that got the crashed one's pid.
TEST(ProcessState, RefusesAProcessNotDumpingCore) {
    try {
        crashlab::read_process_state(getpid(), {});
        ADD_FAILURE() << "a live process was taken for a crashing one";
    } catch (const tk::UserError& e) {
        EXPECT_EQ(std::string(e.what()),
                  "/proc/" + std::to_string(getpid()) +
                      " is not a process dumping core (CoreDumping is not 1): it ended, or the "
                      "pid is another process's now");
    }
}

// A crash loop keeps a count: past max_cores_per_bucket the core is not kept, past
// max_crashes_per_minute the crash is a repeat of the last one.
TEST_F(Collector, ACrashLoopKeepsACount) {
    write_config("max_cores_per_bucket = 1\nmax_crashes_per_minute = 2\n");
    install();
    for (int i = 0; i < 4; i++) {
        Result crash = run({VICTIM_O0, "double-free"});
        EXPECT_FALSE(crash.exited);
        wait_for_crashes(std::min(i + 1, 2));
    }
    // the repeats are counted in place: wait for the count
    nlohmann::json b;
    for (int i = 0; i < 100; i++) {
        nlohmann::json all = ls_as("");
        ASSERT_EQ(all["buckets"].size(), 1u) << all.dump();
        b = all["buckets"][0];
        if (b["count"] == 4)
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_EQ(b["count"], 4) << b.dump();
    EXPECT_EQ(b["cores"], 1) << b.dump();
    EXPECT_EQ(b["class"], "double-free");
    EXPECT_EQ(glob(store_ + "/crashes/*").size(), 2u);
}

// The crash-loop count is the index's, root's: a user who rewrites the metadata of their
// own crashes (another program, long ago, a thousand repeats, another bucket) neither resets
// the count, so that a new crash of the loop would be stored, nor inflates root's view.
TEST_F(Collector, AUsersEditsDoNotMoveTheCrashLoopCount) {
    write_config("max_crashes_per_minute = 2\n");
    install();
    harness::ReachableCopy victim(VICTIM_O0);
    const std::vector<std::string> as_nobody = {"setpriv", "--reuid=65534", "--regid=65534",
                                                "--clear-groups"};
    auto crash = [&] {
        std::vector<std::string> argv = as_nobody;
        argv.insert(argv.end(), {victim.path(), "abort"});
        EXPECT_FALSE(run(argv).exited);
    };
    crash();
    wait_for_crashes(1);
    crash();
    std::vector<std::string> crashes = wait_for_crashes(2);
    ASSERT_EQ(crashes.size(), 2u);
    for (const std::string& c : crashes) {  // Debian's python3: nobody may run it
        std::vector<std::string> argv = as_nobody;
        argv.insert(argv.end(), {"/usr/bin/python3", "-c",
                                 "import json, os, sys\np = sys.argv[1]\nm = json.load(open(p))\n"
                                 "m.update(executable='/elsewhere', time='2000-01-01T00:00:00Z', "
                                 "repeats=1000, bucket='0123456789abcdef')\nos.unlink(p)\n"
                                 "json.dump(m, open(p, 'w'))",
                                 c + "/metadata.json"});
        Result edit = run(argv);
        ASSERT_EQ(edit.code, 0) << edit.err;
    }
    EXPECT_EQ(ls_as("65534")["buckets"][0]["count"], 2002) << "nobody's view is nobody's files";
    crash();
    nlohmann::json b;
    for (int i = 0; i < 100; i++) {
        nlohmann::json all = ls_as("");
        ASSERT_EQ(all["buckets"].size(), 1u) << all.dump();
        b = all["buckets"][0];
        if (b["count"] == 3)
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_EQ(b["count"], 3) << b.dump();
    EXPECT_EQ(b["class"], "abort");
    EXPECT_NE(b["bucket"], "0123456789abcdef");
    EXPECT_EQ(glob(store_ + "/crashes/*").size(), 2u) << "the third crash is a repeat";
    EXPECT_EQ(stat_of(store_ + "/index").mode, 0700u);
    EXPECT_EQ(stat_of(store_ + "/index").uid, 0u);
    for (const std::string& c : crashes)
        EXPECT_EQ(stat_of(store_ + "/index/" + c.substr(c.rfind('/') + 1) + ".json").mode, 0600u);
}

// systemd-coredump, Debian's, as the core_pattern handler catches a real crash; its
// zstd core, the same core recompressed with xz and lz4, and `--coredumpctl PID` (when
// its journal is there to find it) give the bucket `crashlab run` gives.
TEST_F(Collector, ReadsTheCoresSystemdCoredumpKeeps) {
    if (access(kSystemdCoredump, X_OK) != 0) {
        if (harness::in_ci())
            FAIL() << "CI=true but systemd-coredump is not installed (scripts/install-deps.sh)";
        GTEST_SKIP() << "systemd-coredump is not installed";
    }
    std::string rundir = fresh_dir("coredump-run");
    Result first = run({CRASHLAB_BIN, "run", "-q", "--dir", rundir, "--json", rundir + "/a.json",
                        "--", VICTIM_O0, "null-read"});
    ASSERT_EQ(first.code, 128 + 11) << first.err;
    std::string bucket = load_json(rundir + "/a.json")["bucket"];

    std::unique_ptr<CoredumpService> service = std::make_unique<CoredumpService>();
    std::vector<std::string> before = glob("/var/lib/systemd/coredump/core.crashlab-victim.*");
    write_line(kPatternFile, kSystemdCoredumpPattern);
    // crashlab run takes the core from what systemd-coredump stored.
    Result crash = run({CRASHLAB_BIN, "run", "-q", "--dir", rundir + "/via", "--json",
                        rundir + "/via.json", "--", VICTIM_O0, "null-read"});
    EXPECT_EQ(crash.code, 128 + 11) << crash.err;
    EXPECT_NE(crash.err.find("core_pattern pipes cores to systemd-coredump: the core is taken"),
              std::string::npos)
        << crash.err;
    EXPECT_EQ(load_json(rundir + "/via.json")["bucket"], bucket) << crash.err;
    EXPECT_EQ(glob(rundir + "/via/*/core.zst").size(), 1u) << crash.err;
    std::vector<std::string> cores;
    for (int i = 0; i < 300 && cores.empty(); i++) {
        for (const std::string& f : glob("/var/lib/systemd/coredump/core.crashlab-victim.*.zst"))
            if (std::find(before.begin(), before.end(), f) == before.end())
                cores.push_back(f);
        if (cores.empty())
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    write_line(kPatternFile, saved_pattern_);
    service.reset();
    ASSERT_FALSE(cores.empty()) << "systemd-coredump stored no core";
    std::string zst = cores.back();
    Result a = run({CRASHLAB_BIN, "analyze", "--json", "-", zst});
    ASSERT_EQ(a.code, 0) << a.err;
    EXPECT_EQ(nlohmann::json::parse(a.out)["bucket"], bucket);
    EXPECT_EQ(nlohmann::json::parse(a.out)["class"], "null-read");

    // The same core as xz and lz4 (the other compressions systemd-coredump offers).
    std::string raw = rundir + "/core.raw";
    ASSERT_EQ(run({"sh", "-c", "zstd -q -d -c '" + zst + "' > " + raw}).code, 0);
    for (const char* tool : {"xz", "lz4"}) {
        std::string packed = rundir + "/core." + tool;
        ASSERT_EQ(run({"sh", "-c", std::string(tool) + " -q -c " + raw + " > " + packed}).code, 0)
            << tool;
        Result r = run({CRASHLAB_BIN, "analyze", "--json", "-", packed});
        ASSERT_EQ(r.code, 0) << tool << ": " << r.err;
        EXPECT_EQ(nlohmann::json::parse(r.out)["bucket"], bucket) << tool;
    }
    // Cut short: one line, not a report.
    std::string cut = rundir + "/cut.zst";
    ASSERT_EQ(run({"sh", "-c", "head -c 20000 '" + zst + "' > " + cut}).code, 0);
    Result bad = run({CRASHLAB_BIN, "analyze", cut});
    EXPECT_EQ(bad.code, 1);
    EXPECT_NE(bad.err.find("damaged or cut-short zstd data"), std::string::npos) << bad.err;

    // Through coredumpctl: it finds cores in the journal, when journald is running.
    std::string pid = zst.substr(0, zst.rfind('.'));  // ...PID.TIME
    pid = pid.substr(0, pid.rfind('.'));
    pid = pid.substr(pid.rfind('.') + 1);
    Result info = run({"coredumpctl", "--no-pager", "info", pid});
    Result via = run({CRASHLAB_BIN, "analyze", "--json", "-", "--coredumpctl", pid});
    if (info.code == 0 && info.out.find("(present)") != std::string::npos) {
        ASSERT_EQ(via.code, 0) << via.err;
        EXPECT_EQ(nlohmann::json::parse(via.out)["bucket"], bucket);
    } else {
        EXPECT_EQ(via.code, 1);
        EXPECT_EQ(std::count(via.err.begin(), via.err.end(), '\n'), 1) << via.err;
    }
    unlink(zst.c_str());
    remove_tree(rundir);
}

// systemd-coredump's journal entry (COREDUMP_*), written into a real journald, read back by
// `crashlab analyze --coredumpctl` and `crashlab run`: each field against what the test
// knows independently (the victim's pid from fork, its uid and gid from setpriv, its path,
// the signal, the stored file's size from stat, the cgroup from /proc), and against
// systemd's own coredumpctl.
TEST_F(Collector, ReadsSystemdCoredumpsJournalEntry) {
    for (const char* program : {kSystemdCoredump, "/lib/systemd/systemd-journald"})
        if (access(program, X_OK) != 0) {
            if (harness::in_ci())
                FAIL() << "CI=true but " << program << " is missing (scripts/install-deps.sh)";
            GTEST_SKIP() << program << " is not installed";
        }
    TestJournald journal;
    ASSERT_EQ(journal.problem(), "");
    std::unique_ptr<CoredumpService> service = std::make_unique<CoredumpService>();
    write_line(kPatternFile, kSystemdCoredumpPattern);

    harness::ReachableCopy victim(VICTIM_O0);
    auto now_us = [] {
        return uint64_t(std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count());
    };
    uint64_t started_us = now_us();
    pid_t pid;
    {
        // setpriv execs the victim: the child's pid is the victim's.
        harness::Background crash({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                   victim.path(), "null-read"});
        pid = crash.pid();
        for (int i = 0; i < 300 && crash.running(); i++)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    uint64_t ended_us = now_us();
    // systemd-coredump logs after it has stored the core (and made its own stack trace).
    Result a;
    for (int i = 0; i < 300; i++) {
        a = run(journal.in(
            {CRASHLAB_BIN, "analyze", "--json", "-", "--coredumpctl", std::to_string(pid)}));
        if (a.code == 0)
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_EQ(a.code, 0) << a.err;
    nlohmann::json j = nlohmann::json::parse(a.out);
    EXPECT_EQ(j["class"], "null-read");
    ASSERT_TRUE(j.contains("systemd_coredump")) << a.out.substr(0, 2000);
    const nlohmann::json& e = j["systemd_coredump"];
    EXPECT_EQ(e["pid"], pid);
    EXPECT_EQ(e["uid"], 65534);
    EXPECT_EQ(e["gid"], 65534);
    EXPECT_EQ(e["signal"], 11);
    EXPECT_EQ(e["signal_name"], "SIGSEGV");
    EXPECT_EQ(e["executable"], victim.path());
    EXPECT_EQ(e["command_line"], victim.path() + " null-read");
    ASSERT_TRUE(e["timestamp_us"].is_number()) << e.dump();
    // %t is in seconds: the crash's second, within the test's clock readings.
    EXPECT_GE(e["timestamp_us"].get<uint64_t>(), started_us / 1000000 * 1000000);
    EXPECT_LE(e["timestamp_us"].get<uint64_t>(), ended_us);
    EXPECT_EQ(e["dumpable"], 1);
#ifdef VICTIM_O0_PACKAGE_NAME
    // The victim's package note (ld --package-metadata), as systemd-coredump read it
    // (COREDUMP_PACKAGE_NAME, _VERSION, and _JSON: the notes by module, each with its
    // build-id), against readelf on the binary.
    EXPECT_EQ(e["package"]["name"], VICTIM_O0_PACKAGE_NAME) << e;
    EXPECT_EQ(e["package"]["version"], VICTIM_O0_PACKAGE_VERSION) << e;
    const std::string module = victim.path().substr(victim.path().rfind('/') + 1);
    const nlohmann::json& note = e["package"]["note"][module];
    EXPECT_EQ(note["name"], VICTIM_O0_PACKAGE_NAME) << e;
    Result notes = run({"readelf", "-n", victim.path()});
    EXPECT_NE(notes.out.find("\"name\":\"" VICTIM_O0_PACKAGE_NAME
                             "\",\"version\":\"" VICTIM_O0_PACKAGE_VERSION "\""),
              std::string::npos)
        << notes.out;
    ASSERT_TRUE(note["buildId"].is_string()) << e;
    EXPECT_NE(notes.out.find("Build ID: " + note["buildId"].get<std::string>()), std::string::npos)
        << notes.out;
#else
    std::cout << "this linker writes no package note (ld --package-metadata): "
                 "COREDUMP_PACKAGE_* not checked\n";
#endif
    // The victim ran in the test's cgroup: systemd's own hierarchy (name=systemd) on a hybrid
    // system, the unified one (0::) otherwise.
    std::vector<std::string> cgroups;
    std::istringstream lines(read_file("/proc/self/cgroup"));
    for (std::string line; std::getline(lines, line);)
        if (line.rfind("0::", 0) == 0 || line.find(":name=systemd:") != std::string::npos)
            cgroups.push_back(line.substr(line.find(':', line.find(':') + 1) + 1));
    EXPECT_NE(std::find(cgroups.begin(), cgroups.end(), e["cgroup"].get<std::string>()),
              cgroups.end())
        << e["cgroup"];
    ASSERT_TRUE(e["storage"].is_string()) << e.dump();
    std::string storage = e["storage"];
    EXPECT_EQ(j["core"]["path"], storage);
    EXPECT_EQ(storage.rfind("/var/lib/systemd/coredump/core.", 0), 0u) << storage;
    EXPECT_NE(storage.find(".65534."), std::string::npos) << storage;
    EXPECT_EQ(e["storage_present"], true);
    struct stat st {};
    ASSERT_EQ(stat(storage.c_str(), &st), 0) << storage;
    EXPECT_EQ(e["stored_size"], uint64_t(st.st_size));
    EXPECT_EQ(e["truncated"], false);
    // Read by systemd's own tool: the same crash.
    Result listed =
        run(journal.in({"coredumpctl", "--no-pager", "--json=short", "list", std::to_string(pid)}));
    ASSERT_EQ(listed.code, 0) << listed.err;
    nlohmann::json l = nlohmann::json::parse(listed.out, nullptr, false);
    ASSERT_TRUE(l.is_array() && !l.empty()) << listed.out;
    EXPECT_EQ(l.back()["pid"], pid);
    EXPECT_EQ(l.back()["uid"], 65534);
    EXPECT_EQ(l.back()["sig"], 11);
    EXPECT_EQ(l.back()["exe"], victim.path());
    EXPECT_EQ(l.back()["corefile"], "present");
    // The text report, of the newest crash.
    Result text = run(journal.in({CRASHLAB_BIN, "analyze", "--coredumpctl", "last"}));
    ASSERT_EQ(text.code, 0) << text.err;
    EXPECT_NE(text.out.find("systemd-coredump (its journal entry)"), std::string::npos);
    EXPECT_NE(text.out.find("SIGSEGV (11)"), std::string::npos) << text.out;
    EXPECT_NE(text.out.find(storage), std::string::npos) << text.out;

    // A crash the journal does not know, and a pid that is not one: one line each.
    Result unknown = run(journal.in({CRASHLAB_BIN, "analyze", "--coredumpctl", "2147480000"}));
    EXPECT_EQ(unknown.code, 1);
    EXPECT_EQ(unknown.err,
              "crashlab: the journal has no systemd-coredump entry for pid 2147480000: check "
              "`coredumpctl list` (journald must be running when the crash happens), or give "
              "the core file\n");
    // A user who may not read the system journal (nobody, in no group) is told why it finds
    // nothing there, even for a crash the journal has, and what to do.
    harness::Result denied =
        harness::run_as_nobody(CRASHLAB_BIN, {"analyze", "--coredumpctl", std::to_string(pid)});
    EXPECT_EQ(denied.status, 1);
    EXPECT_EQ(denied.err,
              "crashlab: the journal you may read has no systemd-coredump entry for pid " +
                  std::to_string(pid) +
                  ": systemd-coredump's entries are in the system journal, which only root and "
                  "the groups adm and systemd-journal may read: run it with sudo, or join one "
                  "of those groups (sudo adduser nobody systemd-journal, then log in again)\n");
    Result bad = run({CRASHLAB_BIN, "analyze", "--coredumpctl", "12x"});
    EXPECT_EQ(bad.code, 1);
    EXPECT_EQ(bad.err, "crashlab: --coredumpctl 12x: give a pid or last\n");

    // crashlab run, where systemd-coredump holds the pattern: its report has the entry.
    std::string rundir = fresh_dir("coredump-journal");
    Result r = run(journal.in({CRASHLAB_BIN, "run", "-q", "--dir", rundir, "--json",
                               rundir + "/run.json", "--", VICTIM_O0, "null-read"}));
    EXPECT_EQ(r.code, 128 + 11) << r.err;
    write_line(kPatternFile, saved_pattern_);
    nlohmann::json ran = load_json(rundir + "/run.json");
    nlohmann::json meta = load_json(glob(rundir + "/*/metadata.json").at(0));
    ASSERT_TRUE(ran.contains("systemd_coredump")) << r.err;
    EXPECT_EQ(ran["systemd_coredump"]["pid"], meta["pid"]);
    EXPECT_EQ(ran["systemd_coredump"]["uid"], 0);
    EXPECT_EQ(ran["systemd_coredump"]["signal_name"], "SIGSEGV");
    EXPECT_EQ(ran["systemd_coredump"]["executable"], VICTIM_O0);

    unlink(storage.c_str());
    if (ran["systemd_coredump"]["storage"].is_string())
        unlink(ran["systemd_coredump"]["storage"].get<std::string>().c_str());
    remove_tree(rundir);
}

// core_pattern a plain name: `crashlab run` keeps its working directory (a relative path
// among the command's arguments works), moves the core the kernel wrote there into the
// crash directory (here on another file system: a copy), and a file of the core's name that
// was there before (the kernel unlinks it to write the core) is put back byte for byte, the
// same inode.
TEST_F(Collector, RunMovesAFileCoreOutAndKeepsWhatWasThere) {
    write_line(kPatternFile, "core.%e");
    std::string work = dir_ + "/work";
    ASSERT_EQ(mkdir(work.c_str(), 0755), 0);
    harness::ReachableCopy victim(VICTIM_O0);
    // The kernel names the core after the comm: the program's name, cut at 15 bytes.
    std::string earlier = work + "/core." + victim.path().substr(victim.path().rfind('/') + 1, 15);
    const std::string earlier_bytes = "an earlier core, not crashlab's to touch\n";
    std::ofstream(earlier) << earlier_bytes;
    struct stat before {};
    ASSERT_EQ(stat(earlier.c_str(), &before), 0);
    std::ofstream(work + "/kind") << "null-write\n";
    char shm[] = "/dev/shm/clt-XXXXXX";
    ASSERT_NE(mkdtemp(shm), nullptr);
    Result r = run({CRASHLAB_BIN, "run", "-q", "--dir", std::string(shm), "--json", "a.json", "--",
                    "sh", "-c", "exec " + victim.path() + " $(cat kind)"},
                   {}, work);
    EXPECT_EQ(r.code, 128 + 11) << r.err;
    std::vector<std::string> cores = glob(std::string(shm) + "/*/core");
    EXPECT_EQ(cores.size(), 1u) << r.err;
    EXPECT_EQ(load_json(work + "/a.json")["class"], "null-write") << "the command read ./kind";
    nlohmann::json m = load_json(glob(std::string(shm) + "/*/metadata.json").at(0));
    EXPECT_EQ(m["cwd"], work);
    struct stat after {};
    ASSERT_EQ(stat(earlier.c_str(), &after), 0);
    EXPECT_EQ(read_file(earlier), earlier_bytes);
    EXPECT_EQ(after.st_ino, before.st_ino);
    EXPECT_EQ(after.st_nlink, 1u) << "no second name left behind";
    std::vector<std::string> left;
    for (const auto& e : std::filesystem::directory_iterator(work))
        left.push_back(e.path().filename());
    std::sort(left.begin(), left.end());
    EXPECT_EQ(left,
              (std::vector<std::string>{"a.json", earlier.substr(earlier.rfind('/') + 1), "kind"}));
    remove_tree(shm);
}

TEST_F(Collector, RefusesToTakeOverSystemdCoredump) {
    write_line(kPatternFile,
               "|/lib/systemd/systemd-coredump %P %u %g %s %t 9223372036854775808 %h");
    Result r = run({CRASHLAB_BIN, "install", "--config", config_});
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("belongs to systemd-coredump"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(read_line(kPatternFile).rfind("|/lib/systemd/systemd-coredump", 0), 0u);
    Result un = run({CRASHLAB_BIN, "uninstall"});
    EXPECT_EQ(un.code, 1) << "not ours: nothing to uninstall";
}

// The store is refused when someone besides root could move it.
TEST_F(Collector, RefusesAStoreOthersCouldRedirect) {
    ASSERT_EQ(mkdir(store_.c_str(), 0777), 0);
    chmod(store_.c_str(), 0777);
    Result r = run({CRASHLAB_BIN, "install", "--config", config_});
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("besides root"), std::string::npos) << r.err;
    EXPECT_EQ(read_line(kPatternFile), saved_pattern_) << "nothing changed";
    rmdir(store_.c_str());
    ASSERT_EQ(symlink("/etc", store_.c_str()), 0);
    r = run({CRASHLAB_BIN, "install", "--config", config_});
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("symbolic link"), std::string::npos) << r.err;
    EXPECT_EQ(read_line(kPatternFile), saved_pattern_);
}

}  // namespace
