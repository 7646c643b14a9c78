// Writing what a tool produces: to stdout ("-") or to a file that is written in full or
// not at all (temporary file + rename), owned by the user who invoked sudo.
#pragma once

#include <functional>
#include <string>

namespace tk {

// Writes `content` to `path` ("-" = stdout). Throws UserError on failure, leaving no
// half-written file behind. `mode` applies to new files.
void write_output(const std::string& path, const std::string& content, unsigned mode = 0644);

// A tool's final report: the text on stdout and the JSON written to JSON_DEST (--json
// FILE); with "-" stdout gets only the JSON; with "" only the text is printed. Each is
// built only when it is printed.
void emit_report(const std::string& json_dest, const std::function<std::string()>& text,
                 const std::function<std::string()>& json);

// Gives a file we created as root under sudo to the invoking user (SUDO_UID/SUDO_GID).
void give_to_invoking_user(const std::string& path);

}  // namespace tk
