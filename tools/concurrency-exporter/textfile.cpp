#include "textfile.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"

namespace exporter {

using tk::UserError;

TextfileWriter::TextfileWriter(const std::string& dir)
    : dir_(dir), dirfd_(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) {
    if (!dirfd_)
        throw UserError(tk::errno_text("--textfile " + dir) +
                        " (give an existing directory, not a symbolic link, such as "
                        "/var/lib/prometheus/node-exporter)");
    struct stat st;
    if (fstat(dirfd_.get(), &st) != 0)
        throw UserError(tk::errno_text("--textfile " + dir));
    if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)))
        throw UserError("--textfile " + dir +
                        ": the directory must be owned by root and writable by root alone "
                        "(chown root: and chmod go-w it), or another user could redirect "
                        "what the exporter writes");
}

void TextfileWriter::write(const std::string& text) const {
    std::string tmp = std::string(".") + kName + ".tmp." + std::to_string(getpid());
    unlinkat(dirfd_.get(), tmp.c_str(), 0);  // left by a run that was killed
    tk::Fd fd(openat(dirfd_.get(), tmp.c_str(),
                     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!fd)
        throw UserError(tk::errno_text("cannot create " + dir_ + "/" + tmp));
    fchmod(fd.get(), 0644);  // readable by node_exporter whatever our umask
    size_t done = 0;
    while (done < text.size()) {
        ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int err = errno;
            unlinkat(dirfd_.get(), tmp.c_str(), 0);
            throw UserError(tk::errno_text("cannot write " + dir_ + "/" + tmp, err));
        }
        done += size_t(n);
    }
    if (fsync(fd.get()) != 0 || renameat(dirfd_.get(), tmp.c_str(), dirfd_.get(), kName) != 0) {
        int err = errno;
        unlinkat(dirfd_.get(), tmp.c_str(), 0);
        throw UserError(tk::errno_text("cannot replace " + path(), err));
    }
}

}  // namespace exporter
