// What systemd-coredump keeps, found through the journal: the core's file and the facts it
// recorded about the crash (its COREDUMP_* fields).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace crashlab {

// One crash as systemd-coredump recorded it in the journal (systemd-coredump(8),
// systemd.journal-fields(7)). A field the entry does not have stays empty (or nullopt).
struct CoredumpJournalEntry {
    // what the kernel told systemd-coredump (core_pattern's %P %u %g %s %t)
    std::optional<int64_t> pid, uid, gid, signal;
    std::string signal_name;               // COREDUMP_SIGNAL_NAME, "SIGSEGV"
    std::optional<uint64_t> timestamp_us;  // COREDUMP_TIMESTAMP, microseconds since the epoch
    std::optional<uint64_t> rlimit;        // COREDUMP_RLIMIT, the process's RLIMIT_CORE
    std::optional<int64_t> dumpable;       // COREDUMP_DUMPABLE, the kernel's %d (2: root only)
    // what it read from /proc/PID while the kernel held the process
    std::string exe, command_line, comm, cwd, root, hostname;
    std::string cgroup, unit, user_unit, slice, session;
    std::optional<int64_t> owner_uid;  // COREDUMP_OWNER_UID: the unit's or session's user
    // COREDUMP_PACKAGE_*: from the crashed module's ELF package note (.note.package), and
    // the JSON systemd-coredump makes of it (with the ELF type and architecture at least)
    std::string package_name, package_version, package_json;
    // where the core went
    std::string filename;    // COREDUMP_FILENAME, "" when not stored as a file
    bool truncated = false;  // COREDUMP_TRUNCATED: cut at ProcessSizeMax/ExternalSizeMax
    bool present = false;    // the file is still there
    std::optional<uint64_t> stored_size;  // its size on disk now (compressed), when present
    std::string message;                  // MESSAGE, the journal's one line
    std::string boot_id;                  // _BOOT_ID
};

// The journal's entry of systemd-coredump for WHICH (a pid, or "last": the newest), read
// with `journalctl -o json`; nullopt with PROBLEM (one line, without what to do) when the
// journal has none or cannot be read. Throws tk::UserError for a WHICH that is neither.
std::optional<CoredumpJournalEntry> find_coredump_entry(const std::string& which,
                                                        std::string& problem);

// The same, for `crashlab analyze --coredumpctl`: the entry, with a core that is present,
// or tk::UserError (one line with what to do).
CoredumpJournalEntry coredump_entry_with_core(const std::string& which);

// Whether a journald listens on /run/systemd/journal/socket (systemd-coredump logs there).
bool journald_running();

// For the reports: the entry as the analysis's "systemd_coredump" object, and as text lines.
nlohmann::json coredump_entry_json(const CoredumpJournalEntry& e);
std::string coredump_entry_text(const CoredumpJournalEntry& e);

}  // namespace crashlab
