#include "process_state.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <vector>

#include "errors.h"
#include "fd.h"
#include "text.h"

namespace crashlab {

namespace {

// NAME in the /proc/PID directory DIR, at most CAP bytes.
ProcFile read_piece(int dir, const char* name, size_t cap) {
    ProcFile p;
    tk::Fd fd(openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
        p.error = strerror(errno);
        return p;
    }
    // Straight into the text, in reads that grow to 256 KiB: every read of a large seq_file
    // (maps) walks to its position again, so a few large reads cost less than many small
    // ones; a small file is one read into a small buffer. CAP + 1 bytes tell a file longer
    // than CAP.
    size_t chunk = 16 << 10;
    for (;;) {
        size_t at = p.text.size();
        size_t want = std::min(chunk, cap + 1 - at);
        p.text.resize(at + want);
        ssize_t n = read(fd.get(), p.text.data() + at, want);
        int err = errno;
        p.text.resize(at + size_t(std::max<ssize_t>(n, 0)));
        if (n < 0 && err == EINTR)
            continue;
        if (n < 0) {
            p.error = strerror(err);
            return p;
        }
        if (n == 0)
            break;
        if (p.text.size() > cap) {
            p.text.resize(cap);
            p.cut = true;
            break;
        }
        chunk = std::min<size_t>(chunk * 2, 256 << 10);
    }
    return p;
}

// The target of the link NAME in DIR, never followed; "" with ERROR when unreadable.
std::string link_at(int dir, const char* name, std::string& error) {
    char buf[PATH_MAX];
    ssize_t n = readlinkat(dir, name, buf, sizeof buf);
    if (n < 0) {
        error = strerror(errno);
        return "";
    }
    return std::string(buf, size_t(n));
}

std::string trimmed(const std::string& s) {
    size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
    return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// status: "Key:\tvalue" lines, the ones worth keeping.
constexpr const char* kStatusKeys[] = {"Name",
                                       "State",
                                       "Tgid",
                                       "PPid",
                                       "NSpid",
                                       "Uid",
                                       "Gid",
                                       "Threads",
                                       "VmPeak",
                                       "VmSize",
                                       "VmHWM",
                                       "VmRSS",
                                       "VmStk",
                                       "SigPnd",
                                       "ShdPnd",
                                       "SigBlk",
                                       "SigIgn",
                                       "SigCgt",
                                       "CoreDumping",
                                       "voluntary_ctxt_switches",
                                       "nonvoluntary_ctxt_switches"};

nlohmann::json parse_status(const std::string& text) {
    nlohmann::json out = nlohmann::json::object();
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        size_t colon = line.find(':');
        if (colon == std::string::npos)
            continue;
        std::string key = line.substr(0, colon);
        if (std::find(std::begin(kStatusKeys), std::end(kStatusKeys), key) == std::end(kStatusKeys))
            continue;
        std::string value = trimmed(line.substr(colon + 1));
        std::replace(value.begin(), value.end(), '\t', ' ');
        out[key] = value;
    }
    return out;
}

// /proc/PID/limits names each limit in words (fs/proc/base.c); the JSON uses the resource's
// name in getrlimit(2).
struct LimitName {
    const char* proc;
    const char* resource;
};
constexpr LimitName kLimitNames[] = {
    {"Max cpu time", "RLIMIT_CPU"},
    {"Max file size", "RLIMIT_FSIZE"},
    {"Max data size", "RLIMIT_DATA"},
    {"Max stack size", "RLIMIT_STACK"},
    {"Max core file size", "RLIMIT_CORE"},
    {"Max resident set", "RLIMIT_RSS"},
    {"Max processes", "RLIMIT_NPROC"},
    {"Max open files", "RLIMIT_NOFILE"},
    {"Max locked memory", "RLIMIT_MEMLOCK"},
    {"Max address space", "RLIMIT_AS"},
    {"Max file locks", "RLIMIT_LOCKS"},
    {"Max pending signals", "RLIMIT_SIGPENDING"},
    {"Max msgqueue size", "RLIMIT_MSGQUEUE"},
    {"Max nice priority", "RLIMIT_NICE"},
    {"Max realtime priority", "RLIMIT_RTPRIO"},
    {"Max realtime timeout", "RLIMIT_RTTIME"},
};

// "unlimited" stays a string, a number becomes one.
nlohmann::json limit_value(const std::string& word) {
    if (!word.empty() && word.find_first_not_of("0123456789") == std::string::npos) {
        errno = 0;
        unsigned long long v = strtoull(word.c_str(), nullptr, 10);
        if (errno == 0)
            return uint64_t(v);
    }
    return word;
}

nlohmann::json parse_limits(const std::string& text) {
    nlohmann::json out = nlohmann::json::object();
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        for (const LimitName& l : kLimitNames) {
            size_t len = strlen(l.proc);
            // "Max processes" is not a prefix of another name, but "Max realtime" is
            // shared: the name must end at a blank.
            if (line.compare(0, len, l.proc) != 0 || (line.size() > len && line[len] != ' '))
                continue;
            std::istringstream words(line.substr(len));
            std::string soft, hard, units;
            words >> soft >> hard >> units;
            nlohmann::json v = {{"soft", limit_value(soft)}, {"hard", limit_value(hard)}};
            if (!units.empty())
                v["units"] = units;
            out[l.resource] = v;
            break;
        }
    }
    return out;
}

// One line of maps: "start-end perms offset major:minor inode   path".
bool parse_mapping(const std::string& line, nlohmann::json& out) {
    unsigned long long start, end, offset, inode;
    char perms[8], dev[32];
    int path_at = -1;
    if (sscanf(line.c_str(), "%llx-%llx %7s %llx %31s %llu %n", &start, &end, perms, &offset, dev,
               &inode, &path_at) < 6)
        return false;
    out = {{"start", tk::hex(start)},   {"end", tk::hex(end)}, {"perms", perms},
           {"offset", tk::hex(offset)}, {"dev", dev},          {"inode", uint64_t(inode)}};
    std::string path =
        path_at >= 0 && size_t(path_at) <= line.size() ? line.substr(size_t(path_at)) : "";
    if (!path.empty())
        out["path"] = path;
    return true;
}

const char* access_mode(unsigned long flags) {
    switch (flags & O_ACCMODE) {
        case O_RDONLY:
            return "read";
        case O_WRONLY:
            return "write";
        default:
            return "read-write";
    }
}

nlohmann::json open_file_json(const ProcessSnapshot::OpenFile& file) {
    nlohmann::json f = {{"fd", file.fd}};
    if (file.link_error.empty())
        f["target"] = file.target;
    else
        f["error"] = file.link_error;
    std::istringstream in(file.fdinfo);
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("pos:", 0) == 0) {
            f["pos"] = uint64_t(strtoull(trimmed(line.substr(4)).c_str(), nullptr, 10));
        } else if (line.rfind("flags:", 0) == 0) {
            std::string octal = trimmed(line.substr(6));
            f["flags"] = octal;
            f["access"] = access_mode(strtoul(octal.c_str(), nullptr, 8));
        }
    }
    return f;
}

// The open fds' numbers, from the directory DIR (fd/), in order.
std::vector<int> fd_numbers(int dir, std::string& error) {
    std::vector<int> fds;
    // fdopendir owns the fd it is given: a duplicate, so DIR stays open for readlinkat.
    DIR* d = fdopendir(dup(dir));
    if (!d) {
        error = strerror(errno);
        return fds;
    }
    while (dirent* e = readdir(d))
        if (e->d_name[0] >= '0' && e->d_name[0] <= '9')
            fds.push_back(atoi(e->d_name));
    closedir(d);
    std::sort(fds.begin(), fds.end());
    return fds;
}

}  // namespace

ProcessSnapshot read_process_state(int pid, const ProcessStateOptions& options) {
    auto started = std::chrono::steady_clock::now();
    std::string where = "/proc/" + std::to_string(pid);
    tk::Fd proc(open(where.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!proc)
        throw tk::UserError(tk::errno_text("cannot open " + where));
    // Everything below is read through this fd: once the process is gone its files give
    // ESRCH, they never turn into another process's that got the pid.
    ProcessSnapshot s;
    s.pid = pid;
    s.status = read_piece(proc.get(), "status", 16384);
    if (!s.status.error.empty() ||
        parse_status(s.status.text).value("CoreDumping", std::string()) != "1")
        throw tk::UserError(where + " is not a process dumping core (" +
                            (s.status.error.empty() ? "CoreDumping is not 1" : s.status.error) +
                            "): it ended, or the pid is another process's now");
    for (const char* link : {"exe", "cwd", "root"}) {
        ProcFile& l = s.links[link];
        l.text = link_at(proc.get(), link, l.error);
    }
    s.environment_read = options.environment;
    if (options.environment)
        s.env = read_piece(proc.get(), "environ", options.max_environment_bytes);
    s.maps = read_piece(proc.get(), "maps", options.max_maps_bytes);
    s.limits = read_piece(proc.get(), "limits", 16384);
    s.cgroup = read_piece(proc.get(), "cgroup", options.max_cgroup_bytes);

    tk::Fd fd_dir(openat(proc.get(), "fd", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    tk::Fd info_dir(openat(proc.get(), "fdinfo", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd_dir) {
        s.files_error = strerror(errno);
    } else {
        std::vector<int> fds = fd_numbers(fd_dir.get(), s.files_error);
        s.file_count = fds.size();
        s.files_cut = fds.size() > options.max_open_files;
        fds.resize(std::min(fds.size(), options.max_open_files));
        for (int fd : fds) {
            std::string name = std::to_string(fd);
            ProcessSnapshot::OpenFile f;
            f.fd = fd;
            f.target = link_at(fd_dir.get(), name.c_str(), f.link_error);
            if (info_dir)
                f.fdinfo = read_piece(info_dir.get(), name.c_str(), 4096).text;
            s.files.push_back(std::move(f));
        }
    }
    s.read_us = uint64_t(std::chrono::duration_cast<std::chrono::microseconds>(
                             std::chrono::steady_clock::now() - started)
                             .count());
    return s;
}

nlohmann::json process_state_json(const ProcessSnapshot& s) {
    nlohmann::json state = {{"pid", s.pid},
                            {"truncated", nlohmann::json::array()},
                            {"errors", nlohmann::json::object()},
                            {"capture_us", s.read_us}};
    // a piece read whole or cut is kept (true), one that could not be read is an error
    auto note = [&](const char* key, const ProcFile& p) {
        if (!p.error.empty())
            state["errors"][key] = p.error;
        if (p.cut)
            state["truncated"].push_back(key);
        return p.error.empty();
    };
    state["status"] = parse_status(s.status.text);
    for (const auto& [name, link] : s.links)
        if (note(name.c_str(), link))
            state[name] = link.text;

    if (!s.environment_read) {
        state["left_out"] = nlohmann::json::array({"environment"});
    } else if (note("environment", s.env)) {
        nlohmann::json vars = nlohmann::json::array();
        const std::string& env = s.env.text;
        size_t start = 0;
        for (size_t nul; (nul = env.find('\0', start)) != std::string::npos; start = nul + 1)
            vars.push_back(env.substr(start, nul - start));
        if (start < env.size() && !s.env.cut)  // a last one without its NUL
            vars.push_back(env.substr(start));
        state["environment"] = vars;  // when cut, the partial last one is left out
    }

    if (note("maps", s.maps)) {
        nlohmann::json mappings = nlohmann::json::array();
        std::istringstream in(s.maps.text);
        for (std::string line; std::getline(in, line);) {
            if (in.eof() && s.maps.cut)
                break;  // the line the cap cut in two
            nlohmann::json m;
            if (parse_mapping(line, m))
                mappings.push_back(m);
        }
        state["maps"] = mappings;
    }
    if (note("limits", s.limits))
        state["limits"] = parse_limits(s.limits.text);
    if (note("cgroup", s.cgroup)) {
        nlohmann::json lines = nlohmann::json::array();
        std::istringstream in(s.cgroup.text);
        for (std::string line; std::getline(in, line);)
            if (!line.empty())
                lines.push_back(line);
        state["cgroup"] = lines;
    }

    if (!s.files_error.empty())
        state["errors"]["open_files"] = s.files_error;
    if (s.files_cut)
        state["truncated"].push_back("open_files");
    state["open_file_count"] = s.file_count;
    state["open_files"] = nlohmann::json::array();
    for (const ProcessSnapshot::OpenFile& f : s.files)
        state["open_files"].push_back(open_file_json(f));
    return state;
}

namespace {

std::string limit_text(const nlohmann::json& v) {
    return v.is_number() ? std::to_string(v.get<uint64_t>()) : v.get<std::string>();
}

std::string bytes_text(uint64_t b) {
    if (b >= (1ull << 20) && b % (1ull << 20) == 0)
        return std::to_string(b >> 20) + " MiB";
    if (b >= 1024 && b % 1024 == 0)
        return std::to_string(b >> 10) + " KiB";
    return std::to_string(b) + " bytes";
}

// The size of the [stack] mapping: the main thread's stack as far as it has grown.
uint64_t stack_size(const nlohmann::json& maps) {
    if (!maps.is_array())
        return 0;
    for (const nlohmann::json& m : maps)
        if (m.value("path", std::string()) == "[stack]")
            return strtoull(m["end"].get<std::string>().c_str(), nullptr, 16) -
                   strtoull(m["start"].get<std::string>().c_str(), nullptr, 16);
    return 0;
}

}  // namespace

std::string process_state_text(const nlohmann::json& s) {
    std::ostringstream out;
    const nlohmann::json status = s.value("status", nlohmann::json::object());
    out << "process     " << status.value("Threads", std::string("?")) << " threads, VmRSS "
        << status.value("VmRSS", std::string("?")) << " (peak VmHWM "
        << status.value("VmHWM", std::string("?")) << "), VmPeak "
        << status.value("VmPeak", std::string("?")) << "\n";
    out << "cwd         " << s.value("cwd", std::string("?"));
    if (s.value("root", std::string("/")) != "/")
        out << " (root " << s.value("root", std::string()) << ")";
    out << "\n";
    const nlohmann::json limits = s.value("limits", nlohmann::json::object());
    if (limits.contains("RLIMIT_NOFILE")) {
        const nlohmann::json& l = limits["RLIMIT_NOFILE"];
        out << "open files  " << s.value("open_file_count", size_t(0)) << " of RLIMIT_NOFILE "
            << limit_text(l["soft"]) << " (hard " << limit_text(l["hard"]) << ")\n";
    }
    if (limits.contains("RLIMIT_STACK")) {
        const nlohmann::json& l = limits["RLIMIT_STACK"];
        out << "stack       " << bytes_text(stack_size(s.value("maps", nlohmann::json())))
            << " mapped of RLIMIT_STACK "
            << (l["soft"].is_number() ? bytes_text(l["soft"].get<uint64_t>())
                                      : limit_text(l["soft"]))
            << "\n";
    }
    if (limits.contains("RLIMIT_CORE") && limits["RLIMIT_CORE"]["soft"].is_number())
        out << "core limit  RLIMIT_CORE " << limit_text(limits["RLIMIT_CORE"]["soft"])
            << " (a piped core is taken whatever it is)\n";
    for (const char* key : {"SigBlk", "SigIgn", "SigCgt"}) {
        std::string mask = status.value(key, std::string());
        if (!mask.empty() && mask.find_first_not_of('0') != std::string::npos)
            out << (std::string(key) + "      ").substr(0, 12) << mask << "\n";
    }
    if (s.contains("open_files")) {
        for (const nlohmann::json& f : s["open_files"]) {
            out << "  fd " << f.value("fd", -1) << "  " << f.value("access", std::string("?"))
                << "  " << f.value("target", f.value("error", std::string("?")));
            if (f.contains("pos") && f["pos"].get<uint64_t>() > 0)
                out << " (at " << f["pos"].get<uint64_t>() << ")";
            out << "\n";
        }
    }
    std::string cut, left;
    for (const auto& t : s.value("truncated", nlohmann::json::array()))
        cut += (cut.empty() ? "" : ", ") + t.get<std::string>();
    for (const auto& t : s.value("left_out", nlohmann::json::array()))
        left += (left.empty() ? "" : ", ") + t.get<std::string>();
    if (!cut.empty())
        out << "cut at their caps: " << cut << "\n";
    if (!left.empty())
        out << "left out by the configuration: " << left << "\n";
    if (s.contains("errors") && s["errors"].is_object())
        for (const auto& [piece, why] : s["errors"].items())
            out << "not read: " << piece << " (" << why.get<std::string>() << ")\n";
    return out.str();
}

}  // namespace crashlab
