// Every crash kind, in every variant of the victim, crashed for real through `crashlab run`:
// the analysis must give the kind's class, the signal, and the function and line marked
// "@crash KIND" in the victim's source; and for the same core, the crashing thread's
// frames must agree with `gdb -batch -ex bt` and with `eu-stack`.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include <gtest/gtest.h>

#include "harness.h"

using namespace crashlab_test;

namespace {

struct KindSpec {
    std::string kind;
    std::vector<std::string> classes;  // accepted classes (use-after-free: or wild-pointer)
    std::string signal;
    std::vector<std::string> functions;  // where the culprit may be, unqualified: inlining
                                         // at -O2 can fold the marked function into its caller
};

const std::vector<KindSpec>& specs() {
    static const std::vector<KindSpec> s = {
        {"null-read", {"null-read"}, "SIGSEGV", {"config_limit", "load_config"}},
        {"null-write", {"null-write"}, "SIGSEGV", {"reset_hits", "clear_cache"}},
        {"null-call", {"null-call"}, "SIGSEGV", {"dispatch_event"}},
        {"stack-overflow", {"stack-overflow"}, "SIGSEGV", {"recurse"}},
        {"write-readonly", {"write-readonly"}, "SIGSEGV", {"capitalize_banner"}},
        {"exec-nonexec", {"exec-nonexec"}, "SIGSEGV", {"run_jit"}},
        // Without a sanitizer the evidence for a use after free is circumstantial.
        {"use-after-free",
         {"use-after-free", "wild-pointer"},
         "SIGSEGV",
         {"session_bytes", "finish_session"}},
        {"double-free", {"double-free"}, "SIGABRT", {"release_token"}},
        {"invalid-free", {"invalid-free"}, "SIGABRT", {"free_name"}},
        {"heap-corruption", {"heap-corruption"}, "SIGABRT", {"store_record"}},
        {"abort", {"abort"}, "SIGABRT", {"shutdown_on_error"}},
        {"assert", {"assert"}, "SIGABRT", {"withdraw"}},
        {"stack-smash", {"stack-smash"}, "SIGABRT", {"copy_username"}},
        {"div-zero", {"div-zero"}, "SIGFPE", {"average"}},
        {"div-overflow", {"div-overflow"}, "SIGFPE", {"scale"}},
        {"trap", {"trap"}, "SIGILL", {"unreachable_state"}},
        {"bus-error", {"bus-error"}, "SIGBUS", {"read_trailer"}},
        {"uncaught-exception", {"uncaught-exception"}, "SIGABRT", {"load_settings"}},
        {"terminate", {"terminate"}, "SIGABRT", {"flush_journal", "close_journal"}},
        {"pure-virtual", {"pure-virtual"}, "SIGABRT", {"finish", "~Job"}},
        {"deadlock", {"deadlock"}, "SIGABRT", {"transfer", "audit"}},
        {"hang", {"hang"}, "SIGABRT", {"wait_until_ready"}},
        {"external-signal", {"external-signal"}, "SIGSEGV", {"wait_for_work"}},
    };
    return s;
}

struct Variant {
    std::string name;
    std::string binary;
    bool thread = false;
    bool stripped = false;
};

const std::vector<Variant>& variants() {
    static const std::vector<Variant> v = {
        {"O0", VICTIM_O0, false, false},
        {"O2", VICTIM_O2, false, false},
        {"stripped", VICTIM_STRIPPED, false, true},
        {"thread", VICTIM_O0, true, false},
    };
    return v;
}

struct Case {
    KindSpec spec;
    Variant variant;
};

std::vector<Case> all_cases() {
    std::vector<Case> out;
    for (const Variant& v : variants())
        for (const KindSpec& s : specs())
            out.push_back({s, v});
    return out;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

std::string describe(const std::vector<BtFrame>& frames) {
    std::string s;
    for (size_t i = 0; i < frames.size(); i++) {
        char buf[64];
        snprintf(buf, sizeof buf, "\n  #%zu 0x%llx ", i, (unsigned long long)frames[i].pc);
        s += buf + (frames[i].function.empty() ? std::string("??") : frames[i].function);
    }
    return s;
}

// Ours against gdb's bt: same frames in the same order, same names. gdb may add frames we
// do not claim: the "tail call frames" it synthesizes from DWARF call-site information
// (pthread_kill's jump to __pthread_kill_implementation); those have pcs we never saw.
void compare_with_gdb(const std::vector<BtFrame>& ours, const std::vector<BtFrame>& gdb,
                      const std::string& context) {
    ASSERT_FALSE(gdb.empty()) << context << ": gdb printed no frames";
    std::set<uint64_t> our_pcs;
    for (const BtFrame& f : ours)
        our_pcs.insert(f.pc);
    size_t g = 0, matched = 0;
    for (size_t o = 0; o < ours.size(); o++) {
        while (g < gdb.size() && !our_pcs.count(gdb[g].pc))
            g++;
        if (g == gdb.size())
            break;
        ASSERT_EQ(gdb[g].pc, ours[o].pc)
            << context << ": frame " << o << " differs from gdb's #" << g
            << "\nours:" << describe(ours) << "\ngdb:" << describe(gdb);
        if (!gdb[g].function.empty() && !ours[o].function.empty() &&
            !same_symbol(ours[o].module, gdb[g].function, ours[o].function)) {
            EXPECT_EQ(gdb[g].function, ours[o].function)
                << context << ": frame " << o << "\nours:" << describe(ours)
                << "\ngdb:" << describe(gdb);
        }
        g++;
        matched++;
    }
    EXPECT_GE(matched, std::min<size_t>(3, ours.size())) << context;
}

// eu-stack -i (libdwfl's own unwinder, inlined frames expanded like ours) must list the
// same frames as we do, in the same order, with the same names. We may have more: frames
// recovered by a heuristic (the return address at [rsp] after a call to NULL), which
// eu-stack's frame-pointer fallback skips.
void compare_with_eu_stack(const nlohmann::json& thread, const std::vector<BtFrame>& eu,
                           const std::string& context) {
    ASSERT_FALSE(eu.empty()) << context << ": eu-stack printed no frames";
    std::vector<BtFrame> ours = json_frames(thread);
    std::vector<std::string> trust;
    for (const auto& f : thread["frames"])
        trust.push_back(f["trust"]);
    std::set<uint64_t> our_pcs;
    for (const BtFrame& f : ours)
        our_pcs.insert(f.pc);
    std::string stop =
        thread["stop_reason"].is_string() ? thread["stop_reason"].get<std::string>() : "";
    size_t o = 0;
    for (size_t e = 0; e < eu.size(); e++) {
        if (o < ours.size() && trust[o] == "stack-scan" && !our_pcs.count(eu[e].pc)) {
            // A smashed stack: eu-stack followed the overwritten return address, we refused
            // it and scanned. Both must have met the same bad address.
            char bad[32];
            snprintf(bad, sizeof bad, "0x%llx", (unsigned long long)eu[e].pc);
            EXPECT_NE(stop.find(bad), std::string::npos)
                << context << ": eu-stack went to " << bad << "; our stop reason: " << stop;
            return;
        }
        while (o < ours.size() && ours[o].pc != eu[e].pc &&
               (trust[o] == "return-address-at-sp" || trust[o] == "stack-scan"))
            o++;
        ASSERT_LT(o, ours.size()) << context << ": eu-stack frame #" << e
                                  << " missing\nours:" << describe(ours)
                                  << "\neu-stack:" << describe(eu);
        ASSERT_EQ(ours[o].pc, eu[e].pc)
            << context << ": frame " << o << " vs eu-stack #" << e << "\nours:" << describe(ours)
            << "\neu-stack:" << describe(eu);
        if (!eu[e].function.empty() && !ours[o].function.empty() &&
            !same_symbol(ours[o].module, eu[e].function, ours[o].function)) {
            EXPECT_EQ(eu[e].function, ours[o].function)
                << context << ": frame " << o << "\nours:" << describe(ours)
                << "\neu-stack:" << describe(eu);
        }
        o++;
    }
}

// One crash of a kind in a variant: what `crashlab run` did and wrote. The checks take it
// mutable, as nlohmann's operator[] on a const object must not meet a missing key.
struct Crash {
    const KindSpec& spec;
    const Variant& v;
    std::string context;  // "null-read (O0)", for the failure messages
    std::string dir;      // the crash root of this run
    Result r;             // crashlab's exit and output
    nlohmann::json j;     // its JSON analysis
};

// crashlab run -q --dir DIR --json JSON_PATH [...] -- VICTIM KIND [--thread]
std::vector<std::string> run_argv(const KindSpec& spec, const Variant& v, const std::string& dir,
                                  const std::string& json_path) {
    std::vector<std::string> argv = {CRASHLAB_BIN, "run", "-q", "--dir", dir, "--json", json_path};
    if (spec.kind == "deadlock" || spec.kind == "hang") {
        argv.push_back("--timeout");
        argv.push_back("1");
    }
    if (v.stripped) {
        argv.push_back("--debug-dir");
        argv.push_back(VICTIM_DEBUG_DIR);
    }
    argv.insert(argv.end(), {"--", v.binary, spec.kind});
    if (v.thread)
        argv.push_back("--thread");
    return argv;
}

// The kind's class and signal, and a complete report.
void check_verdict(Crash& k) {
    nlohmann::json& j = k.j;
    const std::string& context = k.context;
    std::string summary = j["summary"];
    EXPECT_TRUE(contains(k.spec.classes, j["class"])) << context << ": class " << j["class"] << "\n"
                                                      << summary;
    EXPECT_EQ(j["signal"]["name"], k.spec.signal) << context;
    EXPECT_EQ(k.r.code, 128 + j["signal"]["signo"].get<int>()) << context;
    EXPECT_FALSE(j["partial"].get<bool>()) << context << ": " << j["warnings"].dump();
    EXPECT_FALSE(summary.empty());
    EXPECT_FALSE(j["evidence"].empty()) << context;
    EXPECT_FALSE(j["signature"].get<std::string>().empty());
}

// The culprit: function and line of the marker.
void check_culprit(Crash& k) {
    nlohmann::json& j = k.j;
    const std::string& context = k.context;
    std::string summary = j["summary"];
    ASSERT_TRUE(j["culprit"].is_object()) << context << ": no culprit frame\n" << summary;
    const auto& c = j["culprit"];
    std::string fn = c["function"].is_string() ? unqualified(c["function"]) : "";
    EXPECT_TRUE(contains(k.spec.functions, fn)) << context << ": culprit " << c.dump() << "\n"
                                                << summary;
    std::vector<int> lines = marker_lines(k.spec.kind);
    ASSERT_FALSE(lines.empty()) << "no @crash " << k.spec.kind << " marker in the victim";
    ASSERT_TRUE(c["line"].is_number()) << context << ": culprit without a line: " << c.dump();
    EXPECT_TRUE(std::find(lines.begin(), lines.end(), c["line"].get<int>()) != lines.end())
        << context << ": culprit line " << c["line"] << ", marked lines "
        << ::testing::PrintToString(lines) << "\n"
        << summary;
    // The summary names the place too, as a person reads it.
    EXPECT_NE(summary.find("victim.cpp:" + std::to_string(c["line"].get<int>())), std::string::npos)
        << context << ": " << summary;
}

// Threads: the crashing one first; the worker variant crashes off the main thread.
void check_threads(Crash& k) {
    nlohmann::json& j = k.j;
    const auto& threads = j["threads"];
    ASSERT_FALSE(threads.empty());
    EXPECT_EQ(threads[0]["tid"], j["crashing_tid"]);
    int pid = j["process"]["pid"];
    if (k.v.thread) {
        EXPECT_GE(threads.size(), 5u) << k.context << ": main, three bystanders and the worker";
        EXPECT_NE(j["culprit"]["tid"].get<int>(), pid)
            << k.context << ": the culprit should be the worker";
    }
}

// What only some kinds have: a fault address, a sender, a lock cycle, an exception, glibc's
// abort message.
void check_kind_facts(Crash& k) {
    nlohmann::json& j = k.j;
    const KindSpec& spec = k.spec;
    const std::string& context = k.context;
    std::string summary = j["summary"];
    int pid = j["process"]["pid"];
    if (spec.signal == "SIGSEGV" && spec.kind != "external-signal") {
        EXPECT_TRUE(j["fault_address"].is_string()) << context;
    }
    if (spec.kind == "external-signal") {
        EXPECT_TRUE(j["signal"]["sent"].get<bool>());
        EXPECT_NE(j["signal"]["sender_pid"].get<int>(), pid);
        EXPECT_TRUE(j["fault_address"].is_null());
    }
    if (spec.kind == "deadlock") {
        EXPECT_NE(summary.find("accounts_lock"), std::string::npos) << summary;
        EXPECT_NE(summary.find("audit_lock"), std::string::npos) << summary;
        EXPECT_EQ(j["deadlock_cycle"].size(), 2u);
    }
    if (spec.kind == "uncaught-exception" || spec.kind == "terminate") {
        ASSERT_TRUE(j.contains("exception")) << context;
        EXPECT_EQ(j["exception"]["type"],
                  spec.kind == "terminate" ? "std::logic_error" : "std::runtime_error");
    }
    if (spec.kind == "double-free" || spec.kind == "assert" || spec.kind == "heap-corruption") {
        EXPECT_TRUE(j.contains("abort_message")) << context;
    }
}

// The stripped variant's debug information came from the separate file, found by build-id.
void check_debug_file(Crash& k) {
    bool found = false;
    for (const auto& m : k.j["modules"])
        if (m["name"] == k.v.binary)
            found = m["debug_file"].is_string() &&
                    m["debug_file"].get<std::string>().find(".build-id/") != std::string::npos;
    EXPECT_TRUE(found) << k.context << ": " << k.j["modules"].dump();
}

// Cross-check on the same core: the crashing thread's frames against gdb's and eu-stack's.
void cross_check(Crash& k) {
    nlohmann::json& j = k.j;
    const std::string& context = k.context;
    std::vector<std::string> cores = glob(k.dir + "/*/core");
    ASSERT_EQ(cores.size(), 1u) << context;
    struct stat st;
    ASSERT_EQ(stat(cores[0].c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << "cores are for their owner only";
    std::string debug_path = std::string("/usr/lib/debug:") + VICTIM_DEBUG_DIR;
    // 40 frames are plenty to compare, and keep gdb from walking 87,000 of them.
    Result gdb = run({"gdb", "-batch", "-nx", "-iex", "set debuginfod enabled off", "-iex",
                      "set debug-file-directory " + debug_path, "-ex",
                      "set print frame-info location-and-address", "-ex",
                      "set print frame-arguments none", "-ex", "set backtrace past-main on", "-ex",
                      "echo @@BT\\n", "-ex", "bt 40", k.v.binary, cores[0]});
    Result eu = run({"eu-stack", "-i", "-s", "-n", "40", "--debuginfo-path=-:.debug:" + debug_path,
                     "--core", cores[0], "-e", k.v.binary});
    std::vector<BtFrame> ours = json_frames(j["threads"][0]);
    compare_with_gdb(ours, parse_gdb_bt(gdb.out), context);
    int eu_tid = 0;
    compare_with_eu_stack(j["threads"][0], parse_eu_stack(eu.out, &eu_tid), context);
    EXPECT_EQ(eu_tid, j["crashing_tid"].get<int>()) << context;
}

// A check's fatal failure (an ASSERT) ends the case, as it did when the checks were one
// function; the cores of a failed case are kept.
void check_kind(const Case& c_) {
    const KindSpec& spec = c_.spec;
    const Variant& v = c_.variant;
    Crash k{spec, v, spec.kind + " (" + v.name + ")", "", {}, {}};
    const std::string& context = k.context;
    k.dir = fresh_dir("kinds/" + v.name + "-" + spec.kind);
    std::string json_path = k.dir + "/analysis.json";

    k.r = run(run_argv(spec, v, k.dir, json_path));
    const Result& r = k.r;
    ASSERT_TRUE(r.exited) << context << ": crashlab itself died of signal " << r.code << "\n"
                          << r.err;
    ASSERT_GT(r.code, 128) << context << ": the victim did not die of a signal\n" << r.err;

    k.j = load_json(json_path);
    check_verdict(k);
    ASSERT_NO_FATAL_FAILURE(check_culprit(k));
    ASSERT_NO_FATAL_FAILURE(check_threads(k));
    ASSERT_NO_FATAL_FAILURE(check_kind_facts(k));
    if (v.stripped)
        check_debug_file(k);
    cross_check(k);

    if (!testing::Test::HasFailure())
        remove_tree(k.dir);  // cores are big; keep them only when something failed
}

// One test per kind and variant, registered by hand rather than with TEST_P: ctest names
// them CrashKind.null_read_O0 and so on, without gtest's parameter dump.
class CrashKindTest : public testing::Test {
  public:
    explicit CrashKindTest(Case c) : case_(std::move(c)) {}
    void TestBody() override { check_kind(case_); }

  private:
    Case case_;
};

const bool kRegistered = [] {
    for (const Case& c : all_cases()) {
        std::string name = c.spec.kind + "_" + c.variant.name;
        std::replace(name.begin(), name.end(), '-', '_');
        testing::RegisterTest("CrashKind", name.c_str(), nullptr, nullptr, __FILE__, __LINE__,
                              [c]() -> testing::Test* { return new CrashKindTest(c); });
    }
    return true;
}();

// Running the same crash twice gives the same signatures and bucket (addresses differ: ASLR).
TEST(Signature, StableAcrossRuns) {
    std::string sig[2], exact[2], bucket[2];
    for (int i = 0; i < 2; i++) {
        std::string dir = fresh_dir("signature-" + std::to_string(i));
        Result r = run({CRASHLAB_BIN, "run", "-q", "--dir", dir, "--json", dir + "/a.json", "--",
                        VICTIM_O2, "double-free"});
        ASSERT_TRUE(r.exited) << r.err;
        nlohmann::json j = load_json(dir + "/a.json");
        sig[i] = j["signature"];
        exact[i] = j["exact_signature"];
        bucket[i] = j["bucket"];
        remove_tree(dir);
    }
    EXPECT_EQ(sig[0], sig[1]);
    EXPECT_EQ(exact[0], exact[1]);
    EXPECT_EQ(bucket[0], bucket[1]);
    EXPECT_EQ(sig[0], "double-free|release_token");
    EXPECT_NE(exact[0].find("SIGABRT"), std::string::npos);
}

}  // namespace
