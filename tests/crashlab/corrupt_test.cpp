// Bad input: missing, foreign, truncated and damaged cores, and a core whose executable is
// gone. Every case must give one clear line on stderr and a non-zero exit, a partial
// report where there is something to report, and never a crash of the analyser. Each case
// runs the normal build and the ASan+UBSan build (crashlab-asan).
#include <elf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>

#include <gtest/gtest.h>

#include "harness.h"

using namespace crashlab_test;

namespace {

// Sanitizer reports must fail the test rather than be overlooked.
const std::vector<std::string> kSanitizerEnv = {
    "ASAN_OPTIONS=abort_on_error=0:exitcode=99:detect_leaks=1",
    "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=98"};

struct Outcome {
    Result normal, asan;
};

Outcome analyze_both(const std::string& core, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> a = {CRASHLAB_BIN, "analyze", "--json", "-", core};
    std::vector<std::string> b = {CRASHLAB_ASAN_BIN, "analyze", "--json", "-", core};
    a.insert(a.end(), extra.begin(), extra.end());
    b.insert(b.end(), extra.begin(), extra.end());
    return {run(a), run(b, kSanitizerEnv)};
}

size_t line_count(const std::string& s) {
    size_t n = 0;
    for (char c : s)
        n += c == '\n';
    return n;
}

// The contract for bad input: exited (no signal), 1 (refused) or 2 (partial report), one
// line on stderr that starts with "crashlab:", and no sanitizer finding.
void expect_clean_failure(const Result& r, const std::string& what, bool asan) {
    std::string tag = what + (asan ? " [asan]" : "");
    ASSERT_TRUE(r.exited) << tag << ": the analyser died of signal " << r.code << "\n" << r.err;
    EXPECT_NE(r.err.find("crashlab: "), std::string::npos) << tag << ": " << r.err;
    EXPECT_EQ(r.err.find("AddressSanitizer"), std::string::npos) << tag << ":\n" << r.err;
    EXPECT_EQ(r.err.find("LeakSanitizer"), std::string::npos) << tag << ":\n" << r.err;
    EXPECT_EQ(r.err.find("runtime error"), std::string::npos) << tag << ":\n" << r.err;
    EXPECT_EQ(r.err.find("internal error"), std::string::npos) << tag << ":\n" << r.err;
    EXPECT_TRUE(r.code == 1 || r.code == 2) << tag << ": exit " << r.code << "\n" << r.err;
    EXPECT_EQ(line_count(r.err), 1u) << tag << ": one line, not:\n" << r.err;
    if (r.code == 2) {
        nlohmann::json j;
        ASSERT_NO_THROW(j = nlohmann::json::parse(r.out)) << tag << ": partial report is no JSON";
        EXPECT_TRUE(j["partial"].get<bool>()) << tag;
        EXPECT_FALSE(j["warnings"].empty()) << tag;
    } else {
        EXPECT_TRUE(r.out.empty()) << tag << ": refused, yet printed\n" << r.out.substr(0, 200);
    }
}

class CorruptCore : public testing::Test {
  protected:
    static void SetUpTestSuite() {
        // ctest runs each test of this suite in its own process, concurrently: each process
        // needs a directory of its own.
        dir_ = new std::string(fresh_dir("corrupt-" + std::to_string(getpid())));
        // Several threads, so that the notes hold several NT_PRSTATUS.
        Result r = run({CRASHLAB_BIN, "run", "-q", "--dir", *dir_ + "/run", "--", VICTIM_O0,
                        "null-read", "--thread"});
        std::vector<std::string> cores = glob(*dir_ + "/run/*/core");
        core_ = new std::vector<char>();
        setup_error_ = new std::string();
        if (cores.size() != 1) {
            // A fatal failure here would show as a skipped test in ctest: fail in SetUp.
            *setup_error_ = "expected one core, found " + std::to_string(cores.size()) + " in " +
                            *dir_ + "/run\n" + r.err;
            return;
        }
        std::ifstream in(cores[0], std::ios::binary);
        core_->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    void SetUp() override { ASSERT_TRUE(setup_error_->empty()) << *setup_error_; }
    static void TearDownTestSuite() {
        if (!::testing::Test::HasFailure())
            remove_tree(*dir_);
        delete dir_;
        delete core_;
        delete setup_error_;
    }

    std::string write(const std::string& name, const std::vector<char>& bytes) {
        std::string path = *dir_ + "/" + name;
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out.write(bytes.data(), std::streamsize(bytes.size()));
        return path;
    }

    const Elf64_Ehdr& ehdr() const { return *reinterpret_cast<const Elf64_Ehdr*>(core_->data()); }
    Elf64_Phdr phdr(size_t i) const {
        Elf64_Phdr p;
        memcpy(&p, core_->data() + ehdr().e_phoff + i * sizeof p, sizeof p);
        return p;
    }
    Elf64_Phdr note_phdr(size_t* index = nullptr) const {
        for (size_t i = 0; i < ehdr().e_phnum; i++)
            if (phdr(i).p_type == PT_NOTE) {
                if (index)
                    *index = i;
                return phdr(i);
            }
        return {};
    }
    // File offset of the first note of TYPE (its header).
    size_t find_note(uint32_t type) const {
        Elf64_Phdr n = note_phdr();
        size_t pos = n.p_offset, end = n.p_offset + n.p_filesz;
        while (pos + 12 <= end) {
            uint32_t namesz, descsz, t;
            memcpy(&namesz, core_->data() + pos, 4);
            memcpy(&descsz, core_->data() + pos + 4, 4);
            memcpy(&t, core_->data() + pos + 8, 4);
            if (t == type)
                return pos;
            pos += 12 + ((namesz + 3) & ~3u) + ((descsz + 3) & ~3u);
        }
        return 0;
    }

    static std::string* dir_;
    static std::vector<char>* core_;
    static std::string* setup_error_;
};

std::string* CorruptCore::dir_ = nullptr;
std::vector<char>* CorruptCore::core_ = nullptr;
std::string* CorruptCore::setup_error_ = nullptr;

TEST_F(CorruptCore, TheIntactCoreIsCompleteUnderBothBuilds) {
    std::string path = write("intact", *core_);
    Outcome o = analyze_both(path);
    for (const Result* r : {&o.normal, &o.asan}) {
        ASSERT_TRUE(r->exited) << r->err;
        EXPECT_EQ(r->code, 0) << r->err;
        EXPECT_TRUE(r->err.empty()) << r->err;
        nlohmann::json j = nlohmann::json::parse(r->out);
        EXPECT_EQ(j["class"], "null-read");
        EXPECT_FALSE(j["partial"].get<bool>());
    }
}

TEST_F(CorruptCore, TruncatedAtManyOffsets) {
    Elf64_Phdr notes = note_phdr();
    size_t size = core_->size();
    size_t first_load = 0;
    for (size_t i = 0; i < ehdr().e_phnum; i++)
        if (phdr(i).p_type == PT_LOAD && phdr(i).p_filesz) {
            first_load = phdr(i).p_offset;
            break;
        }
    std::vector<size_t> offsets = {
        0,
        10,
        sizeof(Elf64_Ehdr),
        sizeof(Elf64_Ehdr) + 3 * sizeof(Elf64_Phdr) + 7,
        ehdr().e_phoff + ehdr().e_phnum * sizeof(Elf64_Phdr),  // headers only
        notes.p_offset + 100,                                  // inside the first NT_PRSTATUS
        notes.p_offset + notes.p_filesz / 2,                   // in the middle of the notes
        notes.p_offset + notes.p_filesz,                       // notes whole, no memory
        first_load + 4096 + 123,
        size / 3,
        size / 2,
        size - 4096,
        size - 1};
    for (size_t off : offsets) {
        std::vector<char> cut(core_->begin(), core_->begin() + long(off));
        std::string path = write("truncated-" + std::to_string(off), cut);
        Outcome o = analyze_both(path);
        std::string what = "truncated at " + std::to_string(off) + " of " + std::to_string(size);
        expect_clean_failure(o.normal, what, false);
        expect_clean_failure(o.asan, what, true);
        if (off >= notes.p_offset + notes.p_filesz && o.normal.code == 2) {
            // With the notes intact the signal and the threads are still known.
            nlohmann::json j = nlohmann::json::parse(o.normal.out);
            EXPECT_EQ(j["signal"]["name"], "SIGSEGV") << what;
            EXPECT_TRUE(j["core"]["truncated"].get<bool>()) << what;
            EXPECT_NE(o.normal.err.find("truncated"), std::string::npos) << what << o.normal.err;
        }
        std::filesystem::remove(path);
    }
}

TEST_F(CorruptCore, DamagedNotes) {
    struct Damage {
        std::string name;
        std::function<void(std::vector<char>&)> apply;
    };
    size_t note_index = 0;
    Elf64_Phdr notes = note_phdr(&note_index);
    size_t prstatus = find_note(NT_PRSTATUS);
    size_t file = find_note(NT_FILE);
    size_t siginfo = find_note(NT_SIGINFO);
    ASSERT_NE(prstatus, 0u);
    ASSERT_NE(file, 0u);
    ASSERT_NE(siginfo, 0u);
    auto put32 = [](std::vector<char>& b, size_t at, uint32_t v) { memcpy(b.data() + at, &v, 4); };
    auto put64 = [](std::vector<char>& b, size_t at, uint64_t v) { memcpy(b.data() + at, &v, 8); };
    size_t phdr_at = ehdr().e_phoff + note_index * sizeof(Elf64_Phdr);
    std::vector<Damage> damages = {
        {"prstatus-huge-descsz", [&](auto& b) { put32(b, prstatus + 4, 0xfffffff0u); }},
        {"prstatus-short", [&](auto& b) { put32(b, prstatus + 4, 16); }},
        {"siginfo-short", [&](auto& b) { put32(b, siginfo + 4, 8); }},
        {"file-count-huge", [&](auto& b) { put64(b, file + 20, 0x0fffffffffffffffull); }},
        {"file-page-size-zero", [&](auto& b) { put64(b, file + 20 + 8, 0); }},
        {"file-names-cut",
         [&](auto& b) {
             uint32_t descsz;
             memcpy(&descsz, b.data() + file + 4, 4);
             uint64_t count;
             memcpy(&count, b.data() + file + 20, 8);
             // Keep the table, drop the strings: the descriptor ends after the entries.
             put32(b, file + 4, uint32_t(16 + count * 24));
         }},
        {"notes-random",
         [&](auto& b) {
             std::mt19937 rng(12345);
             for (size_t i = notes.p_offset; i < notes.p_offset + notes.p_filesz; i++)
                 b[i] = char(rng());
         }},
        {"notes-offset-past-end", [&](auto& b) { put64(b, phdr_at + 8, 1ull << 40); }},
        {"notes-size-huge", [&](auto& b) { put64(b, phdr_at + 32, 1ull << 40); }},
        {"load-wraps",
         [&](auto& b) {
             for (size_t i = 0; i < ehdr().e_phnum; i++)
                 if (phdr(i).p_type == PT_LOAD) {
                     put64(b, ehdr().e_phoff + i * sizeof(Elf64_Phdr) + 8, ~0ull - 10);
                     break;
                 }
         }},
        {"phnum-xnum-without-sections",
         [&](auto& b) {
             uint16_t x = PN_XNUM;
             memcpy(b.data() + offsetof(Elf64_Ehdr, e_phnum), &x, 2);
         }},
    };
    for (const Damage& d : damages) {
        std::vector<char> bytes = *core_;
        d.apply(bytes);
        std::string path = write("damaged-" + d.name, bytes);
        Outcome o = analyze_both(path);
        expect_clean_failure(o.normal, d.name, false);
        expect_clean_failure(o.asan, d.name, true);
        std::filesystem::remove(path);
    }
}

TEST(BadInput, MissingNotACoreOrADirectory) {
    std::string dir = fresh_dir("bad-input");
    struct Case {
        std::string path, words;
    } cases[] = {
        {dir + "/no-such-core", "no such file"},
        {VICTIM_O0, "not a core"},
        {dir, "not a regular file"},
        {"/etc/hostname", "not a core"},
    };
    for (const Case& c : cases) {
        for (const char* bin : {CRASHLAB_BIN, CRASHLAB_ASAN_BIN}) {
            Result r = run({bin, "analyze", c.path}, kSanitizerEnv);
            ASSERT_TRUE(r.exited) << c.path;
            EXPECT_EQ(r.code, 1) << c.path << r.err;
            EXPECT_EQ(line_count(r.err), 1u) << r.err;
            EXPECT_NE(r.err.find(c.words), std::string::npos) << r.err;
            EXPECT_TRUE(r.out.empty());
        }
    }
    remove_tree(dir);
}

// The executable is deleted after the crash: a partial report that says so, still
// classified (the code bytes are in the core); with --exe pointing at an identical copy,
// the full report again.
TEST(BadInput, MissingExecutable) {
    std::string dir = fresh_dir("missing-exe");
    std::string exe = dir + "/victim-copy";
    std::filesystem::copy_file(VICTIM_O0, exe);
    chmod(exe.c_str(), 0755);
    Result r = run({CRASHLAB_BIN, "run", "-q", "--dir", dir + "/run", "--", exe, "null-read"});
    ASSERT_TRUE(r.exited) << r.err;
    std::vector<std::string> cores = glob(dir + "/run/*/core");
    ASSERT_EQ(cores.size(), 1u);
    std::filesystem::remove(exe);

    Outcome o = analyze_both(cores[0]);
    for (const Result* res : {&o.normal, &o.asan}) {
        expect_clean_failure(*res, "missing executable", res == &o.asan);
        EXPECT_NE(res->err.find("--exe"), std::string::npos) << res->err;
        nlohmann::json j = nlohmann::json::parse(res->out);
        EXPECT_EQ(j["class"], "null-read") << j["summary"];
        EXPECT_FALSE(j["process"]["executable_found"].get<bool>());
    }
    Result with_exe = run({CRASHLAB_BIN, "analyze", "--json", "-", "--exe", VICTIM_O0, cores[0]});
    ASSERT_TRUE(with_exe.exited);
    EXPECT_EQ(with_exe.code, 0) << with_exe.err;
    nlohmann::json j = nlohmann::json::parse(with_exe.out);
    EXPECT_EQ(unqualified(j["culprit"]["function"]), "config_limit");
    remove_tree(dir);
}

}  // namespace

namespace {

// x86-64 cannot say which address a general protection fault was about: the kernel sends
// SIGSEGV with SI_KERNEL and address 0. The address comes from the instruction.
TEST(Recompute, NonCanonicalPointer) {
    std::string dir = fresh_dir("noncanonical");
    Result r = run(
        {CRASHLAB_BIN, "run", "-q", "--dir", dir, "--json", dir + "/a.json", "--", WILD_VICTIM});
    ASSERT_TRUE(r.exited) << r.err;
    ASSERT_EQ(r.code, 128 + 11) << r.err;
    nlohmann::json j = load_json(dir + "/a.json");
    EXPECT_EQ(j["signal"]["code_name"], "SI_KERNEL");
    EXPECT_EQ(j["fault_address"], "0x4141414141414149");
    EXPECT_TRUE(j["fault"]["recomputed"].get<bool>());
    EXPECT_EQ(j["fault"]["region"], "non-canonical");
    EXPECT_EQ(j["class"], "wild-pointer");
    EXPECT_EQ(unqualified(j["culprit"]["function"]), "read_value");
    remove_tree(dir);
}

// The executable is deleted while the process runs: the core's NT_FILE says
// "(deleted)"; the analysis says so, works from the copy of the code in the core, and
// takes the original back with --exe.
TEST(BadInput, ExecutableDeletedBeforeTheCrash) {
    std::string dir = fresh_dir("deleted-exe");
    std::string exe = dir + "/victim-doomed";
    std::filesystem::copy_file(VICTIM_O0, exe);
    chmod(exe.c_str(), 0755);
    // The hang gives time to delete the file before --timeout makes the core.
    Result r = run({"/bin/sh", "-c",
                    std::string(CRASHLAB_BIN) + " run -q --timeout 1 --dir " + dir + "/run -- " +
                        exe + " hang & sleep 0.3; rm " + exe + "; wait"});
    ASSERT_TRUE(r.exited) << r.err;
    std::vector<std::string> cores = glob(dir + "/run/*/core");
    ASSERT_EQ(cores.size(), 1u) << r.err;
    Result a = run({CRASHLAB_BIN, "analyze", "--json", "-", cores[0]});
    expect_clean_failure(a, "deleted executable", false);
    nlohmann::json j = nlohmann::json::parse(a.out);
    EXPECT_EQ(j["class"], "hang");
    bool said = false;
    for (const auto& w : j["warnings"])
        said |= w.get<std::string>().find("was deleted") != std::string::npos;
    EXPECT_TRUE(said) << j["warnings"].dump();
    Result with_exe = run({CRASHLAB_BIN, "analyze", "--json", "-", "--exe", VICTIM_O0, cores[0]});
    EXPECT_EQ(with_exe.code, 0) << with_exe.err;
    nlohmann::json k = nlohmann::json::parse(with_exe.out);
    EXPECT_EQ(unqualified(k["culprit"]["function"]), "wait_until_ready");
    remove_tree(dir);
}

}  // namespace
