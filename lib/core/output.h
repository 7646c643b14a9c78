// Writing what a tool produces: to stdout ("-") or to a file that is written in full or
// not at all (temporary file + rename), owned by the user who invoked sudo.
#pragma once

#include <functional>
#include <string>

namespace tk {

// Writes `content` to `path` ("-" = stdout). A regular file is replaced whole through a
// temporary file, so a failure leaves no half-written file behind (through a symbolic
// link, the file it names); a device or FIFO (/dev/null, a named pipe) is written in
// place, and /dev/stdout, /dev/stderr, /dev/fd/N (a shell's >(jq .)) go to that open
// descriptor. Throws UserError on failure. A file written gets `mode` and, under sudo,
// belongs to the invoking user (SUDO_UID/SUDO_GID).
void write_output(const std::string& path, const std::string& content, unsigned mode = 0644);
// The same, the file owned by UID/GID (-1: by us); a file that cannot be handed to them is
// an error (write_output keeps a report it could not hand over, owned by root).
void write_output_as(const std::string& path, const std::string& content, unsigned mode, int uid,
                     int gid);

// Throws UserError (exit 2) when `path`, given with OPTION, could not be written: checked
// before a run, so that its report is not lost at the end. "" and "-" are fine.
void check_writable(const std::string& path, const std::string& option);

// A tool's final report: the text on stdout and the JSON written to JSON_DEST (--json
// FILE); with "-" stdout gets only the JSON; with "" only the text is printed. Each is
// built only when it is printed.
void emit_report(const std::string& json_dest, const std::function<std::string()>& text,
                 const std::function<std::string()>& json);

}  // namespace tk
