#include "coredumpctl.h"

#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <sstream>
#include <vector>

#include "core_file.h"  // format_bytes
#include "errors.h"

namespace crashlab {

namespace {

// systemd's catalog id of "Process PID (COMM) of user UID dumped core." (sd-messages.h,
// SD_MESSAGE_COREDUMP): every entry systemd-coredump writes about a crash carries it.
constexpr const char* kCoredumpMessageId = "fc2e22bc6ee647b6b90729ab34a250b1";

// The fields asked of journalctl: all that is read below, and none of the large ones
// (COREDUMP itself with Storage=journal, COREDUMP_PROC_MAPS, _ENVIRON ...).
constexpr const char* kFields =
    "MESSAGE,_BOOT_ID,COREDUMP_PID,COREDUMP_UID,COREDUMP_GID,COREDUMP_SIGNAL,"
    "COREDUMP_SIGNAL_NAME,COREDUMP_TIMESTAMP,COREDUMP_RLIMIT,COREDUMP_EXE,COREDUMP_CMDLINE,"
    "COREDUMP_COMM,COREDUMP_CWD,COREDUMP_ROOT,COREDUMP_HOSTNAME,COREDUMP_CGROUP,COREDUMP_UNIT,"
    "COREDUMP_USER_UNIT,COREDUMP_SLICE,COREDUMP_SESSION,COREDUMP_OWNER_UID,"
    "COREDUMP_PACKAGE_NAME,COREDUMP_PACKAGE_VERSION,COREDUMP_PACKAGE_JSON,COREDUMP_DUMPABLE,"
    "COREDUMP_FILENAME,COREDUMP_TRUNCATED";

std::string described(const std::string& which) {
    return which == "last" ? std::string("the last crash") : "pid " + which;
}

// A field of journalctl's JSON: a string, or an array of bytes for a value that is not
// valid UTF-8 (journalctl(1), "json"). "" when absent.
std::string field(const nlohmann::json& entry, const char* name) {
    auto it = entry.find(name);
    if (it == entry.end())
        return "";
    if (it->is_string())
        return it->get<std::string>();
    std::string bytes;
    if (it->is_array())
        for (const nlohmann::json& b : *it)
            if (b.is_number_unsigned())
                bytes += char(b.get<unsigned>());
    return bytes;
}

template <typename Int>
std::optional<Int> number_field(const nlohmann::json& entry, const char* name) {
    std::string s = field(entry, name);
    if (s.empty() || s.find_first_not_of("-0123456789") != std::string::npos)
        return std::nullopt;
    try {
        if constexpr (std::is_signed_v<Int>)
            return Int(std::stoll(s));
        else
            return Int(std::stoull(s));
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

CoredumpJournalEntry entry_from_json(const nlohmann::json& j) {
    CoredumpJournalEntry e;
    e.pid = number_field<int64_t>(j, "COREDUMP_PID");
    e.uid = number_field<int64_t>(j, "COREDUMP_UID");
    e.gid = number_field<int64_t>(j, "COREDUMP_GID");
    e.signal = number_field<int64_t>(j, "COREDUMP_SIGNAL");
    e.signal_name = field(j, "COREDUMP_SIGNAL_NAME");
    e.timestamp_us = number_field<uint64_t>(j, "COREDUMP_TIMESTAMP");
    e.rlimit = number_field<uint64_t>(j, "COREDUMP_RLIMIT");
    e.dumpable = number_field<int64_t>(j, "COREDUMP_DUMPABLE");
    e.exe = field(j, "COREDUMP_EXE");
    e.command_line = field(j, "COREDUMP_CMDLINE");
    e.comm = field(j, "COREDUMP_COMM");
    e.cwd = field(j, "COREDUMP_CWD");
    e.root = field(j, "COREDUMP_ROOT");
    e.hostname = field(j, "COREDUMP_HOSTNAME");
    e.cgroup = field(j, "COREDUMP_CGROUP");
    e.unit = field(j, "COREDUMP_UNIT");
    e.user_unit = field(j, "COREDUMP_USER_UNIT");
    e.slice = field(j, "COREDUMP_SLICE");
    e.session = field(j, "COREDUMP_SESSION");
    e.owner_uid = number_field<int64_t>(j, "COREDUMP_OWNER_UID");
    e.package_name = field(j, "COREDUMP_PACKAGE_NAME");
    e.package_version = field(j, "COREDUMP_PACKAGE_VERSION");
    e.package_json = field(j, "COREDUMP_PACKAGE_JSON");
    e.filename = field(j, "COREDUMP_FILENAME");
    e.truncated = field(j, "COREDUMP_TRUNCATED") == "1";
    e.message = field(j, "MESSAGE");
    e.boot_id = field(j, "_BOOT_ID");
    struct stat st;
    if (!e.filename.empty() && stat(e.filename.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
        e.present = true;
        e.stored_size = uint64_t(st.st_size);
    }
    return e;
}

// "2026-12-07T13:40:02.123456Z"
std::string iso_time_us(uint64_t us) {
    time_t t = time_t(us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[64];
    size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, sizeof buf - n, ".%06lluZ", static_cast<unsigned long long>(us % 1000000));
    return buf;
}

nlohmann::json nullable(const std::string& s) {
    return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s);
}

template <typename T>
nlohmann::json nullable(const std::optional<T>& v) {
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

// Whether the caller may read the system journal, where systemd-coredump's entries are:
// root, and the groups adm and systemd-journal (journalctl(1)); without, journalctl shows
// the caller's own user journal only.
bool may_read_system_journal() {
    if (geteuid() == 0)
        return true;
    std::vector<gid_t> groups(size_t(std::max(getgroups(0, nullptr), 0)) + 1);
    int n = getgroups(int(groups.size()), groups.data());
    groups.resize(size_t(std::max(n, 0)));
    groups.push_back(getegid());
    for (const char* name : {"adm", "systemd-journal"}) {
        const group* g = getgrnam(name);
        if (g && std::find(groups.begin(), groups.end(), g->gr_gid) != groups.end())
            return true;
    }
    return false;
}

std::string user_name() {
    const passwd* pw = getpwuid(getuid());
    return pw ? pw->pw_name : std::to_string(getuid());
}

}  // namespace

std::optional<CoredumpJournalEntry> find_coredump_entry(const std::string& which,
                                                        std::string& problem) {
    if (which != "last" &&
        (which.empty() || which.find_first_not_of("0123456789") != std::string::npos))
        throw tk::UserError("--coredumpctl " + which + ": give a pid or last");
    // coredumpctl's own --json lists only its table's columns (time, pid, uid, gid, sig,
    // corefile, exe, size); the entry's fields, the file's name among them, are the journal's.
    std::string cmd = std::string("journalctl --no-pager --all -o json -n 1 --output-fields=") +
                      kFields + " MESSAGE_ID=" + kCoredumpMessageId +
                      (which == "last" ? std::string() : " COREDUMP_PID=" + which) + " 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) {
        problem = tk::errno_text("cannot run journalctl");
        return std::nullopt;
    }
    std::string out;
    char buf[4096];
    for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;)
        out.append(buf, n);
    int status = pclose(p);
    std::istringstream lines(out);
    std::string first, line;
    for (bool at_first = true; std::getline(lines, line); at_first = false) {
        if (at_first)
            first = line;
        if (line.empty() || line[0] != '{')
            continue;
        nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
        if (!j.is_discarded() && j.is_object())
            return entry_from_json(j);
    }
    problem = "the journal has no systemd-coredump entry for " + described(which);
    if (status != 0 && !first.empty())
        problem += " (journalctl: " + first + ")";
    return std::nullopt;
}

bool journald_running() {
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const char path[] = "/run/systemd/journal/socket";
    static_assert(sizeof path <= sizeof addr.sun_path);
    memcpy(addr.sun_path, path, sizeof path);
    bool up = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    close(fd);
    return up;
}

CoredumpJournalEntry coredump_entry_with_core(const std::string& which) {
    std::string problem;
    std::optional<CoredumpJournalEntry> e = find_coredump_entry(which, problem);
    if (!e && !may_read_system_journal())
        throw tk::UserError("the journal you may read has no systemd-coredump entry for " +
                            described(which) +
                            ": systemd-coredump's entries are in the system journal, which "
                            "only root and the groups adm and systemd-journal may read: run it "
                            "with sudo, or join one of those groups (sudo adduser " +
                            user_name() + " systemd-journal, then log in again)");
    if (!e)
        throw tk::UserError(problem +
                            ": check `coredumpctl list` (journald must be running when the "
                            "crash happens), or give the core file");
    if (e->filename.empty())
        throw tk::UserError("systemd-coredump kept no core file for " + described(which) + " (" +
                            e->message + "): with Storage=journal get it with `coredumpctl dump`");
    if (!e->present)
        throw tk::UserError("the core of " + described(which) + " is not kept any more (" +
                            e->filename + " is gone): systemd-coredump removed it");
    return *e;
}

nlohmann::json coredump_entry_json(const CoredumpJournalEntry& e) {
    nlohmann::json package = nullptr;
    if (!e.package_name.empty() || !e.package_version.empty() || !e.package_json.empty()) {
        nlohmann::json note = nlohmann::json::parse(e.package_json, nullptr, false);
        package = {{"name", nullable(e.package_name)},
                   {"version", nullable(e.package_version)},
                   {"note", note.is_discarded() ? nullable(e.package_json) : note}};
    }
    return {{"pid", nullable(e.pid)},
            {"uid", nullable(e.uid)},
            {"gid", nullable(e.gid)},
            {"signal", nullable(e.signal)},
            {"signal_name", nullable(e.signal_name)},
            {"timestamp_us", nullable(e.timestamp_us)},
            {"time", e.timestamp_us ? nlohmann::json(iso_time_us(*e.timestamp_us))
                                    : nlohmann::json(nullptr)},
            {"rlimit_core", nullable(e.rlimit)},
            {"dumpable", nullable(e.dumpable)},
            {"executable", nullable(e.exe)},
            {"command_line", nullable(e.command_line)},
            {"comm", nullable(e.comm)},
            {"cwd", nullable(e.cwd)},
            {"root", nullable(e.root)},
            {"hostname", nullable(e.hostname)},
            {"cgroup", nullable(e.cgroup)},
            {"unit", nullable(e.unit)},
            {"user_unit", nullable(e.user_unit)},
            {"slice", nullable(e.slice)},
            {"session", nullable(e.session)},
            {"owner_uid", nullable(e.owner_uid)},
            {"package", package},
            {"storage", nullable(e.filename)},
            {"storage_present", e.present},
            {"stored_size", nullable(e.stored_size)},
            {"truncated", e.truncated},
            {"boot_id", nullable(e.boot_id)},
            {"message", nullable(e.message)}};
}

std::string coredump_entry_text(const CoredumpJournalEntry& e) {
    std::ostringstream out;
    auto line = [&out](const char* name, const std::string& value) {
        if (!value.empty())
            out << "  " << name << std::string(15 - std::string(name).size(), ' ') << value << "\n";
    };
    auto number = [](const auto& v) { return v ? std::to_string(*v) : std::string(); };
    out << "systemd-coredump (its journal entry)\n";
    line("pid", number(e.pid));
    line("uid/gid", e.uid || e.gid ? number(e.uid) + "/" + number(e.gid) : std::string());
    line("signal",
         e.signal_name.empty() ? number(e.signal) : e.signal_name + " (" + number(e.signal) + ")");
    line("time", e.timestamp_us ? iso_time_us(*e.timestamp_us) : std::string());
    line("executable", e.exe);
    line("command line", e.command_line);
    line("cwd", e.cwd);
    line("cgroup", e.cgroup);
    line("unit", e.unit);
    line("user unit", e.user_unit);
    line("slice", e.slice);
    line("owner uid", number(e.owner_uid));
    line("package", e.package_name.empty() && e.package_version.empty()
                        ? std::string()
                        : e.package_name + " " + e.package_version);
    line("RLIMIT_CORE", number(e.rlimit));
    line("dump mode", number(e.dumpable));
    line("storage",
         e.filename.empty()
             ? std::string()
             : e.filename + (e.present ? " (" + format_bytes(*e.stored_size) + " on disk)"
                                       : std::string(" (gone)")));
    if (e.truncated)
        line("truncated", "yes: the core was cut at systemd-coredump's size limit");
    return out.str();
}

}  // namespace crashlab
