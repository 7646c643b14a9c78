// The workload launcher without BPF: exit status, signals, exec errors, clean-up.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "errors.h"
#include "launcher.h"

using tk::Workload;

TEST(Launcher, ExitCodeIsPassedOn) {
    auto w = Workload::spawn_paused({{"sh", "-c", "exit 5"}, false, ""});
    w->resume();
    auto st = w->reap();
    EXPECT_TRUE(st.exited);
    EXPECT_EQ(st.shell_code(), 5);
    EXPECT_EQ(st.describe(), "exited with 5");
}

TEST(Launcher, DeathBySignalIs128PlusN) {
    auto w = Workload::spawn_paused({{"sh", "-c", "kill -TERM $$"}, false, ""});
    w->resume();
    auto st = w->reap();
    EXPECT_FALSE(st.exited);
    EXPECT_EQ(st.signo, SIGTERM);
    EXPECT_EQ(st.shell_code(), 128 + SIGTERM);
    EXPECT_EQ(st.describe(), "killed by SIGTERM");
}

TEST(Launcher, ItDoesNotRunBeforeResume) {
    auto w = Workload::spawn_paused({{"sh", "-c", "exit 0"}, false, ""});
    usleep(50000);
    EXPECT_FALSE(w->exited());  // still waiting for the go byte
    w->resume();
    EXPECT_EQ(w->reap().shell_code(), 0);
}

TEST(Launcher, MissingCommandIs127) {
    try {
        Workload::spawn_paused({{"no-such-command-for-sure"}, false, ""});
        FAIL();
    } catch (const tk::UserError& e) {
        EXPECT_EQ(e.exit_code(), 127);
        EXPECT_NE(std::string(e.what()).find("command not found: no-such-command-for-sure"),
                  std::string::npos);
    }
    try {
        tk::resolve_command("/no/such/dir/prog");
        FAIL();
    } catch (const tk::UserError& e) {
        EXPECT_EQ(e.exit_code(), 127);
    }
}

TEST(Launcher, NotExecutableIs126) {
    char path[] = "/tmp/launcher-test-XXXXXX";
    int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    close(fd);  // a plain file without execute permission
    try {
        tk::resolve_command(path);
        ADD_FAILURE() << "no error";
    } catch (const tk::UserError& e) {
        EXPECT_EQ(e.exit_code(), 126);
        EXPECT_NE(std::string(e.what()).find(std::string("cannot execute ") + path),
                  std::string::npos);
    }
    unlink(path);
}

// find_command says why a command cannot run, for callers that word it their own way
// (crashlab run); in PATH, a file that cannot be run is the answer only if none later can.
TEST(Launcher, FindCommandSaysWhy) {
    using Result = tk::CommandLookup::Result;
    char top[] = "/tmp/launcher-path-XXXXXX";
    ASSERT_NE(mkdtemp(top), nullptr);
    std::string a = std::string(top) + "/a", b = std::string(top) + "/b";
    ASSERT_EQ(mkdir(a.c_str(), 0755), 0);
    ASSERT_EQ(mkdir(b.c_str(), 0755), 0);
    auto file = [](const std::string& path, mode_t mode) {
        int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, mode);
        ASSERT_GE(fd, 0) << path;
        close(fd);
        chmod(path.c_str(), mode);
    };
    file(a + "/prog", 0644);
    file(b + "/prog", 0755);
    file(a + "/plain", 0644);
    const char* old_path = getenv("PATH");
    std::string saved = old_path ? old_path : "";
    setenv("PATH", (a + ":" + b).c_str(), 1);

    tk::CommandLookup prog = tk::find_command("prog");
    EXPECT_EQ(prog.result, Result::Found);
    EXPECT_EQ(prog.path, b + "/prog");
    tk::CommandLookup plain = tk::find_command("plain");
    EXPECT_EQ(plain.result, Result::NotExecutable);
    EXPECT_EQ(plain.path, a + "/plain");
    EXPECT_EQ(plain.err, EACCES);
    EXPECT_EQ(tk::find_command("no-such-program").result, Result::NotInPath);
    EXPECT_EQ(tk::find_command("").result, Result::NotInPath);
    tk::CommandLookup dir = tk::find_command(a);
    EXPECT_EQ(dir.result, Result::NotExecutable);
    EXPECT_EQ(dir.err, EISDIR);
    tk::CommandLookup missing = tk::find_command(a + "/none");
    EXPECT_EQ(missing.result, Result::StatFailed);
    EXPECT_EQ(missing.err, ENOENT);

    if (old_path)
        setenv("PATH", saved.c_str(), 1);
    else
        unsetenv("PATH");
    for (const std::string& f : {a + "/prog", b + "/prog", a + "/plain"})
        unlink(f.c_str());
    rmdir(a.c_str());
    rmdir(b.c_str());
    rmdir(top);
}

TEST(Launcher, TerminateEndsALongRunningChild) {
    auto w = Workload::spawn_paused({{"sleep", "60"}, false, ""});
    w->resume();
    auto st = w->terminate(2000);
    EXPECT_EQ(st.signo, SIGTERM);
}

TEST(Launcher, DestructorKillsAndReapsAPausedChild) {
    pid_t pid;
    {
        auto w = Workload::spawn_paused({{"sleep", "60"}, false, ""});
        pid = w->pid();
    }
    // reaped: no zombie left with that pid for us
    EXPECT_EQ(waitpid(pid, nullptr, WNOHANG), -1);
    EXPECT_EQ(errno, ECHILD);
}

TEST(Launcher, CredentialsWithoutSudoAreOurOwn) {
    unsetenv("SUDO_UID");
    auto c = tk::workload_credentials(false);
    EXPECT_EQ(c.uid, getuid());
    EXPECT_FALSE(c.dropped);
}

TEST(Launcher, CredentialsUnderSudoAreTheInvokingUsers) {
    if (geteuid() != 0)
        GTEST_SKIP() << "only root drops privileges";
    setenv("SUDO_UID", "65534", 1);
    setenv("SUDO_GID", "65534", 1);
    auto c = tk::workload_credentials(false);
    EXPECT_TRUE(c.dropped);
    EXPECT_EQ(c.uid, 65534u);
    EXPECT_EQ(c.gid, 65534u);
    EXPECT_FALSE(tk::workload_credentials(true).dropped);  // --run-as-root
    unsetenv("SUDO_UID");
    unsetenv("SUDO_GID");
}
