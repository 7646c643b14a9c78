// Every row of docs/bad-input.md, run as the table says: the exit status and the whole of
// stderr must be what the row says, and no tracer leaves a program loaded. The table is the
// contract a user reads, so the test reads it rather than a copy of it.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"

using harness::bin;

namespace {

const std::vector<std::string> kTracers = {"ctxswitch-trace", "lockwait-trace", "epoll-trace"};

struct Row {
    bool as_nobody;
    std::string command;  // with TOOL and {placeholders}
    int exit;
    std::string stderr_line;
};

std::string cell(const std::string& text) {  // `code` -> code, trimmed
    auto b = text.find_first_not_of(" `"), e = text.find_last_not_of(" `");
    return b == std::string::npos ? "" : text.substr(b, e - b + 1);
}

std::vector<Row> rows_of(const std::string& path) {
    std::ifstream f(path);
    std::vector<Row> rows;
    std::string line;
    while (std::getline(f, line)) {
        if (line.rfind("| root |", 0) != 0 && line.rfind("| nobody |", 0) != 0)
            continue;
        std::vector<std::string> cells;
        std::stringstream in(line.substr(1));
        std::string c;
        while (std::getline(in, c, '|'))
            cells.push_back(cell(c));
        if (cells.size() >= 4)
            rows.push_back({cells[0] == "nobody", cells[1], std::stoi(cells[2]), cells[3]});
    }
    return rows;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
        s.replace(at, from.size(), to);
    return s;
}

std::vector<std::string> words(const std::string& s) {
    std::vector<std::string> out;
    std::istringstream in(s);
    for (std::string w; in >> w;)
        out.push_back(w);
    return out;
}

void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary) << bytes;
}

// The ELF header of a core (ET_CORE, 64-bit little-endian) for MACHINE, promising PHNUM
// program headers that the file does not hold.
std::string core_header(uint16_t machine, uint16_t phnum) {
    std::string h(64, '\0');
    const char ident[] = {0x7f, 'E', 'L', 'F', 2, 1, 1};
    h.replace(0, sizeof ident, ident, sizeof ident);
    auto put16 = [&](size_t at, uint16_t v) { h[at] = char(v & 0xff), h[at + 1] = char(v >> 8); };
    put16(16, 4);        // e_type ET_CORE
    put16(18, machine);  // e_machine
    h[20] = 1;           // e_version
    h[32] = 64;          // e_phoff
    put16(52, 64);       // e_ehsize
    put16(54, 56);       // e_phentsize
    put16(56, phnum);
    return h;
}

}  // namespace

TEST(BadInput, EveryRowOfTheTableHolds) {
    REQUIRE_ROOT();
    const auto rows = rows_of(std::string(SOURCE_DIR) + "/docs/bad-input.md");
    ASSERT_GE(rows.size(), 25u) << "docs/bad-input.md: the table was not found";

    // the placeholders: a thread that is not its process's main one, and the crash lab's files
    std::atomic<pid_t> tid{0};
    std::atomic<bool> done{false};
    std::thread side([&] {
        tid = pid_t(syscall(SYS_gettid));
        while (!done)
            usleep(10000);
    });
    while (!tid)
        usleep(1000);
    const std::string dir = harness::temp_path("bad-input");
    ASSERT_EQ(mkdir(dir.c_str(), 0700), 0);
    std::map<std::string, std::string> files = {
        {"{zeros}", dir + "/zeros.core"},         {"{text}", dir + "/text.core"},
        {"{short}", dir + "/short.core"},         {"{arm}", dir + "/arm.core"},
        {"{truncated}", dir + "/truncated.core"}, {"{exe}", bin("pingpong")}};
    write_file(files["{zeros}"], std::string(4096, '\0'));
    write_file(files["{text}"], std::string(200, 'x') + "\n");
    write_file(files["{short}"], "this is not a core\n");
    write_file(files["{arm}"], core_header(183, 0));       // EM_AARCH64
    write_file(files["{truncated}"], core_header(62, 5));  // EM_X86_64, headers missing
    files["{thread}"] = std::to_string(tid.load());
    files["{cgroup2}"] = harness::cgroup2_root();

    for (const Row& row : rows) {
        const bool every_tracer = row.command.rfind("TOOL", 0) == 0;
        for (const std::string& tool : every_tracer ? kTracers : std::vector<std::string>{""}) {
            std::string command = replace_all(row.command, "TOOL", tool);
            std::string expected = replace_all(row.stderr_line, "TOOL", tool);
            for (auto& [name, value] : files) {
                command = replace_all(command, name, value);
                expected = replace_all(expected, name, value);
            }
            auto argv = words(command);
            argv[0] = bin(argv[0]);
            harness::Result r =
                row.as_nobody ? harness::run_as_nobody(argv[0], {argv.begin() + 1, argv.end()})
                              : harness::run(argv, harness::as_root());
            EXPECT_EQ(r.status, row.exit) << command << "\n" << r.err;
            EXPECT_EQ(r.err, expected + "\n") << command;
        }
    }
    done = true;
    side.join();
    for (auto& name : {"{zeros}", "{text}", "{short}", "{arm}", "{truncated}"})
        unlink(files[name].c_str());
    rmdir(dir.c_str());
    for (const std::string& tool : kTracers)
        EXPECT_TRUE(harness::programs_loaded(harness::programs_of(tool)).empty()) << tool;
    EXPECT_TRUE(harness::programs_loaded(harness::programs_of("concurrency-exporter")).empty());
}
