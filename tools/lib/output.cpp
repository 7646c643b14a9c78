#include "output.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "errors.h"

namespace tk {

void give_to_invoking_user(const std::string& path) {
    const char* su = getenv("SUDO_UID");
    const char* sg = getenv("SUDO_GID");
    if (geteuid() != 0 || !su || !*su) return;
    if (chown(path.c_str(), uid_t(strtoul(su, nullptr, 10)), sg ? gid_t(strtoul(sg, nullptr, 10)) : gid_t(-1)) != 0) {
        // not fatal: the file is still there, just owned by root
    }
}

void emit_report(const std::string& json_dest, const std::function<std::string()>& text,
                 const std::function<std::string()>& json) {
    if (json_dest == "-") {
        write_output("-", json());
        return;
    }
    fputs(text().c_str(), stdout);
    fflush(stdout);
    if (!json_dest.empty()) write_output(json_dest, json());
}

void write_output(const std::string& path, const std::string& content, unsigned mode) {
    if (path == "-") {
        fwrite(content.data(), 1, content.size(), stdout);
        fflush(stdout);
        return;
    }
    std::string tmp = path + ".tmp." + std::to_string(getpid());
    int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) throw UserError(errno_text("cannot write " + path));
    size_t done = 0;
    while (done < content.size()) {
        ssize_t n = write(fd, content.data() + done, content.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            int e = errno;
            close(fd);
            unlink(tmp.c_str());
            throw UserError(errno_text("cannot write " + path, e));
        }
        done += size_t(n);
    }
    if (fsync(fd) != 0 && errno != EINVAL) {
        // a pipe or device: nothing to sync
    }
    close(fd);
    if (rename(tmp.c_str(), path.c_str()) != 0) {
        int e = errno;
        unlink(tmp.c_str());
        throw UserError(errno_text("cannot write " + path, e));
    }
    give_to_invoking_user(path);
}

}  // namespace tk
