// The single fatal-error boundary of every workload, and option parsing that reports a bad
// option as one line.
//
// A workload's main() is `return wl::guarded_main("NAME", [&] { ... });`. Inside, a bad
// option or any other fatal user error is thrown as tk::UserError and printed here once as
// "NAME: what is wrong: what to do" with a non-zero exit status.
#pragma once

#include <functional>
#include <string>

#include <CLI/CLI.hpp>

namespace wl {

// Exit status of a workload whose own invariant check failed (lost or corrupted tokens,
// wrong results). Bad options exit with 2, other fatal errors with 1.
inline constexpr int kExitNotVerified = 3;

int guarded_main(const char* name, const std::function<int()>& body);

// app.parse() that turns a CLI11 parse error into a tk::UserError (one line, exit 2) and
// handles --help by printing it and exiting 0.
void parse_options(CLI::App& app, int argc, char** argv);

// For unsigned options: CLI11 would otherwise wrap "-5" around to a huge count.
inline const CLI::Validator kNonNegative(
    [](std::string& value) {
        return !value.empty() && value[0] == '-' ? "must not be negative (got " + value + ")"
                                                 : std::string();
    },
    "NUMBER >= 0", "non-negative");

// "a,b,c" for error messages that list the valid choices.
std::string join(const std::vector<std::string>& items, const std::string& sep = ", ");

}  // namespace wl
