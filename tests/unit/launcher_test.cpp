// The workload launcher without BPF: exit status, signals, exec errors, clean-up.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

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
