// Helpers of the crash lab tests: running programs, fresh work directories, the victim's
// "@crash" markers, and parsers for the backtraces of gdb and eu-stack.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace crashlab_test {

struct Result {
    bool exited = false;  // false: killed by a signal (a crash of the program under test)
    int code = -1;        // exit status, or the signal number when !exited
    std::string out, err;
};

// Runs ARGV (no shell), with EXTRA_ENV ("NAME=value") added, in CWD ("" = ours; for
// `CRASHLAB_BIN run`, crash_cwd()).
Result run(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env = {},
           const std::string& cwd = "");

// The working directory of this test process's `crashlab run`s, its own: the kernel's core
// name is the same for every test run side by side.
const std::string& crash_cwd();

// An empty directory CRASHLAB_TEST_WORK/NAME (removed and recreated).
std::string fresh_dir(const std::string& name);
void remove_tree(const std::string& path);
std::vector<std::string> glob(const std::string& pattern);

// Lines of the victim source marked "@crash KIND" (and "@crash-alt KIND" when ALT).
std::vector<int> marker_lines(const std::string& kind, bool alt = true);

nlohmann::json load_json(const std::string& path);
std::string read_file(const std::string& path);

// "(anonymous namespace)::crash(std::basic_string_view<...>)" -> "crash";
// "Job::~Job()" -> "~Job"; "" stays "".
std::string unqualified(const std::string& name);

struct BtFrame {
    uint64_t pc = 0;
    std::string function;  // "" when the tool printed ??
    std::string module;    // ours only: the module's path
};

// Whether names A and B (as unqualified() gives them) are aliases: ELF symbols at the same
// address in MODULE (glibc exports free and __libc_free, clone3 and __clone3 ...). Read
// with nm, independently of the symbolizer under test.
bool same_symbol(const std::string& module, const std::string& a, const std::string& b);

// gdb -batch ... -ex bt with `set print frame-info location-and-address`: the frames of
// the current thread after the "@@BT" marker line.
std::vector<BtFrame> parse_gdb_bt(const std::string& out);
// eu-stack -i -s: the frames of the first thread (the one that took the signal).
std::vector<BtFrame> parse_eu_stack(const std::string& out, int* first_tid = nullptr);

// Frames of one thread of the analysis JSON, flattened as the JSON lists them.
std::vector<BtFrame> json_frames(const nlohmann::json& thread);

}  // namespace crashlab_test
