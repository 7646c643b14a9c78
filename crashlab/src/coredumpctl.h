// What systemd-coredump keeps, found through coredumpctl: the core's file and the facts it
// recorded in the journal (its COREDUMP_* fields).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace crashlab {

// The core systemd-coredump stored for WHICH (a pid, or "last"), as `coredumpctl info`
// names it on its "Storage:" line.
struct CoredumpctlCore {
    std::string path;
    bool present = false;  // the file is still there
    std::string problem;   // when it is not: one line, without what to do
};
CoredumpctlCore find_with_coredumpctl(const std::string& which);

// The same, for `crashlab analyze --coredumpctl`: the path, or tk::UserError.
std::string core_from_coredumpctl(const std::string& which);

}  // namespace crashlab
