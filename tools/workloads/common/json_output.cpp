#include "common/json_output.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "errors.h"
#include "output.h"

namespace wl {

void check_json_dest(const std::string& dest) {
    if (dest.empty() || dest == "-")
        return;
    auto slash = dest.rfind('/');
    std::string dir = slash == std::string::npos ? "." : dest.substr(0, slash + 1);
    if (access(dir.c_str(), W_OK) != 0)
        throw tk::UserError(tk::errno_text("--json " + dest + ": cannot create a file in " + dir) +
                                ": give a path in an existing, writable directory",
                            2);
}

void write_json(const nlohmann::json& j, const std::string& dest) {
    if (dest.empty())
        return;
    // The toolkit's writer: stdout for "-", otherwise a temporary file renamed into place
    // (whole or not at all), given to the user who ran sudo.
    tk::write_output(dest, j.dump(2) + "\n");
}

}  // namespace wl
