#include "core_pickup.h"

#include <dirent.h>
#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <thread>

#include <nlohmann/json.hpp>

#include "core_file.h"
#include "coredumpctl.h"
#include "errors.h"
#include "fd.h"

namespace crashlab {

namespace {

std::vector<std::string> matching(const std::string& pattern) {
    std::vector<std::string> out;
    if (pattern.find('*') == std::string::npos) {
        struct stat st;
        if (lstat(pattern.c_str(), &st) == 0)
            out.push_back(pattern);
        return out;
    }
    glob_t g{};
    if (glob(pattern.c_str(), 0, nullptr, &g) == 0)
        for (size_t i = 0; i < g.gl_pathc; i++)
            out.emplace_back(g.gl_pathv[i]);
    globfree(&g);
    return out;
}

std::string dir_of(const std::string& path) {
    size_t slash = path.rfind('/');
    return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

std::string base_of(const std::string& path) {
    return path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
}

// The core's own word on who dumped it: NT_PRPSINFO's pid; 0 when its notes say nothing,
// -1 when the file is no core.
int core_pid(const std::string& path) {
    try {
        CoreFile core(path);
        return core.process() ? core.process()->pid : 0;
    } catch (const std::exception&) {
        return -1;
    }
}

void sleep_ms(int ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

}  // namespace

KeptFiles::KeptFiles(const std::string& core_glob, const std::string& crash_dir) {
    for (const std::string& path : matching(core_glob)) {
        struct stat st;
        if (lstat(path.c_str(), &st) != 0)
            continue;
        Kept k{path, crash_dir + "/.kept-" + std::to_string(kept_.size()), st.st_dev, st.st_ino};
        // link() never replaces: a name that exists is EEXIST
        int rc = link(path.c_str(), k.second.c_str());
        if (rc != 0 && errno == EXDEV) {
            k.second =
                dir_of(path) + "/." + base_of(path) + ".crashlab-kept-" + std::to_string(getpid());
            rc = link(path.c_str(), k.second.c_str());
        }
        if (rc == 0) {
            kept_.push_back(k);
            continue;
        }
        int err = errno;
        restore();
        throw tk::UserError(path +
                            " exists and the kernel would replace it with this crash's "
                            "core (core_pattern), but crashlab cannot keep it (" +
                            strerror(err) + "): move it away, or run from another directory");
    }
}

KeptFiles::~KeptFiles() {
    restore();
}

bool KeptFiles::holds(dev_t dev, ino_t ino) const {
    for (const Kept& k : kept_)
        if (k.dev == dev && k.ino == ino)
            return true;
    return false;
}

void KeptFiles::restore() {
    for (const Kept& k : kept_) {
        struct stat st;
        bool in_place = lstat(k.path.c_str(), &st) == 0 && st.st_dev == k.dev && st.st_ino == k.ino;
        if (!in_place && link(k.second.c_str(), k.path.c_str()) != 0) {
            std::cerr << "crashlab: " << k.path << " was replaced and its name is taken ("
                      << strerror(errno) << "): the file that was there is kept as " << k.second
                      << "\n";
            continue;
        }
        unlink(k.second.c_str());
    }
    kept_.clear();
}

std::string find_new_core(const std::string& core_glob, const KeptFiles& kept, int pid,
                          time_t started) {
    std::string fallback;
    for (const std::string& path : matching(core_glob)) {
        struct stat st;
        if (lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
            kept.holds(st.st_dev, st.st_ino))
            continue;
        int written_by = core_pid(path);
        if (written_by == pid)
            return path;
        if (written_by == 0 && st.st_mtime >= started)
            fallback = path;
    }
    return fallback;
}

void copy_private(const std::string& from, const std::string& to, int uid, int gid) {
    tk::Fd in(open(from.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!in)
        throw tk::UserError(tk::errno_text("cannot read " + from));
    tk::Fd out(open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!out)
        throw tk::UserError(tk::errno_text("cannot create " + to));
    char buf[1 << 16];
    for (;;) {
        ssize_t n = read(in.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            throw tk::UserError(tk::errno_text("cannot read " + from));
        if (n == 0)
            break;
        for (ssize_t done = 0; done < n;) {
            ssize_t w = write(out.get(), buf + done, size_t(n - done));
            if (w <= 0) {
                unlink(to.c_str());
                throw tk::UserError(tk::errno_text("cannot write " + to));
            }
            done += w;
        }
    }
    if (uid >= 0 && fchown(out.get(), uid_t(uid), gid_t(gid)) != 0)
        throw tk::UserError(tk::errno_text("cannot hand " + to + " to uid " + std::to_string(uid)));
}

void move_no_replace(const std::string& from, const std::string& to) {
    if (renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0)
        return;
    if (errno == EINVAL || errno == ENOSYS) {  // a file system without RENAME_NOREPLACE
        if (link(from.c_str(), to.c_str()) == 0) {
            unlink(from.c_str());
            return;
        }
    }
    if (errno != EXDEV)
        throw tk::UserError(tk::errno_text("cannot move the core " + from + " to " + to));
    struct stat st;
    if (stat(from.c_str(), &st) != 0)
        throw tk::UserError(tk::errno_text("cannot read " + from));
    copy_private(from, to, int(st.st_uid), int(st.st_gid));
    if (unlink(from.c_str()) != 0)
        std::cerr << "crashlab: the core is copied to " << to << " but "
                  << tk::errno_text("cannot remove " + from) << "\n";
}

StoredRun core_from_collector(const std::string& store, int pid, time_t started) {
    StoredRun r;
    // Crash ids are YYYYmmddTHHMMSSZ-PID[.N]: the collector makes the directory before it
    // reads the core, so it is there once the process has ended, unless the crash was
    // counted as a repeat.
    char since[32];
    struct tm tm;
    gmtime_r(&started, &tm);
    strftime(since, sizeof since, "%Y%m%dT%H%M%SZ", &tm);
    std::string root = store + "/crashes";
    std::string suffix = "-" + std::to_string(pid);
    for (int attempt = 0; attempt < 20 && r.id.empty(); attempt++) {
        if (attempt)
            sleep_ms(100);
        DIR* d = opendir(root.c_str());
        if (!d)
            break;
        while (dirent* e = readdir(d)) {
            std::string name = e->d_name;
            std::string head = name.substr(0, name.find('.'));
            if (head.size() > suffix.size() &&
                head.compare(head.size() - suffix.size(), suffix.size(), suffix) == 0 &&
                head.substr(0, head.size() - suffix.size()) >= since)
                r.id = name;
        }
        closedir(d);
    }
    if (r.id.empty()) {
        r.why_none = "crashlab's collector stored no crash for pid " + std::to_string(pid) +
                     " in " + root +
                     ": it counted it as a repeat of a crash loop (max_crashes_per_minute), or "
                     "it failed (dmesg says why); see `crashlab ls`";
        return r;
    }
    r.dir = root + "/" + r.id;
    // The metadata comes last, once the core is compressed and analysed.
    nlohmann::json meta;
    for (int attempt = 0; attempt < 3000; attempt++) {
        tk::Fd fd(open((r.dir + "/metadata.json").c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
        if (fd) {
            std::string text;
            char buf[8192];
            for (ssize_t n; (n = read(fd.get(), buf, sizeof buf)) > 0;)
                text.append(buf, size_t(n));
            meta = nlohmann::json::parse(text, nullptr, false);
            if (!meta.is_discarded())
                break;
        }
        sleep_ms(100);
    }
    if (!meta.is_object()) {
        r.why_none = "the collector's crash " + r.dir +
                     " is not readable by you (a process not dumpable by its owner is root's) "
                     "or still incomplete: see `crashlab show " +
                     r.id + "`";
        return r;
    }
    std::string core = meta.value("core", std::string());
    if (core.empty())
        r.why_none = "the collector kept the analysis of crash " + r.id + " but not its core (" +
                     meta.value("core_dropped", std::string("?")) + "): see `crashlab show " +
                     r.id + "`";
    else
        r.core = r.dir + "/" + core;
    return r;
}

std::string core_from_systemd_coredump(int pid, int uid, time_t started, std::string& why_none,
                                       std::optional<CoredumpJournalEntry>& entry) {
    std::string no_entry;
    // The newest entry for the pid, unless it is of a crash before STARTED (the pid reused).
    auto find_entry = [&] {
        entry = find_coredump_entry(std::to_string(pid), no_entry);
        if (entry && entry->timestamp_us && *entry->timestamp_us / 1000000 < uint64_t(started)) {
            no_entry = "the journal's newest entry for pid " + std::to_string(pid) +
                       " is of an earlier crash";
            entry.reset();
        }
    };
    find_entry();
    if (entry && entry->present)
        return entry->filename;
    // The service compresses the core after the process has ended, renames it into place,
    // and only then (after its own stack trace) writes the journal entry. Without journald
    // there is no entry: the file's name has the pid.
    const char* socket_path = "/run/systemd/coredump";
    if (access(socket_path, F_OK) != 0) {
        why_none = std::string("systemd-coredump's service is not listening on ") + socket_path +
                   " (systemd is not running here): it stored nothing; let crashlab catch "
                   "cores with `sudo sysctl kernel.core_pattern=core`";
        return "";
    }
    const bool journal = journald_running();
    std::string pattern = "/var/lib/systemd/coredump/core.*." + std::to_string(uid) + ".*." +
                          std::to_string(pid) + ".*";
    std::string file;
    int file_seen_at = 0;
    for (int attempt = 0; attempt < 600; attempt++) {
        if (journal) {
            find_entry();
            if (entry && entry->present)
                return entry->filename;
        }
        if (file.empty())
            for (const std::string& path : matching(pattern))
                if (base_of(path)[0] != '.') {
                    file = path;
                    file_seen_at = attempt;
                }
        // with journald, the entry is given 10 s more than the file
        if (!file.empty() && (!journal || attempt - file_seen_at >= 100))
            return file;
        sleep_ms(100);
    }
    why_none = "systemd-coredump stored no core for pid " + std::to_string(pid) + " (" +
               (entry ? "the journal names " + entry->filename + ", which is gone" : no_entry) +
               ", and no " + pattern + "): see `coredumpctl list`";
    return "";
}

}  // namespace crashlab
