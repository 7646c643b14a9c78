// The crash store that `crashlab install` sets up, the collector fills and `crashlab ls` /
// `crashlab show` read (docs/crashlab.md, "Catching every crash").
//
//   STORE/                       root's, 0755: the collector refuses a store anyone else
//                                could write to
//     previous-core-pattern      what `install` replaced, for `uninstall`
//     index/                     root's, 0700: what the collector counts by
//       ID.json                  one crash's record (0600): executable, time, uid, bucket,
//                                signature, class, core, core_stored_size, repeats,
//                                last_repeat; the crashing user cannot change it
//     crashes/                   root's, 0755
//       YYYYmmddTHHMMSS-PID/     one crash: 0700, owned by the crashed process's user
//                                (root's when the process was not dumpable by its owner)
//         metadata.json          the kernel's facts and the verdict (0600)
//         analysis.json          crashlab analyze --json (0600)
//         report.txt             crashlab analyze's text (0600)
//         core.zst               the core, zstd (0600); absent when a cap dropped it
//         process.json           the process's state from /proc/PID (process_state.h,
//                                0600); absent when the configuration turns it off
//
// Its limits are in one configuration file (default /etc/crashlab.conf), "key = value":
// see StoreConfig.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace crashlab {

constexpr const char* kDefaultConfig = "/etc/crashlab.conf";
constexpr const char* kDefaultStore = "/var/lib/crashlab";

struct StoreConfig {
    std::string store = kDefaultStore;     // store
    uint64_t max_core_size = 2ull << 30;   // max_core_size: more is cut (truncated)
    uint64_t max_total_size = 4ull << 30;  // max_total_size: oldest cores go first
    uint64_t keep_free = 1ull << 30;       // keep_free: of the store's file system
    unsigned max_cores_per_bucket = 5;     // max_cores_per_bucket: more keep a count
    unsigned max_crashes_per_minute = 30;  // max_crashes_per_minute: of one program
    bool process_state = true;             // process_state: process.json from /proc/PID
    bool process_environment = true;       // process_environment: its environment in it
};

// Reads PATH (a missing file gives the defaults). Throws tk::UserError, one line, for a
// line it does not understand. When SECURE, the file must be root's and writable by root
// only (the collector's rule: nobody else may move the store).
StoreConfig read_store_config(const std::string& path, bool secure);

// "2G", "512M", "100K", "123" -> bytes; throws tk::UserError on anything else.
uint64_t parse_size(const std::string& text, const std::string& what);

constexpr const char* kIndexDir = "index";

// One stored crash, as its metadata.json says, and where the caller may read the store's
// index (root), with the index's record over it: what the crash's user could have edited
// does not count there.
struct StoredCrash {
    std::string id;
    std::string dir;
    nlohmann::json metadata;
};

// NAME in DIR (an open directory) as JSON, never through a link; null when it is missing,
// unreadable, or not a JSON object.
nlohmann::json read_json_at(int dir, const std::string& name);

// The crashes the caller may read, oldest first: root sees every crash, a user that user's
// own.
std::vector<StoredCrash> list_stored_crashes(const std::string& store);

// The index's records (INDEX: the store's index directory, open), oldest first: what the
// collector counts crash loops, cores per bucket and the total by. Crashes stored before
// the index existed have no record and are not counted.
std::vector<StoredCrash> read_index(int index, const std::string& store);

// The crashes grouped into buckets, the most recent bucket first: bucket, signature,
// class, count, cores, first and last seen, the commands.
nlohmann::json bucket_table(const std::vector<StoredCrash>& crashes);

// crashlab ls [--json] / crashlab show ID|last [--json]
int cmd_ls(const std::string& config, bool json);
int cmd_show(const std::string& config, const std::string& id, bool json);

}  // namespace crashlab
