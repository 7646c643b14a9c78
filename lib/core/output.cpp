#include "output.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "errors.h"
#include "launcher.h"

namespace tk {

void emit_report(const std::string& json_dest, const std::function<std::string()>& text,
                 const std::function<std::string()>& json) {
    if (json_dest == "-") {
        write_output("-", json());
        return;
    }
    fputs(text().c_str(), stdout);
    fflush(stdout);
    if (!json_dest.empty())
        write_output(json_dest, json());
}

namespace {

// Writes all of content to fd; 0, or the errno of the write that failed.
int write_all(int fd, const std::string& content) {
    size_t done = 0;
    while (done < content.size()) {
        ssize_t n = write(fd, content.data() + done, content.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? errno : EIO;
        done += size_t(n);
    }
    return 0;
}

// The descriptor a path names when it is one of ours: /dev/stdout, /dev/stderr,
// /dev/fd/N, /proc/self/fd/N (a shell's >(jq .) is /dev/fd/63); -1 otherwise.
int own_descriptor(const std::string& path) {
    if (path == "/dev/stdout")
        return 1;
    if (path == "/dev/stderr")
        return 2;
    for (const char* dir : {"/dev/fd/", "/proc/self/fd/"}) {
        std::string d = dir;
        if (path.size() > d.size() && path.compare(0, d.size(), d) == 0 &&
            path.find_first_not_of("0123456789", d.size()) == std::string::npos)
            return atoi(path.c_str() + d.size());
    }
    return -1;
}

// Where the output for a path goes. check_writable and write_file follow the same rules.
struct Destination {
    enum Kind {
        Descriptor,  // one of our open descriptors (fd): written where it stands
        InPlace,     // an existing device, FIFO or socket (target): opened and written
        Directory,   // refused
        File,        // a regular file, or none yet (target): replaced whole
    } kind;
    int fd = -1;
    std::string target;  // through symbolic links: the link stays, the file it names changes
};

Destination destination_of(const std::string& path) {
    if (int fd = own_descriptor(path); fd >= 0)
        return {Destination::Descriptor, fd, path};
    std::string target = path;
    if (char* real = realpath(path.c_str(), nullptr)) {
        target = real;
        free(real);
    }
    struct stat st;
    if (stat(target.c_str(), &st) != 0 || S_ISREG(st.st_mode))
        return {Destination::File, -1, target};
    return {S_ISDIR(st.st_mode) ? Destination::Directory : Destination::InPlace, -1, target};
}

// write_output and write_output_as; MUST_OWN: a file that cannot be handed to UID is an error
void write_file(const std::string& path, const std::string& content, unsigned mode, int uid,
                int gid, bool must_own) {
    if (path == "-") {
        fwrite(content.data(), 1, content.size(), stdout);
        fflush(stdout);
        return;
    }
    Destination d = destination_of(path);
    const std::string& target = d.target;
    switch (d.kind) {
        case Destination::Descriptor:
            // opening the path again would start a regular file over from its beginning
            if (d.fd == 1)
                fflush(stdout);
            if (int e = write_all(d.fd, content))
                throw UserError(errno_text("cannot write " + path, e));
            return;
        case Destination::InPlace: {
            // a file renamed over it would replace it (as root, /dev/null)
            int fd = open(target.c_str(), O_WRONLY | O_CLOEXEC);
            if (fd < 0)
                throw UserError(errno_text("cannot write " + path));
            int e = write_all(fd, content);
            close(fd);
            if (e)
                throw UserError(errno_text("cannot write " + path, e));
            return;
        }
        case Destination::Directory:
            throw UserError(errno_text("cannot write " + path, EISDIR));
        case Destination::File:
            break;
    }
    // a regular file is replaced whole: written beside it, then renamed over it. mkstemp
    // makes a new file (O_EXCL) under an unpredictable name: never through a planted link
    std::string tmp = target + ".XXXXXX";
    int fd = mkostemp(tmp.data(), O_CLOEXEC);
    if (fd < 0)
        throw UserError(errno_text("cannot write " + path));
    auto fail = [&](const std::string& what, int e) {
        close(fd);
        unlink(tmp.c_str());
        throw UserError(errno_text(what, e));
    };
    if (int e = write_all(fd, content))
        fail("cannot write " + path, e);
    if (fchmod(fd, mode_t(mode)) != 0)
        fail("cannot set the mode of " + path, errno);
    if (uid >= 0 && fchown(fd, uid_t(uid), gid_t(gid)) != 0 && must_own)
        fail("cannot hand " + path + " to uid " + std::to_string(uid), errno);
    fsync(fd);  // the content is on disk before the name points at it
    if (close(fd) != 0) {
        int e = errno;
        unlink(tmp.c_str());
        throw UserError(errno_text("cannot write " + path, e));
    }
    if (rename(tmp.c_str(), target.c_str()) != 0) {
        int e = errno;
        unlink(tmp.c_str());
        throw UserError(errno_text("cannot write " + path, e));
    }
}

}  // namespace

void check_writable(const std::string& path, const std::string& option) {
    if (path.empty() || path == "-")
        return;
    auto refuse = [&](const std::string& why, int e) {
        throw UserError(errno_text("cannot write " + path + " (" + option + ")", e) + ": " + why,
                        2);
    };
    Destination d = destination_of(path);
    switch (d.kind) {
        case Destination::Descriptor:
            return;
        case Destination::InPlace:
            if (access(d.target.c_str(), W_OK) != 0)
                refuse("give a file you may write", errno);
            return;
        case Destination::Directory:
            refuse("give a file, not a directory", EISDIR);
        case Destination::File:
            break;
    }
    auto slash = d.target.rfind('/');
    std::string dir = slash == std::string::npos ? "."
                      : slash == 0               ? "/"
                                                 : d.target.substr(0, slash);
    if (access(dir.c_str(), W_OK) != 0)
        refuse("give a file in an existing, writable directory", errno);
}

void write_output(const std::string& path, const std::string& content, unsigned mode) {
    // under sudo, a new file belongs to the user who asked for it
    auto invoker = sudo_invoker();
    int uid = invoker ? int(invoker->first) : -1, gid = invoker ? int(invoker->second) : -1;
    write_file(path, content, mode, uid, gid, false);  // a report owned by root is still a report
}

void write_output_as(const std::string& path, const std::string& content, unsigned mode, int uid,
                     int gid) {
    write_file(path, content, mode, uid, gid, true);
}

}  // namespace tk
