#include "store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "errors.h"
#include "fd.h"
#include "json_text.h"
#include "process_state.h"

namespace crashlab {

namespace {

std::string trimmed(const std::string& s) {
    size_t b = s.find_first_not_of(" \t");
    size_t e = s.find_last_not_of(" \t\r");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

unsigned parse_count(const std::string& text, const std::string& what) {
    try {
        size_t used = 0;
        unsigned long v = std::stoul(text, &used);
        if (used == text.size() && v <= 1000000)
            return unsigned(v);
    } catch (const std::exception&) {
    }
    throw tk::UserError(what + ": '" + text + "' is not a count: give a whole number");
}

bool parse_switch(const std::string& text, const std::string& what) {
    if (text == "yes" || text == "true" || text == "1")
        return true;
    if (text == "no" || text == "false" || text == "0")
        return false;
    throw tk::UserError(what + ": '" + text + "' is not a switch: give yes or no");
}

// The file's contents, refusing one that someone besides root could have written.
std::string read_secure(const std::string& path, bool secure, bool& missing) {
    tk::Fd fd(open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    missing = !fd && errno == ENOENT;
    if (!fd) {
        if (missing)
            return {};
        throw tk::UserError(tk::errno_text("cannot read " + path) +
                            ": it must be a regular file, not a symbolic link");
    }
    struct stat st;
    if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
        throw tk::UserError(path + " is not a regular file: make it one, owned by root");
    if (secure && (st.st_uid != 0 || (st.st_mode & 022)))
        throw tk::UserError(path +
                            " could be written by someone besides root: "
                            "chown root and chmod go-w it");
    std::string text;
    char buf[4096];
    for (ssize_t n; (n = read(fd.get(), buf, sizeof buf)) > 0;)
        text.append(buf, size_t(n));
    return text;
}

std::string crash_time(const nlohmann::json& m) {
    return m.value("time", std::string());
}

}  // namespace

uint64_t parse_size(const std::string& text, const std::string& what) {
    try {
        size_t used = 0;
        unsigned long long v = std::stoull(text, &used);
        std::string unit = text.substr(used);
        uint64_t mult = unit.empty()  ? 1
                        : unit == "K" ? 1ull << 10
                        : unit == "M" ? 1ull << 20
                        : unit == "G" ? 1ull << 30
                        : unit == "T" ? 1ull << 40
                                      : 0;
        if (mult && text[0] != '-')
            return v * mult;
    } catch (const std::exception&) {
    }
    throw tk::UserError(what + ": '" + text +
                        "' is not a size: give bytes, or a number and K, M, G or T");
}

StoreConfig read_store_config(const std::string& path, bool secure) {
    StoreConfig c;
    bool missing = false;
    std::string text = read_secure(path, secure, missing);
    std::istringstream in(text);
    std::string line;
    for (int n = 1; std::getline(in, line); n++) {
        line = trimmed(line.substr(0, line.find('#')));
        if (line.empty())
            continue;
        size_t eq = line.find('=');
        std::string where = path + ":" + std::to_string(n);
        if (eq == std::string::npos)
            throw tk::UserError(where + ": '" + line + "' is not 'key = value'");
        std::string key = trimmed(line.substr(0, eq)), value = trimmed(line.substr(eq + 1));
        std::string what = where + ": " + key;
        if (key == "store") {
            if (value.empty() || value[0] != '/')
                throw tk::UserError(what + ": give an absolute path");
            c.store = value;
        } else if (key == "max_core_size") {
            c.max_core_size = parse_size(value, what);
        } else if (key == "max_total_size") {
            c.max_total_size = parse_size(value, what);
        } else if (key == "keep_free") {
            c.keep_free = parse_size(value, what);
        } else if (key == "max_cores_per_bucket") {
            c.max_cores_per_bucket = parse_count(value, what);
        } else if (key == "max_crashes_per_minute") {
            c.max_crashes_per_minute = parse_count(value, what);
        } else if (key == "process_state") {
            c.process_state = parse_switch(value, what);
        } else if (key == "process_environment") {
            c.process_environment = parse_switch(value, what);
        } else {
            throw tk::UserError(where + ": unknown key '" + key +
                                "' (store, max_core_size, max_total_size, keep_free, "
                                "max_cores_per_bucket, max_crashes_per_minute, process_state, "
                                "process_environment)");
        }
    }
    return c;
}

nlohmann::json read_json_at(int dir, const std::string& name) {
    tk::Fd fd(openat(dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd)
        return nullptr;
    std::string text;
    char buf[8192];
    for (ssize_t n; (n = read(fd.get(), buf, sizeof buf)) > 0;)
        text.append(buf, size_t(n));
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    return j.is_object() ? j : nlohmann::json(nullptr);
}

namespace {

std::vector<std::string> entries(int dir) {
    std::vector<std::string> names;
    int copy = dup(dir);
    DIR* d = copy >= 0 ? fdopendir(copy) : nullptr;
    if (!d) {
        if (copy >= 0)
            close(copy);
        return names;
    }
    rewinddir(d);
    while (dirent* e = readdir(d))
        if (e->d_name[0] != '.')
            names.emplace_back(e->d_name);
    closedir(d);
    std::sort(names.begin(), names.end());
    return names;
}

// What the index records of a crash: where root reads it, these fields of the crash's
// metadata are the index's (absent there: absent).
constexpr const char* kIndexed[] = {
    "executable",       "time",         "uid",       "gid",        "pid",
    "dumpable",         "bucket",       "signature", "class",      "core",
    "core_stored_size", "core_dropped", "repeats",   "last_repeat"};

void oldest_first(std::vector<StoredCrash>& crashes) {
    std::stable_sort(crashes.begin(), crashes.end(),
                     [](const StoredCrash& a, const StoredCrash& b) {
                         return crash_time(a.metadata) < crash_time(b.metadata);
                     });
}

}  // namespace

std::vector<StoredCrash> read_index(int index, const std::string& store) {
    std::vector<StoredCrash> out;
    for (const std::string& name : entries(index)) {
        if (name.size() < 6 || name.compare(name.size() - 5, 5, ".json") != 0)
            continue;
        nlohmann::json record = read_json_at(index, name);
        if (record.is_object()) {
            std::string id = name.substr(0, name.size() - 5);
            out.push_back({id, store + "/crashes/" + id, record});
        }
    }
    oldest_first(out);
    return out;
}

std::vector<StoredCrash> list_stored_crashes(const std::string& store) {
    std::vector<StoredCrash> out;
    std::string root = store + "/crashes";
    tk::Fd crashes(open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!crashes)
        return out;
    tk::Fd index(open((store + "/" + kIndexDir).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    for (const std::string& id : entries(crashes.get())) {
        // Another user's crash is not readable (0700): it is not listed. Its metadata comes
        // last, renamed into place: a crash without it is being written.
        tk::Fd dir(
            openat(crashes.get(), id.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        nlohmann::json meta = dir ? read_json_at(dir.get(), "metadata.json") : nullptr;
        nlohmann::json record = index ? read_json_at(index.get(), id + ".json") : nullptr;
        if (record.is_object() && meta.is_object())
            for (const char* key : kIndexed)  // root: what the index says counts
                if (record.contains(key))
                    meta[key] = record[key];
                else
                    meta.erase(key);
        else if (record.is_object() && record.value("complete", false))
            meta = record;  // root: the user removed the metadata
        if (meta.is_object())
            out.push_back({id, root + "/" + id, meta});
    }
    oldest_first(out);
    return out;
}

nlohmann::json bucket_table(const std::vector<StoredCrash>& crashes) {
    std::map<std::string, nlohmann::json> buckets;
    for (const StoredCrash& c : crashes) {
        const nlohmann::json& m = c.metadata;
        std::string id = m.value("bucket", std::string());
        nlohmann::json& b = buckets[id];
        if (b.is_null()) {
            b = {{"bucket", id},
                 {"signature", m.value("signature", std::string())},
                 {"class", m.value("class", std::string())},
                 {"count", 0},
                 {"cores", 0},
                 {"first_seen", crash_time(m)},
                 {"commands", nlohmann::json::array()},
                 {"crashes", nlohmann::json::array()}};
        }
        b["count"] = b["count"].get<uint64_t>() + 1 + m.value("repeats", uint64_t(0));
        if (m.value("core", std::string()) != "")
            b["cores"] = b["cores"].get<uint64_t>() + 1;
        b["last_seen"] = crash_time(m);
        b["last_crash"] = c.id;
        b["crashes"].push_back(c.id);
        std::string exe = m.value("executable", std::string());
        if (std::find(b["commands"].begin(), b["commands"].end(), exe) == b["commands"].end())
            b["commands"].push_back(exe);
    }
    std::vector<nlohmann::json> rows;
    for (auto& [id, b] : buckets)
        rows.push_back(std::move(b));
    std::stable_sort(
        rows.begin(), rows.end(), [](const nlohmann::json& a, const nlohmann::json& b) {
            return a["last_seen"].get<std::string>() > b["last_seen"].get<std::string>();
        });
    return rows;
}

namespace {

std::string column(std::string s, size_t width) {
    if (s.size() > width)
        s = s.substr(0, width - 1) + "~";
    return s + std::string(width + 2 - s.size(), ' ');
}

}  // namespace

int cmd_ls(const std::string& config, bool json) {
    StoreConfig c = read_store_config(config, false);
    nlohmann::json rows = bucket_table(list_stored_crashes(c.store));
    if (json) {
        std::cout << tk::json_text(nlohmann::json{{"store", c.store}, {"buckets", rows}}, 2)
                  << "\n";
        return 0;
    }
    if (rows.empty()) {
        std::cout << "no crashes of yours in " << c.store << "/crashes\n";
        return 0;
    }
    std::cout << column("BUCKET", 16) << column("CLASS", 18) << "COUNT  CORES  "
              << column("FIRST SEEN", 20) << column("LAST SEEN", 20) << "LAST CRASH / SIGNATURE\n";
    for (const nlohmann::json& b : rows) {
        std::string commands;
        for (const auto& cmd : b["commands"])
            commands += (commands.empty() ? "" : ", ") + cmd.get<std::string>();
        char counts[32];
        snprintf(counts, sizeof counts, "%5llu  %5llu  ",
                 (unsigned long long)b["count"].get<uint64_t>(),
                 (unsigned long long)b["cores"].get<uint64_t>());
        std::cout << column(b["bucket"], 16) << column(b["class"], 18) << counts
                  << column(b["first_seen"], 20) << column(b["last_seen"], 20)
                  << b["last_crash"].get<std::string>() << "\n"
                  << std::string(18, ' ') << b["signature"].get<std::string>() << "\n"
                  << std::string(18, ' ') << commands << "\n";
    }
    return 0;
}

int cmd_show(const std::string& config, const std::string& id, bool json) {
    StoreConfig c = read_store_config(config, false);
    std::vector<StoredCrash> crashes = list_stored_crashes(c.store);
    const StoredCrash* found = nullptr;
    if (id == "last") {
        if (!crashes.empty())
            found = &crashes.back();
    } else {
        for (const StoredCrash& s : crashes)
            if (s.id == id || s.metadata.value("bucket", std::string()) == id)
                found = &s;  // a bucket id: its latest crash
    }
    if (!found)
        throw tk::UserError(crashes.empty()
                                ? "no crashes of yours in " + c.store + "/crashes"
                                : "no crash or bucket '" + id + "' among yours: see crashlab ls");
    bool missing = false;
    std::string text =
        read_secure(found->dir + (json ? "/analysis.json" : "/report.txt"), false, missing);
    // The process's state, when the collector kept it (process_state.h).
    nlohmann::json process = nullptr;
    if (!found->metadata.value("process_state", std::string()).empty()) {
        bool no_state = false;
        std::string state = read_secure(found->dir + "/" + kProcessStateFile, false, no_state);
        if (!no_state)
            process = nlohmann::json::parse(state, nullptr, false);
        if (process.is_discarded() || !process.is_object())
            process = nullptr;
    }
    if (json) {
        nlohmann::json j = nlohmann::json::object();
        try {
            if (!missing)
                j = nlohmann::json::parse(text);
        } catch (const nlohmann::json::exception&) {
        }
        j["stored"] = found->metadata;
        j["process_state"] = process;
        std::cout << tk::json_text(j, 2) << "\n";
        return 0;
    }
    const nlohmann::json& m = found->metadata;
    std::cout << "crash       " << found->id << " (" << found->dir << ")\n"
              << "core        "
              << (m.value("core", std::string()).empty()
                      ? "not kept: " + m.value("core_dropped", std::string("?"))
                      : found->dir + "/" + m.value("core", std::string()))
              << "\n";
    if (m.value("repeats", 0) > 0)
        std::cout << "repeats     " << m.value("repeats", 0) << " more within a minute, last at "
                  << m.value("last_repeat", std::string()) << "\n";
    if (m.value("ns_pid", 0) != m.value("pid", 0))
        std::cout << "pid         " << m.value("pid", 0) << " (" << m.value("ns_pid", 0)
                  << " in its pid namespace)\n";
    if (process.is_object())
        std::cout << "\nthe process when it crashed (" << kProcessStateFile << ")\n"
                  << process_state_text(process);
    else if (m.contains("process_state_missing"))
        std::cout << "process     not kept: " << m.value("process_state_missing", std::string())
                  << "\n";
    std::cout << "\n" << (missing ? m.value("summary", std::string()) + "\n" : text);
    return 0;
}

}  // namespace crashlab
