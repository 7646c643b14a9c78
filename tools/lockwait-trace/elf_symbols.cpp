#include "elf_symbols.h"

#include <fstream>

#include "errors.h"

namespace lockwait {

std::string libc_of(pid_t pid) {
    std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
    return libc_in_maps(maps);
}

std::string libc_in_maps(std::istream& maps) {
    std::string line;
    while (std::getline(maps, line)) {
        auto slash = line.find('/');
        if (slash == std::string::npos)
            continue;
        std::string path = line.substr(slash);
        auto base = path.substr(path.rfind('/') + 1);
        if (base == "libc.so.6")
            return path;
    }
    return "";
}

}  // namespace lockwait
