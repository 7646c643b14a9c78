// The signatures that group crashes of the same bug (docs/crashlab.md, "Buckets").
//
// signature        the crash class and the culprit thread's top frames as function names
//                  (demangled, without parameters or offsets), leaving out the frames that
//                  say nothing about the bug: what survives a rebuild, a change of
//                  optimization level or the loss of the symbol table.
// exact_signature  executable, signal and the top machine frames as module+offset: the
//                  same binary crashing at the same instruction.
// bucket           the id of the signature (a hash), what `crashlab ls` groups by.
#pragma once

#include <string>
#include <string_view>

#include "crash.h"

namespace crashlab {

// How many frames a signature names. One: below the top frame an optimizing build drops
// frames (tail calls: -O2's finish_session() jumps to session_bytes() and leaves no frame;
// inlinings it keeps no record of), so a second frame differs between -O0 and -O2.
constexpr size_t kSignatureFrames = 1;

// Fills a.signature, a.exact_signature and a.bucket from the classified analysis.
void compute_signature(Analysis& a);

// The name a frame contributes to a signature: "load_config", "Job::finish",
// "libfoo.so+0x1234" when it has no name. With debug information, the function whose
// source holds the frame's line (defined_in): the same at -O0 and -O2.
std::string signature_name(const FrameReport& f);

// Whether a frame says nothing about the bug: abort and raise, the assertion and
// stack-protector reports, malloc's checks, the C++ runtime's throw and terminate path,
// the lock wait inside pthread_mutex_lock, the thread and process start.
bool says_nothing(std::string_view function);

// The bucket id of a signature: 16 hex digits (FNV-1a 64), the same on every run.
std::string bucket_of(std::string_view signature);

}  // namespace crashlab
