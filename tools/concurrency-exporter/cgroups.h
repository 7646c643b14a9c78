// Cgroup v2 ids and paths: the kernel gives a task's cgroup as its id (the inode number of
// its directory); the labels want the path.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace exporter {

// Where the cgroup v2 hierarchy is mounted: the first cgroup2 mount of /proc/self/mounts
// (/sys/fs/cgroup on a unified system, /sys/fs/cgroup/unified on a hybrid one); throws
// UserError when there is none.
std::string cgroup2_root();

// Paths of cgroup ids, from walks of the cgroup v2 hierarchy: a walk when an id is not
// known yet (a new cgroup), at most one per call of refresh_for.
class CgroupPaths {
  public:
    explicit CgroupPaths(std::string root) : root_(std::move(root)) {}
    // "/" for the root, "/system.slice/nginx.service" below it; nullopt when the id is not
    // found (the cgroup is gone, or was never under this root).
    std::optional<std::string> path_of(uint64_t id);
    // Walks the hierarchy again if any of IDS is unknown.
    template <class Ids>
    void refresh_for(const Ids& ids) {
        for (uint64_t id : ids)
            if (!paths_.count(id)) {
                walk();
                return;
            }
    }
    const std::map<uint64_t, std::string>& known() const { return paths_; }

  private:
    void walk();
    std::string root_;
    std::map<uint64_t, std::string> paths_;  // kept when a cgroup goes: its series stay
};

// --cgroup PATH: the cgroup's id and its depth below the root (its ancestors' count).
struct CgroupFilter {
    uint64_t id = 0;
    uint32_t level = 0;
    std::string path;  // as the labels write it
};
// Throws UserError when PATH is not a directory of the cgroup v2 hierarchy mounted at ROOT.
CgroupFilter cgroup_filter(const std::string& path, const std::string& root);

}  // namespace exporter
