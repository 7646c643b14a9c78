#include "run_tool.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>

#include <gtest/gtest.h>

extern char** environ;

namespace wltest {

Run run_tool(const std::string& tool, const std::vector<std::string>& args) {
    Run run;
    std::string path = std::string(WORKLOADS_BIN_DIR) + "/" + tool;
    std::vector<char*> argv;
    argv.push_back(path.data());
    run.command = path;
    for (const auto& a : args) {
        argv.push_back(const_cast<char*>(a.c_str()));
        run.command += " " + a;
    }
    argv.push_back(nullptr);

    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0)
        throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);
    pid_t pid;
    int rc = posix_spawn(&pid, path.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    close(err[1]);
    if (rc != 0)
        throw std::runtime_error("cannot run " + path);

    // Read both pipes to the end together, so neither can fill up and stall the child.
    struct pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    std::string* sinks[2] = {&run.out, &run.err};
    int open_count = 2;
    while (open_count > 0) {
        if (poll(fds, 2, -1) < 0)
            continue;
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char buf[8192];
            ssize_t n = read(fds[i].fd, buf, sizeof buf);
            if (n > 0) {
                sinks[i]->append(buf, size_t(n));
            } else {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_count--;
            }
        }
    }
    int status = 0;
    waitpid(pid, &status, 0);
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return run;
}

nlohmann::json run_json(const std::string& tool, std::vector<std::string> args) {
    args.push_back("--json");
    args.push_back("-");
    Run run = run_tool(tool, args);
    EXPECT_EQ(run.exit_code, 0) << run.command << "\nstderr: " << run.err;
    try {
        return nlohmann::json::parse(run.out);
    } catch (const std::exception& e) {
        ADD_FAILURE() << run.command << ": stdout is not one JSON object: " << e.what()
                      << "\nstdout: " << run.out << "\nstderr: " << run.err;
        return nlohmann::json::object();
    }
}

void expect_one_line_error(const std::string& tool, const std::vector<std::string>& args) {
    Run run = run_tool(tool, args);
    EXPECT_NE(run.exit_code, 0) << run.command;
    auto err = lines(run.err);
    ASSERT_EQ(err.size(), 1u) << run.command << "\nstderr: " << run.err;
    EXPECT_EQ(err[0].rfind(tool + ": ", 0), 0u) << err[0];
    EXPECT_EQ(run.out, "") << run.command;
}

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos)
            end = text.size();
        out.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    while (!out.empty() && out.back().empty())
        out.pop_back();
    return out;
}

std::string temp_path(const std::string& name) {
    const char* dir = std::getenv("TMPDIR");
    return std::string(dir ? dir : "/tmp") + "/workloads_test_" + std::to_string(getpid()) + "_" +
           name;
}

}  // namespace wltest
