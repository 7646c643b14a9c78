// Separate debug files as distributions ship them have their .debug_* sections compressed
// (SHF_COMPRESSED, zlib). libdw inflates every one of them, one after the other, with zlib,
// the moment a module's DWARF is opened: for libc that is 10 MB and most of the time a
// symbolizer spends on a short backtrace.
//
// inflate_debug_file() makes an in-memory copy of such a file with the sections already
// inflated, using libdeflate when it is installed (2-3x faster than zlib) and several
// threads (one section each), and leaves out the location lists (.debug_loclists,
// .debug_loc): a symbolizer never evaluates variable locations. libdw then opens the copy
// like any file. Both libraries are loaded with dlopen, so neither is a build dependency;
// without them the original file is used as before.
#pragma once

#include <string>

namespace tk {

// Returns a new file descriptor (a memfd) holding the inflated copy of the ELF file open at
// FD, or -1 when there is nothing to inflate or it cannot be done (WHY_NOT, if given, says
// which); FD itself is left open either way. Only 64-bit little-endian files with zlib
// compressed sections are handled.
int inflate_debug_file(int fd, std::string* why_not = nullptr);

}  // namespace tk
