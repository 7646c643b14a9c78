#include "common/output.h"

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "errors.h"

namespace wl {

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
