#include "cgroups.h"

#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <filesystem>
#include <fstream>
#include <system_error>

#include "errors.h"

namespace exporter {

namespace fs = std::filesystem;

namespace {

std::string label_path(const fs::path& root, const fs::path& dir) {
    std::string rel = dir.lexically_relative(root).generic_string();
    return rel == "." || rel.empty() ? "/" : "/" + rel;
}

}  // namespace

std::string cgroup2_root() {
    std::ifstream mounts("/proc/self/mounts");
    std::string device, dir, type, rest;
    while (mounts >> device >> dir >> type && std::getline(mounts, rest))
        if (type == "cgroup2")
            return dir;
    throw tk::UserError(
        "no cgroup v2 hierarchy is mounted: mount one (mount -t cgroup2 none /sys/fs/cgroup)");
}

std::optional<std::string> CgroupPaths::path_of(uint64_t id) {
    auto it = paths_.find(id);
    if (it == paths_.end())
        return std::nullopt;
    return it->second;
}

void CgroupPaths::walk() {
    std::error_code ec;
    struct stat st;
    if (stat(root_.c_str(), &st) == 0)
        paths_[st.st_ino] = "/";
    // a cgroup that goes meanwhile is skipped; symlinks are not followed (there are none)
    for (fs::recursive_directory_iterator
             it(root_, fs::directory_options::skip_permission_denied, ec),
         end;
         !ec && it != end; it.increment(ec)) {
        if (!it->is_directory(ec) || it->is_symlink(ec))
            continue;
        if (lstat(it->path().c_str(), &st) == 0)
            paths_[st.st_ino] = label_path(root_, it->path());
    }
}

CgroupFilter cgroup_filter(const std::string& path, const std::string& root) {
    std::error_code ec;
    fs::path full = fs::weakly_canonical(path, ec);
    struct statfs sfs;
    struct stat st;
    if (ec || statfs(full.c_str(), &sfs) != 0 || stat(full.c_str(), &st) != 0 ||
        !S_ISDIR(st.st_mode))
        throw tk::UserError("--cgroup " + path +
                            ": no such directory; give a cgroup v2 directory such as " + root +
                            "/system.slice/nginx.service");
    if (sfs.f_type != CGROUP2_SUPER_MAGIC)
        throw tk::UserError("--cgroup " + path + ": not a cgroup v2 directory (under " + root +
                            ")");
    fs::path rel = full.lexically_relative(fs::weakly_canonical(root));
    if (rel.empty() || *rel.begin() == "..")
        throw tk::UserError("--cgroup " + path + ": not under the cgroup v2 root " + root);
    CgroupFilter f;
    f.id = st.st_ino;
    for (const auto& part : rel)
        if (part != ".")
            f.level++;
    f.path = label_path(fs::weakly_canonical(root), full);
    return f;
}

}  // namespace exporter
