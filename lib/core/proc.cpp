#include "proc.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <fstream>
#include <iterator>
#include <sstream>

namespace tk {

bool process_exists(pid_t pid) {
    if (pid <= 0)
        return false;
    return kill(pid, 0) == 0 || errno == EPERM;
}

std::vector<pid_t> threads_of(pid_t pid) {
    std::vector<pid_t> out;
    std::string dir = "/proc/" + std::to_string(pid) + "/task";
    DIR* d = opendir(dir.c_str());
    if (!d)
        return out;
    while (struct dirent* e = readdir(d)) {
        char* end = nullptr;
        long tid = strtol(e->d_name, &end, 10);
        if (e->d_name[0] != '.' && end && *end == 0 && tid > 0)
            out.push_back(pid_t(tid));
    }
    closedir(d);
    return out;
}

std::optional<pid_t> tgid_in_status(std::istream& status) {
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("Tgid:", 0) == 0) {
            // Not std::stol: it throws on a line that holds no number
            const char* p = line.c_str() + 5;
            while (*p == ' ' || *p == '\t')
                p++;
            pid_t tgid = 0;
            auto [end, err] = std::from_chars(p, line.c_str() + line.size(), tgid);
            if (err != std::errc() || end == p)
                return std::nullopt;
            return tgid;
        }
    return std::nullopt;
}

std::optional<pid_t> tgid_of(pid_t tid) {
    std::ifstream f("/proc/" + std::to_string(tid) + "/status");
    return tgid_in_status(f);
}

bool kernel_thread_in_stat(std::string_view stat) {
    constexpr unsigned long kPfKthread = 0x00200000;  // include/linux/sched.h
    // the name may hold spaces and parentheses
    auto end_of_comm = stat.rfind(')');
    if (end_of_comm == std::string_view::npos)
        return false;
    std::istringstream fields(std::string(stat.substr(end_of_comm + 1)));
    std::string state, ppid, pgrp, session, tty, tpgid;
    unsigned long flags = 0;
    fields >> state >> ppid >> pgrp >> session >> tty >> tpgid >> flags;
    return (flags & kPfKthread) != 0;
}

bool is_kernel_thread(pid_t tid) {
    std::ifstream f("/proc/" + std::to_string(tid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    return kernel_thread_in_stat(stat);
}

std::string comm_of(pid_t tid) {
    std::ifstream f("/proc/" + std::to_string(tid) + "/comm");
    std::string s;
    std::getline(f, s);
    return s;
}

int pidfd_open(pid_t pid, bool thread) {
    constexpr unsigned PIDFD_THREAD_FLAG = O_EXCL;  // PIDFD_THREAD, since Linux 6.9
    return int(syscall(SYS_pidfd_open, pid, thread ? PIDFD_THREAD_FLAG : 0u));
}

std::string describe_missing_task(pid_t pid, bool thread) {
    std::ostringstream s;
    s << "no such " << (thread ? "thread" : "process") << ": " << pid << " (check it with ps"
      << (thread ? " -eLf" : "") << ")";
    return s.str();
}

}  // namespace tk
