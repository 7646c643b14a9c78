// Runs a workload binary the way a user would and captures what it printed.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace wltest {

struct Run {
    int exit_code = -1;  // 128 + signal when killed
    std::string out, err;
    std::string command;  // for failure messages
};

// Runs WORKLOADS_BIN_DIR/tool with args; stdout and stderr captured separately.
Run run_tool(const std::string& tool, const std::vector<std::string>& args);

// Runs with "--json -" appended and parses stdout; fails the current test (and returns an
// empty object) when the exit status is not 0 or stdout is not one JSON object.
nlohmann::json run_json(const std::string& tool, std::vector<std::string> args);

// Bad input: a non-zero exit, exactly one line on stderr starting "tool: ", nothing on
// stdout. Adds a test failure otherwise.
void expect_one_line_error(const std::string& tool, const std::vector<std::string>& args);

// The lines of a text, without empty trailing ones.
std::vector<std::string> lines(const std::string& text);

// A path under the test's temporary directory.
std::string temp_path(const std::string& name);

}  // namespace wltest
