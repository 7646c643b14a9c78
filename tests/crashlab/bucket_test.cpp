// Buckets that survive rebuilds: every kind of the victim crashed for real in four builds
// (-O0, -O2, -O2 with an unrelated function added, and stripped with its debug file found by
// build-id) lands in one bucket per kind; the exact signature, made of module offsets,
// tells the builds apart.
#include <algorithm>
#include <map>

#include <gtest/gtest.h>

#include "harness.h"
#include "kinds.h"

using namespace crashlab_test;

namespace {

struct Build {
    std::string name;
    std::string binary;
    bool stripped = false;
};

const std::vector<Build>& builds() {
    static const std::vector<Build> b = {{"O0", VICTIM_O0},
                                         {"O2", VICTIM_O2},
                                         {"rebuilt", VICTIM_REBUILT},
                                         {"stripped", VICTIM_STRIPPED, true}};
    return b;
}

nlohmann::json crash(const crashlab::KindInfo& info, const Build& b) {
    std::string kind(info.name);
    std::string dir = fresh_dir("bucket-" + kind + "-" + b.name);
    std::vector<std::string> argv = {CRASHLAB_BIN, "run",    "-q",           "--dir",
                                     dir,          "--json", dir + "/a.json"};
    if (info.needs_timeout)
        argv.insert(argv.end(), {"--timeout", "1"});
    if (b.stripped)
        argv.insert(argv.end(), {"--debug-dir", VICTIM_DEBUG_DIR});
    argv.insert(argv.end(), {"--", b.binary, kind});
    Result r = run(argv);
    EXPECT_TRUE(r.exited) << kind << " (" << b.name << "): " << r.err;
    nlohmann::json j = load_json(dir + "/a.json");
    remove_tree(dir);
    return j;
}

class BucketTest : public testing::Test {
  public:
    explicit BucketTest(const crashlab::KindInfo& info) : info_(info), kind_(info.name) {}
    void TestBody() override {
        std::map<std::string, nlohmann::json> by_build;
        for (const Build& b : builds()) {
            nlohmann::json j = crash(info_, b);
            ASSERT_TRUE(j.is_object()) << b.name;
            by_build[b.name] = j;
        }
        const nlohmann::json& o2 = by_build["O2"];
        std::string cls = o2["class"];
        std::string sig = o2["signature"];
        EXPECT_EQ(sig.substr(0, sig.find('|')), cls) << "the signature starts with the class";
        EXPECT_NE(sig.find('|'), std::string::npos) << sig << ": no frame named";
        for (const auto& [name, j] : by_build) {
            EXPECT_EQ(j["signature"], o2["signature"]) << kind_ << ": " << name << " against O2";
            EXPECT_EQ(j["bucket"], o2["bucket"]) << kind_ << ": " << name << " against O2";
        }
    }

  private:
    const crashlab::KindInfo& info_;
    std::string kind_;
};

const bool kRegistered = [] {
    for (const crashlab::KindInfo& info : crashlab::all_kinds()) {
        if (!info.triggered)
            continue;
        std::string name(info.name);
        std::replace(name.begin(), name.end(), '-', '_');
        testing::RegisterTest("Bucket", ("SameAcrossBuilds_" + name).c_str(), nullptr, nullptr,
                              __FILE__, __LINE__,
                              [&info]() -> testing::Test* { return new BucketTest(info); });
    }
    return true;
}();

// The address of FUNCTION in PROGRAM, as nm prints it.
std::string address_of(const std::string& program, const std::string& function) {
    Result r = run({"sh", "-c", "nm -C " + program + " | grep ' " + function + "()$'"});
    return r.out.substr(0, r.out.find(' '));
}

// The rebuild is a rebuild: the added function moved code the crashes go through, so the
// exact signatures differ where the buckets agree.
TEST(Bucket, TheRebuildMovedTheCode) {
    EXPECT_NE(address_of(VICTIM_O2, "load_config"), address_of(VICTIM_REBUILT, "load_config"));
    nlohmann::json a = crash(*crashlab::find_kind("null-read"), builds()[1]);
    nlohmann::json b = crash(*crashlab::find_kind("null-read"), builds()[2]);
    EXPECT_EQ(a["bucket"], b["bucket"]);
    std::string ea = a["exact_signature"], eb = b["exact_signature"];
    EXPECT_NE(ea.substr(ea.find('|')), eb.substr(eb.find('|'))) << ea << "\n" << eb;
}

}  // namespace
