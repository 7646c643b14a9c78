// `crashlab analyze`: reading a core into the facts of its crash (crash.h).
#pragma once

#include <string>
#include <vector>

#include "crash.h"

namespace crashlab {

struct AnalyzeOptions {
    std::string executable;                           // --exe
    std::vector<std::string> debug_dirs;              // --debug-dir
    std::string system_debug_dir = "/usr/lib/debug";  // searched first ("": not at all)
    size_t max_frames = 0;                            // --max-frames (0: every frame)
    bool timeout_fired = false;                       // from crashlab run
    double timeout_seconds = 0;
};

// Reads CORE_PATH and explains it. Throws tk::UserError when the file is not a core at
// all; a damaged core gives a partial analysis (partial = true, warnings say what).
Analysis analyze(const std::string& core_path, const AnalyzeOptions& options);

}  // namespace crashlab
