// Where `crashlab run` gets the core of the command it ran, as core_pattern decides
// (docs/crashlab.md, "crashlab run"):
//   a file name ("core", "core.%p", "/var/crash/%e.%p"): the kernel writes the core there,
//     replacing whatever file had that name; the files it could replace are kept under a
//     second name while the command runs and put back afterwards, and the new core is moved
//     into the crash directory without replacing anything;
//   crashlab's collector: the crash in the collector's store;
//   systemd-coredump: the file it stored (found through its journal entry, else by name).
#pragma once

#include <sys/types.h>

#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "coredumpctl.h"

namespace crashlab {

// The existing files matching a core's expanded name (a glob when it has wildcards), each
// given a second name (a hard link) in the crash directory, or beside it when the crash
// directory is on another file system, so that the kernel's unlink cannot lose them.
// restore() (or the destructor) puts back any whose name the kernel took, and removes the
// second names.
class KeptFiles {
  public:
    KeptFiles() = default;
    // Throws tk::UserError (one line) when an existing file cannot be kept: the command is
    // then not run.
    KeptFiles(const std::string& core_glob, const std::string& crash_dir);
    ~KeptFiles();
    KeptFiles(const KeptFiles&) = delete;
    KeptFiles& operator=(const KeptFiles&) = delete;

    bool holds(dev_t dev, ino_t ino) const;
    void restore();

  private:
    struct Kept {
        std::string path, second;  // its name, and the name that keeps it
        dev_t dev = 0;
        ino_t ino = 0;
    };
    std::vector<Kept> kept_;
};

// The core the kernel wrote for PID among the files matching CORE_GLOB: not a kept file,
// and the pid in its NT_PRPSINFO note is PID (for a core whose notes cannot be read: written
// since STARTED). "" when there is none.
std::string find_new_core(const std::string& core_glob, const KeptFiles& kept, int pid,
                          time_t started);

// Moves FROM to TO, never replacing a file at TO: rename with RENAME_NOREPLACE, or a hard
// link and an unlink, or (another file system) a copy created exclusively and an unlink.
// Throws tk::UserError.
void move_no_replace(const std::string& from, const std::string& to);

// Copies FROM to TO, created exclusively (never through a link), 0600, owned by UID/GID
// when they are >= 0. Throws tk::UserError.
void copy_private(const std::string& from, const std::string& to, int uid, int gid);

// A crash the collector stored for PID (its global pid) since STARTED.
struct StoredRun {
    std::string id, dir;
    std::string core;      // DIR/core.zst, "" when the collector did not keep it
    std::string why_none;  // when there is no crash, or its core was not kept: one line
};
StoredRun core_from_collector(const std::string& store, int pid, time_t started);

// The core systemd-coredump stored for PID of UID, crashed since STARTED: the file its journal
// entry names (ENTRY, when the journal has one), else the file
// /var/lib/systemd/coredump/core.COMM.UID.BOOTID.PID.TIME[.zst|.lz4|.xz]. "" and WHY_NONE
// (one line) when there is none.
std::string core_from_systemd_coredump(int pid, int uid, time_t started, std::string& why_none,
                                       std::optional<CoredumpJournalEntry>& entry);

}  // namespace crashlab
