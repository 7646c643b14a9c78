// Fuzz target: `crashlab analyze` (crashlab/src/analysis.h) on a mutated core, against the
// fixed executable that made the seeds' cores (crashlab-victim-O0 of the same build), and
// both reports written from the result. Everything the analysis reads from the core is
// hostile: the notes, the registers, the memory the unwinder walks and the evidence
// readers follow, the names that end up in the text and the JSON. A file that is no core
// may be refused (tk::UserError); anything else must not fail. /usr/lib/debug is left out:
// system debug files are not the input, and inflating libc's costs most of an analysis.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "analysis.h"
#include "errors.h"
#include "fuzz_input.h"
#include "report.h"

#ifndef FUZZ_EXECUTABLE
#error "FUZZ_EXECUTABLE: the executable the seed cores came from"
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static fuzz::InputFile file;
    static const crashlab::AnalyzeOptions options = [] {
        crashlab::AnalyzeOptions o;
        const char* exe = getenv("CRASHLAB_FUZZ_EXE");  // another victim, for a rerun
        o.executable = exe && *exe ? exe : FUZZ_EXECUTABLE;
        // Inflating libc's separate debug file (libc6-dbg) would take two thirds of every
        // run; it is the system's file, not the input.
        o.system_debug_dir.clear();
        return o;
    }();
    const std::string& path = file.write(data, size);
    try {
        crashlab::Analysis a = crashlab::analyze(path, options);
        crashlab::render_text(a);
        crashlab::render_json_text(a);
    } catch (const tk::UserError&) {
        // not a core at all: refused with one line, as it should be
    }
    return 0;
}
