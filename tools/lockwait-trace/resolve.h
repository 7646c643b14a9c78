// From a raw snapshot to a report: per-(word, thread) rows added up per lock, locks named
// from the captured mappings, user stacks symbolized by the shared symbolizer and kernel
// stacks through /proc/kallsyms.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kernel_symbols.h"
#include "process_maps.h"
#include "report.h"
#include "snapshot.h"
#include "symbolizer.h"

namespace lockwait {

struct ResolveOptions {
    bool stacks = false;
    bool kernel_locks = false;
    bool kernel_stacks = false;
    bool uprobes = false;
    size_t max_stacks = 200;  // stack entries symbolized (the rest only counted)
};

// Fills everything in `report` that comes from the snapshot.
void resolve(const Snapshot& snap, tk::ProcessMaps& maps, tk::SymbolizerCache& symbols,
             const tk::KernelSymbols* ksyms, const ResolveOptions& opts, Report& report);

// Whether a symbolized user stack reached a thread's or the program's entry point (else
// the frame-pointer walk was cut short, by code without frame pointers).
bool reaches_entry_point(const std::vector<Frame>& frames);

// Adds the user frames of FRAMES that have no function name to COUNTS, by module.
void count_unnamed_frames(const std::vector<Frame>& frames, std::map<std::string, size_t>& counts);
// What a report says of those frames: the modules whose symbols were missing and how to
// install them ("" when every frame had a name).
std::string unnamed_frames_note(const std::map<std::string, size_t>& counts);

// The first frame outside the kernel's locking code and the tracing machinery.
std::string kernel_lock_site(const std::vector<Frame>& frames);

}  // namespace lockwait
