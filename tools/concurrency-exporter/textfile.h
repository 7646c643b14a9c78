// --textfile DIR: the exposition written for node_exporter's textfile collector, replaced
// atomically (a temporary file renamed over the old one), in a directory only root can
// change, without following symbolic links.
#pragma once

#include <string>

#include "fd.h"

namespace exporter {

class TextfileWriter {
  public:
    // Opens DIR; throws UserError when it is missing, a symbolic link, or writable by
    // anyone but root (a root process would write where another user could redirect it).
    explicit TextfileWriter(const std::string& dir);
    // Replaces DIR/concurrency_exporter.prom with TEXT; throws UserError on failure.
    void write(const std::string& text) const;
    std::string path() const { return dir_ + "/" + kName; }

    static constexpr const char* kName = "concurrency_exporter.prom";

  private:
    std::string dir_;
    tk::Fd dirfd_;
};

}  // namespace exporter
