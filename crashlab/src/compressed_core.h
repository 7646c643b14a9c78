// Cores kept compressed: systemd-coredump's (zstd, lz4 or xz, as it was built and
// configured) and crashlab's own collector's (zstd). `crashlab analyze` reads them as they
// are: the core is inflated into an anonymous memory file (memfd), never onto the disk.
#pragma once

#include <string>

#include "fd.h"

namespace crashlab {

enum class Compression { None, Zstd, Lz4, Xz };

// By the file's first bytes (its magic number), not its name.
Compression compression_of(const std::string& path);
const char* name_of(Compression c);

// PATH inflated into a memfd, at its start. Throws tk::UserError, one line, when the data
// is damaged or cut short.
tk::Fd inflate_core(const std::string& path, Compression c);

}  // namespace crashlab
