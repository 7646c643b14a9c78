#include "collector.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>
#include <iostream>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis.h"
#include "errors.h"
#include "fd.h"
#include "json_text.h"
#include "process_state.h"
#include "report.h"
#include "runner.h"
#include "signals.h"
#include "store.h"

namespace crashlab {

namespace {

constexpr const char* kCorePatternFile = "/proc/sys/kernel/core_pattern";
constexpr size_t kCorePatternMax = 127;  // CORENAME_MAX_SIZE less the terminating NUL
constexpr const char* kPreviousPattern = "previous-core-pattern";
// The kernel holds a crashing process until a pipe collector has read its core, and so keeps
// /proc/PID readable for process.json, only while core_pipe_limit is above 0 (core(5)): at
// 0 a core smaller than the pipe's buffer is written whole and the process ends before the
// collector reads anything. install raises 0 to what systemd-coredump's sysctl.d sets;
// uninstall puts the previous value back.
constexpr const char* kCorePipeLimitFile = "/proc/sys/kernel/core_pipe_limit";
constexpr const char* kPreviousPipeLimit = "previous-core-pipe-limit";
constexpr int kCollectorPipeLimit = 16;

// The collector has no terminal: what goes wrong goes to the kernel log.
void log_line(const std::string& line) {
    tk::Fd fd(open("/dev/kmsg", O_WRONLY | O_CLOEXEC));
    std::string msg = "<3>crashlab collect: " + line + "\n";
    if (fd && write(fd.get(), msg.data(), msg.size()) < 0) {
        // nowhere else to say it
    }
}

std::string utc_id(int64_t t, int pid) {
    time_t tt = time_t(t);
    struct tm tm;
    gmtime_r(&tt, &tm);
    char buf[64];
    strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
    return std::string(buf) + "-" + std::to_string(pid);
}

std::string iso_time(int64_t t) {
    time_t tt = time_t(t);
    struct tm tm;
    gmtime_r(&tt, &tm);
    char buf[64];
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

// A directory of the store: created root's with MODE if missing, and refused if it is a
// symbolic link, not root's, or writable by anyone else.
tk::Fd open_root_dir(int at, const std::string& name, const std::string& shown, mode_t mode) {
    if (mkdirat(at, name.c_str(), mode) != 0 && errno != EEXIST)
        throw tk::UserError(tk::errno_text("cannot create " + shown));
    tk::Fd fd(openat(at, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd)
        throw tk::UserError(tk::errno_text("cannot open " + shown) +
                            ": it must be a directory, not a symbolic link");
    struct stat st;
    if (fstat(fd.get(), &st) != 0 || st.st_uid != 0 || (st.st_mode & 022))
        throw tk::UserError(shown +
                            " could be written by someone besides root: chown root "
                            "and chmod go-w it, or choose another store");
    return fd;
}

// The store, every component of its path opened without following a link, from "/".
tk::Fd open_store(const std::string& store) {
    tk::Fd dir(open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    std::string shown;
    size_t start = 1;
    while (start <= store.size()) {
        size_t slash = store.find('/', start);
        std::string part =
            store.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
        start = slash == std::string::npos ? store.size() + 1 : slash + 1;
        if (part.empty())
            continue;
        shown += "/" + part;
        bool last = start > store.size();
        if (last) {
            dir = open_root_dir(dir.get(), part, shown, 0755);
        } else {
            tk::Fd next(
                openat(dir.get(), part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!next)
                throw tk::UserError(tk::errno_text("cannot open " + shown) +
                                    ": the store's parents must exist and be no symbolic link");
            // A parent anyone may write to must be sticky (/tmp): then nobody else can
            // replace the store's directory in it.
            struct stat st;
            if (fstat(next.get(), &st) != 0 || st.st_uid != 0 ||
                ((st.st_mode & 002) && !(st.st_mode & S_ISVTX)))
                throw tk::UserError(shown +
                                    " is not root's or may be written by anyone: "
                                    "choose another store");
            dir = std::move(next);
        }
    }
    return dir;
}

// NAME in DIR, written whole (a temporary file renamed into place), never through a link,
// 0600 and owned by UID/GID.
void write_at(int dir, const std::string& name, const std::string& content, int uid, int gid) {
    std::string tmp = "." + name + ".tmp";
    unlinkat(dir, tmp.c_str(), 0);
    tk::Fd fd(openat(dir, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd)
        throw tk::UserError(tk::errno_text("cannot create " + name));
    size_t done = 0;
    while (done < content.size()) {
        ssize_t n = write(fd.get(), content.data() + done, content.size() - done);
        if (n <= 0)
            throw tk::UserError(tk::errno_text("cannot write " + name));
        done += size_t(n);
    }
    if (fchown(fd.get(), uid_t(uid), gid_t(gid)) != 0)
        throw tk::UserError(tk::errno_text("cannot hand " + name + " to its owner"));
    if (renameat(dir, tmp.c_str(), dir, name.c_str()) != 0)
        throw tk::UserError(tk::errno_text("cannot rename " + name + " into place"));
}

// Copies standard input to FD, at most LIMIT bytes; returns the bytes the kernel wrote
// and whether the core was cut (reading stops there: the process ends sooner).
uint64_t copy_core(int fd, uint64_t limit, bool& truncated) {
    std::vector<char> buf(1 << 20);
    uint64_t total = 0;
    truncated = false;
    for (;;) {
        ssize_t n = read(0, buf.data(), buf.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        size_t keep = size_t(std::min<uint64_t>(uint64_t(n), limit - total));
        for (size_t done = 0; done < keep;) {
            ssize_t w = write(fd, buf.data() + done, keep - done);
            if (w <= 0)
                throw tk::UserError(tk::errno_text("cannot write the core"));
            done += size_t(w);
        }
        total += keep;
        if (keep < size_t(n)) {
            truncated = true;
            break;
        }
    }
    return total;
}

// IN (the raw core) compressed with zstd into OUT; the compressed size.
uint64_t compress_core(int in, int out) {
    ZSTD_CCtx* cctx = ZSTD_createCCtx();
    if (!cctx)
        throw tk::UserError("zstd: out of memory");
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 3);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
    std::vector<char> ibuf(ZSTD_CStreamInSize()), obuf(ZSTD_CStreamOutSize());
    uint64_t written = 0;
    auto flush = [&](ZSTD_outBuffer& o) {
        for (size_t done = 0; done < o.pos;) {
            ssize_t w = write(out, obuf.data() + done, o.pos - done);
            if (w <= 0) {
                ZSTD_freeCCtx(cctx);
                throw tk::UserError(tk::errno_text("cannot write core.zst"));
            }
            done += size_t(w);
        }
        written += o.pos;
    };
    for (;;) {
        ssize_t n = read(in, ibuf.data(), ibuf.size());
        if (n < 0 && errno == EINTR)
            continue;
        bool last = n <= 0;
        ZSTD_inBuffer i = {ibuf.data(), last ? 0 : size_t(n), 0};
        ZSTD_EndDirective mode = last ? ZSTD_e_end : ZSTD_e_continue;
        for (;;) {
            ZSTD_outBuffer o = {obuf.data(), obuf.size(), 0};
            size_t left = ZSTD_compressStream2(cctx, &o, &i, mode);
            if (ZSTD_isError(left)) {
                ZSTD_freeCCtx(cctx);
                throw tk::UserError(std::string("zstd: ") + ZSTD_getErrorName(left));
            }
            flush(o);
            if (last ? left == 0 : i.pos == i.size)
                break;
        }
        if (last)
            break;
    }
    ZSTD_freeCCtx(cctx);
    return written;
}

// The store's index, locked for one collector at a time while it counts and records.
class LockedIndex {
  public:
    LockedIndex(int store, const std::string& store_path)
        : fd_(open_root_dir(store, kIndexDir, store_path + "/" + kIndexDir, 0700)),
          store_(store_path) {
        while (flock(fd_.get(), LOCK_EX) != 0)
            if (errno != EINTR)
                throw tk::UserError(tk::errno_text("cannot lock " + store_path + "/" + kIndexDir));
    }
    ~LockedIndex() { flock(fd_.get(), LOCK_UN); }
    LockedIndex(const LockedIndex&) = delete;
    LockedIndex& operator=(const LockedIndex&) = delete;

    std::vector<StoredCrash> records() const { return read_index(fd_.get(), store_); }
    nlohmann::json record(const std::string& id) const {
        return read_json_at(fd_.get(), id + ".json");
    }
    void write(const std::string& id, const nlohmann::json& record) const {
        write_at(fd_.get(), id + ".json", tk::json_text(record, 2) + "\n", 0, 0);
    }

  private:
    tk::Fd fd_;
    std::string store_;
};

// The crash's own metadata.json (its user's copy, for that user's `crashlab ls`) with
// CHANGES over it, keeping its owner; nothing when the user removed it.
void update_users_copy(int crashes, const std::string& id, const nlohmann::json& changes) {
    tk::Fd dir(openat(crashes, id.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    struct stat st;
    if (!dir || fstat(dir.get(), &st) != 0)
        return;
    nlohmann::json m = read_json_at(dir.get(), "metadata.json");
    if (!m.is_object())
        return;
    m.merge_patch(changes);
    try {
        write_at(dir.get(), "metadata.json", tk::json_text(m, 2) + "\n", int(st.st_uid),
                 int(st.st_gid));
    } catch (const tk::UserError& e) {
        log_line(id + ": " + e.what());
    }
}

// Drops the core of a stored crash (the index and its metadata say why).
void drop_core(int crashes, const LockedIndex& index, const StoredCrash& c,
               const std::string& why) {
    tk::Fd dir(openat(crashes, c.id.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (dir)
        unlinkat(dir.get(), "core.zst", 0);
    nlohmann::json changes = {{"core", ""}, {"core_dropped", why}};
    nlohmann::json record = c.metadata;
    record.merge_patch(changes);
    index.write(c.id, record);
    update_users_copy(crashes, c.id, changes);
}

// The store's caps: oldest cores go first while the total is over max_total_size or the
// file system has less than keep_free. The sizes are the index's.
void enforce_caps(int crashes, const LockedIndex& index, const StoreConfig& config) {
    std::vector<StoredCrash> all = index.records();
    uint64_t total = 0;
    for (const StoredCrash& c : all)
        if (!c.metadata.value("core", std::string()).empty())
            total += c.metadata.value("core_stored_size", uint64_t(0));
    auto free_bytes = [&] {
        struct statvfs vfs;
        return fstatvfs(crashes, &vfs) == 0 ? uint64_t(vfs.f_bavail) * vfs.f_frsize : UINT64_MAX;
    };
    for (const StoredCrash& c : all) {
        if (total <= config.max_total_size && free_bytes() >= config.keep_free)
            break;
        if (c.metadata.value("core", std::string()).empty())
            continue;
        total -= c.metadata.value("core_stored_size", uint64_t(0));
        drop_core(crashes, index, c,
                  total > config.max_total_size ? "max_total_size: the store's cores are over it"
                                                : "keep_free: the disk was fuller than it allows");
    }
}

// A crash loop: the program's crashes of the last minute, as the index records them. When
// there are as many as allowed, the newest of them counts one more repeat instead of a new
// crash being stored.
bool count_as_repeat(int crashes, const LockedIndex& index, const StoreConfig& config,
                     const KernelFacts& k) {
    std::string since = iso_time(k.time - 60);
    std::vector<StoredCrash> all = index.records();
    const StoredCrash* newest = nullptr;
    unsigned recent = 0;
    for (const StoredCrash& c : all)
        if (c.metadata.value("executable", std::string()) == k.executable &&
            c.metadata.value("time", std::string()) >= since) {
            recent++;
            newest = &c;
        }
    if (!newest || recent < config.max_crashes_per_minute)
        return false;
    nlohmann::json changes = {{"repeats", newest->metadata.value("repeats", uint64_t(0)) + 1},
                              {"last_repeat", iso_time(k.time)}};
    nlohmann::json record = newest->metadata;
    record.merge_patch(changes);
    index.write(newest->id, record);
    update_users_copy(crashes, newest->id, changes);
    return true;
}

// The process's state, read from /proc/PID while the kernel holds the process (before its
// core is read); nullopt, with WHY, when the configuration turns it off or it cannot be read.
// It never stops the core from being stored.
std::optional<ProcessSnapshot> read_process(const KernelFacts& k, const StoreConfig& config,
                                            std::string& why) {
    if (!config.process_state) {
        why = "process_state = no in the configuration";
        return std::nullopt;
    }
    try {
        ProcessStateOptions options;
        options.environment = config.process_environment;
        return read_process_state(k.pid, options);
    } catch (const std::exception& e) {
        log_line("pid " + std::to_string(k.pid) + ": no process state: " + e.what());
        why = e.what();
        return std::nullopt;
    }
}

// process.json in the crash's directory DIR, for OWNER/GROUP; what metadata.json says of it
// (the core's way): "process_state" the file's name, or "" and "process_state_missing" why.
nlohmann::json keep_process_state(int dir, const std::optional<ProcessSnapshot>& snapshot,
                                  const std::string& why, int owner, int group) {
    if (!snapshot)
        return {{"process_state", ""}, {"process_state_missing", why}};
    try {
        write_at(dir, kProcessStateFile, tk::json_text(process_state_json(*snapshot), 2) + "\n",
                 owner, group);
        return {{"process_state", kProcessStateFile}};
    } catch (const std::exception& e) {
        log_line("pid " + std::to_string(snapshot->pid) + ": " + e.what());
        return {{"process_state", ""}, {"process_state_missing", e.what()}};
    }
}

void store_crash(const StoreConfig& config, const KernelFacts& k) {
    tk::Fd store = open_store(config.store);
    tk::Fd crashes = open_root_dir(store.get(), "crashes", config.store + "/crashes", 0755);

    // The crash's directory (root's until it is complete) and its record in the index,
    // made under the index's lock: a crash loop's collectors count each other.
    std::string id = utc_id(k.time, k.pid);
    nlohmann::json record = {
        {"id", id},         {"pid", k.pid},           {"time", iso_time(k.time)},   {"uid", k.uid},
        {"gid", k.gid},     {"dumpable", k.dumpable}, {"executable", k.executable}, {"core", ""},
        {"complete", false}};
    {
        LockedIndex index(store.get(), config.store);
        if (config.max_crashes_per_minute && count_as_repeat(crashes.get(), index, config, k))
            return;  // not read: the process ends at once
        for (int n = 1; mkdirat(crashes.get(), id.c_str(), 0700) != 0; n++) {
            if (errno != EEXIST || n > 100)
                throw tk::UserError(tk::errno_text("cannot create crash directory " + id));
            id = utc_id(k.time, k.pid) + "." + std::to_string(n);
        }
        record["id"] = id;
        index.write(id, record);
    }
    std::string dir_path = config.store + "/crashes/" + id;
    tk::Fd dir(openat(crashes.get(), id.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir)
        throw tk::UserError(tk::errno_text("cannot open " + dir_path));

    // Readable by the process's owner only when the kernel says its owner may read its core.
    int owner = k.dumpable == 1 ? k.uid : 0, group = k.dumpable == 1 ? k.gid : 0;

    // 0. The process's state from /proc/PID, while the kernel holds the process: it ends
    // once its core is read from the pipe, and /proc/PID with it. Only the reading is done
    // now; process.json is made once the process has ended.
    std::string no_state;
    std::optional<ProcessSnapshot> snapshot = read_process(k, config, no_state);

    // 1. The core, as fast as the kernel gives it: the process ends when it is read.
    bool truncated = false;
    uint64_t core_size = 0;
    {
        tk::Fd raw(
            openat(dir.get(), "core", O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!raw)
            throw tk::UserError(tk::errno_text("cannot create " + dir_path + "/core"));
        core_size = copy_core(raw.get(), config.max_core_size, truncated);
    }
    close(0);

    // 2. The analysis, from the raw core.
    nlohmann::json meta = {
        {"id", id},
        {"pid", k.pid},
        {"ns_pid", k.ns_pid},
        {"tid", k.tid},
        {"signal", k.signo},
        {"signal_name", signal_name(k.signo)},
        {"time", iso_time(k.time)},
        {"uid", k.uid},
        {"gid", k.gid},
        {"dumpable", k.dumpable},
        {"executable", k.executable},
        {"core_size", core_size},
        {"core_truncated", truncated},
    };
    meta.merge_patch(keep_process_state(dir.get(), snapshot, no_state, owner, group));
    snapshot.reset();
    try {
        AnalyzeOptions options;
        options.executable = k.executable;
        if (access(k.executable.c_str(), F_OK) != 0)
            options.executable.clear();  // deleted or in another mount namespace: the core's
        Analysis a = analyze(dir_path + "/core", options);
        write_at(dir.get(), "analysis.json", render_json_text(a), owner, group);
        write_at(dir.get(), "report.txt", render_text(a), owner, group);
        meta["class"] = name_of(a.kind);
        meta["summary"] = a.summary;
        meta["signature"] = a.signature;
        meta["bucket"] = a.bucket;
        meta["exact_signature"] = a.exact_signature;
        meta["command_line"] = a.command_line;
    } catch (const std::exception& e) {
        meta["class"] = "unknown";
        meta["summary"] = std::string("no analysis: ") + e.what();
        meta["bucket"] = "";
    }

    // 3. The core compressed, unless its bucket already keeps enough of them (the index
    // counts them).
    LockedIndex index(store.get(), config.store);
    unsigned kept = 0;
    for (const StoredCrash& c : index.records())
        if (c.metadata.value("bucket", std::string()) == meta["bucket"] &&
            !c.metadata.value("core", std::string()).empty())
            kept++;
    if (kept >= config.max_cores_per_bucket) {
        meta["core"] = "";
        meta["core_dropped"] =
            "max_cores_per_bucket: the bucket keeps " + std::to_string(kept) + " cores already";
    } else {
        tk::Fd raw(openat(dir.get(), "core", O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
        tk::Fd zst(openat(dir.get(), "core.zst",
                          O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!raw || !zst)
            throw tk::UserError(tk::errno_text("cannot compress the core"));
        meta["core_stored_size"] = compress_core(raw.get(), zst.get());
        meta["core"] = "core.zst";
        if (fchown(zst.get(), uid_t(owner), gid_t(group)) != 0)
            throw tk::UserError(tk::errno_text("cannot hand core.zst to its owner"));
    }
    unlinkat(dir.get(), "core", 0);

    // 4. The record complete, then the metadata: a crash without it is one being written.
    for (const char* key :
         {"class", "signature", "bucket", "core", "core_stored_size", "core_dropped"})
        if (meta.contains(key))
            record[key] = meta[key];
    record["complete"] = true;
    index.write(id, record);
    write_at(dir.get(), "metadata.json", tk::json_text(meta, 2) + "\n", owner, group);
    if (fchown(dir.get(), uid_t(owner), gid_t(group)) != 0)
        throw tk::UserError(tk::errno_text("cannot hand " + dir_path + " to its owner"));
    enforce_caps(crashes.get(), index, config);
}

int to_int(const std::string& s, const char* what) {
    try {
        size_t used = 0;
        long long v = std::stoll(s, &used);
        if (used == s.size() && v >= INT_MIN && v <= INT_MAX)
            return int(v);
    } catch (const std::exception&) {
    }
    throw tk::UserError(std::string("collect: ") + what + " '" + s + "' is not a number");
}

std::string self_path() {
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0)
        throw tk::UserError(tk::errno_text("cannot find crashlab's own path"));
    return std::string(buf, size_t(n));
}

void write_sysctl(const char* file, const std::string& value) {
    tk::Fd fd(open(file, O_WRONLY | O_CLOEXEC));
    std::string line = value + "\n";
    if (!fd || write(fd.get(), line.data(), line.size()) != ssize_t(line.size()))
        throw tk::UserError(tk::errno_text("cannot write " + std::string(file)));
}

void write_core_pattern(const std::string& pattern) {
    write_sysctl(kCorePatternFile, pattern);
}

// The first line of a small file (in directory AT when AT is not AT_FDCWD), "" when it
// cannot be read.
std::string first_line_at(int at, const char* name) {
    tk::Fd fd(openat(at, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd)
        return "";
    char buf[256];
    ssize_t n = read(fd.get(), buf, sizeof buf - 1);
    std::string line(buf, size_t(std::max<ssize_t>(n, 0)));
    return line.substr(0, line.find('\n'));
}

// Whether PATTERN is crashlab's collector, and its configuration.
bool is_collector(const std::string& pattern, std::string* config) {
    size_t at = pattern.find(" collect ");
    if (pattern.empty() || pattern[0] != '|' || at == std::string::npos)
        return false;
    if (config) {
        *config = kDefaultConfig;
        std::string rest = pattern.substr(at + 9);
        if (rest.rfind("-c ", 0) == 0)
            *config = rest.substr(3, rest.find(' ', 3) - 3);
    }
    return true;
}

void need_root(const char* what) {
    if (geteuid() != 0)
        throw tk::UserError(std::string(what) +
                            " needs root (it writes kernel.core_pattern): "
                            "run it with sudo");
}

}  // namespace

std::string collector_pattern(const std::string& binary, const std::string& config) {
    if ((binary + config).find_first_of(" \t\n%") != std::string::npos)
        throw tk::UserError(
            "the paths of crashlab and its --config must hold no space, tab or "
            "'%' (core_pattern splits and expands them): install it elsewhere");
    std::string p = "|" + binary + " collect ";
    if (!config.empty() && config != kDefaultConfig)
        p += "-c " + config + " ";
    p += "%P %p %i %s %t %u %g %d %E";
    if (p.size() > kCorePatternMax)
        throw tk::UserError("the core_pattern for " + binary + " would be " +
                            std::to_string(p.size()) + " bytes, over the kernel's " +
                            std::to_string(kCorePatternMax) +
                            ": install crashlab (or its --config) at a shorter path");
    return p;
}

std::string installed_config() {
    std::string config;
    if (is_collector(read_core_pattern().raw, &config))
        return config;
    return kDefaultConfig;
}

KernelFacts parse_kernel_facts(const std::vector<std::string>& args) {
    if (args.size() < 9)
        throw tk::UserError(
            "collect: expects PID NS_PID TID SIGNAL TIME UID GID DUMPABLE EXE "
            "(the kernel's %P %p %i %s %t %u %g %d %E): it is run by "
            "core_pattern, see crashlab install");
    KernelFacts k;
    k.pid = to_int(args[0], "pid");
    k.ns_pid = to_int(args[1], "namespace pid");
    k.tid = to_int(args[2], "tid");
    k.signo = to_int(args[3], "signal");
    try {
        k.time = std::stoll(args[4]);
    } catch (const std::exception&) {
        throw tk::UserError("collect: time '" + args[4] + "' is not a number");
    }
    k.uid = to_int(args[5], "uid");
    k.gid = to_int(args[6], "gid");
    k.dumpable = to_int(args[7], "dumpable");
    // %E may hold spaces, which split it: the rest of the line is the path.
    for (size_t i = 8; i < args.size(); i++)
        k.executable += (i > 8 ? " " : "") + args[i];
    std::replace(k.executable.begin(), k.executable.end(), '!', '/');
    return k;
}

int collect(const std::string& config, const KernelFacts& facts) {
    try {
        store_crash(read_store_config(config, true), facts);
        return 0;
    } catch (const std::exception& e) {
        log_line("pid " + std::to_string(facts.pid) + " (" + facts.executable + "): " + e.what());
        return 1;
    }
}

int cmd_install(const std::string& config, bool replace) {
    need_root("crashlab install");
    CorePattern now = read_core_pattern();
    std::string installed;
    if (is_collector(now.raw, &installed)) {
        std::cout << "crashlab's collector is already installed: " << now.raw << "\n";
        return 0;
    }
    if (now.piped &&
        (now.handler == "systemd-coredump" || now.handler == "apport" ||
         now.raw.find("abrt") != std::string::npos) &&
        !replace)
        throw tk::UserError("core_pattern belongs to " + now.handler + " (" + now.raw +
                            "): pass --replace to take it over (uninstall gives it back)");
    std::string binary = self_path();
    struct stat st;
    if (stat(binary.c_str(), &st) != 0 || st.st_uid != 0 || (st.st_mode & 022))
        throw tk::UserError(binary +
                            " must be root's and writable by root only: the kernel "
                            "runs it as root for every crash");
    std::string pattern = collector_pattern(binary, config);
    StoreConfig c = read_store_config(config, true);
    tk::Fd store = open_store(c.store);
    tk::Fd crashes = open_root_dir(store.get(), "crashes", c.store + "/crashes", 0755);
    write_at(store.get(), kPreviousPattern, now.raw + "\n", 0, 0);
    const std::string pipe_limit = first_line_at(AT_FDCWD, kCorePipeLimitFile);
    if (pipe_limit == "0") {
        write_at(store.get(), kPreviousPipeLimit, pipe_limit + "\n", 0, 0);
        write_sysctl(kCorePipeLimitFile, std::to_string(kCollectorPipeLimit));
    }
    write_core_pattern(pattern);
    std::cout << "core_pattern was: " << now.raw << "\n"
              << "core_pattern now: " << pattern << "\n";
    if (pipe_limit == "0")
        std::cout << "core_pipe_limit was 0, now " << kCollectorPipeLimit
                  << " (the kernel keeps a crashing process until the collector has read it)\n";
    std::cout << "crashes go to " << c.store << "/crashes (crashlab ls; sudo crashlab uninstall "
              << "restores the previous pattern)\n";
    return 0;
}

int cmd_uninstall() {
    need_root("crashlab uninstall");
    CorePattern now = read_core_pattern();
    std::string config;
    if (!is_collector(now.raw, &config))
        throw tk::UserError("core_pattern is '" + now.raw +
                            "', not crashlab's collector: there is nothing to uninstall");
    StoreConfig c = read_store_config(config, true);
    tk::Fd store = open_store(c.store);
    std::string previous = first_line_at(store.get(), kPreviousPattern);
    if (previous.empty())
        previous = "core";
    write_core_pattern(previous);
    unlinkat(store.get(), kPreviousPattern, 0);
    std::cout << "core_pattern restored: " << previous << "\n";
    const std::string pipe_limit = first_line_at(store.get(), kPreviousPipeLimit);
    if (!pipe_limit.empty() && pipe_limit.find_first_not_of("0123456789") == std::string::npos) {
        write_sysctl(kCorePipeLimitFile, pipe_limit);
        std::cout << "core_pipe_limit restored: " << pipe_limit << "\n";
    }
    unlinkat(store.get(), kPreviousPipeLimit, 0);
    return 0;
}

}  // namespace crashlab
