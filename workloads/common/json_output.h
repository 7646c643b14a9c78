// --json FILE|-: where the machine-readable report goes.
//
// "-" means stdout, and then the text report is not printed, so stdout carries exactly one
// JSON object. With a FILE the text report still goes to stdout. Every workload's object
// carries "schema_version" (kSchemaVersion), raised when a key changes meaning or goes.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace wl {

inline constexpr int kSchemaVersion = 1;

// True when the text report should be printed (no --json, or --json FILE).
inline bool wants_text(const std::string& json_dest) {
    return json_dest != "-";
}

// Checks before the run that a --json FILE can be created (its directory exists and is
// writable), so a typo fails at once instead of after the measurement. Throws tk::UserError.
void check_json_dest(const std::string& dest);

// Writes j to the destination (nothing when dest is empty). Throws tk::UserError when the
// file cannot be written.
void write_json(const nlohmann::json& j, const std::string& dest);

}  // namespace wl
