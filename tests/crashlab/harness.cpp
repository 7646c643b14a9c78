#include "harness.h"

#include <fcntl.h>
#include <glob.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

extern char** environ;

namespace crashlab_test {

namespace {

// This test process's working directory for `crashlab run`: the kernel writes a core to the
// crashing process's working directory, under a name (core_pattern "core") that the tests
// ctest runs side by side would share. Anyone may write cores there (sticky, like /tmp):
// the sudo tests run victims as nobody. Removed at exit when empty.
struct CrashCwd {
    std::string path;
    CrashCwd() {
        path = std::string(CRASHLAB_TEST_WORK) + "/cwd-" + std::to_string(getpid());
        std::filesystem::create_directories(path);
        chmod(path.c_str(), 01777);
    }
    ~CrashCwd() { rmdir(path.c_str()); }
};

}  // namespace

const std::string& crash_cwd() {
    static CrashCwd dir;
    return dir.path;
}

Result run(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env,
           const std::string& given_cwd) {
    bool crashlab_run =
        given_cwd.empty() && argv.size() > 1 && argv[0] == CRASHLAB_BIN && argv[1] == "run";
    const std::string& cwd = crashlab_run ? crash_cwd() : given_cwd;
    int out_pipe[2], err_pipe[2];
    if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0)
        return {};
    std::vector<std::string> env;
    for (char** e = environ; *e; e++)
        env.emplace_back(*e);
    for (const std::string& e : extra_env) {
        std::string name = e.substr(0, e.find('=') + 1);
        std::erase_if(env, [&](const std::string& x) { return x.rfind(name, 0) == 0; });
        env.push_back(e);
    }
    pid_t pid = fork();
    if (pid == 0) {
        dup2(out_pipe[1], 1);
        dup2(err_pipe[1], 2);
        if (!cwd.empty() && chdir(cwd.c_str()) != 0)
            _exit(126);
        std::vector<char*> args, envp;
        for (const std::string& a : argv)
            args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        for (const std::string& e : env)
            envp.push_back(const_cast<char*>(e.c_str()));
        envp.push_back(nullptr);
        execvpe(args[0], args.data(), envp.data());
        _exit(127);
    }
    close(out_pipe[1]);
    close(err_pipe[1]);
    Result r;
    pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    int open_fds = 2;
    char buf[65536];
    while (open_fds > 0) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = read(fds[i].fd, buf, sizeof buf);
            if (n > 0) {
                (i == 0 ? r.out : r.err).append(buf, size_t(n));
            } else {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
            }
        }
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    r.exited = WIFEXITED(status);
    r.code = r.exited ? WEXITSTATUS(status) : WTERMSIG(status);
    return r;
}

// CRASHLAB_TEST_WORK in the environment overrides the build-time default (to run the
// suite as a user who cannot write into the build tree).
std::string work_root() {
    const char* env = getenv("CRASHLAB_TEST_WORK");
    return env && *env ? env : CRASHLAB_TEST_WORK;
}

std::string fresh_dir(const std::string& name) {
    std::string dir = work_root() + "/" + name;
    remove_tree(dir);
    std::filesystem::create_directories(dir);
    // Open to every user: the run-as-another-user test crashes a victim in here.
    chmod(work_root().c_str(), 0755);
    chmod(dir.c_str(), 0755);
    return dir;
}

void remove_tree(const std::string& path) {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
}

std::vector<std::string> glob(const std::string& pattern) {
    glob_t g{};
    std::vector<std::string> out;
    if (::glob(pattern.c_str(), 0, nullptr, &g) == 0)
        for (size_t i = 0; i < g.gl_pathc; i++)
            out.emplace_back(g.gl_pathv[i]);
    globfree(&g);
    return out;
}

std::vector<int> marker_lines(const std::string& kind, bool alt) {
    std::ifstream in(VICTIM_SOURCE);
    std::vector<int> lines;
    std::string line;
    for (int n = 1; std::getline(in, line); n++) {
        for (const char* tag : {"@crash ", "@crash-alt "}) {
            if (!alt && std::string(tag) == "@crash-alt ")
                continue;
            size_t p = line.find(tag);
            if (p == std::string::npos)
                continue;
            std::string rest = line.substr(p + strlen(tag));
            std::string word = rest.substr(0, rest.find_first_of(" \t\r"));
            if (word == kind)
                lines.push_back(n);
        }
    }
    return lines;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

nlohmann::json load_json(const std::string& path) {
    return nlohmann::json::parse(read_file(path));
}

// An implementation of its own (not the symbolizer's), so that a bug there cannot hide
// here. Function names as gdb, eu-stack and crashlab print them differ in spelling of
// template arguments ("<lambda()>" / "{lambda()#1}", "std::string_view" /
// "std::basic_string_view<...>") and in which alias of a libc function they pick
// ("__clone3" / "clone3"): compare the last name component, without template arguments,
// parameters or leading underscores.
std::string unqualified(const std::string& name) {
    std::string s = name;
    static const std::string anon = "(anonymous namespace)::";
    for (size_t p; (p = s.find(anon)) != std::string::npos;)
        s.erase(p, anon.size());
    auto skip = [&](size_t i) {
        int depth = 0;
        for (; i < s.size(); i++) {
            if (strchr("(<{[", s[i])) {
                depth++;
            } else if (strchr(")>}]", s[i]) && --depth == 0) {
                return i + 1;
            }
        }
        return s.size();
    };
    size_t start = 0, i = 0, end = s.size();
    while (i < s.size()) {
        if (i == start && s.compare(i, 8, "operator") == 0) {
            i += 8;
            if (s.compare(i, 2, "()") == 0)
                i += 2;
            while (i < s.size() && s[i] != '(')
                i++;
            continue;
        }
        char c = s[i];
        if (c == '<' || c == '{' || c == '[') {
            i = skip(i);
        } else if (c == '(') {
            size_t after = skip(i);
            if (s.compare(after, 2, "::") != 0) {
                end = i;
                break;
            }
            i = after;
        } else if (c == ':' && i + 1 < s.size() && s[i + 1] == ':') {
            i += 2;
            start = i;
        } else {
            i++;
        }
    }
    std::string last = s.substr(start, end > start ? end - start : 0);
    if (last.rfind("operator", 0) != 0 && last.find('<') != std::string::npos)
        last.resize(last.find('<'));
    while (!last.empty() && last.back() == ' ')
        last.pop_back();
    while (!last.empty() && last.front() == '_')
        last.erase(0, 1);
    return last == "??" ? std::string() : last;
}

std::vector<BtFrame> parse_gdb_bt(const std::string& out) {
    std::vector<BtFrame> frames;
    size_t start = out.find("@@BT");
    if (start == std::string::npos)
        return frames;
    std::istringstream in(out.substr(start));
    std::string line;
    // "#3  0x00005555 in name (args) at file:line" / "... in name () from /lib/..."
    static const std::regex re(R"(^#(\d+)\s+0x([0-9a-f]+) in (.*)$)");
    while (std::getline(in, line)) {
        std::smatch m;
        if (!std::regex_match(line, m, re))
            continue;
        BtFrame f;
        f.pc = std::stoull(m[2].str(), nullptr, 16);
        // With `set print frame-arguments none` the arguments print as " (...)".
        std::string rest = m[3].str();
        size_t args = rest.rfind(" (...)");
        if (args == std::string::npos)
            args = rest.rfind(" ()");
        f.function = unqualified(args == std::string::npos ? rest : rest.substr(0, args));
        frames.push_back(f);
    }
    return frames;
}

std::vector<BtFrame> parse_eu_stack(const std::string& out, int* first_tid) {
    std::vector<BtFrame> frames;
    std::istringstream in(out);
    std::string line;
    int threads = 0;
    static const std::regex tid_re(R"(^TID (\d+):)");
    static const std::regex frame_re(R"(^#(\d+)\s+0x([0-9a-f]+)\s*(.*)$)");
    while (std::getline(in, line)) {
        std::smatch m;
        if (std::regex_search(line, m, tid_re)) {
            if (++threads == 2)
                break;
            if (first_tid)
                *first_tid = std::stoi(m[1].str());
            continue;
        }
        if (threads == 1 && std::regex_match(line, m, frame_re)) {
            BtFrame f;
            f.pc = std::stoull(m[2].str(), nullptr, 16);
            std::string name = m[3].str();
            // "- 1 name" (activation marker) is not printed without -a; a "??" is.
            f.function = unqualified(name);
            frames.push_back(f);
        }
    }
    return frames;
}

bool same_symbol(const std::string& module, const std::string& a, const std::string& b) {
    if (a == b)
        return true;
    if (module.empty() || module[0] != '/')
        return false;
    // unqualified name -> addresses, from the dynamic and the full symbol table.
    static std::map<std::string, std::multimap<std::string, std::string>> cache;
    auto it = cache.find(module);
    if (it == cache.end()) {
        std::multimap<std::string, std::string> names;
        for (const char* dyn : {"-D", ""}) {
            std::vector<std::string> argv = {"nm", "--defined-only"};
            if (*dyn)
                argv.push_back(dyn);
            argv.push_back(module);
            std::istringstream in(run(argv).out);
            std::string addr, type, name;
            while (in >> addr >> type >> name) {
                name = name.substr(0, name.find('@'));
                names.emplace(unqualified(name), addr);
            }
        }
        it = cache.emplace(module, std::move(names)).first;
    }
    auto ra = it->second.equal_range(a);
    auto rb = it->second.equal_range(b);
    for (auto x = ra.first; x != ra.second; ++x)
        for (auto y = rb.first; y != rb.second; ++y)
            if (x->second == y->second)
                return true;
    return false;
}

std::vector<BtFrame> json_frames(const nlohmann::json& thread) {
    std::vector<BtFrame> out;
    for (const auto& f : thread["frames"]) {
        BtFrame b;
        b.pc = std::stoull(f["pc"].get<std::string>(), nullptr, 16);
        b.function = f["function"].is_string() ? unqualified(f["function"].get<std::string>()) : "";
        b.module = f["module"].is_string() ? f["module"].get<std::string>() : "";
        out.push_back(b);
    }
    return out;
}

}  // namespace crashlab_test
