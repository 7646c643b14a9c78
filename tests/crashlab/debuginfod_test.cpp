// debuginfod: with DEBUGINFOD_URLS set, `crashlab analyze` asks the server for the debug
// file of a module that has none on the machine. A real debuginfod (Debian's), started here
// on 127.0.0.1, serves the stripped victim's debug file; without the variable the same core
// has no names.
#include <unistd.h>

#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "harness.h"
#include "integration/harness.h"  // harness::Background, in_ci

using namespace crashlab_test;

TEST(Debuginfod, ServesTheStrippedVictimsDebugFile) {
    if (access("/usr/bin/debuginfod", X_OK) != 0) {
        if (harness::in_ci())
            FAIL() << "CI=true but debuginfod is not installed (scripts/install-deps.sh)";
        GTEST_SKIP() << "debuginfod is not installed";
    }
    std::string dir = fresh_dir("debuginfod");
    ASSERT_EQ(run({"cp", "-r", std::string(VICTIM_DEBUG_DIR), dir + "/src"}).code, 0);
    Result crash = run({CRASHLAB_BIN, "run", "-q", "--dir", dir + "/crashes", "--json",
                        dir + "/plain.json", "--", VICTIM_STRIPPED, "null-read"});
    ASSERT_EQ(crash.code, 128 + 11) << crash.err;
    std::vector<std::string> cores = glob(dir + "/crashes/*/core");
    ASSERT_EQ(cores.size(), 1u);
    std::string plain = load_json(dir + "/plain.json")["signature"];
    EXPECT_NE(plain.find("+0x"), std::string::npos) << plain << ": no names without debug info";
    Result local =
        run({CRASHLAB_BIN, "analyze", cores[0], "--json", "-", "--debug-dir", VICTIM_DEBUG_DIR});
    ASSERT_EQ(local.code, 0) << local.err;
    std::string expected = nlohmann::json::parse(local.out)["bucket"];

    std::string port = std::to_string(20000 + getpid() % 20000);
    harness::Background server(
        {"debuginfod", "-F", dir + "/src", "-p", port, "-d", dir + "/db.sqlite"});
    std::vector<std::string> env = {"DEBUGINFOD_URLS=http://127.0.0.1:" + port,
                                    "DEBUGINFOD_CACHE_PATH=" + dir + "/cache"};
    nlohmann::json j;
    // The server scans its directory once started: ask until it has the file (each time
    // with an empty cache: the client remembers a miss for ten minutes).
    for (int i = 0; i < 100; i++) {
        remove_tree(dir + "/cache");
        Result r = run({CRASHLAB_BIN, "analyze", "--json", "-", cores[0]}, env);
        ASSERT_NE(r.out, "") << r.err;
        j = nlohmann::json::parse(r.out);
        if (j["bucket"] == expected)
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_EQ(j["bucket"], expected) << j["signature"];
    EXPECT_EQ(j["culprit"]["line"].is_number(), true) << j["culprit"].dump();
    remove_tree(dir);
}
