#include "common/output.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "errors.h"

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
    if (dest == "-") {
        std::cout << j.dump(2) << std::endl;
        return;
    }
    std::ofstream out(dest);
    if (out)
        out << j.dump(2) << "\n";
    out.flush();
    if (!out)
        throw tk::UserError(tk::errno_text("cannot write --json " + dest) +
                            ": check the path and permissions");
}

}  // namespace wl
